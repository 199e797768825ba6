package cli

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
	"github.com/spf13/cobra"
)

// chaosLease is the lease of the app locks a chaos run holds; a run that
// holds them longer (a zone outage) renews them every third of it.
const chaosLease = 2 * time.Minute

// zoneRegion returns the region of an availability zone's name: the
// zone is its region's name and a letter, such as us-east-1a.
func zoneRegion(zone string) (string, bool) {
	if len(zone) < 2 || zone[len(zone)-1] < 'a' || zone[len(zone)-1] > 'z' {
		return "", false
	}
	region := zone[:len(zone)-1]
	return region, elevator.IsRegionName(region)
}

// chaosOptions are the flags of `elevator chaos`.
type chaosOptions struct {
	orbitEnv
	app                       string
	level                     float64
	retainage                 int
	includeLast, dryRun       bool
	seed                      uint64
	seedGiven                 bool
	lockWait, testWait        time.Duration
	thenTest                  bool
	zone                      string
	outage                    time.Duration
	zoneRegion                string
	levelGiven, outageGiven   bool
	retainageGiven, lastGiven bool
}

// validate checks every flag and reads the orbit's manifest; it calls
// nothing, so bad input changes nothing and exits 2.
func (o *chaosOptions) validate() error {
	if err := o.orbitEnv.validate(); err != nil {
		return err
	}
	if err := checkAppService(o.app, "", false); err != nil {
		return err
	}
	if o.lockWait < 0 {
		return elevator.Errorf(elevator.EINVALID, "--lock-wait %s: want how long to wait for a release of the app to end, 0s or more", o.lockWait)
	}
	if o.testWait <= 0 {
		return elevator.Errorf(elevator.EINVALID, "--test-wait %s: want how long to wait for the replacements before the tests, more than 0s", o.testWait)
	}
	if o.region != "" && o.orbit.Region(o.region) == nil {
		return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", o.region, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	}
	if o.outageGiven && o.zone == "" {
		return elevator.Errorf(elevator.EINVALID, "--for %s needs --az: it is how long a zone stays lost", o.outage)
	}
	if o.zone != "" {
		return o.validateZone()
	}
	if !o.levelGiven {
		return elevator.Errorf(elevator.EINVALID, "--level is required: the fraction of the eligible instances to terminate, such as 0.1 (or --az ZONE --for DURATION to lose a zone)")
	}
	if err := o.policy().Check(); err != nil {
		return elevator.Errorf(elevator.EINVALID, "%w", err)
	}
	return nil
}

func (o *chaosOptions) validateZone() error {
	region, ok := zoneRegion(o.zone)
	if !ok {
		return elevator.Errorf(elevator.EINVALID, "--az %q: want an availability zone of one of the orbit's regions, such as %sa", o.zone, o.orbit.Regions[0].Name)
	}
	o.zoneRegion = region
	if o.orbit.Region(o.zoneRegion) == nil {
		return elevator.Errorf(elevator.EINVALID, "--az %s: a zone of %s, where orbit %s is not; its regions are %s", o.zone, o.zoneRegion, o.orbit.Name, strings.Join(regionNames(o.orbit), ", "))
	}
	if o.region != "" && o.region != o.zoneRegion {
		return elevator.Errorf(elevator.EINVALID, "--region %s and --az %s: the zone is in %s", o.region, o.zone, o.zoneRegion)
	}
	if !o.outageGiven {
		return elevator.Errorf(elevator.EINVALID, "--az %s needs --for: how long the zone stays lost, such as 10m", o.zone)
	}
	if o.outage < time.Second || o.outage > 24*time.Hour {
		return elevator.Errorf(elevator.EINVALID, "--for %s: want 1s to 24h", o.outage)
	}
	for flag, given := range map[string]bool{"--level": o.levelGiven, "--retainage": o.retainageGiven, "--include-last": o.lastGiven, "--seed": o.seedGiven} {
		if given {
			return elevator.Errorf(elevator.EINVALID, "%s and --az: losing a zone takes every instance in it; give one", flag)
		}
	}
	return nil
}

func (o *chaosOptions) policy() chaos.Policy {
	return chaos.Policy{Level: o.level, Retainage: o.retainage, IncludeLast: o.includeLast, Seed: o.seed}
}

// chaosRun is what a run acts with, found once its flags are valid.
type chaosRun struct {
	*chaosOptions
	by, runID string
	home      aws.Config
	bucket    string
	backend   *awsrelease.Backend
	objects   *s3.Client
	progress  *progress.Printer
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	// groups and instances of each region.
	groups    map[string]*autoscaling.Client
	instances map[string]*ec2.Client
	cfgs      map[string]aws.Config
	// locker holds the apps' release locks (r.backend.Locker; a fake in
	// tests), renewed every renewEvery (a third of the lease).
	locker     chaosLocker
	renewEvery time.Duration
	// tester runs the http and command tests of --then-test
	// (release.LocalTester when nil).
	tester release.Tester
	// terminateFake, in tests, terminates instead of Auto Scaling.
	terminateFake func(ctx context.Context, region, group, id string) error
	describeFake  func(ctx context.Context, region, name string) (autoscaling.Group, error)
	// services lists each region's groups and ECS services (a
	// release.Cloud), in an orbit with an ECS cluster: chaos reads it for
	// the apps whose current release runs ECS services, to name those it
	// leaves alone.
	services map[string]groupLister
	// groupsFake and releasesFake, in tests, list Auto Scaling Groups
	// and an app's releases instead of AWS.
	groupsFake   func(ctx context.Context, region string, tags map[string]string) ([]autoscaling.Group, error)
	releasesFake func(ctx context.Context, app string) ([]*elevator.ReleaseRecord, error)
	// current is each app's current release: its last successful one.
	current map[string]*elevator.ReleaseRecord
}

// groupLister lists the groups and ECS services of releases in a region
// (release.Cloud's Groups).
type groupLister interface {
	Groups(ctx context.Context, f release.GroupFilter) ([]release.Group, error)
}

// regions are the regions the run looks in: --region's, the zone's, or
// every region of the orbit.
func (r *chaosRun) regions() []string {
	switch {
	case r.zoneRegion != "":
		return []string{r.zoneRegion}
	case r.region != "":
		return []string{r.region}
	}
	return regionNames(r.orbit)
}

func (o *chaosOptions) start(ctx context.Context) (*chaosRun, error) {
	o.configs = orbitConfigs(o.globals, o.orbit)
	r := &chaosRun{chaosOptions: o, progress: progress.New(o.stderr), now: time.Now, sleep: elevator.Sleep, renewEvery: chaosLease / 3,
		groups: map[string]*autoscaling.Client{}, instances: map[string]*ec2.Client{}, cfgs: map[string]aws.Config{}, services: map[string]groupLister{},
		current: map[string]*elevator.ReleaseRecord{}}
	var err error
	if r.home, err = o.configs.For(ctx, o.orbit.Regions[0].Name); err != nil {
		return nil, err
	}
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(r.home)}).OrbitOutputs(ctx, o.orbit)
	if err != nil {
		return nil, err
	}
	r.bucket = outputs[compile.StateBucketOutput]
	if r.backend, err = awsrelease.New(awsrelease.Config{Orbit: o.orbit.Name, AWS: []aws.Config{r.home}, Bucket: r.bucket, ECS: o.orbit.ECS != nil}); err != nil {
		return nil, err
	}
	r.objects = s3.New(r.home)
	r.locker = r.backend.Locker
	if o.configs.emulated() || o.endpoint != "" {
		// Against an emulator (--local, --endpoint-url), a lost lock is
		// found within seconds.
		r.renewEvery = time.Second
	}
	id, err := sts.New(r.home).CallerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	r.by = id.ARN
	var b [4]byte
	_, _ = rand.Read(b[:])
	r.runID = elevator.ChaosRunPrefix + time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
	for _, name := range r.regions() {
		cfg, err := o.configs.For(ctx, name)
		if err != nil {
			return nil, err
		}
		r.cfgs[name], r.groups[name], r.instances[name] = cfg, autoscaling.New(cfg), ec2.New(cfg)
		if o.orbit.ECS != nil {
			// Only an orbit with a cluster runs ECS services: elsewhere
			// there is nothing to name, and no second listing of groups.
			r.services[name] = awsrelease.NewCloud(cfg).WithECS(true)
		}
	}
	return r, nil
}

