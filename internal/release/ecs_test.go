package release

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// The tests of this file are about what only ECS services have; every
// path the group tests cover runs for ECS services as well (see runtimes
// in world_test.go). They run in the fake cloud: the emulator runs no
// tasks, registers none in target groups and has no circuit breaker.

func TestAnECSReleaseMakesItsServiceFromTheRelease(t *testing.T) {
	w := newWorldOn(t, onECS)
	rel := w.release(func(r *elevator.Release) { r.Services[0].HealthCheckGraceSeconds = 90 })
	rec := w.run(w.engine("engine-1"), rel)
	assertPath(t, rec, happyPath)
	newGroup := GroupName(rel, "web")
	w.assertOnly(only(newGroup))
	w.assertServing(newGroup)

	c := w.clouds["us-east-1"]
	spec := c.created[0]
	if spec.ImageID != "" || spec.InstanceType != "" || spec.UserData != "" || spec.InstanceProfile != "" || spec.HealthCheckELB || len(spec.Hooks) > 0 {
		t.Errorf("created %+v, want nothing of a launch template", spec)
	}
	if spec.Name != newGroup || !slices.Equal(spec.Subnets, []string{"subnet-a", "subnet-b"}) || !slices.Equal(spec.SecurityGroups, []string{sg("web")}) ||
		!slices.Equal(spec.TargetGroups, []string{tg("us-east-1")}) || spec.HealthCheckGrace != 90*time.Second ||
		!maps.Equal(spec.Tags, groupTags(rel, "web")) || spec.Capacity != (Capacity{Min: 2, Max: 4, Desired: 2}) {
		t.Errorf("created %+v", spec)
	}
	want := ECSSpec{Cluster: "elevator-prod", Container: "web", Image: "public.ecr.aws/nginx/nginx:1.4.2", CPU: 256, Memory: 512,
		Ports: []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}}, Command: []string{"bin/server", "--port", "8080"},
		Env: map[string]string{"LOG_LEVEL": "info", "DATABASE_HOST": "db.us-east-1.example", "DATABASE_PORT": "5432",
			"ELEVATOR_RELEASE_ID": rel.ID, "ELEVATOR_APP": "shop", "ELEVATOR_ORBIT": "prod", "ELEVATOR_SERVICE": "web",
			"ELEVATOR_REGION": "us-east-1", "ELEVATOR_VERSION": "1.4.2"},
		Secrets:       []elevator.ReleaseSecret{{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db:password::"}},
		Capacity:      elevator.ECSFargate,
		TaskRole:      "arn:aws:iam::123456789012:role/elevator/prod/shop/web/task",
		ExecutionRole: "arn:aws:iam::123456789012:role/elevator/prod/shop/web/execution",
		LogGroup:      "/elevator/prod/shop/web"}
	if got := spec.ECS; got == nil || got.Cluster != want.Cluster || got.Container != want.Container || got.Image != want.Image ||
		got.CPU != want.CPU || got.Memory != want.Memory || !slices.Equal(got.Ports, want.Ports) || !slices.Equal(got.Command, want.Command) ||
		!maps.Equal(got.Env, want.Env) || !slices.Equal(got.Secrets, want.Secrets) || got.Capacity != want.Capacity ||
		got.TaskRole != want.TaskRole || got.ExecutionRole != want.ExecutionRole || got.LogGroup != want.LogGroup {
		t.Errorf("task\n got %+v\nwant %+v", got, &want)
	}

	// The service record names the cluster; the scalable target is the
	// service's capacity bounds.
	if sr := rec.Regions[0].Services[0]; sr.Cluster != cluster || len(sr.Old) != 1 || sr.Old[0].Cluster != cluster {
		t.Errorf("service record %+v, want the new and old services' cluster", sr)
	}
	if _, scaling, _ := c.group(newGroup); scaling.Min != 1 || scaling.Max != 4 || len(scaling.Policies) != 1 || len(scaling.Schedule) != 1 {
		t.Errorf("scaling %+v, want a scalable target between min 1 and max 4 with the policy and schedule", scaling)
	}
	// The old service left its target group by going to zero tasks,
	// drained, and went with its task definition.
	if got := c.capacities[oldGroup]; len(got) == 0 || got[len(got)-1].Desired != 0 {
		t.Errorf("old service's capacities %v, want it scaled to zero when detached", got)
	}
	cutOver, cleanUp := rec.Visits[slices.Index(rec.Path, CO)], rec.Visits[slices.Index(rec.Path, CUS)]
	if d := cleanUp.Sub(cutOver); d < c.drain || d > c.drain+poll {
		t.Errorf("old service deleted %s after it left its target group, want after its tasks drained (%s) within a poll", d, c.drain)
	}
	if got, want := c.remains(), []string{"task definition " + newGroup + ":1"}; !slices.Equal(got, want) {
		t.Errorf("remains %v, want only the new service's task definition %v", got, want)
	}
	// Tasks are targets by IP.
	g, _, _ := c.group(newGroup)
	for _, in := range g.Instances {
		if !strings.HasPrefix(in.TargetID(), "10.0.") || in.TargetID() == in.ID {
			t.Errorf("task %+v, want it a target by its IP", in)
		}
	}
}

