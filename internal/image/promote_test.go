package image

// Promotion and revocation on moto, in an account of the test's own over
// three regions. moto keeps every launch permission (organizations and
// organizational units included) and answers them back; it makes a copy
// available at once and ignores CopyImage's encryption and ClientToken, so
// the wait for a pending copy runs on a wrapper that reports the copy
// pending (pendingCopies), and what encryption a copy gets is not shown.

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// audits is an Auditor that keeps what it is given.
type audits struct {
	mu      sync.Mutex
	entries []elevator.AuditEntry
}

func (a *audits) Audit(_ context.Context, e elevator.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return nil
}

var testShare = ec2.Share{
	Accounts:      []string{"111122223333", "444455556666"},
	Organizations: []string{"arn:aws:organizations::111122223333:organization/o-abc123def4"},
	OUs:           []string{"arn:aws:organizations::111122223333:ou/o-abc123def4/ou-ab12-cdef3456"},
}

// deprecations is a Regional on moto that keeps the deprecation times
// DeprecateImage sets and reports them in Image: moto 5.2.5 has neither
// EnableImageDeprecation nor DeprecationTime in DescribeImages.
type deprecations struct {
	Regional
	mu sync.Mutex
	at map[string]time.Time
}

func (d *deprecations) DeprecateImage(ctx context.Context, id string, at time.Time) error {
	if _, err := d.Regional.Image(ctx, id); err != nil {
		return err // as AWS, for an image that is not there
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.at[id] = at
	return nil
}

func (d *deprecations) Image(ctx context.Context, id string) (ec2.Image, error) {
	img, err := d.Regional.Image(ctx, id)
	d.mu.Lock()
	defer d.mu.Unlock()
	img.Deprecated = d.at[id]
	return img, err
}

// world is an orbit of three regions in one moto account, and a baked
// image in its first region.
type world struct {
	orbit  *elevator.Orbit
	cfgs   map[string]aws.Config
	stages *Stages
	audit  *audits
	image  string
}

func newWorld(t *testing.T, stages ...string) *world {
	t.Helper()
	base := emulatortest.Config(t, "us-east-1")
	w := &world{cfgs: map[string]aws.Config{}, audit: &audits{}}
	w.orbit = &elevator.Orbit{Name: "prod", Images: elevator.ImageSettings{Stages: stages, KMSKey: "alias/images",
		ShareAccounts: testShare.Accounts, ShareOrganizations: testShare.Organizations, ShareOUs: testShare.OUs}}
	clients := map[string]Regional{}
	for _, r := range []string{"us-east-1", "us-west-2", "eu-west-1"} {
		cfg := base.Copy()
		cfg.Region = r
		w.cfgs[r] = cfg
		w.orbit.Regions = append(w.orbit.Regions, elevator.Region{Name: r})
		clients[r] = &deprecations{Regional: ec2.New(cfg), at: map[string]time.Time{}}
	}
	w.stages = &Stages{Orbit: w.orbit, EC2: clients, Audit: w.audit, By: "arn:aws:iam::123456789012:user/ana",
		Sleep: func(context.Context, time.Duration) error { return nil }}
	w.image = w.bake(t, map[string]string{elevator.TagImage: "shop-web", elevator.TagImagePhase: elevator.ImagePhaseService,
		elevator.TagApp: "shop", elevator.TagService: "web", elevator.TagImageVersion: "7", elevator.TagImageStage: w.orbit.ImageStages()[0]})
	return w
}

// bake makes an image with tags in us-east-1 (from an instance, so that it
// has an EBS snapshot).
func (w *world) bake(t *testing.T, tags map[string]string) string {
	t.Helper()
	ctx, sdk := context.Background(), ec2sdk.NewFromConfig(w.cfgs["us-east-1"])
	base, _ := twoImages(t, w.cfgs["us-east-1"])
	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(base), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	var ts []ec2types.Tag
	for k, v := range tags {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	out, err := sdk.CreateImage(ctx, &ec2sdk.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("shop-web-7"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: ts}}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ImageId)
}

func (w *world) describe(t *testing.T, region, id string) ec2.Image {
	t.Helper()
	img, err := ec2.New(w.cfgs[region]).Image(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// copiesOf reads back, with the SDK's adapter, the copies of the world's
// image in region.
func (w *world) copiesOf(t *testing.T, region string) []ec2.Image {
	t.Helper()
	found, err := ec2.New(w.cfgs[region]).OwnImagesWithTags(context.Background(), map[string]string{elevator.TagImageCopiedFrom: "us-east-1/" + w.image})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// shared reads back whom an image and its snapshots are shared with.
func (w *world) shared(t *testing.T, region, id string) (ec2.Share, [][]string) {
	t.Helper()
	ctx, c := context.Background(), ec2.New(w.cfgs[region])
	s, _, err := c.ImageLaunchPermissions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var snaps [][]string
	for _, snap := range w.describe(t, region, id).Snapshots {
		accounts, err := c.SnapshotVolumePermissions(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, accounts)
	}
	return s, snaps
}

func TestPromotionMovesAnImageThroughTheStagesAndTheLastSharesAndCopies(t *testing.T) {
	w := newWorld(t, "untested", "tested", "released")
	ctx := context.Background()

	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "untested" || p.To != "tested" || p.Shared != nil || len(p.Copies) != 0 {
		t.Errorf("promotion to tested: %+v; want untested -> tested, no share, no copies", p)
	}
	if got := w.describe(t, "us-east-1", w.image).Tags[elevator.TagImageStage]; got != "tested" {
		t.Errorf("stage tag %q, want tested", got)
	}
	if s, _ := w.shared(t, "us-east-1", w.image); !s.Empty() {
		t.Errorf("shared before the last stage: %+v", s)
	}
	for _, r := range []string{"us-west-2", "eu-west-1"} {
		if c := w.copiesOf(t, r); len(c) != 0 {
			t.Errorf("copied to %s before the last stage: %+v", r, c)
		}
	}

	p, err = w.stages.Promote(ctx, "us-east-1", w.image, "released", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "tested" || p.To != "released" || p.Shared == nil || len(p.Copies) != 2 || !p.Copies[0].Made || !p.Copies[1].Made {
		t.Errorf("promotion to released: %+v; want shared and two copies made", p)
	}
	t.Run("the image and its snapshot are shared with whom the orbit names", func(t *testing.T) {
		s, snaps := w.shared(t, "us-east-1", w.image)
		if !reflect.DeepEqual(s, testShare) {
			t.Errorf("launch permissions %+v, want %+v", s, testShare)
		}
		if len(snaps) != 1 || !reflect.DeepEqual(snaps[0], testShare.Accounts) {
			t.Errorf("snapshot permissions %v, want %v on its one snapshot", snaps, testShare.Accounts)
		}
	})
	t.Run("each other region has one copy, tagged as the image, and shared", func(t *testing.T) {
		src := w.describe(t, "us-east-1", w.image)
		for _, r := range []string{"us-west-2", "eu-west-1"} {
			copies := w.copiesOf(t, r)
			if len(copies) != 1 {
				t.Fatalf("%s: %d copies, want 1", r, len(copies))
			}
			cp := copies[0]
			for _, k := range []string{elevator.TagImage, elevator.TagImagePhase, elevator.TagApp, elevator.TagService, elevator.TagImageVersion} {
				if cp.Tags[k] != src.Tags[k] {
					t.Errorf("%s: copy's %s is %q, the source's %q", r, k, cp.Tags[k], src.Tags[k])
				}
			}
			if cp.Tags[elevator.TagImageStage] != "released" || cp.Name != src.Name || cp.State != "available" {
				t.Errorf("%s: copy %+v; want stage released, name %s, available", r, cp, src.Name)
			}
			s, snaps := w.shared(t, r, cp.ID)
			if !reflect.DeepEqual(s, testShare) || len(snaps) != 1 || !reflect.DeepEqual(snaps[0], testShare.Accounts) {
				t.Errorf("%s: copy shared with %+v, snapshots %v; want %+v", r, s, snaps, testShare)
			}
			// Cleanup keeps what carries elevator:shared: uses in the
			// accounts shared with cannot be seen.
			if got := w.describe(t, r, cp.ID).Tags[elevator.TagImageShared]; got != sharedWith(testShare) || got == "" {
				t.Errorf("%s: copy's %s is %q, want %q", r, elevator.TagImageShared, got, sharedWith(testShare))
			}
		}
	})
	t.Run("promoting to the last stage again finds the copies and copies nothing", func(t *testing.T) {
		again, err := w.stages.Promote(ctx, "us-east-1", w.image, "released", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(again.Copies) != 2 || again.Copies[0].Made || again.Copies[1].Made {
			t.Errorf("copies %+v; want the two found, none made", again.Copies)
		}
		for _, r := range []string{"us-west-2", "eu-west-1"} {
			if c := w.copiesOf(t, r); len(c) != 1 {
				t.Errorf("%s: %d copies, want still 1", r, len(c))
			}
		}
	})
	t.Run("moving back needs force, and moves the copies back too", func(t *testing.T) {
		_, err := w.stages.Promote(ctx, "us-east-1", w.image, "untested", false)
		if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "--force") {
			t.Fatalf("got %v, want EINVALID naming --force", err)
		}
		if _, err := w.stages.Promote(ctx, "us-east-1", w.image, "untested", true); err != nil {
			t.Fatal(err)
		}
		if got := w.describe(t, "us-east-1", w.image).Tags[elevator.TagImageStage]; got != "untested" {
			t.Errorf("stage %q, want untested", got)
		}
		if c := w.copiesOf(t, "us-west-2"); len(c) != 1 || c[0].Tags[elevator.TagImageStage] != "untested" {
			t.Errorf("copy %+v; want at untested", c)
		}
	})
	t.Run("each promotion is audited with its stages", func(t *testing.T) {
		if len(w.audit.entries) != 4 {
			t.Fatalf("%d audit entries, want 4: %+v", len(w.audit.entries), w.audit.entries)
		}
		e := w.audit.entries[1]
		if e.Action != elevator.AuditImagePromote || e.Orbit != "prod" || e.App != "shop" || e.By != w.stages.By ||
			!strings.Contains(e.Detail, "from stage tested to released") || !strings.Contains(e.Detail, "us-west-2/ami-") {
			t.Errorf("entry %+v", e)
		}
	})
}

func TestPromotionRefusesWhatItCannotPromote(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	foreign := w.bake(t, map[string]string{"Name": "not elevator's"})
	odd := w.bake(t, map[string]string{elevator.TagImage: "shop-web", elevator.TagImageStage: "qa"})
	for _, tt := range []struct {
		name, image, stage, want string
	}{
		{"a stage the orbit does not have", w.image, "approved", `stage "approved" is not a stage of orbit prod; its stages are untested, tested`},
		{"an image Elevator did not bake", foreign, "tested", "has no " + elevator.TagImage + " tag"},
		{"an image at a stage the orbit does not have", odd, "tested", `is at stage "qa", which is not a stage of orbit prod`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.stages.Promote(ctx, "us-east-1", tt.image, tt.stage, false)
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want EINVALID containing %q", err, tt.want)
			}
		})
	}
	t.Run("a copy: its source is promoted", func(t *testing.T) {
		p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
		if err != nil {
			t.Fatal(err)
		}
		_, err = w.stages.Promote(ctx, p.Copies[0].Region, p.Copies[0].Image, "tested", false)
		if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "is a copy of us-east-1/"+w.image) {
			t.Fatalf("got %v, want EINVALID naming the source", err)
		}
	})
	t.Run("an image that does not exist", func(t *testing.T) {
		_, err := w.stages.Promote(ctx, "us-east-1", "ami-0123456789abcdef0", "tested", false)
		if elevator.ErrorCode(err) != elevator.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
	t.Run("a region not of the orbit", func(t *testing.T) {
		_, err := w.stages.Promote(ctx, "ap-south-1", w.image, "tested", false)
		if elevator.ErrorCode(err) != elevator.EINVALID {
			t.Fatalf("got %v, want EINVALID", err)
		}
	})
	if len(w.audit.entries) != 1 {
		t.Errorf("%d audit entries, want 1 (the one promotion that happened)", len(w.audit.entries))
	}
}

// pendingCopies is a Regional on moto whose images made by CopyImage look
// pending for the first looks (moto makes them available at once).
type pendingCopies struct {
	Regional
	mu      sync.Mutex
	looks   int // how many looks a copy stays pending for
	made    map[string]int
	copying int // CopyImage calls
}

func (p *pendingCopies) CopyImage(ctx context.Context, in ec2.CopyImageInput) (string, error) {
	id, err := p.Regional.CopyImage(ctx, in)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.copying++
	p.made[id] = 0
	return id, err
}

func (p *pendingCopies) Image(ctx context.Context, id string) (ec2.Image, error) {
	img, err := p.Regional.Image(ctx, id)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.made[id]; ok && n < p.looks {
		p.made[id] = n + 1
		img.State = "pending"
	}
	return img, err
}

func TestAPendingCopyIsWaitedForWithinItsTimeoutAndPromotingAgainResumes(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	wrapped := map[string]*pendingCopies{}
	for r, c := range w.stages.EC2 {
		wrapped[r] = &pendingCopies{Regional: c, looks: 5, made: map[string]int{}}
		w.stages.EC2[r] = wrapped[r]
	}
	var notes []string
	w.stages.Note = func(region, msg string) { notes = append(notes, region+" "+msg) }
	now := time.Date(2026, 11, 30, 1, 0, 0, 0, time.UTC)
	w.stages.Now = func() time.Time { return now }
	w.stages.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	w.stages.CopyPoll, w.stages.CopyTimeout = time.Minute, 3*time.Minute

	_, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(err.Error(), "not available after 3m0s") {
		t.Fatalf("got %v, want EFAILED: not available in time", err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "us-west-2 ") || !strings.Contains(strings.Join(notes, "\n"), ": pending") {
		t.Errorf("no progress on the pending copies:\n%s", strings.Join(notes, "\n"))
	}
	if s, _ := w.shared(t, "us-west-2", w.copiesOf(t, "us-west-2")[0].ID); !s.Empty() {
		t.Errorf("a copy not yet available is shared: %+v", s)
	}

	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatal(err)
	}
	if p.From != "tested" || len(p.Copies) != 2 || p.Copies[0].Made || p.Copies[1].Made {
		t.Errorf("second promotion %+v; want the copies found, none made", p)
	}
	for r, c := range wrapped {
		if r != "us-east-1" && c.copying != 1 {
			t.Errorf("%s: CopyImage called %d times, want once", r, c.copying)
		}
	}
	for _, r := range []string{"us-west-2", "eu-west-1"} {
		cp := w.copiesOf(t, r)
		if len(cp) != 1 {
			t.Fatalf("%s: %d copies, want 1", r, len(cp))
		}
		if s, _ := w.shared(t, r, cp[0].ID); !reflect.DeepEqual(s, testShare) {
			t.Errorf("%s: copy shared with %+v after the second promotion, want %+v", r, s, testShare)
		}
	}
}

func TestRevokingTagsTheImageAndEveryCopyAndIsAudited(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	w.stages.Now = func() time.Time { return now }
	// Revoking through a copy revokes its source and every copy.
	rev, err := w.stages.Revoke(ctx, p.Copies[1].Region, p.Copies[1].Image, "CVE-2026-1234 in openssl")
	if err != nil {
		t.Fatal(err)
	}
	if len(rev.Images) != 3 || rev.Images[0].Image != w.image {
		t.Errorf("revoked %+v; want the source first and its two copies", rev.Images)
	}
	for _, x := range append([]PromotedCopy{{Region: "us-east-1", Image: w.image}}, p.Copies...) {
		// The deprecation, which the accounts the image is shared with see.
		if got, want := w.stages.EC2[x.Region].(*deprecations).at[x.Image], now.Add(time.Minute); !got.Equal(want) {
			t.Errorf("%s/%s deprecated at %v, want %v (the next minute)", x.Region, x.Image, got, want)
		}
		tags := w.describe(t, x.Region, x.Image).Tags
		if tags[elevator.TagImageRevoked] != "CVE-2026-1234 in openssl" || tags[elevator.TagImageRevokedBy] != w.stages.By || tags[elevator.TagImageRevokedAt] != "2026-11-30T02:00:00Z" {
			t.Errorf("%s/%s tags %v; want revoked with reason, by and at", x.Region, x.Image, tags)
		}
	}
	last := w.audit.entries[len(w.audit.entries)-1]
	if last.Action != elevator.AuditImageRevoke || !strings.Contains(last.Detail, "CVE-2026-1234") || !strings.Contains(last.Detail, "us-east-1/"+w.image) {
		t.Errorf("audit %+v", last)
	}
	t.Run("a revoked image is not promoted", func(t *testing.T) {
		_, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
		if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "revoked (CVE-2026-1234 in openssl)") {
			t.Errorf("got %v, want EINVALID with the reason", err)
		}
	})
	t.Run("a reason is required, on one line, within a tag's length", func(t *testing.T) {
		for _, reason := range []string{"", "  ", "two\nlines", strings.Repeat("x", MaxRevokeReason+1)} {
			if _, err := w.stages.Revoke(ctx, "us-east-1", w.image, reason); elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("reason %q: got %v, want EINVALID", reason, err)
			}
		}
	})
}

func TestPromotingWhatAReleaseUsedPromotesEachSourceOnceAndLeavesTheRest(t *testing.T) {
	w := newWorld(t, "untested", "tested", "released")
	ctx := context.Background()
	// The image reaches the last stage, so that eu-west-1 has its copy;
	// then it is moved back to untested, copies and all.
	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "released", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.stages.Promote(ctx, "us-east-1", w.image, "untested", true); err != nil {
		t.Fatal(err)
	}
	copyEU := p.Copies[1]
	if copyEU.Region != "eu-west-1" {
		t.Fatalf("copies %+v: want eu-west-1 second", p.Copies)
	}
	ahead := w.bake(t, map[string]string{elevator.TagImage: "shop-worker", elevator.TagImageStage: "released"})
	foreign, _ := twoImages(t, w.cfgs["us-east-1"]) // one of moto's, not Elevator's
	// Elevator's images that Promote refuses: no stage tag, and a stage of
	// another orbit.
	unstaged := w.bake(t, map[string]string{elevator.TagImage: "shop-cron"})
	otherStage := w.bake(t, map[string]string{elevator.TagImage: "shop-mail", elevator.TagImageStage: "qa"})
	doc := &elevator.Release{Services: []elevator.ReleaseService{
		{Name: "web", Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: w.image}, {Region: copyEU.Region, Image: copyEU.Image}}},
		{Name: "worker", Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: ahead}, {Region: "us-east-1", Image: foreign}}},
		{Name: "cron", Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: unstaged}, {Region: "us-east-1", Image: otherStage}}},
	}}
	used := ReleaseImages(doc)
	if len(used) != 6 {
		t.Fatalf("used %+v, want 6", used)
	}
	before := len(w.audit.entries)
	done, notes, err := w.stages.PromoteUsed(ctx, used, "tested")
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].Image != w.image || done[0].From != "untested" || done[0].To != "tested" {
		t.Errorf("promotions %+v; want the source alone, once, untested -> tested", done)
	}
	joined := strings.Join(notes, "\n")
	for _, want := range []string{ahead + ": at stage released already, past tested", foreign + ": not an image Elevator baked in this account",
		unstaged + `: at stage "", which is not a stage of orbit prod`, otherStage + `: at stage "qa", which is not a stage of orbit prod`} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes lack %q:\n%s", want, joined)
		}
	}
	if got := w.describe(t, "eu-west-1", copyEU.Image).Tags[elevator.TagImageStage]; got != "tested" {
		t.Errorf("the copy is at %q, want tested with its source", got)
	}
	if got := w.describe(t, "us-east-1", ahead).Tags[elevator.TagImageStage]; got != "released" {
		t.Errorf("the image past the stage is at %q, want left at released", got)
	}
	if n := len(w.audit.entries) - before; n != 1 {
		t.Errorf("%d promotions audited, want 1", n)
	}
}