// findGroups returns the groups of the current release of each app of
// the orbit (or --app) in the run's regions: groups found by the orbit's
// (and app's) tag, kept when their release is the app's last successful
// one. Groups of other releases (one under way, or old ones going) are
// not the app's serving groups and are left alone.
func (r *chaosRun) findGroups(ctx context.Context) ([]chaos.Group, error) {
	var out []chaos.Group
	for _, region := range r.regions() {
		tags := map[string]string{elevator.TagOrbit: r.orbit.Name}
		if r.app != "" {
			tags[elevator.TagApp] = r.app
		}
		r.progress.Note(region, "looking for the groups of the current releases")
		found, err := r.listGroups(ctx, region, tags)
		if err != nil {
			return nil, err
		}
		if err := r.findECSApps(ctx, region); err != nil {
			return nil, err
		}
		for _, g := range found {
			app, rel := g.Tags[elevator.TagApp], g.Tags[elevator.TagRelease]
			if app == "" || rel == "" || g.Deleting() {
				continue // the bastion, or a group on its way out
			}
			cur, err := r.currentRelease(ctx, app)
			if err != nil {
				return nil, err
			}
			if cur == nil || cur.ID != rel {
				continue
			}
			cg := chaos.Group{Region: region, Name: g.Name, App: app, Service: g.Tags[elevator.TagService], ReleaseID: rel,
				OptOut: g.Tags[elevator.TagChaos] == elevator.ChaosOptOut, InService: []chaos.Instance{}, Subnets: g.SubnetIDs, Desired: g.Desired}
			for _, in := range g.InService() {
				cg.InService = append(cg.InService, chaos.Instance{ID: in.ID, AZ: in.AZ})
			}
			out = append(out, cg)
		}
	}
	if r.app != "" {
		if cur, err := r.currentRelease(ctx, r.app); err != nil {
			return nil, err
		} else if cur == nil {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no successful release in orbit %s: nothing of it runs", r.app, r.orbit.Name)
		}
	}
	return out, nil
}

