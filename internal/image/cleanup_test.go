package image

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

var testNow = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// img is an image of line at stage, with one copy id in us-east-1, built
// days ago; opts change it.
func img(line, stage, id string, days int, opts ...func(*Image)) Image {
	i := Image{Line: line, Stage: stage, Built: testNow.Add(-time.Duration(days) * 24 * time.Hour),
		Copies: []Copy{{Region: "us-east-1", ID: id, State: "available"}}}
	for _, o := range opts {
		o(&i)
	}
	return i
}

func forService(app, svc string) func(*Image) {
	return func(i *Image) { i.App, i.Service = app, svc }
}

func revoked(reason string) func(*Image) { return func(i *Image) { i.Revoked = reason } }

func copiedTo(region, id string) func(*Image) {
	return func(i *Image) {
		i.Copies = append(i.Copies, Copy{Region: region, ID: id, State: "available", CopiedFrom: i.Copies[0].Ref()})
	}
}

func shared(with string) func(*Image) { return func(i *Image) { i.Shared = with } }

func ofOrbit(name string) func(*Image) { return func(i *Image) { i.Orbit = name } }

func state(s string) func(*Image) { return func(i *Image) { i.Copies[0].State = s } }

// five are five images of line base at stage tested, built 20 to 60 days
// ago, ami-1 the newest.
func five(opts map[string][]func(*Image)) []Image {
	var out []Image
	for n, id := range []string{"ami-1", "ami-2", "ami-3", "ami-4", "ami-5"} {
		out = append(out, img("base", "tested", id, 20+10*n, opts[id]...))
	}
	return out
}