// countingEC2 counts the calls a Regional is asked, by method.
type countingEC2 struct {
	Regional
	mu    *sync.Mutex
	calls map[string]int
}

func (c countingEC2) count(m string) { c.mu.Lock(); c.calls[m]++; c.mu.Unlock() }
func (c countingEC2) Image(ctx context.Context, id string) (ec2.Image, error) {
	c.count("DescribeImages")
	return c.Regional.Image(ctx, id)
}
func (c countingEC2) OwnImagesWithTags(ctx context.Context, tags map[string]string) ([]ec2.Image, error) {
	c.count("DescribeImages")
	return c.Regional.OwnImagesWithTags(ctx, tags)
}
func (c countingEC2) Tag(ctx context.Context, id string, tags map[string]string) error {
	c.count("CreateTags")
	return c.Regional.Tag(ctx, id, tags)
}
func (c countingEC2) ShareImage(ctx context.Context, id string, s ec2.Share) error {
	c.count("ModifyImageAttribute")
	return c.Regional.ShareImage(ctx, id, s)
}
func (c countingEC2) ShareSnapshot(ctx context.Context, id string, accounts []string) error {
	c.count("ModifySnapshotAttribute")
	return c.Regional.ShareSnapshot(ctx, id, accounts)
}
func (c countingEC2) CopyImage(ctx context.Context, in ec2.CopyImageInput) (string, error) {
	c.count("CopyImage")
	return c.Regional.CopyImage(ctx, in)
}

