package release

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// world is an orbit "prod" in fake AWS, where app "shop" has a service
// "web" behind a target group in every region, served by a group of an
// earlier release with two instances: an Auto Scaling Group, or, in a
// world on ECS, an ECS service with two tasks in the orbit's cluster.
type world struct {
	t       *testing.T
	rt      rt // how the world's services run
	clock   *fakeClock
	store   *fakeStore
	locker  *fakeLocker
	clouds  map[string]*fakeCloud
	regions []string
	seq     int
}

const (
	app      = "shop"
	orbit    = "prod"
	oldID    = "20261101-000000-00000000"
	oldGroup = "shop-prod-web-00000000"
	poll     = 5 * time.Second
	lease    = time.Minute
)

// rt is how a world's services run: on Auto Scaling Groups or as ECS
// services.
type rt string

const (
	onASG rt = "on Auto Scaling Groups"
	onECS rt = "on ECS"
)

// runtimes runs fn for a world of each runtime, as subtests named after
// it: the engine releases both the same way.
func runtimes(t *testing.T, fn func(t *testing.T, rt rt)) {
	for _, r := range []rt{onASG, onECS} {
		t.Run(string(r), func(t *testing.T) { fn(t, r) })
	}
}

// cluster is the orbit's ECS cluster.
var cluster = elevator.ECSClusterName(orbit)

func newWorld(t *testing.T, regions ...string) *world {
	t.Helper()
	return newWorldOn(t, onASG, regions...)
}

// newWorldOn is newWorld whose services (the old group of web, and what
// w.release makes) run on r.
func newWorldOn(t *testing.T, r rt, regions ...string) *world {
	t.Helper()
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	w := &world{t: t, rt: r, clock: newFakeClock(), store: newFakeStore(), locker: newFakeLocker(), clouds: map[string]*fakeCloud{}, regions: regions}
	w.store.locks = w.locker
	for _, reg := range regions {
		c := newFakeCloud(t, reg, w.clock)
		w.clouds[reg] = c
		for _, svc := range []string{"web", "worker"} {
			c.addResource(Resource{Kind: KindSecurityGroup, ID: sg(svc), Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagApp: app, elevator.TagService: svc}})
			c.addResource(Resource{Kind: KindInstanceProfile, ID: app + "-" + orbit + "-" + svc, Path: elevator.IAMPath(orbit, app, svc)})
		}
		c.addResource(Resource{Kind: KindImage, ID: ami(reg), Tags: map[string]string{elevator.TagApp: "shop,blog", elevator.TagOrbit: "*"}})
		c.addResource(Resource{Kind: KindImage, ID: "ami-untagged", Tags: map[string]string{"Name": "ubuntu"}})
		c.addResource(Resource{Kind: KindImage, ID: "ami-shop-prod", Tags: map[string]string{elevator.AllowTag("test"): "blog", elevator.AllowTag(orbit): "blog,shop"}})
		c.addResource(Resource{Kind: KindImage, ID: "ami-blog-prod", Tags: map[string]string{elevator.AllowTag("test"): "shop", elevator.AllowTag(orbit): "blog"}})
		for _, s := range []string{"subnet-a", "subnet-b"} {
			c.addResource(Resource{Kind: KindSubnet, ID: s, Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagTier: elevator.TierPrivate}})
		}
		c.addResource(Resource{Kind: KindSubnet, ID: "subnet-public", Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagTier: elevator.TierPublic}})
		c.addResource(Resource{Kind: KindSecurityGroup, ID: "sg-other", Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagApp: "blog", elevator.TagService: "web"}})
		c.addResource(Resource{Kind: KindTargetGroup, ID: tg(reg), Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagApp: app, elevator.TagService: "web"}})
		c.addResource(Resource{Kind: KindTargetGroup, ID: "arn:tg-untagged", Tags: map[string]string{}})
		c.addResource(Resource{Kind: KindInstanceProfile, ID: "admin", Path: "/"})
		if r == onECS {
			c.targetTypes[tg(reg)] = targetTypeIP // the app stack's, for an ECS service
		}
		c.addRunningService(oldGroup, w.cluster(), map[string]string{elevator.TagApp: app, elevator.TagOrbit: orbit, elevator.TagService: "web", elevator.TagRelease: oldID}, 2, []string{tg(reg)})
	}
	return w
}

