// Package ecr is Elevator's adapter for Amazon ECR: the credentials Docker
// needs to pull from a registry, and the repositories and tagged images
// releases use. Errors it returns are *elevator.Error, translated by awserr
// (EINTERRUPTED when the context was cancelled, ENOTFOUND wrapping
// ErrRepositoryNotFound or ErrImageNotFound for what does not exist, EAWS
// for any refused or failed call, EINVALID for a token that cannot be
// read).
package ecr

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// The causes of the ENOTFOUND errors the client returns, for errors.Is.
var (
	ErrRepositoryNotFound = errors.New("repository not found")
	ErrImageNotFound      = errors.New("image not found")
)

var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "RepositoryNotFoundException", Err: ErrRepositoryNotFound},
		{Code: "ImageNotFoundException", Err: ErrImageNotFound},
	},
}

type api interface {
	GetAuthorizationToken(context.Context, *ecrsdk.GetAuthorizationTokenInput, ...func(*ecrsdk.Options)) (*ecrsdk.GetAuthorizationTokenOutput, error)
	DescribeImages(context.Context, *ecrsdk.DescribeImagesInput, ...func(*ecrsdk.Options)) (*ecrsdk.DescribeImagesOutput, error)
	DescribeRepositories(context.Context, *ecrsdk.DescribeRepositoriesInput, ...func(*ecrsdk.Options)) (*ecrsdk.DescribeRepositoriesOutput, error)
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

// Image is an image in a repository.
type Image struct {
	Repository string
	Digest     string
	Tags       []string
	Pushed     time.Time
}

// Image returns the image tagged tag in repository (one DescribeImages
// call). It returns an ENOTFOUND error wrapping ErrRepositoryNotFound when
// the repository does not exist, and one wrapping ErrImageNotFound when
// it has no image with that tag.
func (c *Client) Image(ctx context.Context, repository, tag string) (Image, error) {
	op := awserr.Op{Doing: "describe image " + repository + ":" + tag, Region: c.region, Kind: "image", Name: repository + ":" + tag}
	out, err := c.api.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{
		RepositoryName: aws.String(repository),
		ImageIds:       []ecrtypes.ImageIdentifier{{ImageTag: aws.String(tag)}},
	})
	if err != nil {
		return Image{}, codes.Translate(op, err)
	}
	for _, d := range out.ImageDetails {
		return Image{Repository: repository, Digest: aws.ToString(d.ImageDigest), Tags: d.ImageTags, Pushed: aws.ToTime(d.ImagePushedAt)}, nil
	}
	return Image{}, awserr.NotFound("image", repository+":"+tag, c.region, ErrImageNotFound)
}

// Repository is an ECR repository.
type Repository struct {
	Name, URI string
}

// Repository returns the repository called name. It returns an ENOTFOUND
// error wrapping ErrRepositoryNotFound when there is none.
func (c *Client) Repository(ctx context.Context, name string) (Repository, error) {
	op := awserr.Op{Doing: "describe repository " + name, Region: c.region, Kind: "repository", Name: name}
	out, err := c.api.DescribeRepositories(ctx, &ecrsdk.DescribeRepositoriesInput{RepositoryNames: []string{name}})
	if err != nil {
		return Repository{}, codes.Translate(op, err)
	}
	for _, r := range out.Repositories {
		return Repository{Name: aws.ToString(r.RepositoryName), URI: aws.ToString(r.RepositoryUri)}, nil
	}
	return Repository{}, awserr.NotFound("repository", name, c.region, ErrRepositoryNotFound)
}
