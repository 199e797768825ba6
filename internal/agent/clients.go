package agent

import (
	"context"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awscfg"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatchlogs"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/secretsmanager"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
)

// Parameters reads SSM parameters, SecureStrings decrypted.
type Parameters interface {
	SecureParameter(ctx context.Context, name string) (string, error)
}

// Secrets reads Secrets Manager secrets.
type Secrets interface {
	SecretString(ctx context.Context, id string) (string, error)
}

// Stacks reads a CloudFormation stack (its outputs).
type Stacks interface {
	Describe(ctx context.Context, name string) (*cloudformation.Stack, error)
}

// Tables reads the orbit's SSH tables.
type Tables interface {
	BatchGet(ctx context.Context, keys map[string][]dynamodb.Item) (map[string][]dynamodb.Item, error)
	Scan(ctx context.Context, table string, in dynamodb.ScanInput) ([]dynamodb.Item, error)
}

// Registry logs in to the ECR registry of one region.
type Registry interface {
	Login(ctx context.Context) (ecr.Login, error)
}

// LogWriter puts a batch of events into a log stream, creating it on first
// use, and returns how many CloudWatch rejected.
type LogWriter interface {
	Put(ctx context.Context, group, stream string, events []cloudwatchlogs.Event) (int, error)
}

// Objects reads and writes objects of the orbit's state bucket (a
// builder's bundle and its result).
type Objects interface {
	Get(ctx context.Context, bucket, key string) ([]byte, string, error)
	Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error)
}

// Clients are the AWS clients the agent uses, in the instance's region.
type Clients struct {
	Parameters Parameters
	Secrets    Secrets
	Stacks     Stacks
	Tables     Tables
	Logs       LogWriter
	Objects    Objects
	// Registry returns the ECR client of a region (an image may live in
	// another region than the instance).
	Registry func(region string) Registry
	// InstanceID asks the instance metadata service for the instance id.
	InstanceID func(ctx context.Context) (string, error)
	// AccountID asks the instance metadata service for the account the
	// instance runs in (its identity document), which names the orbit's
	// state bucket, as the bootstrap script reads it.
	AccountID func(ctx context.Context) (string, error)
}

// AWSClients returns the clients of the real AWS (or of the endpoint in
// AWS_ENDPOINT_URL), with the SDK's default credential chain: on EC2, the
// instance profile's credentials from IMDS.
func AWSClients(ctx context.Context, cfg *elevator.AgentConfig) (*Clients, error) {
	awsCfg, err := awscfg.Load(ctx, awscfg.Options{Region: cfg.Region})
	if err != nil {
		return nil, err
	}
	return NewClients(awsCfg), nil
}

// NewClients returns the clients of awsCfg.
func NewClients(awsCfg aws.Config) *Clients {
	return &Clients{
		Parameters: ssm.New(awsCfg),
		Secrets:    secretsmanager.New(awsCfg),
		Stacks:     cloudformation.New(awsCfg),
		Tables:     dynamodb.New(awsCfg),
		Logs:       cloudwatchlogs.NewWriter(awsCfg),
		Objects:    s3.New(awsCfg),
		Registry: func(region string) Registry {
			c := awsCfg.Copy()
			c.Region = region
			return ecr.New(c)
		},
		InstanceID: func(ctx context.Context) (string, error) {
			out, err := imds.NewFromConfig(awsCfg).GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
			if err != nil {
				return "", err
			}
			defer out.Content.Close()
			b, err := io.ReadAll(io.LimitReader(out.Content, 256))
			return strings.TrimSpace(string(b)), err
		},
		AccountID: func(ctx context.Context) (string, error) {
			out, err := imds.NewFromConfig(awsCfg).GetInstanceIdentityDocument(ctx, &imds.GetInstanceIdentityDocumentInput{})
			if err != nil {
				return "", err
			}
			return out.AccountID, nil
		},
	}
}
