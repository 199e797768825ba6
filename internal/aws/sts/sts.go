// Package sts is Elevator's adapter for AWS STS: who is calling. Errors it
// returns are *elevator.Error with the codes awserr gives every service
// (EINVALID for credentials AWS refuses, EINTERRUPTED when the context was
// cancelled, EAWS for any other failure).
package sts

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

type api interface {
	GetCallerIdentity(context.Context, *stssdk.GetCallerIdentityInput, ...func(*stssdk.Options)) (*stssdk.GetCallerIdentityOutput, error)
}

// Client talks to STS.
type Client struct{ api api }

// New returns a client.
func New(cfg aws.Config) *Client { return &Client{api: stssdk.NewFromConfig(cfg)} }

// Identity is the caller: its account and ARN.
type Identity struct {
	Account string `json:"account"`
	ARN     string `json:"arn"`
	UserID  string `json:"user_id"`
}

// CallerIdentity returns who the credentials belong to.
func (c *Client) CallerIdentity(ctx context.Context) (Identity, error) {
	out, err := c.api.GetCallerIdentity(ctx, &stssdk.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, awserr.Codes{}.Translate(awserr.Op{Doing: "get caller identity"}, err)
	}
	return Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn), UserID: aws.ToString(out.UserId)}, nil
}