// listGroups lists the Auto Scaling Groups of region with tags.
func (r *chaosRun) listGroups(ctx context.Context, region string, tags map[string]string) ([]autoscaling.Group, error) {
	if r.groupsFake != nil {
		return r.groupsFake(ctx, region, tags)
	}
	return r.groups[region].Groups(ctx, tags)
}

// findECSApps reads the current release of each app (or --app) that has
// ECS services in region, so that the run can name the ECS services of
// the current releases it leaves alone (skippedECS), also for an app
// that runs only on ECS and so has no group findGroups keeps.
func (r *chaosRun) findECSApps(ctx context.Context, region string) error {
	l := r.services[region]
	if l == nil {
		return nil
	}
	found, err := l.Groups(ctx, release.GroupFilter{Orbit: r.orbit.Name, App: r.app})
	if err != nil {
		return err
	}
	for _, g := range found {
		if app := g.Tags[elevator.TagApp]; g.Cluster != "" && app != "" {
			if _, err := r.currentRelease(ctx, app); err != nil {
				return err
			}
		}
	}
	return nil
}

// currentRelease is the app's last successful release, or nil.
func (r *chaosRun) currentRelease(ctx context.Context, app string) (*elevator.ReleaseRecord, error) {
	if cur, ok := r.current[app]; ok {
		return cur, nil
	}
	var recs []*elevator.ReleaseRecord
	var err error
	if r.releasesFake != nil {
		recs, err = r.releasesFake(ctx, app)
	} else {
		recs, err = r.backend.Store.Releases(ctx, app, 50)
	}
	if err != nil {
		return nil, err
	}
	var cur *elevator.ReleaseRecord
	for _, rec := range recs {
		if rec.State == elevator.StateSuccess {
			cur = rec
			break
		}
	}
	r.current[app] = cur
	return cur, nil
}

