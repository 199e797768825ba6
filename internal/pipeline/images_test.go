package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// fakeImages records what it is asked to promote; err, when set, is what
// it answers.
type fakeImages struct {
	mu    sync.Mutex
	calls []string // orbit release stage
	err   error
}

func (f *fakeImages) Promote(_ context.Context, orbit, releaseID, stage string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	f.calls = append(f.calls, orbit+" "+releaseID+" "+stage)
	return []string{"us-east-1/ami-1 untested -> " + stage}, nil
}

const promotingManifest = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
pipeline:
  stages:
    - {name: test, orbits: [test-eu, test-us], bake: 5m, promote_images: tested}
    - {orbit: production}
`

func TestAStageThatSucceedsPromotesItsReleasesImagesInEachOrbit(t *testing.T) {
	w := newWorld(t, promotingManifest)
	ctx := context.Background()
	x := w.executor("a")
	images := &fakeImages{}
	x.Images = images
	x.Start(ctx, "p1", "1", alice)
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("test")
	if st.State != elevator.StageSucceeded {
		t.Fatalf("stage test %+v", st)
	}
	want := []string{"test-eu " + st.Releases["test-eu"] + " tested", "test-us " + st.Releases["test-us"] + " tested"}
	if strings.Join(images.calls, ",") != strings.Join(want, ",") {
		t.Errorf("promoted %q, want %q", images.calls, want)
	}
	var audited []string
	for _, a := range w.store.audit {
		if a.Action == "pipeline.promote-images" {
			audited = append(audited, a.Orbit+": "+a.Detail)
		}
	}
	if len(audited) != 2 || !strings.Contains(audited[0], "images to tested: us-east-1/ami-1 untested -> tested") {
		t.Errorf("audited %q", audited)
	}
	if p := e.Stage("production"); p.State != elevator.StagePending {
		t.Errorf("production %+v: want pending, its stage promotes nothing", p)
	}
}

func TestAStageWaitsAtItsEndForADriverThatMayPromoteItsImages(t *testing.T) {
	w := newWorld(t, promotingManifest)
	ctx := context.Background()
	x := w.executor("a")
	x.Start(ctx, "p1", "1", alice)
	e, err := x.Run(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stage("test")
	if st.State != elevator.StageBaking || len(st.WaitingFor) != 1 || !strings.Contains(st.WaitingFor[0], "promotes its images to tested, which this process cannot do") {
		t.Fatalf("without Images: stage %+v; want waiting at the end of its bake for access", st)
	}

	failing := &fakeImages{err: errors.New("UnauthorizedOperation")}
	x.Images = failing
	if _, err := x.Run(ctx, "p1"); err == nil || !strings.Contains(err.Error(), "promote the images of release") {
		t.Fatalf("a failed promotion: %v; want its error", err)
	}
	if e, _ := w.store.Get(ctx, "shop", "p1"); e.Stage("test").State != elevator.StageBaking {
		t.Fatalf("after a failed promotion the stage is %s, want still Baking", e.Stage("test").State)
	}

	images := &fakeImages{}
	x.Images = images
	if e, err = x.Run(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if st := e.Stage("test"); st.State != elevator.StageSucceeded || len(images.calls) != 2 {
		t.Errorf("with Images: stage %+v, promoted %q", st, images.calls)
	}
}
