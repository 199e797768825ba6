// Package ssm is Elevator's adapter for AWS Systems Manager Parameter Store
// and Run Command.
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping an *awserr.NotFoundError for a missing parameter, and the codes
// awserr gives every service (EINTERRUPTED when the context was cancelled,
// EAWS for any other failure).
package ssm

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// codes are Parameter Store's answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "ParameterNotFound"}},
}

type api interface {
	GetParameter(context.Context, *ssmsdk.GetParameterInput, ...func(*ssmsdk.Options)) (*ssmsdk.GetParameterOutput, error)
}

// Client talks to Parameter Store in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: ssmsdk.NewFromConfig(cfg), region: cfg.Region} }

// Parameter returns a parameter's value.
func (c *Client) Parameter(ctx context.Context, name string) (string, error) {
	out, err := c.api.GetParameter(ctx, &ssmsdk.GetParameterInput{Name: aws.String(name)})
	if err != nil {
		return "", codes.Translate(awserr.Op{Doing: "get SSM parameter " + name, Region: c.region, Kind: "SSM parameter", Name: name}, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// SecureParameter returns a parameter's value, decrypted when it is a
// SecureString (a String parameter is returned as it is). It returns an
// ENOTFOUND error for a missing parameter; see the package comment for
// the others.
func (c *Client) SecureParameter(ctx context.Context, name string) (string, error) {
	out, err := c.api.GetParameter(ctx, &ssmsdk.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", codes.Translate(awserr.Op{Doing: "get SSM parameter " + name, Region: c.region, Kind: "SSM parameter", Name: name}, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}
