package awsrelease

// Container images in a service's own ECR repository, on moto: a release
// refuses a tag the repository lacks and one the orbit's allow list lacks,
// and runs once the tag is pushed (PutImage with a manifest, as `docker
// push` leaves it) and allowed.

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
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
	api := elevator.AppRepositoryName(orbitName, "shop", "api")
	for _, name := range []string{repo, api} {
		if _, err := ecrsdk.NewFromConfig(w.cfg(region)).CreateRepository(ctx, &ecrsdk.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	ecrtest.Push(t, w.cfg(region), api, "2.0.0")
	onRepository := func(r *elevator.Release) {
		for i := range r.Services {
			for j := range r.Services[i].Placements {
				r.Services[i].Placements[j].Repository = elevator.AppRepositoryName(orbitName, "shop", r.Services[i].Name)
			}
		}
	}
	counter := newCountingClient()
	registry := &ecrCalls{next: counter}
	cfg := w.cfg(region)
	cfg.HTTPClient = registry
	e := w.engine(w.backend(cfg), "engine-a")
	shop := w.newApp("shop", []string{"worker", "api"})
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
	for _, id := range []string{repo + ":1.9.0", api + ":2.0.0"} {
		if err := list.Allow(ctx, "shop", id, "alice", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	refused(w.run(t, e, w.release(shop, "2.0.0", onRepository)), "container image "+repo+":2.0.0 is not authorized")

	if err := list.Allow(ctx, "shop", repo+":2.0.0", "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	counter.reset()
	registry.n.Store(0)
	if rec := w.run(t, e, w.release(shop, "2.0.0", onRepository)); rec.State != elevator.StateSuccess {
		t.Errorf("release of a pushed, allowed tag: %s (%s)", rec.State, rec.Error)
	}
	// One ECR DescribeImages per repository.
	calls := counter.reset()
	if n := registry.n.Load(); n != 2 {
		t.Errorf("the release made %d ECR calls for 2 repositories in 1 region, want 2", n)
	}
	t.Logf("a release of 2 services on their own repositories in 1 region: %d ECR calls (DescribeImages), %d DynamoDB GetItem (allow list and records); all calls: %v", registry.n.Load(), calls["GetItem"], calls)
}

// ecrCalls counts the ECR calls among those it passes on.
type ecrCalls struct {
	next aws.HTTPClient
	n    atomic.Int32
}

func (c *ecrCalls) Do(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.Header.Get("X-Amz-Target"), "ContainerRegistry") {
		c.n.Add(1)
	}
	return c.next.Do(r)
}