func TestTheReleasesVariablesOverrideTheContainersEnvironment(t *testing.T) {
	w := newWorldOn(t, onECS)
	rel := w.release(func(r *elevator.Release) {
		r.Services[0].ECS.Env["ELEVATOR_VERSION"] = "spoofed"
		r.Services[0].ECS.Env["DATABASE_PORT"] = "1"
		r.Services[0].ECS.Capacity = ""
	})
	e := w.engine("engine-1")
	r := &Release{Doc: rel}
	spec := e.spec(r, &rel.Services[0], "us-east-1", CapacityStep{Launch: 1, Healthy: 1})
	if got := spec.ECS.Env; got["ELEVATOR_VERSION"] != "1.4.2" || got["DATABASE_PORT"] != "5432" || got["LOG_LEVEL"] != "info" {
		t.Errorf("env %v, want the release's variables over the placement's over the service's", got)
	}
	if spec.ECS.Capacity != elevator.ECSFargate {
		t.Errorf("capacity %q, want Fargate when the release names none", spec.ECS.Capacity)
	}
	// The spec holds its own copies: the document is left as it was.
	spec.ECS.Ports[0].Container = 1
	spec.ECS.Env["LOG_LEVEL"] = "debug"
	if rel.Services[0].ECS.Ports[0].Container != 8080 || rel.Services[0].ECS.Env["LOG_LEVEL"] != "info" {
		t.Error("changing the spec changed the release")
	}
}

func TestATrippedCircuitBreakerEndsTheReleaseClean(t *testing.T) {
	w := newWorldOn(t, onECS, "us-east-1", "eu-west-1")
	w.clouds["eu-west-1"].breaker = "tasks failed to start: CannotPullContainerError"
	rel := w.release()
	rec := w.run(w.engine("engine-1"), rel)
	assertPath(t, rec, rolledBack)
	assertFailure(t, rec, elevator.FailureUnhealthy)
	for _, want := range []string{"eu-west-1: ", "ECS gave up the deployment of ECS service " + GroupName(rel, "web") + " of cluster elevator-prod", "CannotPullContainerError"} {
		if !strings.Contains(rec.Error, want) {
			t.Errorf("error %q, want it to say %q", rec.Error, want)
		}
	}
	// It failed at the first look after the breaker tripped, not at the
	// timeout.
	if waited := rec.Visits[slices.Index(rec.Path, CUF)].Sub(rec.Visits[slices.Index(rec.Path, CH)]); waited > w.clouds["eu-west-1"].boot+poll {
		t.Errorf("failed %s after CheckHealthy began, want within a poll of the breaker tripping", waited)
	}
	w.assertOnly(only(oldGroup))
	w.assertServing(oldGroup)
	for _, reg := range w.regions {
		if got, want := w.clouds[reg].remains(), []string{"task definition " + oldGroup + ":1"}; !slices.Equal(got, want) {
			t.Errorf("%s: remains %v, want only the old service's %v", reg, got, want)
		}
	}
}

// TestStoppedTasksCountAgainstMaxTerms: while the new group boots, one of
// its tasks (instances) stops half a minute after it was made, then,
// two minutes after it was made, another; each is gone at once. An Auto
// Scaling group does not list a terminated instance: it never has one
// terminating, below max_terms 2. An ECS service lists its stopped
// tasks: the second makes two, and the release ends clean.
func TestStoppedTasksCountAgainstMaxTerms(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		c.boot = 5 * time.Minute
		rel := w.release(func(r *elevator.Release) { r.Services[0].Capacity.MaxTerms = 2 })
		var made time.Time
		stops := 0
		c.hook = func(op string) {
			now := c.clock.Now()
			switch {
			case op == "CreateGroup":
				made = now
			case op != "Groups" || made.IsZero():
			case stops == 0 && !now.Before(made.Add(30*time.Second)),
				stops == 1 && !now.Before(made.Add(2*time.Minute)):
				c.stopTasks(GroupName(rel, "web"), 1)
				stops++
			}
		}
		rec := w.run(w.engine("engine-1"), rel)
		c.hook = nil
		if stops != 2 {
			t.Fatalf("%d tasks stopped while the release waited for health, want 2", stops)
		}
		if r == onASG {
			assertPath(t, rec, happyPath)
			return
		}
		assertPath(t, rec, rolledBack)
		assertFailure(t, rec, elevator.FailureTerminating)
		if want := terms(r, 2, GroupName(rel, "web")) + ", max_terms 2"; !strings.Contains(rec.Error, want) {
			t.Errorf("error %q, want it to say %q", rec.Error, want)
		}
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
	})
}

