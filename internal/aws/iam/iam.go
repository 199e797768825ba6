// Package iam is Elevator's adapter for AWS Identity and Access Management:
// the instance profiles a release's instances run as, in Elevator's own
// types. Errors it returns are *elevator.Error, translated by awserr:
// ENOTFOUND wrapping ErrNotFound and an *awserr.NotFoundError for an
// instance profile that does not exist, and the codes awserr gives every
// service (EINTERRUPTED when the context was cancelled, EAWS for any other
// failure).
package iam

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error returned for an instance
// profile that does not exist.
var ErrNotFound = errors.New("instance profile not found")

// codes are IAM's answers that mean more than a failed call.
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "NoSuchEntity", Err: ErrNotFound}},
}

// api lists the IAM operations Elevator uses.
type api interface {
	GetInstanceProfile(context.Context, *iamsdk.GetInstanceProfileInput, ...func(*iamsdk.Options)) (*iamsdk.GetInstanceProfileOutput, error)
	ListRoles(context.Context, *iamsdk.ListRolesInput, ...func(*iamsdk.Options)) (*iamsdk.ListRolesOutput, error)
}

// Client talks to IAM (a global service).
type Client struct {
	api api
	// files holds the operations of IAM kept in files (files.go).
	files filesAPI
}

// New returns a client.
func New(cfg aws.Config) *Client {
	c := iamsdk.NewFromConfig(cfg)
	return &Client{api: c, files: c}
}

// Role is an IAM role.
type Role struct {
	Name, ARN string
	// Path is the role's path, e.g. /elevator/<orbit>/<app>/<service>/; it
	// says which app and service may use it.
	Path string
}

// InstanceProfile is an instance profile and the role it passes to its
// instances (AWS allows at most one).
type InstanceProfile struct {
	Name, ARN, Path string
	Roles           []Role
}

// InstanceProfile returns the instance profile called name; an ARN
// (arn:aws:iam::<account>:instance-profile/<path><name>) is accepted too.
// It returns an ENOTFOUND error wrapping ErrNotFound when there is none,
// and EAWS for other failures.
func (c *Client) InstanceProfile(ctx context.Context, name string) (InstanceProfile, error) {
	if strings.HasPrefix(name, "arn:") {
		name = name[strings.LastIndex(name, "/")+1:]
	}
	out, err := c.api.GetInstanceProfile(ctx, &iamsdk.GetInstanceProfileInput{InstanceProfileName: aws.String(name)})
	if err != nil {
		return InstanceProfile{}, codes.Translate(awserr.Op{Doing: "get instance profile " + name, Kind: "instance profile", Name: name}, err)
	}
	p := out.InstanceProfile
	profile := InstanceProfile{Name: aws.ToString(p.InstanceProfileName), ARN: aws.ToString(p.Arn), Path: aws.ToString(p.Path)}
	for _, r := range p.Roles {
		profile.Roles = append(profile.Roles, Role{Name: aws.ToString(r.RoleName), ARN: aws.ToString(r.Arn), Path: aws.ToString(r.Path)})
	}
	return profile, nil
}

// RolesOnPath returns the roles whose paths start with prefix. It returns
// an EAWS error (or another of awserr's codes) when IAM refuses.
func (c *Client) RolesOnPath(ctx context.Context, prefix string) ([]Role, error) {
	var out []Role
	in := &iamsdk.ListRolesInput{PathPrefix: aws.String(prefix)}
	for {
		page, err := c.api.ListRoles(ctx, in)
		if err != nil {
			return nil, codes.Translate(awserr.Op{Doing: "list roles", Kind: "roles on path", Name: prefix}, err)
		}
		for _, r := range page.Roles {
			out = append(out, Role{Name: aws.ToString(r.RoleName), ARN: aws.ToString(r.Arn), Path: aws.ToString(r.Path)})
		}
		if !page.IsTruncated || page.Marker == nil {
			return out, nil
		}
		in.Marker = page.Marker
	}
}
