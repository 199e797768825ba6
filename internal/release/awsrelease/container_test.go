package awsrelease

// Container images in a service's own ECR repository, on moto: a release
// refuses a tag the repository lacks and one the orbit's allow list lacks,
// and runs once the tag is pushed (PutImage with a manifest, as `docker
// push` leaves it) and allowed.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ecr/ecrtest"
	"github.com/elevatorhq/elevator/internal/image"
)

func TestAReleaseRunsATagOfItsOwnRepositoryOnlyOncePushedAndAllowed(t *testing.T) {
	const region = "us-east-1"
	w := newWorld(t, region)
	ctx := context.Background()
	repo := elevator.AppRepositoryName(orbitName, "shop", "worker")
	if _, err := ecrsdk.NewFromConfig(w.cfg(region)).CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String(repo)}); err != nil {
		t.Fatal(err)
	}
	onRepository := func(r *elevator.Release) {
		for i := range r.Services[0].Placements {
			r.Services[0].Placements[i].Repository = repo
		}
	}
	e := w.engine(w.backend(), "engine-a")
	shop := w.newApp("shop", []string{"worker"})
	refused := func(rec *elevator.ReleaseRecord, want string) {
		t.Helper()
		if rec.State != elevator.StateFailureClean || rec.Failure != elevator.FailureUnusableResources || !strings.Contains(rec.Error, want) {
			t.Errorf("release: %s, %s (%s); want FailureClean saying %q", rec.State, rec.Failure, rec.Error, want)
		}
	}

	ecrtest.Push(t, w.cfg(region), repo, "1.9.0")
	refused(w.run(t, e, w.release(shop, "2.0.0", onRepository)), "repository "+repo+" has no image tagged 2.0.0")

	ecrtest.Push(t, w.cfg(region), repo, "2.0.0")
	list := image.AllowList{Orbit: orbitName, Items: dynamodb.New(w.cfg(region))}
	if err := list.Allow(ctx, "shop", repo+":1.9.0", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	refused(w.run(t, e, w.release(shop, "2.0.0", onRepository)), "container image "+repo+":2.0.0 is not authorized")

	if err := list.Allow(ctx, "shop", repo+":2.0.0", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	if rec := w.run(t, e, w.release(shop, "2.0.0", onRepository)); rec.State != elevator.StateSuccess {
		t.Errorf("release of a pushed, allowed tag: %s (%s)", rec.State, rec.Error)
	}
}