// TestAMixedReleaseRunsAGroupAndAnECSServiceTogether: app shop's web runs
// on an Auto Scaling Group and its api as an ECS service, in two regions.
// One release makes both in both regions; when the ECS service's
// deployment fails in one region, the release rolls back both services in
// both regions.
func TestAMixedReleaseRunsAGroupAndAnECSServiceTogether(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1"}
	mixed := func(w *world) func(*elevator.Release) {
		return func(r *elevator.Release) {
			api := r.Services[0]
			api.Name, api.Policies, api.Schedule = "api", nil, nil
			api.Placements = slices.Clone(api.Placements)
			for i := range api.Placements {
				api.Placements[i].SecurityGroups = []string{sg("api")}
				api.Placements[i].TargetGroups = []string{tgAPI(api.Placements[i].Region)}
			}
			onECSService(r, &api)
			r.Services = append(r.Services, api)
		}
	}
	for _, tt := range []struct {
		name  string
		setup func(*world)
		path  []State
	}{
		{"both serve in both regions", func(*world) {}, happyPath},
		{"a failed deployment of the ECS service in one region rolls back everything", func(w *world) {
			w.clouds["eu-west-1"].breaker = "tasks failed their health checks"
		}, rolledBack},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldOn(t, onASG, regions...)
			for _, reg := range regions {
				c := w.clouds[reg]
				c.addResource(Resource{Kind: KindSecurityGroup, ID: sg("api"), Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagApp: app, elevator.TagService: "api"}})
				c.addResource(Resource{Kind: KindTargetGroup, ID: tgAPI(reg), Tags: map[string]string{elevator.TagOrbit: orbit, elevator.TagApp: app, elevator.TagService: "api"}})
				c.setTargetType(tgAPI(reg), targetTypeIP)
			}
			tt.setup(w)
			rel := w.release(mixed(w))
			rec := w.run(w.engine("engine-1"), rel)
			assertPath(t, rec, tt.path)
			web, api := GroupName(rel, "web"), GroupName(rel, "api")
			if tt.path[len(tt.path)-1] == FC {
				assertFailure(t, rec, elevator.FailureUnhealthy)
				if !strings.Contains(rec.Error, "eu-west-1: ECS gave up the deployment of ECS service "+api) {
					t.Errorf("error %q", rec.Error)
				}
				w.assertOnly(only(oldGroup))
				w.assertServing(oldGroup)
				for _, reg := range regions {
					if got := w.clouds[reg].remains(); len(got) > 0 {
						t.Errorf("%s: left %v", reg, got)
					}
				}
				return
			}
			w.assertOnly(only(web, api))
			w.assertServing(web)
			for _, reg := range regions {
				c := w.clouds[reg]
				made := map[string]bool{}
				for _, spec := range c.created {
					made[spec.Name] = spec.ECS != nil
				}
				if len(made) != 2 || made[web] || !made[api] {
					t.Errorf("%s: made %v, want web's group and api's ECS service", reg, made)
				}
				g, _, _ := c.group(api)
				if g.Cluster != cluster || c.healthyIn(tgAPI(reg)) != 1 {
					t.Errorf("%s: api %+v with %d healthy targets, want an ECS service serving its one task", reg, g, c.healthyIn(tgAPI(reg)))
				}
				if got, want := c.remains(), []string{"launch template " + web, "task definition " + api + ":1"}; !slices.Equal(got, want) {
					t.Errorf("%s: remains %v, want %v", reg, got, want)
				}
			}
			for _, rr := range rec.Regions {
				for _, sr := range rr.Services {
					if want := map[string]string{"web": "", "api": cluster}[sr.Service]; sr.Cluster != want {
						t.Errorf("%s/%s: cluster %q in the record, want %q", rr.Region, sr.Service, sr.Cluster, want)
					}
				}
			}
		})
	}
}

func tgAPI(region string) string {
	return "arn:aws:elasticloadbalancing:" + region + ":123456789012:targetgroup/shop-prod-api/0123456789abcdef"
}

