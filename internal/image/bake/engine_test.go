package bake

// The engine's tests run against fakeCloud (fake_test.go): the emulator
// cannot run a builder's scripts, stop an instance that shuts itself
// down, or crash a process between two calls, so the fake plays the
// builder (it writes the BakeResult the agent would) and injects the
// failures and crashes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/manifest"
)

const baseImage = "ami-00000000000000b45"

type ec2Detail = ec2.ImageDetail

// world is one bake's test setting: a fake cloud with a base image, an
// orbit, a manifest with one script, and a clock that sleeps by moving.
type world struct {
	t     *testing.T
	cloud *fakeCloud
	look  *fakeLookup
	orbit *elevator.Orbit
	m     *elevator.ImageManifest
	now   time.Time
}

func newWorld(t *testing.T, manifestBody string) *world {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "install.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "image.yml")
	m, err := manifest.ParseImage(file, []byte(manifestBody))
	if err != nil {
		t.Fatal(err)
	}
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: test\nregions: {us-east-1: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCloud()
	c.images[baseImage] = &ec2Detail{Image: ec2.Image{ID: baseImage, State: "available"}, RootDevice: "/dev/xvda"}
	w := &world{t: t, cloud: c, look: &fakeLookup{cloud: c}, orbit: o, m: m, now: time.Date(2026, 11, 30, 1, 30, 0, 0, time.UTC)}
	c.clock = func() time.Time { return w.now }
	return w
}

const plainManifest = "name: web\nbase: {id: " + baseImage + "}\nscripts: [install.sh]\ntimeout: 10m\n"

// engine returns an engine on the world's fake and clock; observe, when
// not nil, is told of each state entered.
func (w *world) engine(observe func(*Record)) *Engine {
	return New(Config{Cloud: w.cloud, Poll: 5 * time.Second,
		Now: func() time.Time { return w.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			w.now = w.now.Add(d)
			return nil
		},
		Observe: observe})
}

func (w *world) request() Request {
	return Request{Manifest: w.m, Orbit: w.orbit, Region: "us-east-1", Version: "v1", ID: "20261130-013000000-00000001",
		By: "arn:aws:iam::111111111111:user/ada", Commit: "abc123", Agent: agentBuilds(), KeepBuilder: false}
}

func agentBuilds() map[string]elevator.AgentBuild {
	out := map[string]elevator.AgentBuild{}
	for _, goarch := range elevator.AgentArches {
		out[goarch] = elevator.AgentBuild{Key: elevator.AgentObjectKey(strings.Repeat("0", 64), goarch), SHA256: strings.Repeat("0", 64)}
	}
	return out
}

// builderSucceeds makes every builder report success.
func (w *world) builderSucceeds() {
	w.cloud.onLaunch = func(string) { w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{OK: true}) }
}

func (w *world) start(e *Engine, req Request) *Record {
	w.t.Helper()
	r, err := e.Start(context.Background(), req, w.look)
	if err != nil {
		w.t.Fatalf("Start: %v", err)
	}
	return r
}