// TestTheCallsOfAPromotionToTheLastStage prints, and checks, the EC2
// calls a promotion makes in an orbit of three regions: the first
// promotion to the last stage, then the same promotion again (which only
// looks, and shares again). Copies are available at once on moto: a
// pending copy adds one DescribeImages per look.
func TestTheCallsOfAPromotionToTheLastStage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	calls := map[string]int{}
	mu := &sync.Mutex{}
	for r, c := range w.stages.EC2 {
		w.stages.EC2[r] = countingEC2{Regional: c, mu: mu, calls: calls}
	}
	want := []map[string]int{
		// the image, its copies looked for in 2 regions, each copy looked at
		// once; stage tag, 2 copies tagged; the image and 2 copies shared,
		// one snapshot each, and tagged elevator:shared.
		{"DescribeImages": 5, "CreateTags": 6, "CopyImage": 2, "ModifyImageAttribute": 3, "ModifySnapshotAttribute": 3},
		{"DescribeImages": 5, "ModifyImageAttribute": 3, "ModifySnapshotAttribute": 3},
	}
	for i, w2 := range want {
		clear(calls)
		if _, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range calls {
			total += n
		}
		t.Logf("promotion %d to the last stage over 3 regions: %d EC2 calls %v, and 1 audit object", i+1, total, calls)
		if !reflect.DeepEqual(calls, w2) {
			t.Errorf("promotion %d: calls %v, want %v", i+1, calls, w2)
		}
	}
}