// cluster is the cluster of the world's groups: "" on Auto Scaling
// Groups.
func (w *world) cluster() string {
	if w.rt == onECS {
		return cluster
	}
	return ""
}

// ref names a group of the world.
func (w *world) ref(name string) GroupRef { return GroupRef{Name: name, Cluster: w.cluster()} }

// leftover is how cleanup names a group of the world it leaves.
func (w *world) leftover(region, name, what string) string {
	return leftover(region, w.ref(name), what)
}

// beforeGroup is the operation CreateGroup calls before it makes a group
// of the world: the launch template's, or the task definition's.
func (w *world) beforeGroup() string {
	if w.rt == onECS {
		return "RegisterTaskDefinition"
	}
	return "CreateLaunchTemplate"
}

// made is what CreateGroup makes first for a group of the world, as the
// fake's remains lists it: its launch template, or its task definition's
// first revision.
func (w *world) made(group string) string {
	if w.rt == onECS {
		return "task definition " + group + ":1"
	}
	return "launch template " + group
}

// plant puts what CreateGroup makes first for a group into c, as a
// release whose group never came, or went, would leave it, and returns
// how remains lists it.
func (w *world) plant(c *fakeCloud, group string, tags map[string]string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.rt == onECS {
		c.revisions[group]++
		name := fmt.Sprintf("%s:%d", group, c.revisions[group])
		c.taskDefs[name] = tags
		return "task definition " + name
	}
	c.templates[group] = tags
	return "launch template " + group
}

// noun is how messages name a group of the world.
func (w *world) noun(name string) string { return groupNoun(w.ref(name)) }

func ami(region string) string { return "ami-" + strings.ReplaceAll(region, "-", "") }
func sg(service string) string { return "sg-" + service }
func tg(region string) string {
	return "arn:aws:elasticloadbalancing:" + region + ":123456789012:targetgroup/shop-prod-web/0123456789abcdef"
}

// release is a release of web in every region of the world, created a
// minute ago; change adjusts it.
func (w *world) release(change ...func(*elevator.Release)) *elevator.Release {
	w.seq++
	now := w.clock.Now().Add(-time.Minute)
	rel := &elevator.Release{
		ID:             fmt.Sprintf("%s-%08x", now.Format("20060102-150405"), 0xa0000000+w.seq),
		CreatedAt:      now,
		CreatedBy:      "arn:aws:iam::123456789012:user/alice",
		App:            app,
		Orbit:          orbit,
		Version:        "1.4.2",
		Regions:        slices.Clone(w.regions),
		TimeoutSeconds: 600,
		Services: []elevator.ReleaseService{{
			Name:         "web",
			InstanceType: "t3.small",
			UserData:     "#!/bin/sh\necho {{APP}} {{SERVICE}} {{VERSION}} {{RELEASE_ID}} {{REGION}} {{ORBIT}}\n",
			Capacity:     elevator.ReleaseCapacity{Min: 1, Max: 4},
			Policies:     []elevator.ReleasePolicy{{Type: elevator.PolicyCPUTarget, Target: 50}},
			Schedule:     []elevator.ReleaseSchedule{{Desired: 1, Cron: "30 10 * * *"}},
		}},
	}
	for _, reg := range w.regions {
		rel.Services[0].Placements = append(rel.Services[0].Placements, elevator.ReleasePlacement{
			Region: reg, Image: ami(reg), Subnets: []string{"subnet-a", "subnet-b"},
			SecurityGroups: []string{sg("web")}, TargetGroups: []string{tg(reg)}, InstanceProfile: "shop-prod-web"})
	}
	if w.rt == onECS {
		onECSService(rel, &rel.Services[0])
	}
	for _, c := range change {
		c(rel)
	}
	return rel
}

