package iam

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestInstanceProfile(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	sdk := iamsdk.NewFromConfig(cfg)
	path := elevator.IAMPath("o", "a", "s")
	role, err := sdk.CreateRole(ctx, &iamsdk.CreateRoleInput{
		RoleName: aws.String("web"), Path: aws.String(path),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	created, err := sdk.CreateInstanceProfile(ctx, &iamsdk.CreateInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), Path: aws.String(path)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.AddRoleToInstanceProfile(ctx, &iamsdk.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String("web-profile"), RoleName: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	c := New(cfg)

	for _, tc := range []struct{ test, name string }{
		{"a profile is found by its name with its path and role", "web-profile"},
		{"a profile is found by its ARN too", aws.ToString(created.InstanceProfile.Arn)},
	} {
		t.Run(tc.test, func(t *testing.T) {
			p, err := c.InstanceProfile(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			want := Role{Name: "web", ARN: aws.ToString(role.Role.Arn), Path: path}
			if p.Name != "web-profile" || p.ARN != aws.ToString(created.InstanceProfile.Arn) || p.Path != path || len(p.Roles) != 1 || p.Roles[0] != want {
				t.Errorf("got %+v, want web-profile at %s with role %+v", p, path, want)
			}
		})
	}
	t.Run("a missing profile is not found", func(t *testing.T) {
		_, err := c.InstanceProfile(ctx, "nope")
		if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v (code %q), want ENOTFOUND wrapping ErrNotFound", err, elevator.ErrorCode(err))
		}
	})
}