// deadCopies is a Regional on moto that reports chosen images failed, as
// AWS reports a failed copy (or a deregistered one, which it keeps listing
// for a while) and refuses to tag them; moto can make neither. It keeps
// the ClientToken of each CopyImage, which moto ignores.
type deadCopies struct {
	Regional
	mu     sync.Mutex
	dead   map[string]bool
	tokens []string
}

func (d *deadCopies) mark(img ec2.Image) ec2.Image {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead[img.ID] {
		img.State = "failed"
	}
	return img
}

func (d *deadCopies) Image(ctx context.Context, id string) (ec2.Image, error) {
	img, err := d.Regional.Image(ctx, id)
	return d.mark(img), err
}

func (d *deadCopies) OwnImagesWithTags(ctx context.Context, tags map[string]string) ([]ec2.Image, error) {
	found, err := d.Regional.OwnImagesWithTags(ctx, tags)
	for i := range found {
		found[i] = d.mark(found[i])
	}
	return found, err
}

func (d *deadCopies) Tag(ctx context.Context, id string, tags map[string]string) error {
	d.mu.Lock()
	dead := d.dead[id]
	d.mu.Unlock()
	if dead {
		return elevator.Errorf(elevator.EAWS, "create tags %s: InvalidAMIID.Unavailable (a failed image)", id)
	}
	return d.Regional.Tag(ctx, id, tags)
}

