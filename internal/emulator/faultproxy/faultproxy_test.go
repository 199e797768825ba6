package faultproxy

// These tests put the proxy between the AWS SDK and a real moto server.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func through(t *testing.T, cfg Config, region string) (aws.Config, *Proxy) {
	t.Helper()
	p, err := Start(emulatortest.Endpoint(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	c := emulatortest.Config(t, region)
	c.BaseEndpoint = aws.String(p.URL)
	c.RetryMaxAttempts = 10
	return c, p
}

// TestEveryProtocolsThrottlingIsRetried throttles every other call of each
// protocol; the SDK must recognise each answer as retryable and succeed.
func TestEveryProtocolsThrottlingIsRetried(t *testing.T) {
	cfg, p := through(t, Config{Throttle: 0.5, Seed: 1}, "us-east-1")
	ctx := context.Background()
	if _, err := ec2sdk.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{}); err != nil {
		t.Errorf("ec2 (ec2 query): %v", err)
	}
	if _, err := cfn.NewFromConfig(cfg).ListStacks(ctx, &cfn.ListStacksInput{}); err != nil {
		t.Errorf("cloudformation (query): %v", err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("dynamodb (json): %v", err)
	}
	if _, err := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }).ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Errorf("s3 (rest-xml): %v", err)
	}
	if c := p.Counts(); c.Throttled == 0 || c.Requests <= c.Throttled {
		t.Errorf("counts %+v: want some throttled calls and some through", c)
	}
}

func TestAThrottledCallIsSeenAsThrottlingWhenRetriesRunOut(t *testing.T) {
	cfg, _ := through(t, Config{Throttle: 1}, "us-east-1")
	cfg.RetryMaxAttempts = 1
	_, err := dynamodb.NewFromConfig(cfg).ListTables(context.Background(), &dynamodb.ListTablesInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" {
		t.Errorf("got %v, want a ThrottlingException", err)
	}
}

// TestALostAnswerMeansTheCallHappened shows why retried writes need to be
// idempotent: the first CreateTable took effect, its retry finds it there.
func TestALostAnswerMeansTheCallHappened(t *testing.T) {
	cfg, p := through(t, Config{LostAnswer: 1, Match: func(r *http.Request, body []byte) bool {
		return r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.CreateTable"
	}}, "eu-west-1")
	cfg.RetryMaxAttempts = 2
	ddb := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	_, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("t"),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
	})
	var inUse *ddbtypes.ResourceInUseException
	if err == nil || (!errors.As(err, &inUse) && !isServerError(err)) {
		t.Fatalf("create with a lost answer: %v", err)
	}
	if _, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("t")}); err != nil {
		t.Errorf("the table was created although its answer was lost: %v", err)
	}
	if c := p.Counts(); c.LostAnswers == 0 {
		t.Errorf("counts %+v", c)
	}
}

func isServerError(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() >= 500
}

func TestTheSameSeedFaultsTheSameCalls(t *testing.T) {
	run := func() string {
		cfg, p := through(t, Config{Unavailable: 0.3, Seed: 42}, "us-west-2")
		cfg.RetryMaxAttempts = 10
		c := ec2sdk.NewFromConfig(cfg)
		for range 20 {
			if _, err := c.DescribeAvailabilityZones(context.Background(), &ec2sdk.DescribeAvailabilityZonesInput{}); err != nil {
				t.Fatal(err)
			}
		}
		return fmt.Sprintf("%+v", p.Counts())
	}
	if a, b := run(), run(); a != b {
		t.Errorf("two runs with one seed differ: %s vs %s", a, b)
	}
}

// TestADroppedServiceFailsItsCallsAndOnlyIts: with every DynamoDB call
// dropped, DynamoDB calls fail after the SDK's attempts, as if the service
// were gone, while other services answer.
func TestADroppedServiceFailsItsCallsAndOnlyIts(t *testing.T) {
	cfg, p := through(t, Config{Drop: 1, Match: func(r *http.Request, _ []byte) bool { return Service(r) == "dynamodb" }}, "us-east-1")
	cfg.RetryMaxAttempts = 2
	ctx := context.Background()
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err == nil {
		t.Error("dynamodb answered through a proxy that drops it")
	}
	if _, err := ec2sdk.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2sdk.DescribeVpcsInput{}); err != nil {
		t.Errorf("ec2: %v", err)
	}
	if c := p.Counts(); c.Dropped != 2 {
		t.Errorf("counts %+v: want both of DynamoDB's attempts dropped", c)
	}
}
