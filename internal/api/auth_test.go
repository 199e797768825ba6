package api

import (
	"context"
	"testing"
	"time"

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
