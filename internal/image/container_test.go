package image

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/ecr/ecrtest"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestATagIsAllowedOnlyOnceItIsInItsAppsRepository, on moto: a tag of
// one of the app's own repositories is allowed once pushed, and then only
// for that pair; a tag not pushed, a repository of another app and a
// version no release could have are refused, and nothing is written.
func TestATagIsAllowedOnlyOnceItIsInItsAppsRepository(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-2")
	ctx := context.Background()
	imagesTable(t, cfg, "prod")
	for _, name := range []string{"prod/shop/web", "prod/blog/web"} {
		if _, err := ecrsdk.NewFromConfig(cfg).CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	ecrtest.Push(t, cfg, "prod/shop/web", "1.4.2")
	ecrtest.Push(t, cfg, "prod/blog/web", "1.4.2")
	list := AllowList{Orbit: "prod", Items: dynamodb.New(cfg)}
	registry := ecr.New(cfg)
	now := time.Now()

	refusals := []struct {
		name, repository, tag string
		code                  string
	}{
		{"a tag not pushed", "prod/shop/web", "1.4.3", elevator.ENOTFOUND},
		{"another app's repository", "prod/blog/web", "1.4.2", elevator.EINVALID},
		{"another orbit's repository", "staging/shop/web", "1.4.2", elevator.EINVALID},
		{"the app's prefix without a service", "prod/shop/", "1.4.2", elevator.EINVALID},
		{"a tag no release could have", "prod/shop/web", "-x", elevator.EINVALID},
	}
	for _, r := range refusals {
		if _, err := AllowContainerImage(ctx, registry, list, r.repository, r.tag, "shop", "alice", now); elevator.ErrorCode(err) != r.code {
			t.Errorf("%s: %v, want %s", r.name, err, r.code)
		}
		if ok, err := list.Allows(ctx, "shop", elevator.ContainerImage(r.repository, r.tag)); ok || err != nil {
			t.Errorf("%s: allowed %v (%v) after a refusal", r.name, ok, err)
		}
	}

	al, err := AllowContainerImage(ctx, registry, list, "prod/shop/web", "1.4.2", "shop", "alice", now)
	if err != nil {
		t.Fatal(err)
	}
	if al.Image != "prod/shop/web:1.4.2" || al.App != "shop" || al.Orbit != "prod" {
		t.Errorf("allowance %+v", al)
	}
	for _, c := range []struct {
		app, image string
		want       bool
	}{
		{"shop", "prod/shop/web:1.4.2", true},
		{"blog", "prod/shop/web:1.4.2", false},
		{"shop", "prod/shop/web:1.4.3", false},
	} {
		if ok, err := list.Allows(ctx, c.app, c.image); ok != c.want || err != nil {
			t.Errorf("allows %s %s = %v (%v), want %v", c.app, c.image, ok, err, c.want)
		}
	}
}