// stored reads the bake's record back from the fake bucket.
func (w *world) stored(id string) *Record {
	w.t.Helper()
	r, err := Load(context.Background(), w.cloud, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func path(r *Record) string {
	var s []string
	for _, p := range r.Path {
		s = append(s, string(p))
	}
	return strings.Join(s, " ")
}

const successPath = "Launching Provisioning Stopping Imaging Tagging Terminating Succeeded"

func TestABakeMakesATaggedImageAndTerminatesItsBuilder(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.builderSucceeds()
	e := w.engine(nil)
	r := w.start(e, w.request())
	if _, ok := w.cloud.objects[elevator.BakeBundleKey(r.ID)]; !ok {
		t.Fatal("no bundle stored before the launch")
	}
	if err := e.Run(context.Background(), r); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := path(w.stored(r.ID)); got != successPath {
		t.Errorf("path %s\nwant %s", got, successPath)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left running: %v", live)
	}
	if len(w.cloud.launches) != 1 {
		t.Fatalf("%d builders launched, want 1", len(w.cloud.launches))
	}
	in := w.cloud.launches[0]
	if in.ImageID != baseImage || in.SubnetID != "subnet-priv" || in.SecurityGroupIDs[0] != "sg-bake" || in.InstanceProfile != "elevator-test-bake" ||
		in.VolumeSize != 16 || in.RootDevice != "/dev/xvda" || in.Tags[elevator.TagBakeBuilder] != r.ID || !strings.Contains(string(in.UserData), "bake") {
		t.Errorf("builder launched with %+v", in)
	}
	img := w.cloud.images[r.ImageID]
	want := map[string]string{
		elevator.TagImage: "web", elevator.TagImagePhase: "base", elevator.TagImageSource: baseImage, elevator.TagImageVersion: "v1",
		elevator.TagImageStage: "untested", elevator.TagImageBuilt: "2026-11-30T01:30:00Z", elevator.TagImageCommit: "abc123",
		elevator.TagImageBakeID: r.ID, elevator.TagOrbit: "test", "Name": "web-v1",
	}
	for k, v := range want {
		if img.Tags[k] != v {
			t.Errorf("image tag %s = %q, want %q", k, img.Tags[k], v)
		}
	}
	if img.Name != "web-v1" || img.State != "available" {
		t.Errorf("image %s is %s", img.Name, img.State)
	}
	if snap := img.Snapshots[0]; w.cloud.tags[snap][elevator.TagImage] != "web" {
		t.Errorf("snapshot %s tags: %v", snap, w.cloud.tags[snap])
	}
}

func TestAServiceImageIsTaggedWithItsAppAndService(t *testing.T) {
	w := newWorld(t, "name: shop-web\nphase: service\napp: shop\nservice: web\nbase: {id: "+baseImage+"}\n")
	w.builderSucceeds()
	e := w.engine(nil)
	r := w.start(e, w.request())
	if err := e.Run(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	tags := w.cloud.images[r.ImageID].Tags
	if tags[elevator.TagApp] != "shop" || tags[elevator.TagService] != "web" || tags[elevator.TagImagePhase] != "service" {
		t.Errorf("tags %v", tags)
	}
}

func TestAFailedScriptLeavesNoBuilderNoImageAndShowsItsOutput(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 3, Output: "E: Unable to locate package nginxx"})
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EFAILED {
		t.Fatalf("Run: %v (code %q), want EFAILED", err, elevator.ErrorCode(err))
	}
	for _, want := range []string{"script install.sh exited 3", "E: Unable to locate package nginxx"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
	if len(w.cloud.images) != 1 {
		t.Errorf("images besides the base: %v", w.cloud.images)
	}
	got := w.stored(r.ID)
	if path(got) != "Launching Provisioning CleaningUp Failed" || got.Reason != ReasonScript || got.Result.Output == "" {
		t.Errorf("record: path %s, reason %s, result %+v", path(got), got.Reason, got.Result)
	}
}

func TestAFailedBakeKeepsItsBuilderWhenAsked(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 1, Output: "boom"})
	}
	e := w.engine(nil)
	req := w.request()
	req.KeepBuilder = true
	r := w.start(e, req)
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EDIRTY || !strings.Contains(err.Error(), "aws ssm start-session --target "+r.InstanceID) {
		t.Fatalf("Run: %v, want EDIRTY saying how to reach the builder", err)
	}
	if live := w.cloud.live(); len(live) != 1 || live[0] != r.InstanceID {
		t.Errorf("live builders %v, want the kept %s", live, r.InstanceID)
	}
}

func TestABuilderThatNeverReportsTimesOutAndIsTerminated(t *testing.T) {
	w := newWorld(t, plainManifest)
	e := w.engine(nil)
	waits := 0
	e.Wait = func(r *Record) {
		if r.State == StateProvisioning {
			waits++
		}
	}
	r := w.start(e, w.request())
	began := w.now
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "did not report within 10m") {
		t.Fatalf("Run: %v", err)
	}
	if waited := w.now.Sub(began); waited < 10*time.Minute || waited > 11*time.Minute {
		t.Errorf("gave up after %s, want 10m", waited)
	}
	if waits != 120 {
		t.Errorf("told of %d waits while provisioning, want 120 (10m in 5s polls)", waits)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
	if got := w.stored(r.ID); got.Reason != ReasonTimeout {
		t.Errorf("reason %s", got.Reason)
	}
}

