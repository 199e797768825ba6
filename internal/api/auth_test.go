package api

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestAuthenticateLearnsTheCallerFromSTS(t *testing.T) {
	acct := emulatortest.NewAccount(t)
	checkSignatures(t)
	tr := &emulatorSTS{}
	a := &Authenticator{ServerID: "prod-deployer", STSTransportForTests: tr}
	c := &Client{ServerID: "prod-deployer", AWS: userConfig(acct, "eu-west-1")}
	auth, err := c.Authorization(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes", len(auth))
	caller, err := a.Authenticate(context.Background(), auth)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if caller.ARN != "arn:aws:iam::"+acct.ID+":user/elevator-test" || caller.Account != acct.ID || caller.AccessKeyID != acct.AccessKeyID {
		t.Errorf("caller %+v", caller)
	}
	if got := tr.called(); len(got) != 1 || got[0] != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("called %v", got)
	}
	_ = time.Now
}

func TestAnAssumedRoleSessionIsItsRoleAndIsAuditedBySessionName(t *testing.T) {
	acct := emulatortest.NewAccount(t)
	ctx := context.Background()
	admin := acct.Config("us-east-1")
	role, err := iam.NewFromConfig(admin).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ops"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(userConfig(acct, "us-east-1"), func(o *sts.Options) { o.BaseEndpoint = aws.String(emulatortest.Endpoint()) }).
		AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	fake := newFake()
	fake.put(record("shop", 1, elevator.StateDeploy))
	orbit := &elevator.Orbit{Name: "prod", Access: []elevator.AccessRule{
		{Role: elevator.RoleViewer, Principals: []string{"arn:aws:iam::" + acct.ID + ":role/ops"}}}}
	checkSignatures(t)
	s, err := New(Options{Releases: fake, Orbit: orbit, Auth: &Authenticator{ServerID: serverID, STSTransportForTests: &emulatorSTS{}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, ServerID: serverID, AWS: aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(
		aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))}}
	if _, _, err := c.List(ctx, "shop", 10, ""); err != nil {
		t.Fatalf("a session of a viewer role lists: %v", err)
	}
	err = c.Halt(ctx, record("shop", 1, "").ID, "stop")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("a session of a viewer role halts: %v", err)
	}
	refused := fake.refusals()
	if len(refused) != 1 || refused[0].SessionName != "alice" || refused[0].AccessKeyID != aws.ToString(out.Credentials.AccessKeyId) ||
		refused[0].By != "arn:aws:sts::"+acct.ID+":assumed-role/ops/alice" {
		t.Fatalf("audited %+v", refused)
	}
}