func (d *deadCopies) CopyImage(ctx context.Context, in ec2.CopyImageInput) (string, error) {
	d.mu.Lock()
	d.tokens = append(d.tokens, in.Token)
	d.mu.Unlock()
	return d.Regional.CopyImage(ctx, in)
}

func TestAFailedCopyIsCopiedAnewWithANewTokenAndIsNotRevoked(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	west := &deadCopies{Regional: w.stages.EC2["us-west-2"], dead: map[string]bool{}}
	w.stages.EC2["us-west-2"] = west
	first, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatal(err)
	}
	failed := first.Copies[0]
	if failed.Region != "us-west-2" {
		t.Fatalf("copies %+v: want us-west-2 first", first.Copies)
	}
	west.dead[failed.Image] = true

	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatalf("promoting again with a failed copy: %v", err)
	}
	want := []string{"elevator-copy-" + w.image, "elevator-copy-" + w.image + "-2"}
	if !reflect.DeepEqual(west.tokens, want) {
		t.Errorf("CopyImage tokens %q, want %q (a new one once a copy failed)", west.tokens, want)
	}
	var fresh PromotedCopy
	for _, cp := range p.Copies {
		if cp.Region == "us-west-2" {
			fresh = cp
		}
	}
	if !fresh.Made || fresh.Image == failed.Image {
		t.Errorf("us-west-2 copy %+v; want a new one made in place of %s", fresh, failed.Image)
	}

	rev, err := w.stages.Revoke(ctx, "us-east-1", w.image, "CVE-2026-1234 in openssl")
	if err != nil {
		t.Fatalf("revoking with a failed copy: %v", err)
	}
	for _, x := range rev.Images {
		if x.Image == failed.Image {
			t.Errorf("the failed copy %s was revoked: %+v", failed.Image, rev.Images)
		}
	}
	if len(rev.Images) != 3 {
		t.Errorf("revoked %+v; want the image and its two live copies", rev.Images)
	}
}

