package cli

// Release commands through an orbit's deployer: with --deployer (or
// $ELEVATOR_DEPLOYER, or the orbit manifest's deployer), deploy, release
// list, show, watch and audit, halt, rollback and unlock ask the deployer's
// API (internal/api) instead of running the release engine in this
// process. Their output has the shape of the in-process commands'.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
)

// remote reports whether the command goes through a deployer.
func (e *releaseEnv) remote() bool { return e.client != nil }

// connectDeployer makes the client of the deployer at e.deployerURL; it
// signs each request with the caller's credentials for the orbit's first
// region (see api.Client), and calls nothing yet.
func (e *releaseEnv) connectDeployer(ctx context.Context) error {
	cfg, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
	if err != nil {
		return err
	}
	e.client = &api.Client{BaseURL: e.deployerURL, ServerID: elevator.DeployerServerID(e.orbit.Name), AWS: cfg}
	return nil
}

// deployerError turns an error of the deployer's client into one of
// Elevator's, whose code gives the exit code: the deployer's 400, 404 and
// 409 are invalid, not found and conflict; a 401 (who the caller is could
// not be proven) is invalid, as refused AWS credentials are; a 403 (the
// caller lacks the role) is aws, as an access denied by AWS is; a deployer
// that fails or cannot be reached is aws too.
func (e *releaseEnv) deployerError(err error) error {
	if err == nil {
		return nil
	}
	var ae *api.APIError
	if !errors.As(err, &ae) {
		if elevator.ErrorCode(err) != "" || errors.Is(err, context.Canceled) {
			return err // signing, decoding or an interruption: already said
		}
		return elevator.Errorf(elevator.EAWS, "the deployer at %s: %w", e.deployerURL, err)
	}
	msg := ae.Message
	if msg == "" {
		msg = http.StatusText(ae.Status)
	}
	switch {
	case ae.Status == http.StatusBadRequest:
		return elevator.Errorf(elevator.EINVALID, "the deployer at %s refused the request: %s", e.deployerURL, msg)
	case ae.Status == http.StatusUnauthorized:
		return elevator.Errorf(elevator.EINVALID, "the deployer at %s could not verify who you are: %s (it checks a request signed with your AWS credentials)", e.deployerURL, msg)
	case ae.Status == http.StatusForbidden:
		return elevator.Errorf(elevator.EAWS, "the deployer at %s refused: %s", e.deployerURL, msg)
	case ae.Status == http.StatusNotFound && ae.Code == elevator.ENOTFOUND:
		return elevator.Errorf(elevator.ENOTFOUND, "%s", msg)
	case ae.Status == http.StatusConflict:
		return elevator.Errorf(elevator.ECONFLICT, "%s", msg)
	case ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed:
		return elevator.Errorf(elevator.EINTERNAL, "the deployer at %s does not serve this call (%d: %s); is it an older Elevator?", e.deployerURL, ae.Status, msg)
	default:
		return elevator.Errorf(elevator.EAWS, "the deployer at %s failed the call (%d %s): %s", e.deployerURL, ae.Status, ae.Code, msg)
	}
}

// submit hands a release to the deployer and prints its first record, or,
// with wait, follows it to its end.
func (e *releaseEnv) submit(ctx context.Context, rel *elevator.Release, wait bool) error {
	rec, err := e.client.Submit(ctx, rel)
	if err != nil {
		return e.deployerError(err)
	}
	fmt.Fprintf(e.stderr, "release %s of %s %s into orbit %s submitted to the deployer at %s (follow it with: elevator release watch %s --orbit %s)\n",
		rel.ID, rel.App, rel.Version, rel.Orbit, e.deployerURL, rel.ID, rel.Orbit)
	if !wait {
		return e.finish(rec)
	}
	e.submitted = true
	return e.follow(ctx, rec.ID)
}

// follow watches a release the deployer drives, printing each state it
// enters, until it ends; then it prints the record as finish does.
func (e *releaseEnv) follow(ctx context.Context, id string) error {
	last, err := e.client.Watch(ctx, id, func(rec *elevator.ReleaseRecord) { e.observe(*rec) })
	if ctx.Err() != nil {
		return elevator.Errorf(elevator.EINTERRUPTED, "stopped watching release %s (it goes on in the deployer)", id)
	}
	if err != nil {
		return e.deployerError(err)
	}
	return e.finish(last)
}

// releases reads up to limit of an app's releases, newest first, a page
// of the deployer's list at a time.
func (e *releaseEnv) releases(ctx context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error) {
	out := []*elevator.ReleaseRecord{}
	cursor := ""
	for len(out) < limit {
		recs, next, err := e.client.List(ctx, app, min(limit-len(out), api.MaxLimit), cursor)
		if err != nil {
			return nil, e.deployerError(err)
		}
		out = append(out, recs...)
		if next == "" || len(recs) == 0 {
			break
		}
		cursor = next
	}
	return out, nil
}

// current returns the id of the newest release of app that has not ended:
// the one a halt stops.
func (e *releaseEnv) current(ctx context.Context, app string) (string, error) {
	recs, err := e.releases(ctx, app, api.DefaultLimit)
	if err != nil {
		return "", err
	}
	for _, r := range recs {
		if !r.State.Ended() {
			return r.ID, nil
		}
	}
	return "", elevator.Errorf(elevator.ENOTFOUND, "no release of %s is running in %s", app, e.orbit.Name)
}

// rolledBack prints the release a rollback submitted: its record, or,
// with wait, its record once it has ended.
func (e *releaseEnv) rolledBack(ctx context.Context, rel *elevator.Release, app string, wait bool) error {
	fmt.Fprintf(e.stderr, "release %s rolls %s back to release %s, submitted to the deployer at %s\n", rel.ID, app, rel.RollbackOf, e.deployerURL)
	if wait {
		e.submitted = true
		return e.follow(ctx, rel.ID)
	}
	rec, err := e.client.Get(ctx, rel.ID)
	if err == nil {
		return e.finish(rec)
	}
	if err := e.deployerError(err); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		return err
	}
	// The deployer has not written its record yet: the document is what
	// there is to show.
	if e.json() {
		return e.printJSON(rel)
	}
	printRelease(e.stdout, rel)
	return nil
}
