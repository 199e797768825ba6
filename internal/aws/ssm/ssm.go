// Package ssm is Elevator's adapter for AWS Systems Manager Parameter Store.
// Errors it returns are *elevator.Error: ENOTFOUND for a missing parameter,
// EAWS for any other failure.
package ssm

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	elevator "github.com/elevatorhq/elevator"
)

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
		var nf *ssmtypes.ParameterNotFound
		if errors.As(err, &nf) {
			return "", elevator.Errorf(elevator.ENOTFOUND, "SSM parameter %s not found in %s", name, c.region)
		}
		return "", elevator.Errorf(elevator.EAWS, "get SSM parameter %s in %s: %w", name, c.region, err)
	}
	return aws.ToString(out.Parameter.Value), nil
}