// failingLookups is a Regional on moto whose Image fails for chosen ids
// with an error other than not found (moto cannot be made to throttle or
// deny one call).
type failingLookups struct {
	Regional
	fail map[string]bool
}

func (f failingLookups) Image(ctx context.Context, id string) (ec2.Image, error) {
	if f.fail[id] {
		return ec2.Image{}, elevator.Errorf(elevator.EAWS, "describe image %s: RequestLimitExceeded (injected)", id)
	}
	return f.Regional.Image(ctx, id)
}

func TestRevokingThroughACopyRevokesEverySiblingOrFails(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	p, err := w.stages.Promote(ctx, "us-east-1", w.image, "tested", false)
	if err != nil {
		t.Fatal(err)
	}
	east := w.stages.EC2["us-east-1"]
	revoked := func(x PromotedCopy) bool {
		_, ok := w.describe(t, x.Region, x.Image).Tags[elevator.TagImageRevoked]
		return ok
	}

	t.Run("a source that cannot be looked up fails the revocation, nothing tagged", func(t *testing.T) {
		w.stages.EC2["us-east-1"] = failingLookups{Regional: east, fail: map[string]bool{w.image: true}}
		defer func() { w.stages.EC2["us-east-1"] = east }()
		_, err := w.stages.Revoke(ctx, p.Copies[1].Region, p.Copies[1].Image, "CVE-2026-1234 in openssl")
		if elevator.ErrorCode(err) != elevator.EAWS || !strings.Contains(err.Error(), "RequestLimitExceeded") {
			t.Fatalf("got %v, want the lookup's EAWS error", err)
		}
		for _, cp := range p.Copies {
			if revoked(cp) {
				t.Errorf("%s/%s revoked though the revocation failed", cp.Region, cp.Image)
			}
		}
	})

	t.Run("a deregistered source still has all its copies revoked", func(t *testing.T) {
		if _, err := ec2sdk.NewFromConfig(w.cfgs["us-east-1"]).DeregisterImage(ctx, &ec2sdk.DeregisterImageInput{ImageId: aws.String(w.image)}); err != nil {
			t.Fatal(err)
		}
		rev, err := w.stages.Revoke(ctx, p.Copies[1].Region, p.Copies[1].Image, "CVE-2026-1234 in openssl")
		if err != nil {
			t.Fatal(err)
		}
		if len(rev.Images) != 2 {
			t.Errorf("revoked %+v; want both copies", rev.Images)
		}
		for _, cp := range p.Copies {
			if !revoked(cp) {
				t.Errorf("%s/%s not revoked", cp.Region, cp.Image)
			}
		}
	})
}

// copyKeys is a Regional on moto that keeps the KMS key of each CopyImage
// (moto ignores a copy's encryption, so it cannot show which key was used).
type copyKeys struct {
	Regional
	keys *[]string
}

func (c copyKeys) CopyImage(ctx context.Context, in ec2.CopyImageInput) (string, error) {
	*c.keys = append(*c.keys, in.KMSKey)
	return c.Regional.CopyImage(ctx, in)
}

func TestEachCopyIsEncryptedWithTheMultiRegionKeyOfItsRegion(t *testing.T) {
	w := newWorld(t)
	w.orbit.Images.KMSKey = "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
	keys := map[string]*[]string{}
	for r, c := range w.stages.EC2 {
		keys[r] = &[]string{}
		w.stages.EC2[r] = copyKeys{Regional: c, keys: keys[r]}
	}
	if _, err := w.stages.Promote(context.Background(), "us-east-1", w.image, "tested", false); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us-west-2", "eu-west-1"} {
		want := []string{"arn:aws:kms:" + r + ":123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"}
		if !reflect.DeepEqual(*keys[r], want) {
			t.Errorf("%s: copied with keys %q, want %q", r, *keys[r], want)
		}
	}
}