func TestPlanKeepsTheNewestTheYoungAndWhatIsUsedInAnyRegion(t *testing.T) {
	defaults := Policy{Keep: DefaultKeep, Age: DefaultAge}
	cases := []struct {
		name    string
		images  []Image
		uses    []Use
		policy  Policy
		removed []string // the first copy's id of each image removed
		why     map[string]string
		absent  []string // images the policy does not consider at all
	}{
		{
			name: "the newest three stay and the older two go", images: five(nil), policy: defaults,
			removed: []string{"ami-4", "ami-5"},
			why:     map[string]string{"ami-3": "newest 3 of line base at stage tested (#3)", "ami-4": "older than 14d (built 50d ago), not among the newest 3"},
		},
		{
			name: "images younger than the age stay beyond the newest three",
			images: []Image{img("base", "tested", "ami-1", 1), img("base", "tested", "ami-2", 2), img("base", "tested", "ami-3", 3),
				img("base", "tested", "ami-4", 4), img("base", "tested", "ami-5", 30)},
			policy: defaults, removed: []string{"ami-5"},
			why: map[string]string{"ami-4": "younger than 14d (built 4d ago)"},
		},
		{
			name: "keep 0 and age 0 remove every unused image", images: five(nil), policy: Policy{},
			removed: []string{"ami-1", "ami-2", "ami-3", "ami-4", "ami-5"},
		},
		{
			name: "an age of 45 days keeps the 40-day-old image beyond keep 1", images: five(nil), policy: Policy{Keep: 1, Age: 45 * 24 * time.Hour},
			removed: []string{"ami-4", "ami-5"},
			why:     map[string]string{"ami-3": "younger than 45d (built 40d ago)"},
		},
		{
			name: "keep counts per stage: the older untested images do not push out the tested ones",
			images: []Image{img("base", "untested", "ami-u1", 20), img("base", "untested", "ami-u2", 21), img("base", "untested", "ami-u3", 22),
				img("base", "untested", "ami-u4", 23), img("base", "tested", "ami-t1", 90), img("base", "tested", "ami-t2", 91)},
			policy: defaults, removed: []string{"ami-u4"},
			why: map[string]string{"ami-t2": "newest 3 of line base at stage tested (#2)"},
		},
		{
			name: "--stage considers only that stage's images",
			images: []Image{img("base", "untested", "ami-u1", 20), img("base", "untested", "ami-u2", 21),
				img("base", "tested", "ami-t1", 90), img("base", "tested", "ami-t2", 91)},
			policy: Policy{Stage: "untested", Keep: 1, Age: DefaultAge}, removed: []string{"ami-u2"}, absent: []string{"ami-t1", "ami-t2"},
		},
		{
			name: "--image considers only that line, and keep counts per line",
			images: []Image{img("base", "tested", "ami-b1", 20), img("base", "tested", "ami-b2", 21),
				img("shop-web", "tested", "ami-w1", 30), img("shop-web", "tested", "ami-w2", 31)},
			policy: Policy{Line: "shop-web", Keep: 1, Age: DefaultAge}, removed: []string{"ami-w2"}, absent: []string{"ami-b1", "ami-b2"},
		},
		{
			name: "--service considers only that service's images",
			images: []Image{img("shop-web", "tested", "ami-w1", 30, forService("shop", "web")), img("shop-web", "tested", "ami-w2", 31, forService("shop", "web")),
				img("shop-worker", "tested", "ami-k1", 30, forService("shop", "worker")), img("shop-worker", "tested", "ami-k2", 31, forService("shop", "worker"))},
			policy: Policy{App: "shop", Service: "worker", Keep: 1, Age: DefaultAge}, removed: []string{"ami-k2"}, absent: []string{"ami-w1", "ami-w2"},
		},
		{
			name: "an image a group launches stays", images: five(nil), policy: defaults,
			uses:    []Use{{Region: "us-east-1", ImageID: "ami-5", Kind: UseGroup, Name: "shop-web-r7", Via: "launch template shop-web-r7 version 1"}},
			removed: []string{"ami-4"},
			why:     map[string]string{"ami-5": "in use by group shop-web-r7 (launch template shop-web-r7 version 1) in us-east-1"},
		},
		{
			name: "an image a launch template version names stays", images: five(nil), policy: defaults,
			uses:    []Use{{Region: "us-east-1", ImageID: "ami-4", Kind: UseLaunchTemplate, Name: "spare", Version: 3}},
			removed: []string{"ami-5"},
			why:     map[string]string{"ami-4": "in use by launch template spare version 3 in us-east-1"},
		},
		{
			name: "an image a launch configuration names stays", images: five(nil), policy: defaults,
			uses:    []Use{{Region: "us-east-1", ImageID: "ami-4", Kind: UseLaunchConfiguration, Name: "old-lc"}},
			removed: []string{"ami-5"},
			why:     map[string]string{"ami-4": "in use by launch configuration old-lc in us-east-1"},
		},
		{
			name: "an image an instance runs stays", images: five(nil), policy: defaults,
			uses:    []Use{{Region: "us-east-1", ImageID: "ami-5", Kind: UseInstance, Name: "i-0abc (stopped)"}},
			removed: []string{"ami-4"},
			why:     map[string]string{"ami-5": "in use by instance i-0abc (stopped) in us-east-1"},
		},
		{
			name:   "an image whose copy in another region is in use stays, with every copy",
			images: five(map[string][]func(*Image){"ami-5": {copiedTo("us-west-2", "ami-5w")}, "ami-4": {copiedTo("us-west-2", "ami-4w")}}),
			policy: defaults,
			uses:   []Use{{Region: "us-west-2", ImageID: "ami-5w", Kind: UseInstance, Name: "i-0def (running)"}},
			// The same id in another region is another image: it keeps nothing.
			removed: []string{"ami-4"},
			why:     map[string]string{"ami-5": "in use by instance i-0def (running) in us-west-2"},
		},
		{
			name: "a use of the same id in a region without a copy keeps nothing", images: five(nil), policy: defaults,
			uses:    []Use{{Region: "eu-west-1", ImageID: "ami-5", Kind: UseInstance, Name: "i-0 (running)"}},
			removed: []string{"ami-4", "ami-5"},
		},
		{
			name:    "revoked images do not count toward keep and go when old",
			images:  five(map[string][]func(*Image){"ami-1": {revoked("CVE-2026-1")}}),
			policy:  defaults,
			removed: []string{"ami-1", "ami-5"},
			why:     map[string]string{"ami-1": "revoked (CVE-2026-1), older than 14d", "ami-4": "newest 3 of line base at stage tested (#3)"},
		},
		{
			name: "a young revoked image stays for its age only",
			images: []Image{img("base", "tested", "ami-1", 2, revoked("bad")), img("base", "tested", "ami-2", 20),
				img("base", "tested", "ami-3", 21)},
			policy: Policy{Keep: 1, Age: DefaultAge}, removed: []string{"ami-3"},
			why: map[string]string{"ami-1": "kept: younger than 14d (built 2d ago)", "ami-2": "newest 1 of line base at stage tested (#1)"},
		},
		{
			name:   "an image still being copied stays",
			images: five(map[string][]func(*Image){"ami-5": {state("pending")}}), policy: defaults,
			removed: []string{"ami-4"},
			why:     map[string]string{"ami-5": "ami-5 in us-east-1 is pending"},
		},
		{
			name:   "an image of unknown age stays",
			images: append(five(nil), Image{Line: "base", Stage: "tested", Copies: []Copy{{Region: "us-east-1", ID: "ami-0", State: "available"}}}),
			policy: defaults, removed: []string{"ami-4", "ami-5"},
			why: map[string]string{"ami-0": "age unknown"},
		},
		{
			name:    "an image shared with other accounts stays: uses there cannot be seen",
			images:  five(map[string][]func(*Image){"ami-5": {shared("111111111111,222222222222")}}),
			policy:  defaults,
			removed: []string{"ami-4"},
			why:     map[string]string{"ami-5": "kept: shared with 111111111111,222222222222; uses there cannot be seen"},
		},
		{
			name:    "--include-shared removes a shared image like any other",
			images:  five(map[string][]func(*Image){"ami-5": {shared("111111111111")}}),
			policy:  Policy{Keep: DefaultKeep, Age: DefaultAge, IncludeShared: true},
			removed: []string{"ami-4", "ami-5"},
		},
		{
			name: "only the orbit's images are considered, and only they count toward keep",
			images: []Image{img("base", "tested", "ami-o1", 20, ofOrbit("test")), img("base", "tested", "ami-o2", 21, ofOrbit("test")),
				img("base", "tested", "ami-p1", 10, ofOrbit("prod")), img("base", "tested", "ami-p2", 11, ofOrbit("prod")),
				img("base", "tested", "ami-n1", 30)},
			policy:  Policy{Orbit: "test", Keep: 1, Age: DefaultAge},
			removed: []string{"ami-o2"},
			absent:  []string{"ami-p1", "ami-p2", "ami-n1"},
			why:     map[string]string{"ami-o1": "newest 1 of line base at stage tested (#1)"},
		},
		{
			name:   "in use and among the newest gives both reasons",
			images: five(nil), policy: defaults,
			uses:    []Use{{Region: "us-east-1", ImageID: "ami-1", Kind: UseInstance, Name: "i-1 (running)"}},
			removed: []string{"ami-4", "ami-5"},
			why:     map[string]string{"ami-1": "kept: in use by instance i-1 (running) in us-east-1; newest 3 of line base at stage tested (#1)"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := Plan(Inventory{Images: c.images, Uses: c.uses}, c.policy, testNow)
			var removed, seen []string
			for _, d := range ds {
				id := d.Image.Copies[0].ID
				seen = append(seen, id)
				if d.Remove {
					removed = append(removed, id)
				}
				if d.Why == "" {
					t.Errorf("%s: no reason given", id)
				}
				if want, ok := c.why[id]; ok && !strings.Contains(d.Why, want) {
					t.Errorf("%s: why = %q, want it to say %q", id, d.Why, want)
				}
			}
			slices.Sort(removed)
			if !slices.Equal(removed, c.removed) {
				t.Errorf("removed %v, want %v", removed, c.removed)
			}
			for _, id := range c.absent {
				if slices.Contains(seen, id) {
					t.Errorf("%s is outside the policy but was decided on", id)
				}
			}
			if want := len(c.images) - len(c.absent); len(ds) != want {
				t.Errorf("%d decisions, want %d", len(ds), want)
			}
		})
	}
}