func TestABuilderTerminatedBySomeoneElseFailsTheBake(t *testing.T) {
	w := newWorld(t, plainManifest)
	e := w.engine(func(r *Record) {
		if r.State == StateProvisioning {
			w.cloud.instances[r.InstanceID].State = "terminated"
		}
	})
	r := w.start(e, w.request())
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "terminated by someone else") {
		t.Fatalf("Run: %v", err)
	}
	if got := w.stored(r.ID); got.Reason != ReasonBuilderGone || path(got) != "Launching Provisioning CleaningUp Failed" {
		t.Errorf("reason %s, path %s", got.Reason, path(got))
	}
}

// crash is what a test panics with to play a process that died.
type crash struct{}

// runUntilCrash runs e on r and returns whether it crashed.
func runUntilCrash(e *Engine, r *Record) (crashed bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(crash); !ok {
				panic(v)
			}
			crashed = true
		}
	}()
	return false, e.Run(context.Background(), r)
}

func TestABakeThatCrashedInAnyStateIsResumedToOneImageAndNoBuilder(t *testing.T) {
	states := []State{StateLaunching, StateProvisioning, StateStopping, StateImaging, StateTagging, StateTerminating}
	for _, at := range states {
		t.Run("crashed after storing "+string(at), func(t *testing.T) {
			w := newWorld(t, plainManifest)
			w.builderSucceeds()
			e := w.engine(func(r *Record) {
				if r.State == at {
					panic(crash{})
				}
			})
			r := w.start(w.engine(nil), w.request())
			if crashed, err := runUntilCrash(e, r); !crashed {
				t.Fatalf("did not crash (%v)", err)
			}
			resumed := w.stored(r.ID)
			if resumed.State != at {
				t.Fatalf("stored state %s, want %s", resumed.State, at)
			}
			if err := w.engine(nil).Run(context.Background(), resumed); err != nil {
				t.Fatalf("resume: %v", err)
			}
			checkOneImageNoBuilder(t, w, r.ID)
		})
	}
	for _, op := range []string{"RunBuilder", "CreateImage"} {
		t.Run("crashed after "+op+" before storing its result", func(t *testing.T) {
			w := newWorld(t, plainManifest)
			w.builderSucceeds()
			e := w.engine(nil)
			r := w.start(e, w.request())
			w.cloud.afterCall = func(got string) {
				if got == op {
					w.cloud.afterCall = nil
					panic(crash{})
				}
			}
			if crashed, err := runUntilCrash(e, r); !crashed {
				t.Fatalf("did not crash (%v)", err)
			}
			if err := w.engine(nil).Run(context.Background(), w.stored(r.ID)); err != nil {
				t.Fatalf("resume: %v", err)
			}
			checkOneImageNoBuilder(t, w, r.ID)
			if len(w.cloud.launches) != 1 {
				t.Errorf("%d builders launched, want 1", len(w.cloud.launches))
			}
		})
	}
}

func checkOneImageNoBuilder(t *testing.T, w *world, id string) {
	t.Helper()
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
	var made []string
	for imgID, img := range w.cloud.images {
		if img.Tags[elevator.TagImageBakeID] == id {
			made = append(made, imgID)
			if img.Tags[elevator.TagImageStage] != "untested" {
				t.Errorf("image %s tags %v", imgID, img.Tags)
			}
		}
	}
	if len(made) != 1 {
		t.Errorf("images made: %v, want one", made)
	}
	if got := w.stored(id); got.State != StateSucceeded {
		t.Errorf("stored state %s", got.State)
	}
}

func TestAFailedBakeThatCrashedWhileCleaningUpIsCleanedUpOnResume(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.builderSucceeds()
	// The image is made, then tagging keeps failing: the bake cleans up,
	// and crashes as it starts.
	w.cloud.hook = func(op string) error {
		if op == "Tag" {
			return elevator.Errorf(elevator.EAWS, "tagging refused")
		}
		return nil
	}
	e := w.engine(func(r *Record) {
		if r.State == StateCleaningUp {
			panic(crash{})
		}
	})
	r := w.start(w.engine(nil), w.request())
	if crashed, _ := runUntilCrash(e, r); !crashed {
		t.Fatal("did not crash")
	}
	if len(w.cloud.live()) != 1 || len(w.cloud.images) != 2 {
		t.Fatalf("before the resume: builders %v, images %d", w.cloud.live(), len(w.cloud.images))
	}
	err := w.engine(nil).Run(context.Background(), w.stored(r.ID))
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "tagging refused") {
		t.Fatalf("resume: %v", err)
	}
	if len(w.cloud.live()) != 0 || len(w.cloud.images) != 1 || len(w.cloud.snapshots) != 0 {
		t.Errorf("after the resume: builders %v, images %d, snapshots %v", w.cloud.live(), len(w.cloud.images), w.cloud.snapshots)
	}
}