// audit writes an entry per app, naming its instances.
func (r *chaosRun) audit(ctx context.Context, app, outcome, detail string) error {
	return r.backend.Store.Audit(ctx, elevator.AuditEntry{At: r.now().UTC(), By: r.by, Action: elevator.AuditChaos, App: app, Orbit: r.orbit.Name,
		Outcome: outcome, Detail: detail})
}

// auditApps writes every app's entry (entry gives its outcome and
// detail), with a context of its own: the run acted whether or not its
// command was interrupted since, and one entry that fails does not keep
// the others from being written. It returns the failures joined.
func (r *chaosRun) auditApps(apps []string, entry func(app string) (outcome, detail string)) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, app := range apps {
		outcome, detail := entry(app)
		if err := r.audit(ctx, app, outcome, detail); err != nil {
			errs = append(errs, fmt.Errorf("audit the chaos run for %s: %w", app, err))
		}
	}
	return errors.Join(errs...)
}

// termination is one instance a run terminated, or failed to.
type termination struct {
	Region   string `json:"region"`
	Group    string `json:"group"`
	App      string `json:"app"`
	Instance string `json:"instance"`
	AZ       string `json:"az,omitempty"`
	Error    string `json:"error,omitempty"`
	// Note says the instance was gone already (nothing left to do).
	Note string `json:"note,omitempty"`
}

// terminateInstance terminates an instance of a group in a region, the
// group replacing it (a fake in tests).
func (r *chaosRun) terminateInstance(ctx context.Context, region, group, id string) error {
	if r.terminateFake != nil {
		return r.terminateFake(ctx, region, group, id)
	}
	return r.groups[region].TerminateInstance(ctx, group, id)
}

// terminate terminates instances of a group, each replaced by the group;
// an instance already gone counts as terminated, with a note.
func (r *chaosRun) terminate(ctx context.Context, g chaos.Group, ins []chaos.Instance) []termination {
	var out []termination
	for _, in := range ins {
		t := termination{Region: g.Region, Group: g.Name, App: g.App, Instance: in.ID, AZ: in.AZ}
		err := r.terminateInstance(ctx, g.Region, g.Name, in.ID)
		switch {
		case elevator.ErrorCode(err) == elevator.ENOTFOUND:
			// Gone or going already (terminated since it was read): what
			// was asked is done.
			t.Note = "already gone: " + err.Error()
			r.progress.Note(g.Region, fmt.Sprintf("%s: %s already gone", g.Name, in.ID))
		case err != nil:
			t.Error = err.Error()
			r.progress.Note(g.Region, fmt.Sprintf("%s: %s not terminated: %v", g.Name, in.ID, err))
		default:
			r.progress.Note(g.Region, fmt.Sprintf("%s: terminated %s (%s)", g.Name, in.ID, in.AZ))
		}
		out = append(out, t)
	}
	return out
}