func TestCopiesAreOneImageByBakeOrCopiedFrom(t *testing.T) {
	tags := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	copies := []Copy{
		{Region: "us-west-2", ID: "ami-b", Tags: tags(elevator.TagImage, "base", elevator.TagImageBakeID, "bk1", elevator.TagImageCopiedFrom, "us-east-1/ami-a", elevator.TagImageStage, "tested")},
		{Region: "us-east-1", ID: "ami-a", Tags: tags(elevator.TagImage, "base", elevator.TagImageBakeID, "bk1", elevator.TagImageStage, "tested", elevator.TagImageBuilt, "2026-11-01T00:00:00Z")},
		// copied without the bake tag: joined by copied-from
		{Region: "eu-west-1", ID: "ami-c", Tags: tags(elevator.TagImage, "base", elevator.TagImageCopiedFrom, "us-east-1/ami-a", elevator.TagImageRevoked, "bad")},
		// the same line, another bake
		{Region: "us-east-1", ID: "ami-d", Tags: tags(elevator.TagImage, "base", elevator.TagImageBakeID, "bk2", elevator.TagImageBuilt, "2026-11-02T00:00:00Z")},
		// a copy of a copy, no bake tags
		{Region: "ap-south-1", ID: "ami-e", Tags: tags(elevator.TagImage, "base", elevator.TagImageCopiedFrom, "eu-west-1/ami-c")},
	}
	images := Group(copies)
	if len(images) != 2 {
		t.Fatalf("%d images, want 2: %+v", len(images), images)
	}
	if images[0].ID() != "us-east-1/ami-d" {
		t.Errorf("newest first: got %s", images[0].ID())
	}
	a := images[1]
	var refs []string
	for _, c := range a.Copies {
		refs = append(refs, c.Ref())
	}
	if want := []string{"us-east-1/ami-a", "ap-south-1/ami-e", "eu-west-1/ami-c", "us-west-2/ami-b"}; !slices.Equal(refs, want) {
		t.Errorf("copies %v, want %v (the original first)", refs, want)
	}
	if a.Stage != "tested" || a.Revoked != "bad" || !a.Built.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("image fields from the original and any revoked copy: %+v", a)
	}
}

