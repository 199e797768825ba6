package pipeline

import (
	"context"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// blockedReleaser is the releaser of a driver that may not release into
// some orbits (an orbit's deployer, which releases into its own only).
type blockedReleaser struct {
	Releaser
	denied map[string]bool
}

func (b blockedReleaser) Start(ctx context.Context, orbit, version, token string) (string, error) {
	if b.denied[orbit] {
		return "", &BlockedError{Orbit: orbit, Reason: "no grant here"}
	}
	return b.Releaser.Start(ctx, orbit, version, token)
}

// TestADriverWithoutAccessParksTheStageForOneWithIt: a stage whose driver
// may not release into its orbit waits for access (it does not fail), the
// execution is parked with its lease given up, and a driver with access
// goes on from there, the wait cleared.
func TestADriverWithoutAccessParksTheStageForOneWithIt(t *testing.T) {
	w := newWorld(t, `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - orbit: test
    - {orbit: prod, auto: true}
`)
	ctx := context.Background()
	deployer := w.executor("deployer")
	deployer.Releaser = blockedReleaser{Releaser: w.rel, denied: map[string]bool{"prod": true}}
	if _, err := deployer.Start(ctx, "p1", "1", alice); err != nil {
		t.Fatal(err)
	}
	e, err := deployer.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	wait := e.Stage("prod").WaitingFor
	if got := states(e); got != "Running test=Succeeded prod=Releasing" || len(wait) != 1 || wait[0] != elevator.WaitAccess+": orbit prod: no grant here" || e.Owner != "" {
		t.Fatalf("the deployer left %s waiting for %q, owner %q", got, wait, e.Owner)
	}
	e, err = w.executor("laptop").Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := states(e); got != "Succeeded test=Succeeded prod=Succeeded" || len(e.Stage("prod").WaitingFor) != 0 || e.Stage("prod").Releases["prod"] == "" {
		t.Fatalf("after a driver with access: %s, waiting for %q", got, e.Stage("prod").WaitingFor)
	}
	if strings.Join(w.rel.started, " ") != "test prod" {
		t.Errorf("releases started in %v", w.rel.started)
	}
}