// underLock is what a group loses once its app's lock is held: its
// inventory read again, the chosen instances still InService, no more
// than its retainage allows now (chaos.Recheck). An instance already
// gone leaves the group alone: nil.
func (r *chaosRun) underLock(ctx context.Context, g chaos.Group, chosen []chaos.Instance) ([]chaos.Instance, error) {
	now, err := r.groups[g.Region].Group(ctx, g.Name)
	if errors.Is(err, autoscaling.ErrNotFound) {
		r.progress.Note(g.Region, fmt.Sprintf("%s: gone since the plan; left alone", g.Name))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fresh := g
	fresh.Desired, fresh.InService = now.Desired, nil
	for _, in := range now.InService() {
		fresh.InService = append(fresh.InService, chaos.Instance{ID: in.ID, AZ: in.AZ})
	}
	keep, why := chaos.Recheck(fresh, chosen, r.policy())
	if why != "" {
		r.progress.Note(g.Region, fmt.Sprintf("%s: %s", g.Name, why))
	}
	return keep, nil
}

// chaosJSON is what `elevator chaos -o json` prints.
type chaosJSON struct {
	Orbit      string        `json:"orbit"`
	App        string        `json:"app,omitempty"`
	DryRun     bool          `json:"dry_run"`
	Level      float64       `json:"level"`
	Retainage  int           `json:"retainage"`
	Plan       chaos.Plan    `json:"plan"`
	Terminated []termination `json:"terminated"`
	Tests      []chaosTest   `json:"tests,omitempty"`
	// Skipped says why --then-test did not run the tests.
	Skipped string `json:"tests_skipped,omitempty"`
	// SkippedECS are the ECS services of the current releases looked at:
	// chaos terminates instances of Auto Scaling Groups only.
	SkippedECS []chaosSkippedECS `json:"skipped_ecs,omitempty"`
}

// chaosSkippedECS is an ECS service chaos left alone.
type chaosSkippedECS struct {
	Region  string `json:"region"`
	App     string `json:"app"`
	Service string `json:"service"`
	Name    string `json:"name"`
	Cluster string `json:"cluster"`
}

// skippedECS lists the ECS services of the current releases in current
// that run in regions, by app, then in the order of the record's regions
// and services. An app without a successful release is nil in current.
func skippedECS(current map[string]*elevator.ReleaseRecord, regions []string) []chaosSkippedECS {
	var out []chaosSkippedECS
	for _, app := range sortedApps(current) {
		rec := current[app]
		if rec == nil {
			continue
		}
		for _, reg := range rec.Regions {
			if !slices.Contains(regions, reg.Region) {
				continue
			}
			for _, s := range reg.Services {
				if s.Cluster != "" {
					out = append(out, chaosSkippedECS{Region: reg.Region, App: app, Service: s.Service, Name: s.Group, Cluster: s.Cluster})
				}
			}
		}
	}
	return out
}

func newChaosCmd(g *globals) *cobra.Command {
	o := &chaosOptions{orbitEnv: orbitEnv{globals: g, allRegions: true}}
	c := &cobra.Command{
		Use:   "chaos",
		Short: "Terminate instances of an orbit's apps on purpose, keeping each group's retainage, or lose a zone for a while",
		Long: `Terminate, at random, --level (a fraction, 0 < level <= 1) of the eligible
instances of the current releases of the orbit's apps (or --app), in every
region of the orbit or --region, as Asiaq's disco_chaos did. Eligible are
the InService, healthy instances of the groups of each app's last
successful release; an app whose manifest says chaos: false is skipped.
level x eligible is rounded to the nearest instance (halves up), and at
least one is taken. No group loses more than count - max(ceil(retainage%
x count), 1) instances: --retainage percent of it stays, and its last
instance too unless --include-last. Each group replaces what it loses
(its desired capacity stays). --seed makes the choice reproducible; the
seed used is printed.

Chaos never runs during a release of the same app: it takes each app's
release lock while it terminates, waiting up to --lock-wait for a
release to end, then refuses (exit 3), naming the release, having
terminated nothing. Every run is audited, per app.

--az ZONE --for DURATION loses a zone: every group of the current
releases with a subnet in it (in the zone's region) stops launching there
(its subnets there are taken out of the group), loses its instances there,
and gets its subnets back after DURATION, or at Ctrl-C. The apps' locks
are held the whole time, so no release runs meanwhile. The subnets are
recorded first in the orbit's state bucket: after a crash,
'elevator chaos restore --orbit O' puts them back.

--then-test waits for the replacements to be InService (up to --test-wait),
then runs the integration tests of each affected app's current release;
the command exits 6 when one fails.

ECS services (docs/ecs.md) have tasks, not instances: chaos leaves them
alone and names those of the current releases it skipped.

--dry-run prints what would be terminated and why each group is skipped
or limited, and changes nothing; without --yes, chaos prints the same and
asks for the orbit's name first.`,
		Example: `  elevator chaos --orbit staging --level 0.1 --retainage 33 --dry-run
  elevator chaos --orbit staging --app shop --level 0.5 --seed 42 --yes --then-test
  elevator chaos --orbit staging --az us-east-1a --for 10m --yes`,
		Args: noArgs,
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		f := cmd.Flags()
		o.levelGiven, o.retainageGiven, o.lastGiven = f.Changed("level"), f.Changed("retainage"), f.Changed("include-last")
		o.seedGiven, o.outageGiven = f.Changed("seed"), f.Changed("for")
		if err := o.validate(); err != nil {
			return err
		}
		if !o.seedGiven {
			var b [8]byte
			_, _ = rand.Read(b[:])
			o.seed = binary.BigEndian.Uint64(b[:]) >> 1 // printable as a positive int64 too
		}
		ctx := cmd.Context()
		r, err := o.start(ctx)
		if err != nil {
			return err
		}
		if o.zone != "" {
			return r.loseZone(ctx)
		}
		return r.chaos(ctx)
	}
	o.addFlags(c)
	f := c.Flags()
	f.StringVar(&o.app, "app", "", "only this app's instances (default: every app of the orbit)")
	f.Float64Var(&o.level, "level", 0, "the fraction of the eligible instances to terminate, greater than 0 and at most 1 (required without --az)")
	f.IntVar(&o.retainage, "retainage", 33, "the percentage of each group's InService instances that stays, 0 to 100")
	f.BoolVar(&o.includeLast, "include-last", false, "let a group lose its last instance (with a retainage that allows it)")
	f.Uint64Var(&o.seed, "seed", 0, "the seed of the random choice, to repeat a run's choice (default: a new one, printed)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print what would be terminated and why groups are skipped or limited; change nothing")
	f.DurationVar(&o.lockWait, "lock-wait", 0, "how long to wait for a release of an app to end before refusing")
	f.BoolVar(&o.thenTest, "then-test", false, "afterwards, wait for the replacements, then run the integration tests of each affected app's current release")
	f.DurationVar(&o.testWait, "test-wait", 10*time.Minute, "with --then-test, how long to wait for the groups to be back to their desired InService instances")
	f.StringVar(&o.zone, "az", "", "lose this availability zone (such as us-east-1a) for --for: no launches there, its instances terminated")
	f.DurationVar(&o.outage, "for", 0, "with --az, how long the zone stays lost (1s to 24h), such as 10m")
	c.AddCommand(newChaosRestoreCmd(g))
	return c
}

// chaos runs a level-and-retainage run.
func (r *chaosRun) chaos(ctx context.Context) error {
	groups, err := r.findGroups(ctx)
	if err != nil {
		return err
	}
	plan := chaos.Select(groups, r.policy())
	r.progress.Done()
	out := chaosJSON{Orbit: r.orbit.Name, App: r.app, DryRun: true, Level: r.level, Retainage: r.retainage, Plan: plan, Terminated: []termination{},
		SkippedECS: skippedECS(r.current, r.regions())}
	if r.dryRun || plan.Total == 0 {
		if plan.Total == 0 {
			out.DryRun = r.dryRun
		}
		return r.printChaos(out)
	}
	apps := plan.Apps()
	var tests map[string]*elevator.Release
	if r.thenTest {
		if tests, err = r.testsOf(ctx, apps); err != nil {
			return err
		}
	}
	if !r.yes {
		var b strings.Builder
		printPlan(&b, plan, true)
		if err := confirm(r.globals, fmt.Sprintf("This terminates %d instances of orbit %s (their groups replace them):\n%s", plan.Total, r.orbit.Name,
			strings.TrimRight(b.String(), "\n")), r.orbit.Name, "orbit"); err != nil {
			return err
		}
	}
	// The locks are renewed from the first one taken until they are given
	// back: waiting for the next app's, or terminating, never lets one
	// expire (an expired lock is free for a release to take).
	locks := r.holdLocks(nil)
	if err := r.lockAll(ctx, locks, apps); err != nil {
		locks.close()
		aerr := r.auditApps(apps, func(string) (string, string) {
			return "refused", fmt.Sprintf("terminated nothing: %v", err)
		})
		return errors.Join(err, aerr)
	}
	out.DryRun = false
	func() {
		defer locks.close()
		// With the locks held, the plan is checked against AWS again: an
		// app released since the plan keeps its new groups, and a chosen
		// instance no longer InService is left alone.
		for _, app := range apps {
			delete(r.current, app)
		}
		for _, ch := range plan.Choices {
			if len(ch.Terminate) == 0 {
				continue
			}
			// A conditional write of every lock right before the group's
			// instances go: a lock broken since stops the run here.
			if err := locks.renewDue(ctx, true); err != nil {
				out.Terminated = append(out.Terminated, termination{Region: ch.Group.Region, Group: ch.Group.Name, App: ch.Group.App, Error: err.Error()})
				continue
			}
			cur, err := r.currentRelease(ctx, ch.Group.App)
			if err == nil && (cur == nil || cur.ID != ch.Group.ReleaseID) {
				r.progress.Note(ch.Group.Region, fmt.Sprintf("%s: %s was released since the plan; its group is left alone", ch.Group.Name, ch.Group.App))
				continue
			}
			var live []chaos.Instance
			if err == nil {
				live, err = r.underLock(ctx, ch.Group, ch.Terminate)
			}
			if err != nil {
				out.Terminated = append(out.Terminated, termination{Region: ch.Group.Region, Group: ch.Group.Name, App: ch.Group.App, Error: err.Error()})
				continue
			}
			out.Terminated = append(out.Terminated, r.terminate(ctx, ch.Group, live)...)
		}
	}()
	r.progress.Done()
	var failed int
	byApp, failedOf := map[string][]string{}, map[string][]string{}
	for _, t := range out.Terminated {
		if t.Error != "" {
			failed++
			failedOf[t.App] = append(failedOf[t.App], orDash(t.Instance)+" ("+t.Group+"): "+t.Error)
			continue
		}
		byApp[t.App] = append(byApp[t.App], t.Instance+" ("+t.Group+")")
	}
	auditErr := r.auditApps(apps, func(app string) (string, string) {
		outcome := "terminated"
		detail := fmt.Sprintf("terminated %d: %s; level %g, retainage %d%%, seed %d", len(byApp[app]), strings.Join(byApp[app], ", "), r.level, r.retainage, plan.Seed)
		if len(failedOf[app]) > 0 {
			outcome = "partly-failed"
			detail += fmt.Sprintf("; not terminated %d: %s", len(failedOf[app]), strings.Join(failedOf[app], "; "))
		}
		return outcome, detail
	})
	var errs []error
	if lerr := locks.lost(); lerr != nil {
		errs = append(errs, lerr) // first: ECONFLICT is the exit code
	}
	if failed > 0 {
		errs = append(errs, elevator.Errorf(elevator.EAWS, "%d instances were not terminated (see above)", failed))
	}
	if auditErr != nil {
		errs = append(errs, auditErr)
	}
	if r.thenTest && failed == 0 {
		var terr error
		out.Tests, terr = r.runTests(ctx, tests, groupsOf(out), out.Terminated)
		errs = append(errs, terr)
	} else if r.thenTest {
		out.Skipped = "the integration tests did not run: some instances were not terminated"
	}
	if perr := r.printChaos(out); perr != nil {
		return perr
	}
	errs = append(errs, testsFailed(out.Tests))
	return r.reportedIfJSON(errors.Join(errs...))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// reportedIfJSON keeps an error's message out of stdout when the JSON
// answer is printed already: only its exit code is left to give.
func (r *chaosRun) reportedIfJSON(err error) error {
	if err != nil && r.json() {
		return reported{err}
	}
	return err
}

// groupsOf are the groups that lost instances in a run: those left
// alone under the lock (released since, or no chosen instance InService
// any more) are not waited for, as they may be gone.
func groupsOf(out chaosJSON) []chaos.Group {
	lost := map[string]bool{}
	for _, t := range out.Terminated {
		if t.Error == "" && t.Instance != "" {
			lost[t.Region+"/"+t.Group] = true
		}
	}
	var gs []chaos.Group
	for _, c := range out.Plan.Choices {
		if lost[c.Group.Region+"/"+c.Group.Name] {
			gs = append(gs, c.Group)
		}
	}
	return gs
}

func (r *chaosRun) printChaos(out chaosJSON) error {
	if r.json() {
		return r.printJSON(out)
	}
	w := r.stdout
	for _, x := range out.SkippedECS {
		fmt.Fprintf(w, "%s  %s (%s/%s): skipped, chaos terminates instances of Auto Scaling Groups only\n", x.Region, groupName(x.Name, x.Cluster), x.App, x.Service)
	}
	if len(out.Plan.Choices) == 0 {
		fmt.Fprintf(w, "no groups of a current release of %s in orbit %s's regions (%s)\n", orAll(r.app), r.orbit.Name, strings.Join(r.regions(), ", "))
		return nil
	}
	fmt.Fprintf(w, "level %g of %d eligible instances: %d asked, %d allowed by retainage %d%%; seed %d\n",
		out.Level, out.Plan.Eligible, out.Plan.Target, out.Plan.Total, out.Retainage, out.Plan.Seed)
	if out.DryRun || len(out.Terminated) == 0 {
		printPlan(w, out.Plan, false)
		if out.DryRun {
			fmt.Fprintln(w, "dry run: nothing was terminated")
		} else {
			fmt.Fprintln(w, "nothing to terminate")
		}
		return nil
	}
	printTerminated(w, out.Terminated)
	printTests(w, out.Tests)
	if out.Skipped != "" {
		fmt.Fprintln(w, out.Skipped)
	}
	return nil
}

func orAll(app string) string {
	if app == "" {
		return "any app"
	}
	return "app " + app
}

// printPlan writes a line per group: what it loses, or why it loses
// nothing or no more (only the groups that lose some, when losingOnly).
func printPlan(w io.Writer, p chaos.Plan, losingOnly bool) {
	for _, c := range p.Choices {
		if losingOnly && len(c.Terminate) == 0 {
			continue
		}
		var ids []string
		for _, in := range c.Terminate {
			ids = append(ids, in.ID)
		}
		line := fmt.Sprintf("%s  %s (%s/%s): %d in service", c.Group.Region, c.Group.Name, c.Group.App, c.Group.Service, c.Eligible)
		if len(ids) > 0 {
			line += ", terminate " + strings.Join(ids, " ")
		}
		if c.Why != "" {
			line += "; " + c.Why
		}
		fmt.Fprintln(w, line)
	}
}

// sortedApps returns the keys of m, sorted.
func sortedApps[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printTerminated says, line by line, which instances went and which
// could not.
func printTerminated(w io.Writer, ts []termination) {
	for _, t := range ts {
		if t.Error != "" {
			fmt.Fprintf(w, "not terminated  %s  %s  %s: %s\n", t.Region, t.Group, t.Instance, t.Error)
			continue
		}
		fmt.Fprintf(w, "terminated      %s  %s  %s (%s)", t.Region, t.Group, t.Instance, t.AZ)
		if t.Note != "" {
			fmt.Fprintf(w, "; %s", t.Note)
		}
		fmt.Fprintln(w)
	}
}