// threeRegions is a fake cloud (see fakeRegion) with line base of orbit
// demo: ami-1 (newest) to ami-5 in us-east-1, each copied to us-west-2 as
// ami-Nw.
func threeRegions(t *testing.T) fakeCloud {
	t.Helper()
	cloud := fakeCloud{"us-east-1": newFakeRegion(), "us-west-2": newFakeRegion(), "eu-west-1": newFakeRegion()}
	for n := 1; n <= 5; n++ {
		id := "ami-" + string(rune('0'+n))
		tg := map[string]string{elevator.TagImage: "base", elevator.TagImageStage: "tested", elevator.TagImageBakeID: "bake-" + id, elevator.TagOrbit: "demo",
			elevator.TagImageBuilt: testNow.Add(-time.Duration(10*n+10) * 24 * time.Hour).Format(time.RFC3339)}
		cloud["us-east-1"].addImage(ec2.ImageDetail{Image: ec2.Image{ID: id, Tags: tg}})
		ct := map[string]string{elevator.TagImageCopiedFrom: "us-east-1/" + id}
		for k, v := range tg {
			ct[k] = v
		}
		cloud["us-west-2"].addImage(ec2.ImageDetail{Image: ec2.Image{ID: id + "w", Tags: ct}})
	}
	return cloud
}