// onECSService makes s of rel an ECS service on Fargate: no instance
// type, user data or instance profile; a public container image of the
// release's version; the orbit's cluster, the app stack's roles and log
// group; environment, a database's endpoint and password by reference.
func onECSService(rel *elevator.Release, s *elevator.ReleaseService) {
	s.InstanceType, s.UserData, s.Hooks = "", "", nil
	s.ECS = &elevator.ReleaseECS{Capacity: elevator.ECSFargate, CPU: 256, Memory: 512,
		Ports: []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}}, Command: []string{"bin/server", "--port", "8080"},
		Env: map[string]string{"LOG_LEVEL": "info", "DATABASE_HOST": "localhost"}}
	for i := range s.Placements {
		pl := &s.Placements[i]
		pl.Image = "public.ecr.aws/nginx/nginx:" + rel.Version
		pl.InstanceProfile = ""
		pl.Cluster = cluster
		ecsOf(pl, s.Name)
		pl.Env = map[string]string{"DATABASE_HOST": "db." + pl.Region + ".example", "DATABASE_PORT": "5432"}
		pl.Secrets = []elevator.ReleaseSecret{{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:" + pl.Region + ":123456789012:secret:shop-db:password::"}}
	}
}

// ecsOf gives an ECS placement the task role, execution role and log
// group the app stack makes for service.
func ecsOf(pl *elevator.ReleasePlacement, service string) {
	pl.TaskRole = "arn:aws:iam::123456789012:role" + elevator.IAMPath(orbit, app, service) + "task"
	pl.ExecutionRole = "arn:aws:iam::123456789012:role" + elevator.IAMPath(orbit, app, service) + "execution"
	pl.LogGroup = elevator.AppPath(orbit, app) + service
}

// minimal makes a release one service without a load balancer, in a
// world where nothing of the app runs yet.
func (w *world) minimal(rel *elevator.Release) {
	s := &rel.Services[0]
	s.Name = "worker"
	s.Policies, s.Schedule = nil, nil
	for i := range s.Placements {
		s.Placements[i].TargetGroups = nil
		s.Placements[i].SecurityGroups = []string{sg("worker")}
		s.Placements[i].InstanceProfile = ""
		if s.ECS != nil {
			ecsOf(&s.Placements[i], s.Name)
		}
	}
}

func (w *world) engine(owner string, change ...func(*Config)) *Engine {
	w.t.Helper()
	clouds := []Cloud{}
	for _, reg := range w.regions {
		clouds = append(clouds, w.clouds[reg])
	}
	c := Config{Store: w.store, Locker: w.locker, Clouds: clouds, Clock: w.clock, Owner: owner,
		Poll: poll, Lease: lease, MaxAttempts: 4, Random: rand.New(rand.NewPCG(1, uint64(len(owner)))).Float64}
	for _, ch := range change {
		ch(&c)
	}
	e, err := New(c)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// submit writes rel down and returns its checksum.
func (w *world) submit(e *Engine, rel *elevator.Release) string {
	w.t.Helper()
	if _, err := e.Submit(context.Background(), rel); err != nil {
		w.t.Fatalf("Submit: %v", err)
	}
	sum, err := rel.Checksum()
	if err != nil {
		w.t.Fatal(err)
	}
	return sum
}

// run submits and runs rel to its end.
func (w *world) run(e *Engine, rel *elevator.Release) *elevator.ReleaseRecord {
	w.t.Helper()
	rec, err := e.Run(context.Background(), rel.ID, w.submit(e, rel))
	if err != nil {
		w.t.Fatalf("Run: %v", err)
	}
	return rec
}

// path builds a path of states from their names.
func path(states ...State) []State { return states }

var (
	V   = elevator.StateValidate
	L   = elevator.StateLock
	VR  = elevator.StateValidateResources
	D   = elevator.StateDeploy
	CH  = elevator.StateCheckHealthy
	SU  = elevator.StateScaleUp
	CO  = elevator.StateCutOver
	ST  = elevator.StateSmokeTest
	IT  = elevator.StateIntegrationTest
	BK  = elevator.StateBake
	RB  = elevator.StateRollBack
	CUS = elevator.StateCleanUpSuccess
	CUF = elevator.StateCleanUpFailure
	U   = elevator.StateUnlock
	OK  = elevator.StateSuccess
	FC  = elevator.StateFailureClean
	FD  = elevator.StateFailureDirty

	happyPath = path(V, L, VR, D, CH, CO, CUS, U, OK)
	// rolledBack is the path of a release that fails while waiting for
	// health.
	rolledBack = path(V, L, VR, D, CH, CUF, U, FC)
)

func assertPath(t *testing.T, rec *elevator.ReleaseRecord, want []State) {
	t.Helper()
	if !slices.Equal(rec.Path, want) {
		t.Fatalf("path = %v, want %v (error: %s; notes: %v)", rec.Path, want, rec.Error, rec.Notes)
	}
	if rec.State != want[len(want)-1] {
		t.Fatalf("state = %s, want %s", rec.State, want[len(want)-1])
	}
}

// assertOnly checks that, in every region, exactly the named groups exist
// (and are not being deleted) and that no lock is left.
func (w *world) assertOnly(groups func(region string) []string) {
	w.t.Helper()
	for _, reg := range w.regions {
		got := w.clouds[reg].groupNames()
		want := groups(reg)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			w.t.Errorf("%s: groups = %v, want %v", reg, got, want)
		}
		for _, name := range got {
			if g, _, _ := w.clouds[reg].group(name); g.Deleting {
				w.t.Errorf("%s: group %s is being deleted", reg, name)
			}
		}
	}
	if _, err := w.locker.Get(context.Background(), app, orbit); err == nil {
		l, _ := w.locker.Get(context.Background(), app, orbit)
		w.t.Errorf("lock left behind: %+v", l)
	}
}

// assertServing checks that group serves in every region: attached to the
// web target group with healthy targets.
func (w *world) assertServing(group string) {
	w.t.Helper()
	for _, reg := range w.regions {
		g, _, ok := w.clouds[reg].group(group)
		if !ok || !slices.Equal(g.TargetGroups, []string{tg(reg)}) {
			w.t.Errorf("%s: group %s: attached to %v, want the web target group", reg, group, g.TargetGroups)
			continue
		}
		targets, _ := w.clouds[reg].Targets(context.Background(), tg(reg))
		healthy := 0
		for _, tt := range targets {
			for _, in := range g.Instances {
				if tt.InstanceID == in.TargetID() && tt.State == TargetHealthy {
					healthy++
				}
			}
		}
		if healthy == 0 {
			w.t.Errorf("%s: group %s has no healthy target", reg, group)
		}
	}
}

func only(names ...string) func(string) []string {
	return func(string) []string { return slices.Clone(names) }
}

// assertFailure checks why a release failed: rec.Err() wraps why, or is nil
// when why is nil.
func assertFailure(t *testing.T, rec *elevator.ReleaseRecord, why error) {
	t.Helper()
	err := rec.Err()
	if why == nil {
		if err != nil {
			t.Errorf("Err() = %v (failure %q), want none", err, rec.Failure)
		}
		return
	}
	if !errors.Is(err, why) {
		t.Errorf("Err() = %v (failure %q), want it to wrap %q", err, rec.Failure, why)
	}
}

// ecrRegistry is the host of the world's account's ECR registry in a
// region.
func ecrRegistry(region string) string { return "123456789012.dkr.ecr." + region + ".amazonaws.com" }
