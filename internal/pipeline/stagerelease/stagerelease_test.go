package stagerelease

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// TestThePinnedManifestParsesAsTheFileDid: the pinned text is parsed with
// its file's name, merged for an orbit, and its errors name the file, line
// and column as the file's own would.
func TestThePinnedManifestParsesAsTheFileDid(t *testing.T) {
	src := &elevator.PipelineSources{App: elevator.ManifestSource{File: "shop/app.yml", Text: `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
    scaling: {min: 1, max: 2}
orbits:
  prod:
    services:
      web:
        scaling: {min: 3, max: 6}
`}, Orbits: []elevator.ManifestSource{{File: "orbits/prod.yml", Text: "name: prod\nregions:\n  us-east-1: {}\n"}}}
	a, err := App(src, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if web := a.Service("web"); web == nil || web.Scaling.Max != 6 {
		t.Errorf("the pinned app merged for prod: %+v", web)
	}
	if o, err := Orbit(src, "prod"); err != nil || o.Name != "prod" || len(o.Regions) != 1 {
		t.Errorf("Orbit(prod) = %+v, %v", o, err)
	}
	if _, err := Orbit(src, "test"); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("Orbit(test) of sources without it: %v, want ENOTFOUND", err)
	}
	src.App.Text = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: 7}}\n"
	if _, err := App(src, ""); err == nil || !strings.Contains(err.Error(), "shop/app.yml:4:") {
		t.Errorf("a bad pinned manifest: %v, want an error at shop/app.yml:4", err)
	}
}

// releases is a release store's records and documents, newest first.
type releases []*elevator.Release

func (r releases) Releases(_ context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error) {
	var out []*elevator.ReleaseRecord
	for _, x := range r {
		state := elevator.StateSuccess
		if x.Version == "failed" {
			state = elevator.StateFailureClean
		}
		out = append(out, &elevator.ReleaseRecord{ID: x.ID, App: x.App, State: state})
	}
	return out[:min(limit, len(out))], nil
}

func (r releases) Release(_ context.Context, id string) ([]byte, string, error) {
	for _, x := range r {
		if x.ID == id {
			b, err := json.Marshal(x)
			return b, "", err
		}
	}
	return nil, "", elevator.Errorf(elevator.ENOTFOUND, "no release %s", id)
}

// TestARollbackThatSucceededPinsTheOrbit: the newest release pins the
// orbit when it is a rollback that succeeded, and only then.
func TestARollbackPinsTheOrbit(t *testing.T) {
	rel := func(id, version, rollbackOf string) *elevator.Release {
		return &elevator.Release{ID: id, App: "shop", Version: version, CreatedBy: "arn:aws:iam::123456789012:user/ann", RollbackOf: rollbackOf}
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		recs releases
		want string
	}{
		{"no release", nil, ""},
		{"a release made by hand", releases{rel("r2", "2", ""), rel("r1", "1", "")}, ""},
		{"a rollback that succeeded", releases{rel("r3", "1", "r1"), rel("r2", "2", "")}, "release r3 by arn:aws:iam::123456789012:user/ann rolled shop back to the content of r1"},
		{"a rollback that failed", releases{rel("r3", "failed", "r1"), rel("r2", "2", "")}, "release r3 by arn:aws:iam::123456789012:user/ann rolled shop back to the content of r1"},
		{"a release after the rollback", releases{rel("r4", "3", ""), rel("r3", "1", "r1")}, ""},
	} {
		got, err := Pin(ctx, c.recs, "shop")
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