func TestTakeFindsEveryKindOfUseInBulk(t *testing.T) {
	cloud := threeRegions(t)
	east, west := cloud["us-east-1"], cloud["us-west-2"]
	east.addTemplate("web", "ami-1", "ami-2", "ami-3") // default v1 (ami-1), latest v3 (ami-3)
	east.addTemplate("pinned", "ami-1", "ami-1", "ami-4", "ami-1")
	east.groups = []autoscaling.GroupLaunch{
		{Group: "g-default", LaunchTemplates: []autoscaling.LaunchTemplate{{Name: "web"}}},
		{Group: "g-pinned", LaunchTemplates: []autoscaling.LaunchTemplate{{ID: "lt-pinned", Version: "3"}}},
	}
	west.configs = []autoscaling.LaunchConfiguration{{Name: "old", ImageID: "ami-5w"}}
	west.groups = []autoscaling.GroupLaunch{{Group: "g-lc", LaunchConfiguration: "old"}}
	west.instances = []ec2.InstanceImage{{InstanceID: "i-1", ImageID: "ami-2w", State: "stopped"}}

	inv, err := Take(context.Background(), cloud.regions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range inv.Uses {
		got = append(got, u.ImageID+" "+u.String())
	}
	slices.Sort(got)
	want := []string{
		"ami-1 group g-default (launch template web version 1) in us-east-1",
		"ami-1 launch template pinned version 1 in us-east-1",
		"ami-1 launch template pinned version 4 in us-east-1",
		"ami-1 launch template web version 1 in us-east-1",
		"ami-2w instance i-1 (stopped) in us-west-2",
		"ami-3 launch template web version 3 in us-east-1",
		"ami-4 group g-pinned (launch template pinned version 3) in us-east-1",
		"ami-5w group g-lc (launch configuration old) in us-west-2",
		"ami-5w launch configuration old in us-west-2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(inv.Images) != 5 || len(inv.Images[0].Copies) != 2 {
		t.Errorf("want 5 images of 2 copies each, got %d (%+v)", len(inv.Images), inv.Images)
	}
	// One call per kind and region, plus one for the pinned version.
	calls := cloud.calls()
	for kind, want := range map[string]int{"DescribeImages": 3, "DescribeLaunchTemplateVersions": 4, "DescribeAutoScalingGroups": 3,
		"DescribeLaunchConfigurations": 3, "DescribeInstances": 3, "GetParametersByPath": 3} {
		if calls[kind] != want {
			t.Errorf("%s: %d calls, want %d", kind, calls[kind], want)
		}
	}
	ds := Plan(inv, Policy{Keep: 0, Age: 0}, testNow)
	var removed []string
	for _, d := range ds {
		if d.Remove {
			removed = append(removed, d.Image.Copies[0].ID)
		}
	}
	// ami-2 is used in us-west-2 only, ami-5 through a launch configuration there.
	if !slices.Equal(removed, nil) {
		t.Errorf("every image is in use somewhere, yet removed %v", removed)
	}
}

func TestRemoveTakesEveryCopyAndItsSnapshotsAndGoesOnAfterAFailure(t *testing.T) {
	cloud := threeRegions(t)
	cloud["us-west-2"].fail["DeregisterImage ami-4w"] = true
	cloud["us-east-1"].fail["DeleteSnapshot snap-5"] = true
	var audited []elevator.AuditEntry
	rep, err := Cleanup(context.Background(), CleanupInput{Orbit: "demo", Regions: cloud.regions(), Removers: cloud.removers(),
		Policy: Policy{Keep: 3, Age: DefaultAge}, Now: testNow, By: "arn:aws:iam::1:user/ops",
		Audit: func(_ context.Context, e elevator.AuditEntry) error { audited = append(audited, e); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed []string
	for _, r := range rep.Removals {
		if r.OK() {
			ok = append(ok, r.Region+"/"+r.ImageID)
		} else {
			failed = append(failed, r.Region+"/"+r.ImageID)
		}
	}
	slices.Sort(ok)
	slices.Sort(failed)
	if want := []string{"us-east-1/ami-4", "us-west-2/ami-5w"}; !slices.Equal(ok, want) {
		t.Errorf("removed %v, want %v", ok, want)
	}
	if want := []string{"us-east-1/ami-5", "us-west-2/ami-4w"}; !slices.Equal(failed, want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	// Read back: what went is gone, with its snapshots; the failed
	// deregister kept its image and snapshot; the failed snapshot stays.
	east, west := cloud["us-east-1"], cloud["us-west-2"]
	for region, r := range map[string]*fakeRegion{"us-east-1": east, "us-west-2": west} {
		for id := range r.images {
			if (region == "us-east-1" && id == "ami-4") || (region == "us-west-2" && id == "ami-5w") {
				t.Errorf("%s %s still registered", region, id)
			}
		}
	}
	if _, ok := west.images["ami-4w"]; !ok || !west.snapshots["snap-4w"] {
		t.Error("a copy whose deregister failed must keep its image and snapshot")
	}
	if east.snapshots["snap-4"] || west.snapshots["snap-5w"] || !east.snapshots["snap-5"] {
		t.Errorf("snapshots left: east %v west %v", east.snapshots, west.snapshots)
	}
	if _, ok := east.images["ami-5"]; ok {
		t.Error("ami-5 was deregistered before its snapshot failed")
	}
	if len(audited) != 1 || audited[0].Action != elevator.AuditImageCleanup || audited[0].Outcome != "partly removed" ||
		!strings.Contains(audited[0].Detail, "removed us-east-1/ami-4, us-west-2/ami-5w;") ||
		!strings.Contains(audited[0].Detail, "not removed us-west-2/ami-4w, us-east-1/ami-5") {
		t.Errorf("audit: %+v", audited)
	}
}

func TestADryRunChangesNothingAndAuditsNothing(t *testing.T) {
	cloud := threeRegions(t)
	audits := 0
	rep, err := Cleanup(context.Background(), CleanupInput{Orbit: "demo", Regions: cloud.regions(), Removers: cloud.removers(),
		Policy: Policy{Keep: 1}, DryRun: true, Now: testNow,
		Audit: func(context.Context, elevator.AuditEntry) error { audits++; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range rep.Decisions {
		if d.Remove {
			n++
		}
	}
	if n != 4 || len(rep.Removals) != 0 || audits != 0 {
		t.Errorf("dry run: %d would go (want 4), %d removals, %d audits", n, len(rep.Removals), audits)
	}
	calls := cloud.calls()
	if calls["DeregisterImage"]+calls["DeleteSnapshot"] != 0 || len(cloud["us-east-1"].images) != 5 || len(cloud["us-west-2"].images) != 5 {
		t.Errorf("a dry run changed something: calls %v", calls)
	}
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"14d", "36h", "0", "-1d", "1.5d", "90m", "d", "1e3d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAge(s)
		if err != nil {
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "want a number of days") {
				t.Errorf("ParseAge(%q): %v, want an EINVALID error saying what is allowed", s, err)
			}
			return
		}
		if d < 0 {
			t.Errorf("ParseAge(%q) = %v: negative", s, d)
		}
	})
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]time.Duration{"14d": 14 * 24 * time.Hour, "0d": 0, "36h": 36 * time.Hour, "90m": 90 * time.Minute, "0": 0} {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "-2h", "14days", "1.5d", "x", "14dd", "1e3d", " 14d", "36501d", "99999999999999d"} {
		if _, err := ParseAge(in); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("ParseAge(%q): %v, want EINVALID", in, err)
		}
	}
}

// TestCleanupKeepsSharedImagesAndOtherOrbitsImages reads the tags from
// the fake cloud: elevator:shared on a copy keeps the whole image, and an
// image another orbit baked is neither removed nor counted.
func TestCleanupKeepsSharedImagesAndOtherOrbitsImages(t *testing.T) {
	cloud := threeRegions(t)
	west := cloud["us-west-2"]
	shared := west.images["ami-5w"]
	shared.Tags[elevator.TagImageShared] = "111111111111"
	other := map[string]string{elevator.TagImage: "base", elevator.TagImageStage: "tested", elevator.TagImageBakeID: "bake-p",
		elevator.TagOrbit: "prod", elevator.TagImageBuilt: testNow.Add(-100 * 24 * time.Hour).Format(time.RFC3339)}
	cloud["us-east-1"].addImage(ec2.ImageDetail{Image: ec2.Image{ID: "ami-9", Tags: other}})
	run := func(includeShared bool) Report {
		t.Helper()
		rep, err := Cleanup(context.Background(), CleanupInput{Orbit: "demo", Regions: cloud.regions(), Removers: cloud.removers(),
			Policy: Policy{Keep: 3, Age: DefaultAge, IncludeShared: includeShared}, DryRun: true, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	var removed []string
	for _, d := range run(false).Decisions {
		if d.Image.Copies[0].ID == "ami-9" {
			t.Errorf("orbit prod's image was considered: %+v", d)
		}
		if d.Remove {
			removed = append(removed, d.Image.Copies[0].ID)
		}
		if d.Image.Copies[0].ID == "ami-5" && !strings.Contains(d.Why, "shared with 111111111111; uses there cannot be seen") {
			t.Errorf("ami-5: why = %q", d.Why)
		}
	}
	if !slices.Equal(removed, []string{"ami-4"}) {
		t.Errorf("removed %v, want [ami-4]", removed)
	}
	removed = nil
	for _, d := range run(true).Decisions {
		if d.Remove {
			removed = append(removed, d.Image.Copies[0].ID)
		}
	}
	if !slices.Equal(removed, []string{"ami-4", "ami-5"}) {
		t.Errorf("with IncludeShared: removed %v, want [ami-4 ami-5]", removed)
	}
}

// TestASnapshotStillInUseAfterItsImageWentIsTriedAgain: AWS may say a
// snapshot is in use for a while after its image was deregistered (the
// fake answers so a set number of times); Remove tries again, a bounded
// number of times.
func TestASnapshotStillInUseAfterItsImageWentIsTriedAgain(t *testing.T) {
	saved := snapshotWaits
	snapshotWaits = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	t.Cleanup(func() { snapshotWaits = saved })
	cloud := threeRegions(t)
	east := cloud["us-east-1"]
	east.inUse["snap-4"] = 2  // deleted at the third try
	east.inUse["snap-5"] = 10 // still in use after the last
	rep, err := Cleanup(context.Background(), CleanupInput{Orbit: "demo", Regions: cloud.regions(), Removers: cloud.removers(),
		Policy: Policy{Keep: 3, Age: DefaultAge}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Removal{}
	for _, r := range rep.Removals {
		got[r.Region+"/"+r.ImageID] = r
	}
	if r := got["us-east-1/ami-4"]; !r.OK() || east.snapshots["snap-4"] {
		t.Errorf("ami-4: %+v; snapshot left: %v", r, east.snapshots["snap-4"])
	}
	if r := got["us-east-1/ami-5"]; r.OK() || !strings.Contains(r.SnapshotErrors["snap-5"], "InUse") || !east.snapshots["snap-5"] {
		t.Errorf("ami-5: %+v; want snap-5 not deleted, in use", r)
	}
	// snap-4: 3 tries; snap-5: 1 + len(snapshotWaits).
	if n := east.calls["DeleteSnapshot"]; n != 3+4 {
		t.Errorf("%d DeleteSnapshot calls in us-east-1, want 7", n)
	}
}
