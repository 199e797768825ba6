package emulatortest

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cloudformation "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	sts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func TestMain(m *testing.M) { Main(m) }

func TestEachConfigIsItsOwnAccount(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := Config(t, "eu-west-1"), Config(t, "eu-west-1")
	if AccountID(a) == "" || AccountID(a) == AccountID(b) {
		t.Fatalf("accounts %q and %q: want two distinct ones", AccountID(a), AccountID(b))
	}

	for _, cfg := range []aws.Config{a, b} {
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("GetCallerIdentity: %v", err)
		}
		if got := aws.ToString(id.Account); got != AccountID(cfg) {
			t.Errorf("moto says account %s, want %s", got, AccountID(cfg))
		}
	}

	const stack = "isolation"
	_, err := cloudformation.NewFromConfig(a).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(stack),
		TemplateBody: aws.String(`{"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}`),
	})
	if err != nil {
		t.Fatalf("CreateStack in account %s: %v", AccountID(a), err)
	}
	if _, err := cloudformation.NewFromConfig(a).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)}); err != nil {
		t.Fatalf("the account that created the stack cannot see it: %v", err)
	}
	_, err = cloudformation.NewFromConfig(b).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ValidationError" {
		t.Fatalf("DescribeStacks from another account: %v; want ValidationError (does not exist)", err)
	}
}

func TestAccountIDOfAnotherConfigIsEmpty(t *testing.T) {
	t.Parallel()
	if got := AccountID(aws.Config{}); got != "" {
		t.Errorf("AccountID(aws.Config{}) = %q, want empty", got)
	}
}

func TestAnAccountsKeysAloneReachIt(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	acct := NewAccount(t)
	// What a process that reads its keys from the environment sends: no
	// account header.
	plain := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(Endpoint()),
		Credentials: credentials.NewStaticCredentialsProvider(acct.AccessKeyID, acct.SecretAccessKey, "")}

	id, err := sts.NewFromConfig(plain).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if got := aws.ToString(id.Account); got != acct.ID || got == emulatorDefaultAccount {
		t.Errorf("moto says account %s, want %s", got, acct.ID)
	}
	const stack = "keys-alone"
	_, err = cloudformation.NewFromConfig(acct.Config("eu-west-1")).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(stack),
		TemplateBody: aws.String(`{"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}`),
	})
	if err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	if _, err := cloudformation.NewFromConfig(plain).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)}); err != nil {
		t.Errorf("the keys alone do not see the account's stack: %v", err)
	}
}
