package ecr

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ecr/ecrtest"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestImageAndRepository(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	const repo = "prod/shop/web"
	if _, err := ecrsdk.NewFromConfig(cfg).CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	ecrtest.Push(t, cfg, repo, "1.4.2")
	c := New(cfg)

	img, err := c.Image(ctx, repo, "1.4.2")
	if err != nil {
		t.Fatal(err)
	}
	if img.Repository != repo || img.Digest == "" || !slices.Contains(img.Tags, "1.4.2") {
		t.Errorf("image %+v, want %s:1.4.2 with a digest", img, repo)
	}
	_, err = c.Image(ctx, repo, "1.4.3")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrImageNotFound) {
		t.Errorf("a tag never pushed: %v, want ENOTFOUND wrapping ErrImageNotFound", err)
	}
	_, err = c.Image(ctx, "prod/shop/api", "1.4.2")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("a repository that does not exist: %v, want ENOTFOUND wrapping ErrRepositoryNotFound", err)
	}

	r, err := c.Repository(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	if want := emulatortest.AccountID(cfg) + ".dkr.ecr.eu-west-1.amazonaws.com/" + repo; r.Name != repo || r.URI != want {
		t.Errorf("repository %+v, want %s at %s", r, repo, want)
	}
	if _, err := c.Repository(ctx, "prod/shop/api"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Errorf("a repository that does not exist: %v, want ErrRepositoryNotFound", err)
	}
}