func TestCtrlCTerminatesTheBuilderWithAContextOfItsOwn(t *testing.T) {
	w := newWorld(t, plainManifest)
	ctx, cancel := context.WithCancel(context.Background())
	e := w.engine(func(r *Record) {
		if r.State == StateProvisioning {
			cancel()
		}
	})
	r := w.start(e, w.request())
	err := e.Run(ctx, r)
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED || !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run: %v, want EINTERRUPTED", err)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left after Ctrl-C: %v", live)
	}
	if got := w.stored(r.ID); got.State != StateFailed || got.Reason != ReasonInterrupted {
		t.Errorf("record %s %s", got.State, got.Reason)
	}
}

func TestCtrlCWithKeepBuilderLeavesTheBakeToResume(t *testing.T) {
	w := newWorld(t, plainManifest)
	ctx, cancel := context.WithCancel(context.Background())
	e := w.engine(func(r *Record) {
		if r.State == StateProvisioning {
			cancel()
		}
	})
	req := w.request()
	req.KeepBuilder = true
	r := w.start(e, req)
	err := e.Run(ctx, r)
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED || !strings.Contains(err.Error(), "--resume "+r.ID) {
		t.Fatalf("Run: %v", err)
	}
	if len(w.cloud.live()) != 1 || w.stored(r.ID).State != StateProvisioning {
		t.Fatalf("builders %v, state %s", w.cloud.live(), w.stored(r.ID).State)
	}
	w.cloud.report(r.ID, elevator.BakeResult{OK: true})
	if err := w.engine(nil).Run(context.Background(), w.stored(r.ID)); err != nil {
		t.Fatal(err)
	}
	checkOneImageNoBuilder(t, w, r.ID)
}

func TestAStepThatKeepsFailingEndsTheBakeCleanly(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.builderSucceeds()
	w.cloud.hook = func(op string) error {
		if op == "StopInstance" {
			return elevator.Errorf(elevator.EAWS, "throttled")
		}
		return nil
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("Run: %v", err)
	}
	if n := strings.Count(strings.Join(w.cloud.calls, " "), "StopInstance"); n != table[StateStopping].attempts {
		t.Errorf("StopInstance tried %d times, want %d", n, table[StateStopping].attempts)
	}
	if len(w.cloud.live()) != 0 {
		t.Errorf("builders left: %v", w.cloud.live())
	}
}

func TestACleanupThatKeepsFailingEndsDirtyNamingWhatIsLeft(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 1})
	}
	w.cloud.hook = func(op string) error {
		if op == "TerminateInstance" {
			return elevator.Errorf(elevator.EAWS, "denied")
		}
		return nil
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EDIRTY || !strings.Contains(err.Error(), "instance "+r.InstanceID) {
		t.Fatalf("Run: %v", err)
	}
}

