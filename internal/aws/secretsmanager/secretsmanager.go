// Package secretsmanager is Elevator's adapter for AWS Secrets Manager: it
// reads a secret's current value, and finds a secret's full ARN. Errors it returns are *elevator.Error,
// translated by awserr: ENOTFOUND wrapping an *awserr.NotFoundError and
// ErrNotFound for a missing secret, EINVALID for a secret that holds no
// string, and the codes awserr gives every service (EINTERRUPTED when the
// context was cancelled, EAWS for any other failure).
package secretsmanager

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is wrapped by the ENOTFOUND error returned for a secret that
// does not exist (or is scheduled for deletion).
var ErrNotFound = errors.New("secret not found")

// codes are Secrets Manager's answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "ResourceNotFoundException", Err: ErrNotFound}},
	Invalid:  []awserr.Match{{Code: "InvalidRequestException"}},
}

type api interface {
	GetSecretValue(context.Context, *smsdk.GetSecretValueInput, ...func(*smsdk.Options)) (*smsdk.GetSecretValueOutput, error)
	DescribeSecret(context.Context, *smsdk.DescribeSecretInput, ...func(*smsdk.Options)) (*smsdk.DescribeSecretOutput, error)
}

// Client talks to Secrets Manager in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: smsdk.NewFromConfig(cfg), region: cfg.Region} }

// SecretString returns the current string value of the secret id (its
// name or ARN). It returns an ENOTFOUND error wrapping ErrNotFound when
// there is no such secret and EINVALID when the secret holds binary data
// only. The value never appears in an error.
func (c *Client) SecretString(ctx context.Context, id string) (string, error) {
	out, err := c.api.GetSecretValue(ctx, &smsdk.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", codes.Translate(awserr.Op{Doing: "get secret " + id, Region: c.region, Kind: "secret", Name: id}, err)
	}
	if out.SecretString == nil {
		return "", elevator.Errorf(elevator.EINVALID, "secret %s in %s holds no string (binary secrets are not supported)", id, c.region)
	}
	return *out.SecretString, nil
}

// SecretARN returns the full ARN of the secret id (its name or ARN), with
// the 6-character suffix Secrets Manager added to its name: what ECS
// takes as a secret's valueFrom. It reads the secret's metadata only
// (DescribeSecret), never its value. It returns an ENOTFOUND error
// wrapping ErrNotFound when there is no such secret.
func (c *Client) SecretARN(ctx context.Context, id string) (string, error) {
	out, err := c.api.DescribeSecret(ctx, &smsdk.DescribeSecretInput{SecretId: aws.String(id)})
	if err != nil {
		return "", codes.Translate(awserr.Op{Doing: "describe secret " + id, Region: c.region, Kind: "secret", Name: id}, err)
	}
	if out.ARN == nil {
		return "", elevator.Errorf(elevator.EAWS, "describe secret %s in %s: Secrets Manager gave no ARN", id, c.region)
	}
	return *out.ARN, nil
}