func TestAnECSServiceUsesNoMachineImageNorInstanceProfile(t *testing.T) {
	w := newWorldOn(t, onECS)
	rel := w.release(func(r *elevator.Release) { r.Services[0].Placements[0].InstanceProfile = "admin" })
	kinds := func(us []use) []string {
		var out []string
		for _, u := range us {
			out = append(out, string(u.kind)+" "+u.id)
		}
		return out
	}
	want := []string{"subnet subnet-a", "subnet subnet-b", "security group sg-web", "target group " + tg("us-east-1")}
	if got := kinds(collect(rel, "us-east-1", w.clock.Now())); !slices.Equal(got, want) {
		t.Errorf("collect = %q, want %q", got, want)
	}
	repo := elevator.AppRepositoryName(orbit, app, "web")
	rel.Services[0].Placements[0].Repository = repo
	want = append(want, "container image "+repo+":1.4.2")
	if got := kinds(collect(rel, "us-east-1", w.clock.Now())); !slices.Equal(got, want) {
		t.Errorf("collect = %q, want %q", got, want)
	}

	// A pushed, allowed image releases; the same unpushed fails clean.
	c := w.clouds["us-east-1"]
	onRepo := func(r *elevator.Release) {
		r.Services[0].Placements[0].Repository = repo
		r.Services[0].Placements[0].Image = ecrRegistry("us-east-1") + "/" + repo + ":1.4.2"
	}
	rec := w.run(w.engine("engine-1"), w.release(onRepo))
	assertPath(t, rec, path(V, L, VR, U, FC))
	if !strings.Contains(rec.Error, "container image "+repo+":1.4.2 does not exist") {
		t.Errorf("error %q", rec.Error)
	}
	c.addResource(Resource{Kind: KindContainerImage, ID: repo + ":1.4.2"})
	c.allowImage(orbit, app, repo+":1.4.2")
	assertPath(t, w.run(w.engine("engine-1"), w.release(onRepo)), happyPath)
}

func TestAnSSMTestOfAnECSServiceSaysWhyItCannotRun(t *testing.T) {
	w := newWorldOn(t, onECS)
	rel := w.release()
	test := elevator.ReleaseTest{Name: "uptime", Kind: elevator.TestSSM, Command: []string{"uptime"}}
	out := RunTest(context.Background(), w.clouds["us-east-1"], nil, rel, elevator.PhaseSmoke, test, "us-east-1")
	if out.Passed || !strings.Contains(out.Error, "service web runs as ECS tasks") {
		t.Errorf("outcome %+v, want a failure saying why", out)
	}
	if n := w.clouds["us-east-1"].count("RunCommand"); n != 0 {
		t.Errorf("RunCommand called %d times", n)
	}
}