func TestStartRefusesBeforeLaunchingAnything(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string
		setup    func(w *world)
		code     string
		want     string
	}{
		{"an unknown base image", "name: web\nbase: {id: ami-0000000000000dead}\n", nil, elevator.ENOTFOUND, "image.yml:2:7: base: no such base image"},
		{"an unknown base parameter", "name: web\nbase: {ssm: /elevator/images/none}\n", nil, elevator.ENOTFOUND, "image.yml:2:7: base: no such base image"},
		{"a base line with no image at the stage", "name: web\nbase: {image: base, stage: tested}\n", func(w *world) {
			w.cloud.images["ami-0000000000000ba5"] = &ec2Detail{}
			w.cloud.images["ami-0000000000000ba5"].ID = "ami-0000000000000ba5"
			w.cloud.images["ami-0000000000000ba5"].State = "available"
			w.cloud.images["ami-0000000000000ba5"].Tags = map[string]string{elevator.TagImage: "base", elevator.TagImageStage: "untested"}
		}, elevator.ENOTFOUND, "image.yml:2:15: base.image: \"base\": no available image of line base at stage tested or past it"},
		{"an image of the version exists", plainManifest, func(w *world) {
			w.cloud.images["ami-0000000000000eee"] = &ec2Detail{}
			w.cloud.images["ami-0000000000000eee"].ID = "ami-0000000000000eee"
			w.cloud.images["ami-0000000000000eee"].Name = "web-v1"
		}, elevator.ECONFLICT, "exists already"},
		{"no bake security group", plainManifest, func(w *world) { w.look.noGroup = true }, elevator.ENOTFOUND, "no bake security group elevator-test-bake in us-east-1: run `elevator orbit up`"},
		{"no bake instance profile", plainManifest, func(w *world) { w.look.noProfile = true }, elevator.ENOTFOUND, "no bake instance profile elevator-test-bake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.manifest)
			if tc.setup != nil {
				tc.setup(w)
			}
			_, err := w.engine(nil).Start(context.Background(), w.request(), w.look)
			if elevator.ErrorCode(err) != tc.code || !strings.Contains(strings.ReplaceAll(fmt.Sprint(err), filepath.Join(w.m.Dir, "image.yml"), "image.yml"), tc.want) {
				t.Fatalf("Start: %v (code %q)\nwant %s: ...%s", err, elevator.ErrorCode(err), tc.code, tc.want)
			}
			if len(w.cloud.launches) != 0 || len(w.cloud.objects) != 0 {
				t.Errorf("launched %d builders, stored %d objects", len(w.cloud.launches), len(w.cloud.objects))
			}
		})
	}
}

func TestABaseLineResolvesToItsNewestImageAtTheStage(t *testing.T) {
	w := newWorld(t, "name: web\nbase: {image: base, stage: tested}\n")
	add := func(id, stage string, age time.Duration, extra map[string]string) {
		img := &ec2Detail{}
		img.ID, img.State, img.Created = id, "available", w.now.Add(-age)
		img.Tags = map[string]string{elevator.TagImage: "base", elevator.TagImageStage: stage}
		for k, v := range extra {
			img.Tags[k] = v
		}
		w.cloud.images[id] = img
	}
	add("ami-000000000000000a1", "tested", 3*time.Hour, nil)
	add("ami-000000000000000a2", "tested", 2*time.Hour, nil)
	add("ami-000000000000000a3", "untested", time.Hour, nil)
	add("ami-000000000000000a4", "tested", 30*time.Minute, map[string]string{elevator.TagImageRevoked: "CVE"})
	w.builderSucceeds()
	r := w.start(w.engine(nil), w.request())
	if r.Builder.BaseImage != "ami-000000000000000a2" || r.ImageTags[elevator.TagImageSource] != "ami-000000000000000a2" {
		t.Errorf("base %s, want the newest tested unrevoked ami-000000000000000a2", r.Builder.BaseImage)
	}
}

func TestNewestUnfinishedFindsTheBakeToResume(t *testing.T) {
	w := newWorld(t, plainManifest)
	for i, st := range []State{StateProvisioning, StateSucceeded, StateImaging} {
		r := &Record{ID: fmt.Sprintf("20261130-0130000%02d-00000001", i), Line: "web", State: st}
		if i == 2 {
			r.Line = "other"
		}
		b, _ := json.Marshal(r)
		w.cloud.objects[elevator.BakeRecordKey(r.ID)] = b
	}
	r, err := NewestUnfinished(context.Background(), w.cloud, w.cloud, "web")
	if err != nil || r.ID != "20261130-013000000-00000001" {
		t.Fatalf("got %v, %v", r, err)
	}
	if r, _ := NewestUnfinished(context.Background(), w.cloud, w.cloud, ""); r == nil || r.Line != "other" {
		t.Errorf("any line: %+v", r)
	}
	if _, err := NewestUnfinished(context.Background(), w.cloud, w.cloud, "none"); !errors.Is(err, ErrNoUnfinished) {
		t.Errorf("no such line: %v", err)
	}
}

func TestEveryStateOfTheTableIsReachableAndEndsInAnEndState(t *testing.T) {
	tr := Transitions()
	for s, next := range tr {
		if len(next) == 0 {
			t.Errorf("%s goes nowhere", s)
		}
		for _, n := range next {
			if _, ok := tr[n]; !ok && !n.Done() {
				t.Errorf("%s -> %s, which has no row", s, n)
			}
		}
	}
	if !slices.Equal(tr[StateCleaningUp], []State{StateFailed}) {
		t.Errorf("CleaningUp goes to %v, want only Failed", tr[StateCleaningUp])
	}
}

