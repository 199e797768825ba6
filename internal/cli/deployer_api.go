package cli

import (
	"context"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// deployerReleases is what the deployer's API asks of it (api.Releases):
// submissions go through the state bucket, as CI's do, to whichever
// deployer claims them; reads and the release operations use the orbit's
// store and an engine of this deployer's, as the CLI does in process,
// with the caller the API authenticated.
type deployerReleases struct {
	d      *deployer.Deployer
	engine *release.Engine
	store  *awsrelease.Store
	orbit  string
}

var _ api.Releases = (*deployerReleases)(nil)

// Submit writes the release down as submitted by the authenticated
// caller, whatever the document said.
func (r *deployerReleases) Submit(ctx context.Context, rel *elevator.Release, by elevator.Caller) (*elevator.ReleaseRecord, error) {
	if rel.Orbit != r.orbit {
		return nil, elevator.Errorf(elevator.EINVALID, "release %s is for orbit %s; this deployer serves %s", rel.ID, rel.Orbit, r.orbit)
	}
	rel.CreatedBy = by.ARN
	return r.d.Submit(ctx, rel)
}

func (r *deployerReleases) List(ctx context.Context, q api.ListQuery) (api.Page, error) {
	recs, next, err := r.store.Page(ctx, q.App, q.Limit, q.Before)
	return api.Page{Records: recs, Next: next}, err
}

func (r *deployerReleases) Get(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	return r.engine.Status(ctx, id)
}

func (r *deployerReleases) Halt(ctx context.Context, id string, by elevator.Caller, reason string) error {
	return r.engine.Halt(ctx, id, by.ARN, reason)
}

// Rollback submits a release of an earlier successful release's content,
// by default the one before the current.
func (r *deployerReleases) Rollback(ctx context.Context, app, to string, by elevator.Caller) (*elevator.Release, error) {
	if to == "" {
		recs, _, err := r.store.Page(ctx, app, 50, "")
		if err != nil {
			return nil, err
		}
		if to = previousSuccess(recs); to == "" {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release in orbit %s to roll back to", app, r.orbit)
		}
	}
	target, err := r.engine.Status(ctx, to)
	if err != nil {
		return nil, err
	}
	if target.App != app {
		return nil, elevator.Errorf(elevator.EINVALID, "release %s is a release of app %s, not of %s", to, target.App, app)
	}
	rel, err := r.engine.Rollback(ctx, to, by.ARN)
	if err != nil {
		return nil, err
	}
	if _, err := r.d.Submit(ctx, rel); err != nil {
		return nil, err
	}
	return rel, nil
}

func (r *deployerReleases) Unlock(ctx context.Context, app string, by elevator.Caller, reason string) (release.Lock, error) {
	return r.engine.Unlock(ctx, app, r.orbit, by.ARN, reason)
}

func (r *deployerReleases) AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error) {
	return r.store.AuditLog(ctx, since)
}

func (r *deployerReleases) Audit(ctx context.Context, e elevator.AuditEntry) error {
	return r.store.Audit(ctx, e)
}