// TestAnECSServiceRunsOnlyWithWhatIsItsOwn: the deployer may pass every
// role under the orbit's IAM path, so the engine refuses, before it makes
// anything, an ECS service that would run in another cluster, as another
// service's or app's task or execution role, log to another app's group,
// or run another image than the one checked in its repository.
func TestAnECSServiceRunsOnlyWithWhatIsItsOwn(t *testing.T) {
	repo := elevator.AppRepositoryName(orbit, app, "web")
	tests := []struct {
		name   string
		change func(pl *elevator.ReleasePlacement)
		want   string // "" when authorized
	}{
		{"the app stack's roles, log group and the orbit's cluster", func(*elevator.ReleasePlacement) {}, ""},
		{"a role in a China partition on the path", func(pl *elevator.ReleasePlacement) {
			pl.TaskRole = "arn:aws-cn:iam::123456789012:role/elevator/prod/shop/web/task"
		}, ""},
		{"another orbit's cluster", func(pl *elevator.ReleasePlacement) { pl.Cluster = "elevator-test" },
			`service web: cluster "elevator-test" is not authorized: want the orbit's, elevator-prod`},
		{"another app's task role", func(pl *elevator.ReleasePlacement) {
			pl.TaskRole = "arn:aws:iam::123456789012:role/elevator/prod/blog/web/task"
		}, `service web: task role "arn:aws:iam::123456789012:role/elevator/prod/blog/web/task" is not authorized: want a role on path /elevator/prod/shop/web/`},
		{"another service's execution role", func(pl *elevator.ReleasePlacement) {
			pl.ExecutionRole = "arn:aws:iam::123456789012:role/elevator/prod/shop/worker/execution"
		}, `service web: execution role "arn:aws:iam::123456789012:role/elevator/prod/shop/worker/execution" is not authorized`},
		{"a role below the service's path", func(pl *elevator.ReleasePlacement) {
			pl.TaskRole = "arn:aws:iam::123456789012:role/elevator/prod/shop/web/x/task"
		}, `service web: task role "arn:aws:iam::123456789012:role/elevator/prod/shop/web/x/task" is not authorized`},
		{"a role of no path", func(pl *elevator.ReleasePlacement) { pl.TaskRole = "arn:aws:iam::123456789012:role/admin" },
			`task role "arn:aws:iam::123456789012:role/admin" is not authorized`},
		{"an instance profile's ARN for a role", func(pl *elevator.ReleasePlacement) {
			pl.ExecutionRole = "arn:aws:iam::123456789012:instance-profile/elevator/prod/shop/web/execution"
		}, `execution role "arn:aws:iam::123456789012:instance-profile/elevator/prod/shop/web/execution" is not authorized`},
		{"no execution role", func(pl *elevator.ReleasePlacement) { pl.ExecutionRole = "" }, `execution role "" is not authorized`},
		{"another app's log group", func(pl *elevator.ReleasePlacement) { pl.LogGroup = "/elevator/prod/blog/web" },
			`service web: log group "/elevator/prod/blog/web" is not authorized: want one under /elevator/prod/shop/`},
		{"a log group named like the app's prefix", func(pl *elevator.ReleasePlacement) { pl.LogGroup = "/elevator/prod/shopping/web" },
			`log group "/elevator/prod/shopping/web" is not authorized`},
		{"the repository's image at the version", func(pl *elevator.ReleasePlacement) {
			pl.Repository, pl.Image = repo, ecrRegistry("us-east-1")+"/"+repo+":1.4.2"
		}, ""},
		{"a public image while the repository's is checked", func(pl *elevator.ReleasePlacement) {
			pl.Repository, pl.Image = repo, "public.ecr.aws/nginx/nginx:1.4.2"
		}, `service web: image "public.ecr.aws/nginx/nginx:1.4.2" is not authorized: want prod/shop/web:1.4.2 in the ECR registry of us-east-1`},
		{"the repository's image at another tag", func(pl *elevator.ReleasePlacement) {
			pl.Repository, pl.Image = repo, ecrRegistry("us-east-1")+"/"+repo+":1.4.1"
		}, `image "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/shop/web:1.4.1" is not authorized`},
		{"the repository's image in another region's registry", func(pl *elevator.ReleasePlacement) {
			pl.Repository, pl.Image = repo, ecrRegistry("eu-west-1")+"/"+repo+":1.4.2"
		}, `image "123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/shop/web:1.4.2" is not authorized`},
		{"another repository's image", func(pl *elevator.ReleasePlacement) {
			pl.Repository, pl.Image = repo, ecrRegistry("us-east-1")+"/prod/blog/web:1.4.2"
		}, `is not authorized: want prod/shop/web:1.4.2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldOn(t, onECS)
			rel := w.release(func(r *elevator.Release) { tt.change(&r.Services[0].Placements[0]) })
			got := strings.Join(authorizeECS(rel, "us-east-1"), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("authorizeECS = %q, want %q", got, tt.want)
			}
			if tt.want == "" || rel.Check() != nil {
				return // the document's own check refuses it first
			}
			w.clouds["us-east-1"].addResource(Resource{Kind: KindContainerImage, ID: repo + ":1.4.2"})
			w.clouds["us-east-1"].allowImage(orbit, app, repo+":1.4.2")
			rec := w.run(w.engine("engine-1"), rel)
			assertPath(t, rec, path(V, L, VR, U, FC))
			if rec.Failure != elevator.FailureUnusableResources || !strings.Contains(rec.Error, "us-east-1: service web: ") || !strings.Contains(rec.Error, tt.want) {
				t.Errorf("failure %q, error %q", rec.Failure, rec.Error)
			}
			if n := w.clouds["us-east-1"].count("CreateGroup"); n != 0 {
				t.Errorf("CreateGroup called %d times", n)
			}
		})
	}
}

// TestWhatECSWouldRefuseLateIsRefusedBeforeTheLock: a secret named as an
// environment variable of its container (the release's own variables
// included), which ECS refuses at RegisterTaskDefinition, a schedule
// whose cron Application Auto Scaling cannot take, and an ssm test
// of an ECS service, which could run only after the whole rollout, are
// refused before the lock, naming each: the first fails the release
// invalid at Validate, the second is refused by the document's own check
// (at Submit, and at Validate for a document stored otherwise).
func TestWhatECSWouldRefuseLateIsRefusedBeforeTheLock(t *testing.T) {
	withTestListener := func(r *elevator.Release) {
		for i := range r.Services[0].Placements {
			r.Services[0].Placements[i].TestListener = "arn:listener/test"
		}
	}
	secret := func(name string) func(*elevator.Release) {
		return func(r *elevator.Release) {
			pl := &r.Services[0].Placements[0]
			pl.Secrets = append(pl.Secrets, elevator.ReleaseSecret{Name: name, ValueFrom: "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-x"})
		}
	}
	ssm := func(service string) func(*elevator.Release) {
		return func(r *elevator.Release) {
			withTestListener(r)
			r.Tests = &elevator.ReleaseTests{Smoke: []elevator.ReleaseTest{{Name: "uptime", Kind: elevator.TestSSM, Command: []string{"uptime"}, Service: service}}}
		}
	}
	tests := []struct {
		name   string
		change func(*elevator.Release)
		want   []string // nil: it releases
		submit bool     // refused by Submit already
	}{
		{"a secret of its own name", secret("API_KEY"), nil, false},
		{"a secret named as a variable of the service", secret("LOG_LEVEL"),
			[]string{"service web in us-east-1: LOG_LEVEL is both a secret and an environment variable; ECS refuses a name used for both"}, false},
		{"a secret named as a variable of the region", secret("DATABASE_PORT"), []string{"DATABASE_PORT is both a secret and an environment variable"}, false},
		{"a secret named as a variable of the release", secret("ELEVATOR_VERSION"), []string{"ELEVATOR_VERSION is both a secret and an environment variable"}, false},
		{"an ssm test of the first service", ssm(""),
			[]string{"tests.smoke[0].service: an ssm test runs on an instance of its service (without service, the first), and web runs on ECS"}, true},
		{"an ssm test naming the service", ssm("web"), []string{"tests.smoke[0].service: an ssm test runs on an instance"}, true},
		{"two secrets", func(r *elevator.Release) { secret("LOG_LEVEL")(r); secret("ELEVATOR_APP")(r) },
			[]string{"LOG_LEVEL is both a secret", "ELEVATOR_APP is both a secret"}, false},
		{"a schedule restricting both day fields, which Application Auto Scaling refuses", func(r *elevator.Release) {
			r.Services[0].Schedule = []elevator.ReleaseSchedule{{Desired: 2, Cron: "0 8 1 * 1"}}
		}, []string{`service web: schedule "0 8 1 * 1"`, "restrict only one"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldOn(t, onECS)
			rel := w.release(tt.change)
			e := w.engine("engine-1")
			if tt.submit {
				// The document's own check, which Validate runs too,
				// refuses it: Submit does not store it.
				_, err := e.Submit(context.Background(), rel)
				if err == nil || !strings.Contains(err.Error(), tt.want[0]) {
					t.Fatalf("Submit: %v, want it to say %q", err, tt.want[0])
				}
				return
			}
			rec := w.run(e, rel)
			if tt.want == nil {
				assertPath(t, rec, happyPath)
				return
			}
			assertPath(t, rec, path(V, FC))
			if rec.Failure != elevator.FailureInvalid {
				t.Errorf("failure %q, want %q", rec.Failure, elevator.FailureInvalid)
			}
			for _, want := range tt.want {
				if !strings.Contains(rec.Error, want) {
					t.Errorf("error %q, want it to say %q", rec.Error, want)
				}
			}
			if n := w.locker.count("Acquire"); n != 0 {
				t.Errorf("Acquire called %d times", n)
			}
		})
	}
}

// TestAnECSServiceRegistersOnlyInIPTargetGroups: the fake refuses, as ECS
// does, an ECS service on a target group of type instance (its awsvpc
// tasks register by IP), so the gates' tests on ECS services show that
// the test target group is made like production's, type included.
func TestAnECSServiceRegistersOnlyInIPTargetGroups(t *testing.T) {
	w := newWorldOn(t, onECS)
	c := w.clouds["us-east-1"]
	c.setTargetType(tg("us-east-1"), targetTypeInstance)
	rec := w.run(w.engine("engine-1"), w.release())
	if rec.State != FC || !strings.Contains(rec.Error, "has target type instance, which is incompatible with the awsvpc network mode") {
		t.Errorf("state %s, error %q, want FailureClean saying why", rec.State, rec.Error)
	}
	w.assertOnly(only(oldGroup))

	c.setTargetType(tg("us-east-1"), targetTypeIP)
	arn, err := c.CreateTestTargetGroup(context.Background(), "shop-prod-web-test", tg("us-east-1"), map[string]string{elevator.TagRelease: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.targetType(arn); got != targetTypeIP {
		t.Errorf("test target group made like an ip one has target type %s", got)
	}
}

// TestCheckHealthyWaitsUntilAnECSDeploymentIsSteady: a new ECS service
// whose tasks are healthy but whose deployment ECS has not found steady
// yet (it may still give it up, and then stop launching) is waited for,
// within the release's timeout.
func TestCheckHealthyWaitsUntilAnECSDeploymentIsSteady(t *testing.T) {
	for _, tt := range []struct {
		name   string
		steady time.Duration
		path   []State
	}{
		{"steady three minutes after its creation", 3 * time.Minute, happyPath},
		{"never steady within the timeout", time.Hour, rolledBack},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorldOn(t, onECS)
			w.clouds["us-east-1"].steadyAfter = tt.steady
			rec := w.run(w.engine("engine-1"), w.release())
			assertPath(t, rec, tt.path)
			if tt.path[len(tt.path)-1] == FC {
				assertFailure(t, rec, elevator.FailureUnhealthy)
				if !strings.Contains(rec.Error, "not steady yet: deployment IN_PROGRESS: 2 of 2 tasks running, not steady yet") {
					t.Errorf("error %q, want it to say the deployment is not steady", rec.Error)
				}
				w.assertOnly(only(oldGroup))
				return
			}
			if waited := rec.Visits[slices.Index(rec.Path, CO)].Sub(rec.Visits[slices.Index(rec.Path, D)]); waited < tt.steady {
				t.Errorf("cut over %s after Deploy, before the deployment was steady (%s)", waited, tt.steady)
			}
		})
	}
}

// TestAnECSServiceJoinsProductionOnceItsRedeploymentIsSteady: attaching a
// smoke-tested ECS service to production and detaching it from its test
// target group each make ECS redeploy its tasks (new tasks, new IPs, then
// the old ones stop). The old service leaves production only once the new
// one's deployment is steady; a redeployment ECS gives up fails the
// release, which puts the old service back.
func TestAnECSServiceJoinsProductionOnceItsRedeploymentIsSteady(t *testing.T) {
	t.Run("steady", func(t *testing.T) {
		w := newWorldOn(t, onECS)
		c := w.clouds["us-east-1"]
		rel := w.release(gated)
		var bad []string
		c.hook = func(op string) {
			if op != "DetachTargetGroups" {
				return
			}
			old, _, _ := c.group(oldGroup)
			g, _, _ := c.group(GroupName(rel, "web"))
			if len(old.TargetGroups) == 0 && g.Settling != "" {
				bad = append(bad, g.Settling)
			}
		}
		rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
		assertPath(t, rec, gatedPath)
		if len(bad) > 0 {
			t.Errorf("the old service left production while the new one was settling: %q", bad)
		}
		if c.redeploys < 2 {
			t.Errorf("%d redeployments, want one at the attach and one at the detach", c.redeploys)
		}
		w.assertServing(GroupName(rel, "web"))
	})
	t.Run("given up", func(t *testing.T) {
		w := newWorldOn(t, onECS)
		c := w.clouds["us-east-1"]
		c.redeployBreaker = "tasks failed their ELB health checks"
		rel := w.release(gated)
		rec := w.run(w.gatedEngine("engine-1", &fakeTester{}), rel)
		if rec.State != FC || !strings.Contains(rec.Error, "ECS gave up the deployment of ECS service "+GroupName(rel, "web")+" of cluster elevator-prod (its circuit breaker tripped): tasks failed their ELB health checks") {
			t.Fatalf("path %v, error %q, want FailureClean saying ECS gave up", rec.Path, rec.Error)
		}
		assertFailure(t, rec, elevator.FailureUnhealthy)
		w.assertOnly(only(oldGroup))
		w.assertServing(oldGroup)
	})
}

// TestADetachedECSServiceStaysOutOfProduction: an old ECS service that a
// cut-over detached (scaled to zero) and that cleanup could not delete
// (FailureDirty) has its scaling suspended, so that its scheduled actions
// do not bring old tasks back into production, and is listed with no
// target groups, so that a later release neither takes it for a serving
// group nor puts it back when it fails.
func TestADetachedECSServiceStaysOutOfProduction(t *testing.T) {
	ctx := context.Background()
	w := newWorldOn(t, onECS)
	c := w.clouds["us-east-1"]
	old := w.ref(oldGroup)
	if err := c.PutScaling(ctx, old, Scaling{Min: 1, Max: 4, Schedule: []elevator.ReleaseSchedule{{Desired: 3, Cron: "0 8 * * *"}}}); err != nil {
		t.Fatal(err)
	}
	c.failAlways("DeleteGroup", errThrottled)
	first := w.release()
	rec := w.run(w.engine("engine-1"), first)
	if rec.State != FD {
		t.Fatalf("state %s, want FailureDirty (path %v, error %s)", rec.State, rec.Path, rec.Error)
	}
	c.clearFaults("DeleteGroup")

	c.fireSchedules()
	g, _, _ := c.group(oldGroup)
	if g.Capacity.Desired != 0 || len(g.TargetGroups) != 0 {
		t.Fatalf("detached old service after its schedule: desired %d, target groups %v; want 0 and none", g.Capacity.Desired, g.TargetGroups)
	}
	for _, in := range g.Instances {
		if in.Lifecycle != LifecycleGone && !terminating(in.Lifecycle) {
			t.Errorf("detached old service runs task %s (%s)", in.ID, in.Lifecycle)
		}
	}

	// A later release that fails puts back the service that served (the
	// first release's), not the detached one.
	second := w.release(gated)
	tester := &fakeTester{fail: func(t elevator.ReleaseTest, _ int) string {
		if t.Name == "checkout" {
			return "500"
		}
		return ""
	}}
	rec = w.run(w.gatedEngine("engine-1", tester), second)
	if rec.State != FC || !slices.Contains(rec.Path, CO) {
		t.Fatalf("path %v, want FailureClean after CutOver (error %s)", rec.Path, rec.Error)
	}
	for _, sr := range rec.Regions[0].Services {
		for _, o := range sr.Old {
			if o.Name == oldGroup && len(o.TargetGroups) > 0 {
				t.Errorf("the detached service was taken as serving in %v", o.TargetGroups)
			}
		}
	}
	if got := c.attachedTo(oldGroup); len(got) != 0 {
		t.Errorf("detached old service attached to %v since it was detached", got)
	}
	g, _, _ = c.group(oldGroup)
	if g.Capacity.Desired != 0 || len(g.TargetGroups) != 0 {
		t.Errorf("detached old service after the failed release: desired %d, target groups %v", g.Capacity.Desired, g.TargetGroups)
	}
	w.assertServing(GroupName(first, "web"))

	// Attach gives it back its tasks and its scaling.
	if err := c.AttachTargetGroups(ctx, old, []string{tg("us-east-1")}); err != nil {
		t.Fatal(err)
	}
	c.fireSchedules()
	if g, _, _ = c.group(oldGroup); g.Capacity.Desired != 3 || !slices.Equal(g.TargetGroups, []string{tg("us-east-1")}) {
		t.Errorf("attached old service: desired %d, target groups %v; want its schedule's 3 in the web target group", g.Capacity.Desired, g.TargetGroups)
	}
}

// TestAStoppedTasksIPIsNotTakenForALiveTarget: ECS lists a stopped task
// for an hour, and AWS may give its private IP to a new task. A new task
// of the release on the IP of a stopped task of the old service is not
// taken for an old target still draining: the cut-over does not wait for
// it.
func TestAStoppedTasksIPIsNotTakenForALiveTarget(t *testing.T) {
	w := newWorldOn(t, onECS)
	c := w.clouds["us-east-1"]
	c.stopTasks(oldGroup, 1)
	g, _, _ := c.group(oldGroup)
	var stopped string
	for _, in := range g.Instances {
		if in.Lifecycle == LifecycleGone {
			stopped = in.Target
		}
	}
	if stopped == "" {
		t.Fatal("no stopped task listed")
	}
	c.mu.Lock()
	c.reuseIPs = []string{stopped}
	c.mu.Unlock()
	rel := w.release()
	rec := w.run(w.engine("engine-1"), rel)
	assertPath(t, rec, happyPath)
	n, _, _ := c.group(GroupName(rel, "web"))
	if !slices.ContainsFunc(n.Instances, func(in Instance) bool { return in.Target == stopped }) {
		t.Fatalf("no new task on %s: %+v", stopped, n.Instances)
	}
	if cut := rec.Visits[slices.Index(rec.Path, CUS)].Sub(rec.Visits[slices.Index(rec.Path, CO)]); cut >= rel.Timeout() {
		t.Errorf("cut-over took %s (the timeout), waiting for %s", cut, stopped)
	}
	for _, n := range rec.Notes {
		if strings.Contains(n, "still draining") {
			t.Errorf("note %q", n)
		}
	}
}

// TestARunningTaskWhoseContainerIsUnhealthyIsNotHealthy: tasks that run
// and are healthy in their target group, but whose container's health
// check fails (Instance.Healthy false), do not make the new service
// healthy: the release times out and ends clean.
func TestARunningTaskWhoseContainerIsUnhealthyIsNotHealthy(t *testing.T) {
	w := newWorldOn(t, onECS)
	c := w.clouds["us-east-1"]
	rel := w.release()
	c.hook = func(op string) {
		if op == "Groups" {
			c.sickTasks(GroupName(rel, "web"), 2)
		}
	}
	rec := w.run(w.engine("engine-1"), rel)
	c.hook = nil
	assertPath(t, rec, rolledBack)
	assertFailure(t, rec, elevator.FailureUnhealthy)
	if !strings.Contains(rec.Error, "us-east-1/web: 0 of 2 needed healthy (0 in service, 2 launching)") {
		t.Errorf("error %q", rec.Error)
	}
	w.assertServing(oldGroup)
}