func TestCtrlCWhileCleaningUpStillCleansUp(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 2, Output: "no"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := w.engine(func(r *Record) {
		if r.State == StateCleaningUp {
			cancel()
		}
	})
	r := w.start(e, w.request())
	if err := e.Run(ctx, r); elevator.ErrorCode(err) != elevator.EFAILED {
		t.Fatalf("Run: %v, want EFAILED (the script's failure)", err)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
}

func TestCtrlCWhileTheRecordIsStoredStillTerminatesTheBuilder(t *testing.T) {
	w := newWorld(t, plainManifest)
	ctx, cancel := context.WithCancel(context.Background())
	e := w.engine(nil)
	r := w.start(e, w.request())
	// The write of Provisioning's record is cut off by Ctrl-C.
	w.cloud.hook = func(op string) error {
		if op == "PutObject" && w.cloud.objects[elevator.BakeRecordKey(r.ID)] != nil && r.State == StateProvisioning && ctx.Err() == nil {
			cancel()
			return elevator.Errorf(elevator.EINTERRUPTED, "put record: %w", context.Canceled)
		}
		return nil
	}
	err := e.Run(ctx, r)
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED {
		t.Fatalf("Run: %v, want EINTERRUPTED", err)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
	if got := w.stored(r.ID); got.State != StateFailed {
		t.Errorf("stored state %s", got.State)
	}
}

func TestResumingAnEndedBakeChangesNothing(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 4, Output: "nope"})
	}
	audits := 0
	e := w.engine(nil)
	e.Audit = func(context.Context, *Record) error { audits++; return nil }
	r := w.start(e, w.request())
	first := e.Run(context.Background(), r)
	calls := len(w.cloud.calls)
	again := e.Run(context.Background(), w.stored(r.ID))
	if elevator.ErrorCode(again) != elevator.EFAILED || again.Error() != first.Error() {
		t.Errorf("resumed: %v\nfirst: %v", again, first)
	}
	if len(w.cloud.calls) != calls+1 || audits != 1 { // the record's read only
		t.Errorf("resuming an ended bake made %d calls and %d audits", len(w.cloud.calls)-calls-1, audits)
	}
}

// The tests below play EC2's eventual consistency and lost answers in
// fakeCloud (tagLag, lostAnswer): the emulator sees a tag at once and
// always answers.

func TestACleanupTerminatesTheBuilderItKnowsThoughItsTagIsNotSeenYet(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.tagLag = time.Hour // no lookup by tag sees the builder
	w.cloud.onLaunch = func(string) {
		w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{Script: "install.sh", ExitCode: 1, Output: "no"})
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	if err := e.Run(context.Background(), r); elevator.ErrorCode(err) != elevator.EFAILED {
		t.Fatalf("Run: %v, want EFAILED", err)
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v (the bake knew %s)", live, r.InstanceID)
	}
}

func TestALaunchWhoseAnswerWasLostIsFoundByTagAndTerminated(t *testing.T) {
	w := newWorld(t, plainManifest)
	// Every launch works, but its answer is lost; the tag shows the
	// builder 50s after its launch, after the launch step gave up.
	w.cloud.tagLag = 50 * time.Second
	w.cloud.lostAnswer = func(op string) error {
		if op == "RunBuilder" {
			return elevator.Errorf(elevator.EAWS, "run builder instance: connection reset")
		}
		return nil
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	began := w.now
	err := e.Run(context.Background(), r)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Run: %v, want EFAILED", err)
	}
	if len(w.cloud.launches) != 1 {
		t.Errorf("%d builders launched, want 1 (the client token)", len(w.cloud.launches))
	}
	if live := w.cloud.live(); len(live) != 0 {
		t.Errorf("builders left: %v", live)
	}
	if took := w.now.Sub(began); took > 2*time.Minute {
		t.Errorf("the bake looked for its builder for %s", took)
	}
}

