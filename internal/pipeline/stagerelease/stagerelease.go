// Package stagerelease makes what a pipeline stage ships from the
// manifests an execution pinned when it started (elevator.PipelineSources):
// the app merged for an orbit, the release document of the stage in one
// orbit, and the pin a rollback leaves. The command line (`pipeline
// start|resume`) and the orbit's deployer use the same functions, so that
// a stage compiles the same whichever process drives it.
package stagerelease

import (
	"context"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/lookup"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// App parses the pinned app manifest merged for orbit ("" for the base
// manifest), with the parser and the file name `elevator` uses for the
// file itself, so errors name the file as it was.
func App(src *elevator.PipelineSources, orbit string) (*elevator.App, error) {
	return manifest.ParseApp(src.App.File, []byte(src.App.Text), orbit)
}

// Orbit parses the pinned manifest of orbit name. It returns an ENOTFOUND
// error when the sources hold none.
func Orbit(src *elevator.PipelineSources, name string) (*elevator.Orbit, error) {
	for _, m := range src.Orbits {
		o, err := manifest.ParseOrbit(m.File, []byte(m.Text))
		if err != nil {
			return nil, err
		}
		if o.Name == name {
			return o, nil
		}
	}
	return nil, elevator.Errorf(elevator.ENOTFOUND, "the execution pinned no manifest of orbit %s", name)
}

// Request is one stage's release into one orbit.
type Request struct {
	Sources *elevator.PipelineSources
	Orbit   *elevator.Orbit
	Version string
	// ID is the release's id; "" makes a new one.
	ID  string
	By  string // the caller's ARN: the release's CreatedBy
	Now time.Time
	// Agent are the Elevator agent's builds the user data names.
	Agent map[string]elevator.AgentBuild
	// Clients reads the orbit and the app in one region of the orbit.
	Clients func(region string) (lookup.Clients, error)
}

// Release compiles the stage's release document: the pinned app merged
// for the orbit, with the orbit's facts looked up now (its stacks'
// outputs, the services' images), as `elevator deploy` compiles one. It
// returns the facts too (their state buckets are where the agent's builds
// go), and the errors of parsing, looking up and compiling.
func Release(ctx context.Context, r Request) (*elevator.Release, map[string]compile.ReleaseFacts, error) {
	a, err := App(r.Sources, r.Orbit.Name)
	if err != nil {
		return nil, nil, err
	}
	facts, err := lookup.ReleaseFacts(ctx, a, r.Orbit, r.Clients)
	if err != nil {
		return nil, nil, err
	}
	now := r.Now.UTC()
	id := r.ID
	if id == "" {
		if id, err = elevator.NewReleaseID(now, nil); err != nil {
			return nil, nil, err
		}
	}
	rel, err := compile.ReleaseDocument(compile.ReleaseRequest{App: a, Orbit: r.Orbit, Version: r.Version, ID: id, CreatedAt: now, CreatedBy: r.By, Agent: r.Agent}, facts)
	if err != nil {
		return nil, nil, err
	}
	return rel, facts, nil
}

// Releases reads an orbit's release records and documents: the release
// store (awsrelease.Store) is one.
type Releases interface {
	Releases(ctx context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error)
	Release(ctx context.Context, id string) (doc []byte, checksum string, err error)
}

// Pin returns why app is pinned in the orbit whose releases these are, or
// "": an orbit is pinned while the newest release of the app there is one
// a person rolled back (elevator.RollbackPin says which). A release after
// it, by hand or by a pipeline that was unpinned, clears it.
func Pin(ctx context.Context, releases Releases, appName string) (string, error) {
	recs, err := releases.Releases(ctx, appName, 1)
	if err != nil || len(recs) == 0 {
		return "", err
	}
	doc, _, err := releases.Release(ctx, recs[0].ID)
	if err != nil {
		return "", err
	}
	rel, err := elevator.ParseRelease(doc)
	if err != nil {
		return "", err
	}
	return elevator.RollbackPin(recs[0], rel), nil
}
