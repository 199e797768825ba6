// Package ecr is Elevator's adapter for Amazon ECR: the credentials Docker
// needs to pull from a registry. Errors it returns are *elevator.Error,
// translated by awserr (EINTERRUPTED when the context was cancelled, EAWS
// for any refused or failed call, EINVALID for a token that cannot be
// read).
package ecr

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

var codes = awserr.Codes{}

type api interface {
	GetAuthorizationToken(context.Context, *ecrsdk.GetAuthorizationTokenInput, ...func(*ecrsdk.Options)) (*ecrsdk.GetAuthorizationTokenOutput, error)
}

// Client talks to ECR in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: ecrsdk.NewFromConfig(cfg), region: cfg.Region} }

// Login is what `docker login` needs for a registry. Password is a
// secret: never log it or pass it on a command line.
type Login struct {
	Username, Password string
	Expires            time.Time
}

// Login returns the credentials of the account's registry in the client's
// region (ecr:GetAuthorizationToken). It returns an EINVALID error when
// ECR's token is not base64 "user:password".
func (c *Client) Login(ctx context.Context) (Login, error) {
	out, err := c.api.GetAuthorizationToken(ctx, &ecrsdk.GetAuthorizationTokenInput{})
	if err != nil {
		return Login{}, codes.Translate(awserr.Op{Doing: "get ECR authorization token", Region: c.region}, err)
	}
	if len(out.AuthorizationData) == 0 {
		return Login{}, elevator.Errorf(elevator.EAWS, "get ECR authorization token in %s: ECR returned none", c.region)
	}
	d := out.AuthorizationData[0]
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	user, pass, ok := strings.Cut(string(raw), ":")
	if err != nil || !ok {
		return Login{}, elevator.Errorf(elevator.EINVALID, "get ECR authorization token in %s: the token is not base64 user:password", c.region)
	}
	return Login{Username: user, Password: pass, Expires: aws.ToTime(d.ExpiresAt)}, nil
}