func TestABakeThatNeverLaunchedDoesNotLookForItsBuilder(t *testing.T) {
	w := newWorld(t, plainManifest)
	w.cloud.hook = func(op string) error {
		if op == "RunBuilder" {
			return elevator.Errorf(elevator.ENOTFOUND, "no image")
		}
		return nil
	}
	e := w.engine(nil)
	r := w.start(e, w.request())
	began := w.now
	if err := e.Run(context.Background(), r); elevator.ErrorCode(err) != elevator.EFAILED {
		t.Fatalf("Run: %v", err)
	}
	if took := w.now.Sub(began); took >= builderSearch {
		t.Errorf("a refused launch waited %s", took)
	}
}

func TestARecordThatCannotBeStoredEndsTheBakeWithoutABuilder(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // record writes refused once Provisioning is stored
		code     string
	}{
		{"a few failures are tried again", saveTries - 1, ""},
		{"failing for good cleans up", 1000, elevator.EAWS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, plainManifest)
			w.builderSucceeds()
			left := -1
			e := w.engine(func(r *Record) {
				if r.State == StateProvisioning && left < 0 {
					left = tc.failures
				}
			})
			r := w.start(e, w.request())
			w.cloud.hook = func(op string) error {
				if op == "PutObject" && left > 0 {
					left--
					return elevator.Errorf(elevator.EAWS, "put object: service unavailable")
				}
				return nil
			}
			err := e.Run(context.Background(), r)
			if elevator.ErrorCode(err) != tc.code {
				t.Fatalf("Run: %v (code %q), want code %q", err, elevator.ErrorCode(err), tc.code)
			}
			if live := w.cloud.live(); len(live) != 0 {
				t.Errorf("builders left: %v", live)
			}
			if tc.code == "" {
				checkOneImageNoBuilder(t, w, r.ID)
				return
			}
			if !strings.Contains(err.Error(), "without its record stored") {
				t.Errorf("error: %v", err)
			}
			if len(w.cloud.images) != 1 || len(w.cloud.snapshots) != 0 {
				t.Errorf("images %d (want the base only), snapshots %v", len(w.cloud.images), w.cloud.snapshots)
			}
		})
	}
}

func TestCtrlCAfterTheImageIsMadeFinishesTheBake(t *testing.T) {
	for _, at := range []State{StateTagging, StateTerminating} {
		t.Run(string(at), func(t *testing.T) {
			w := newWorld(t, plainManifest)
			w.builderSucceeds()
			ctx, cancel := context.WithCancel(context.Background())
			e := w.engine(func(r *Record) {
				if r.State == at {
					cancel()
				}
			})
			r := w.start(e, w.request())
			if err := e.Run(ctx, r); err != nil {
				t.Fatalf("Run: %v, want the bake to succeed", err)
			}
			checkOneImageNoBuilder(t, w, r.ID)
		})
	}
}

func TestABakesBundleAndResultAreDeletedWhenItEnds(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprintf("ok=%t", ok), func(t *testing.T) {
			w := newWorld(t, plainManifest)
			w.cloud.onLaunch = func(string) {
				w.cloud.report("20261130-013000000-00000001", elevator.BakeResult{OK: ok, Script: "install.sh", ExitCode: 1})
			}
			e := w.engine(nil)
			r := w.start(e, w.request())
			_ = e.Run(context.Background(), r)
			for _, key := range []string{elevator.BakeBundleKey(r.ID), elevator.BakeResultKey(r.ID)} {
				if _, there := w.cloud.objects[key]; there {
					t.Errorf("%s is left in the state bucket", key)
				}
			}
			if got := w.stored(r.ID); got.Result == nil || got.Result.OK != ok {
				t.Errorf("the record lost the result: %+v", got.Result)
			}
		})
	}
}

func TestABuilderIsToldToShutDownPastTheTimeoutUnlessKept(t *testing.T) {
	for _, keep := range []bool{false, true} {
		w := newWorld(t, plainManifest) // timeout: 10m
		req := w.request()
		req.KeepBuilder = keep
		r := w.start(w.engine(nil), req)
		has := strings.Contains(r.Builder.UserData, `"bake_shutdown_minutes": 25`) || strings.Contains(r.Builder.UserData, `"bake_shutdown_minutes":25`)
		if has == keep || (!keep && strings.Count(r.Builder.UserData, "bake_shutdown_minutes") != 1) {
			t.Errorf("keep %t: user data with the shutdown in 25 minutes: %t\n%s", keep, has, r.Builder.UserData)
		}
	}
}
