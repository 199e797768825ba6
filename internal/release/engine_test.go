package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

func TestAHealthyReleaseReplacesTheOldGroup(t *testing.T) {
	w := newWorld(t)
	var observed []State
	e := w.engine("engine-1", func(c *Config) { c.Observe = func(r elevator.ReleaseRecord) { observed = append(observed, r.State) } })
	hook := elevator.ReleaseHook{Name: "drain", Transition: elevator.HookTerminating, HeartbeatSeconds: 300, DefaultResult: "CONTINUE"}
	rel := w.release(func(r *elevator.Release) { r.Services[0].Hooks = []elevator.ReleaseHook{hook} })
	rec := w.run(e, rel)

	assertPath(t, rec, happyPath)
	if !slices.Equal(observed, happyPath) {
		t.Errorf("observed %v, want every stored state", observed)
	}
	newGroup := GroupName(rel, "web")
	w.assertOnly(only(newGroup))
	w.assertServing(newGroup)

	c := w.clouds["us-east-1"]
	spec := c.created[0]
	if len(spec.Hooks) != 1 || spec.Hooks[0] != hook || spec.HealthCheckGrace != 300*time.Second {
		t.Errorf("created hooks %+v, grace %s", spec.Hooks, spec.HealthCheckGrace)
	}
	if spec.Name != "shop-prod-web-a0000001" || !spec.HealthCheckELB || spec.InstanceProfile != "shop-prod-web" ||
		spec.Tags[elevator.TagRelease] != rel.ID || !slices.Equal(spec.TargetGroups, []string{tg("us-east-1")}) {
		t.Errorf("created %+v", spec)
	}
	if want := "#!/bin/sh\necho shop web 1.4.2 " + rel.ID + " us-east-1 prod\n"; spec.UserData != want {
		t.Errorf("user data = %q, want %q", spec.UserData, want)
	}
	_, scaling, _ := c.group(newGroup)
	if len(scaling.Policies) != 1 || len(scaling.Schedule) != 1 || scaling.Schedule[0].Cron != "30 10 * * *" {
		t.Errorf("scaling = %+v", scaling)
	}
	cutOver, cleanUp := rec.Visits[slices.Index(rec.Path, CO)], rec.Visits[slices.Index(rec.Path, CUS)]
	if d := cleanUp.Sub(cutOver); d < c.drain || d > c.drain+poll {
		t.Errorf("old group deleted %s after it left its target group, want after its targets drained (%s) within a poll", d, c.drain)
	}
	if got := c.count("CreateGroup"); got != 1 {
		t.Errorf("CreateGroup called %d times, want 1", got)
	}
	if got, want := rec.Calls["Cloud.Groups us-east-1"], c.count("Groups"); got != want || got == 0 {
		t.Errorf("record counts %d Groups calls, the cloud saw %d", got, want)
	}
	if len(rec.Visits) != len(rec.Path) || rec.EndedAt.IsZero() || rec.Regions[0].Services[0].Health.Healthy != 2 {
		t.Errorf("record timings or health missing: %+v", rec)
	}
	stored, _ := w.store.Record(context.Background(), rel.ID)
	if !slices.Equal(stored.Path, happyPath) || stored.Revision != int64(len(happyPath))+1 {
		t.Errorf("stored record: path %v revision %d, want one write per transition after the submit", stored.Path, stored.Revision)
	}
	audits := w.store.audits()
	if len(audits) != 2 || audits[0].Action != elevator.AuditSubmit || audits[1].Outcome != "Success" || audits[1].By != rel.CreatedBy {
		t.Errorf("audit = %+v", audits)
	}
}

func TestAMinimalReleaseNeedsNoLoadBalancer(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		e := w.engine("engine-1")
		rel := w.release(w.minimal)
		rec := w.run(e, rel)

		assertPath(t, rec, happyPath)
		w.assertOnly(only(oldGroup, GroupName(rel, "worker")))
		c := w.clouds["us-east-1"]
		for _, op := range []string{"Targets", "DetachTargetGroups", "DeleteGroup", "PutScaling"} {
			if n := c.count(op); n != 0 {
				t.Errorf("%s called %d times for a service without load balancer or old group", op, n)
			}
		}
		if spec := c.created[0]; spec.HealthCheckELB || spec.Capacity.Desired != 1 {
			t.Errorf("created %+v, want EC2 health checks and min capacity", spec)
		}
	})
}

func TestHealthIsSeenWithinOnePollIntervalAndNothingSleepsLonger(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, boot := range []time.Duration{3 * time.Second, 47 * time.Second, 5 * time.Minute} {
			t.Run(fmt.Sprintf("instances that boot in %s", boot), func(t *testing.T) {
				w := newWorldOn(t, r)
				w.clouds["us-east-1"].boot = boot
				e := w.engine("engine-1")
				rel := w.release(w.minimal)
				rec := w.run(e, rel)
				assertPath(t, rec, happyPath)

				deployed := rec.Visits[slices.Index(rec.Path, D)]
				healthyAt := deployed.Add(boot)
				cutOver := rec.Visits[slices.Index(rec.Path, CO)]
				if lag := cutOver.Sub(healthyAt); lag < 0 || lag > poll {
					t.Errorf("cut-over %s after health became observable, want within one poll interval (%s)", lag, poll)
				}
				if total := rec.EndedAt.Sub(rec.Visits[0]); total > boot+poll {
					t.Errorf("release took %s of simulated time, want at most %s", total, boot+poll)
				}
				if w.clock.longest > poll {
					t.Errorf("longest wait %s, want at most the poll interval %s", w.clock.longest, poll)
				}
			})
		}
	})
}

func TestTheDesiredCapacityOfTheRunningGroupIsCarriedOver(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		c.addRunningService("shop-prod-web-11111111", w.cluster(), map[string]string{elevator.TagApp: app, elevator.TagOrbit: orbit, elevator.TagService: "web", elevator.TagRelease: "20261102-000000-11111111"}, 3, []string{tg("us-east-1")})
		e := w.engine("engine-1")
		rel := w.release(func(r *elevator.Release) {
			r.Services[0].Capacity = elevator.ReleaseCapacity{Min: 1, Max: 6, Spread: 0.34, MaxTerms: 1}
		})
		rec := w.run(e, rel)

		assertPath(t, rec, happyPath)
		sr := rec.Regions[0].Services[0]
		if sr.Desired != 3 || sr.CarriedFrom != "shop-prod-web-11111111" || len(sr.Old) != 2 {
			t.Errorf("service record %+v, want desired 3 carried from the larger running group, two old groups", sr)
		}
		newGroup := GroupName(rel, "web")
		want := []Capacity{{Min: 5, Max: 6, Desired: 5}, {Min: 1, Max: 6, Desired: 3}}
		if got := c.capacities[newGroup]; !slices.Equal(got, want) {
			t.Errorf("capacities of the new group = %v, want launch 3 x 1.34 -> 5, then desired 3", got)
		}
		w.assertOnly(only(newGroup))
	})
}

func TestReleasesGrowThroughTheirStrategySteps(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name     string
			capacity elevator.ReleaseCapacity
			path     []State
			sizes    []int // desired capacities the new group is given, in order
		}{
			{"all at once launches everything and waits once",
				elevator.ReleaseCapacity{Min: 1, Max: 8}, happyPath, []int{2, 2}},
			{"a canary launches one instance, then everything",
				elevator.ReleaseCapacity{Min: 1, Max: 8, Strategy: elevator.StrategyCanary},
				path(V, L, VR, D, CH, SU, CH, CO, CUS, U, OK), []int{1, 2, 2}},
			{"percent steps grow the group step by step",
				elevator.ReleaseCapacity{Min: 4, Max: 8, Strategy: elevator.StrategyPercent, Steps: []int{25, 50, 100}},
				path(V, L, VR, D, CH, SU, CH, SU, CH, CO, CUS, U, OK), []int{1, 2, 4, 4}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r)
				e := w.engine("engine-1")
				rel := w.release(func(r *elevator.Release) { r.Services[0].Capacity, r.Services[0].Schedule = tt.capacity, nil })
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				var sizes []int
				for _, c := range w.clouds["us-east-1"].capacities[GroupName(rel, "web")] {
					sizes = append(sizes, c.Desired)
				}
				if !slices.Equal(sizes, tt.sizes) {
					t.Errorf("sizes = %v, want %v", sizes, tt.sizes)
				}
				w.assertOnly(only(GroupName(rel, "web")))
			})
		}
	})
}

func TestAReleaseThatIsNotTheStoredOneIsRefused(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(w *world, id string)
		checksum func(real string) string
		want     string
	}{
		{"a checksum other than the stored document's", nil,
			func(string) string { return strings.Repeat("0", 64) }, "asked to release checksum"},
		{"a stored document changed after it was written",
			func(w *world, id string) {
				w.store.tamper(id, func(s string) string { return strings.Replace(s, `"1.4.2"`, `"6.6.6"`, 1) })
			},
			func(real string) string { return real }, "changed after it was written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			e := w.engine("engine-1")
			rel := w.release()
			sum := w.submit(e, rel)
			if tt.tamper != nil {
				tt.tamper(w, rel.ID)
			}
			rec, err := e.Run(context.Background(), rel.ID, tt.checksum(sum))
			if err != nil {
				t.Fatal(err)
			}
			assertPath(t, rec, path(V, FC))
			if !strings.Contains(rec.Error, tt.want) {
				t.Errorf("error %q, want it to say %q", rec.Error, tt.want)
			}
			assertFailure(t, rec, elevator.FailureInvalid)
			if n := w.locker.count("Acquire"); n != 0 {
				t.Errorf("the lock was tried %d times", n)
			}
			w.assertOnly(only(oldGroup))
		})
	}
}

func TestCreatedAtMustBeRecent(t *testing.T) {
	tests := []struct {
		name    string
		created time.Duration // from now
		path    []State
		want    string
		why     error
	}{
		{"nine days old is accepted", -9 * 24 * time.Hour, happyPath, "", nil},
		{"eleven days old is refused", -11 * 24 * time.Hour, path(V, FC), "264h0m0s old", elevator.FailureInvalid},
		{"a minute ahead is accepted", time.Minute, happyPath, "", nil},
		{"three minutes ahead is refused", 3 * time.Minute, path(V, FC), "in the future", elevator.FailureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			e := w.engine("engine-1")
			rel := w.release(func(r *elevator.Release) { r.CreatedAt = w.clock.Now().Add(tt.created) })
			rec := w.run(e, rel)
			assertPath(t, rec, tt.path)
			if !strings.Contains(rec.Error, tt.want) {
				t.Errorf("error %q, want it to say %q", rec.Error, tt.want)
			}
			assertFailure(t, rec, tt.why)
		})
	}
}

func TestALockHeldByAnotherReleaseEndsTheReleaseClean(t *testing.T) {
	w := newWorld(t)
	since := w.clock.Now().Add(-3 * time.Minute)
	held := Lock{App: app, Orbit: orbit, ReleaseID: "20261123-115500-bbbbbbbb", Owner: "engine-9", Holder: "arn:aws:iam::123456789012:user/bob",
		Since: since, Expires: w.clock.Now().Add(30 * time.Second)}
	if _, err := w.locker.Acquire(context.Background(), held, w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e := w.engine("engine-1")
	rec := w.run(e, w.release())

	assertPath(t, rec, path(V, L, FC))
	assertFailure(t, rec, elevator.FailureLocked)
	for _, want := range []string{"20261123-115500-bbbbbbbb", "user/bob", "since 2026-11-23T11:57:00Z"} {
		if !strings.Contains(rec.Error, want) {
			t.Errorf("error %q does not say %q", rec.Error, want)
		}
	}
	if l, err := w.locker.Get(context.Background(), app, orbit); err != nil || l != held {
		t.Errorf("lock = %+v, %v; want the holder's lock untouched", l, err)
	}
}

func TestALeaseThatExpiredIsTakenOverAndTheDeadReleaseRollsBackOnResume(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		dead := w.release()
		ctx, crash := context.WithCancel(context.Background())
		w.store.afterPut = func(rec elevator.ReleaseRecord) {
			if rec.ID == dead.ID && rec.State == CH {
				crash()
			}
		}
		e1 := w.engine("engine-1")
		if _, err := e1.Run(ctx, dead.ID, w.submit(e1, dead)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want the engine to die", err)
		}
		w.store.afterPut = nil
		w.clock.Advance(lease + time.Second)

		e2 := w.engine("engine-2")
		next := w.release(func(r *elevator.Release) { r.Version = "1.5.0" })
		rec := w.run(e2, next)
		assertPath(t, rec, happyPath)
		if !slices.ContainsFunc(rec.Notes, func(n string) bool {
			return strings.Contains(n, "took over the lock of release "+dead.ID) && strings.Contains(n, "engine-1")
		}) {
			t.Errorf("notes %v do not tell the takeover", rec.Notes)
		}
		if sr := rec.Regions[0].Services[0]; len(sr.Old) != 2 {
			t.Errorf("old groups %+v, want the earlier release's and the dead release's", sr.Old)
		}
		w.assertOnly(only(GroupName(next, "web")))

		e3 := w.engine("engine-3")
		rec, err := e3.Resume(context.Background(), dead.ID, "carol")
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, path(V, L, VR, D, CH, CUF, U, FC))
		if !strings.Contains(rec.Error, "the lock was broken") {
			t.Errorf("error %q", rec.Error)
		}
		assertFailure(t, rec, elevator.FailureLockLost)
		w.assertOnly(only(GroupName(next, "web")))
		w.assertServing(GroupName(next, "web"))
	})
}

func TestResourcesMustBeTaggedForTheRelease(t *testing.T) {
	tests := []struct {
		name   string
		change func(*elevator.ReleasePlacement)
		want   string
	}{
		{"an untagged image", func(p *elevator.ReleasePlacement) { p.Image = "ami-untagged" }, "image ami-untagged is not authorized: want an entry for shop in " + elevator.ImagesTableName("prod") + " (`elevator image allow --orbit prod --app shop` adds it)"},
		{"an image allowed for another app in this orbit", func(p *elevator.ReleasePlacement) { p.Image = "ami-blog-prod" }, "image ami-blog-prod is not authorized"},
		{"a security group of another app", func(p *elevator.ReleasePlacement) { p.SecurityGroups = []string{"sg-other"} }, "security group sg-other is not authorized"},
		{"an untagged target group", func(p *elevator.ReleasePlacement) { p.TargetGroups = []string{"arn:tg-untagged"} }, "target group arn:tg-untagged is not authorized"},
		{"a subnet of the public tier", func(p *elevator.ReleasePlacement) { p.Subnets = []string{"subnet-public"} }, "subnet subnet-public is not authorized: want tags " + elevator.TagOrbit + "=prod, " + elevator.TagTier + "=" + elevator.TierPrivate},
		{"a private subnet when the placement names another tier", func(p *elevator.ReleasePlacement) { p.Tier = "app" }, "subnet subnet-a is not authorized: want tags " + elevator.TagOrbit + "=prod, " + elevator.TagTier + "=app"},
		{"an instance profile outside the service's path", func(p *elevator.ReleasePlacement) { p.InstanceProfile = "admin" }, "want path " + elevator.IAMPath("prod", "shop", "web")},
		{"a security group that does not exist", func(p *elevator.ReleasePlacement) { p.SecurityGroups = []string{"sg-gone"} }, "security group sg-gone does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			e := w.engine("engine-1")
			rec := w.run(e, w.release(func(r *elevator.Release) { tt.change(&r.Services[0].Placements[0]) }))
			assertPath(t, rec, path(V, L, VR, U, FC))
			if !strings.Contains(rec.Error, tt.want) {
				t.Errorf("error %q, want it to say %q", rec.Error, tt.want)
			}
			assertFailure(t, rec, elevator.FailureUnusableResources)
			if n := w.clouds["us-east-1"].count("CreateGroup"); n != 0 {
				t.Errorf("%d groups created", n)
			}
			w.assertOnly(only(oldGroup))
		})
	}
}

func TestAGroupAlreadyCarryingTheReleaseIDIsRefused(t *testing.T) {
	w := newWorld(t)
	rel := w.release()
	w.clouds["us-east-1"].addRunningGroup("replayed", map[string]string{elevator.TagApp: app, elevator.TagOrbit: orbit, elevator.TagService: "web", elevator.TagRelease: rel.ID}, 1, nil)
	rec := w.run(w.engine("engine-1"), rel)
	assertPath(t, rec, path(V, L, VR, U, FC))
	if !strings.Contains(rec.Error, "group replayed already carries release id") {
		t.Errorf("error %q", rec.Error)
	}
	assertFailure(t, rec, elevator.FailureUnusableResources)
}

// terms is how CheckHealthy counts n terminating instances of a group, or
// n stopping or stopped tasks of an ECS service.
func terms(r rt, n int, group string) string {
	if r == onECS {
		return fmt.Sprintf("%d task(s) of ECS service %s of cluster %s stopping or stopped", n, group, cluster)
	}
	return fmt.Sprintf("%d instance(s) of Auto Scaling group %s terminating", n, group)
}

func TestUnhealthyReleasesRollBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name     string
			setup    func(*fakeCloud)
			maxTerms int
			path     []State
			want     string
			why      error
		}{
			{"targets that never become healthy time out", func(c *fakeCloud) { c.neverHealthy = true }, 0, rolledBack, "not healthy after 10m0s: us-east-1/web: 0 of 2 needed healthy", elevator.FailureUnhealthy},
			{"a terminating instance halts the release when max_terms is 0", func(c *fakeCloud) { c.doomed = 1 }, 0, rolledBack, terms(r, 1, "shop-prod-web-a0000001") + ", max_terms 0", elevator.FailureTerminating},
			{"two terminating instances halt the release at max_terms 2", func(c *fakeCloud) { c.doomed = 2 }, 2, rolledBack, terms(r, 2, "shop-prod-web-a0000001"), elevator.FailureTerminating},
			{"one terminating instance below max_terms 2 is replaced", func(c *fakeCloud) { c.doomed = 1 }, 2, happyPath, "", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r)
				tt.setup(w.clouds["us-east-1"])
				e := w.engine("engine-1")
				rel := w.release(func(r *elevator.Release) { r.Services[0].Capacity.MaxTerms = tt.maxTerms })
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				if !strings.Contains(rec.Error, tt.want) {
					t.Errorf("error %q, want it to say %q", rec.Error, tt.want)
				}
				assertFailure(t, rec, tt.why)
				if tt.path[len(tt.path)-1] == OK {
					w.assertOnly(only(GroupName(rel, "web")))
					return
				}
				w.assertOnly(only(oldGroup))
				w.assertServing(oldGroup)
				if strings.Contains(tt.name, "time out") {
					waited := rec.Visits[slices.Index(rec.Path, CUF)].Sub(rec.Visits[slices.Index(rec.Path, CH)])
					if waited < rel.Timeout() || waited > rel.Timeout()+poll {
						t.Errorf("waited %s for health, want the timeout %s within a poll", waited, rel.Timeout())
					}
					// The lease (a minute) was renewed all along: at least
					// every half lease.
					if n, least := rec.Calls["Locker.Renew"], int(rel.Timeout()/(lease/2)); n < least {
						t.Errorf("lease renewed %d times in %s, want at least %d", n, rel.Timeout(), least)
					}
				}
			})
		}
	})
}

func TestAHaltStopsTheReleaseAtItsNextLook(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name string
			at   State         // the halt is written when the release enters this state
			age  time.Duration // how old the halt is when written
			path []State
		}{
			{"a halt while waiting for health rolls back", CH, 0, rolledBack},
			{"an hour-old halt still counts", CH, time.Hour, rolledBack},
			// Written just after a transition's record, a halt is met by the
			// next record write (which it refuses), before any change after it.
			{"a halt before the lock ends the release before it changes anything", L, 0, path(V, L, VR, U, FC)},
			{"a halt after cut-over began lets the release finish", CO, 0, happyPath},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r)
				e := w.engine("engine-1")
				rel := w.release()
				w.store.afterPut = func(rec elevator.ReleaseRecord) {
					if rec.State == tt.at && rec.ID == rel.ID {
						_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now().Add(-tt.age), Reason: "bad metrics"})
					}
				}
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				if rec.Halt == nil || rec.Halt.By != "dave" {
					t.Errorf("halt not recorded: %+v", rec.Halt)
				}
				if tt.path[len(tt.path)-1] == FC {
					if !strings.Contains(rec.Error, "halted by dave") || !strings.Contains(rec.Error, "bad metrics") {
						t.Errorf("error %q does not give the halt's reason", rec.Error)
					}
					assertFailure(t, rec, elevator.FailureHalted)
					w.assertOnly(only(oldGroup))
					w.assertServing(oldGroup)
				} else if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "after cut-over began") }) {
					t.Errorf("notes %v do not mention the late halt", rec.Notes)
				}
			})
		}
	})
}

func TestHaltIsAuditedAndRefusedForEndedReleases(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	w.submit(e, rel)
	if err := e.Halt(context.Background(), rel.ID, "dave", "stop"); err != nil {
		t.Fatal(err)
	}
	a := w.store.audits()
	if last := a[len(a)-1]; last.Action != elevator.AuditHalt || last.By != "dave" || last.ReleaseID != rel.ID {
		t.Errorf("audit %+v", last)
	}
	sum, _ := rel.Checksum()
	rec, _ := e.Run(context.Background(), rel.ID, sum)
	assertPath(t, rec, path(V, FC))
	if err := e.Halt(context.Background(), rel.ID, "dave", "again"); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("halting an ended release: %v, want a conflict", err)
	}
	if err := e.Halt(context.Background(), "20990101-000000-ffffffff", "dave", "?"); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("halting an unknown release: %v", err)
	}
}

func TestDetachingThatFailsIsRetriedUntilItWorks(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		c := w.clouds["us-east-1"]
		c.failNext("DetachTargetGroups", 3, errThrottled)
		e := w.engine("engine-1")
		rel := w.release()
		rec := w.run(e, rel)

		assertPath(t, rec, happyPath)
		if n := c.count("DetachTargetGroups"); n != 4 {
			t.Errorf("DetachTargetGroups called %d times, want 4", n)
		}
		if n := c.count("SetCapacity"); n != 1 {
			t.Errorf("SetCapacity called %d times, want once: retries must not redo what worked", n)
		}
		w.assertOnly(only(GroupName(rel, "web")))
	})
}

func TestCleanupThatKeepsFailingEndsDirtyAndSaysWhatIsLeft(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name  string
			setup func(*fakeCloud)
			path  []State
			left  func(rel *elevator.Release) string
			exist func(rel *elevator.Release) []string
		}{
			{"the new group of a failed release cannot be deleted",
				func(c *fakeCloud) { c.neverHealthy = true; c.failAlways("DeleteGroup", errThrottled) },
				path(V, L, VR, D, CH, CUF, U, FD),
				func(rel *elevator.Release) string {
					if r == onECS {
						return "us-east-1: ECS service " + GroupName(rel, "web") + " of cluster elevator-prod (new; with its tasks, task definition, scaling policies and alarms)"
					}
					return "us-east-1: Auto Scaling group " + GroupName(rel, "web") + " (new; with its instances, launch template, scaling policies and alarms)"
				},
				func(rel *elevator.Release) []string { return []string{oldGroup, GroupName(rel, "web")} }},
			{"the old group of a successful release cannot be deleted",
				func(c *fakeCloud) { c.failAlways("DeleteGroup", errThrottled) },
				path(V, L, VR, D, CH, CO, CUS, U, FD),
				func(*elevator.Release) string {
					if r == onECS {
						return "us-east-1: ECS service " + oldGroup + " of cluster elevator-prod (old; with its tasks, task definition, scaling policies and alarms)"
					}
					return "us-east-1: Auto Scaling group " + oldGroup + " (old; with its instances, launch template, scaling policies and alarms)"
				},
				func(rel *elevator.Release) []string { return []string{oldGroup, GroupName(rel, "web")} }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r)
				tt.setup(w.clouds["us-east-1"])
				e := w.engine("engine-1")
				rel := w.release()
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				if !slices.Contains(rec.Leftovers, tt.left(rel)) {
					t.Errorf("leftovers %q, want %q", rec.Leftovers, tt.left(rel))
				}
				if !strings.Contains(rec.Error, "gave up after 4 attempts") {
					t.Errorf("error %q", rec.Error)
				}
				assertFailure(t, rec, elevator.FailureLeftBehind)
				a := w.store.audits()
				if last := a[len(a)-1]; last.Outcome != "FailureDirty" || !strings.Contains(last.Detail, tt.left(rel)) {
					t.Errorf("audit %+v does not say what was left", last)
				}
				w.assertOnly(only(tt.exist(rel)...))
			})
		}
	})
}

func TestACutOverThatFailsPutsTheOldGroupsBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name   string
			attach int // failures of AttachTargetGroups
			path   []State
		}{
			{"the old group serves again and the new one goes", 0, path(V, L, VR, D, CH, CO, CUF, U, FC)},
			{"putting the old group back is retried", 2, path(V, L, VR, D, CH, CO, CUF, U, FC)},
			{"an old group that cannot be put back is named", 99, path(V, L, VR, D, CH, CO, CUF, U, FD)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r)
				c := w.clouds["us-east-1"]
				c.failNext("AttachTargetGroups", tt.attach, errThrottled)
				// Cut-over fails after the old group left its target group:
				// target health cannot be read until it is back.
				c.hook = func(op string) {
					switch op {
					case "DetachTargetGroups":
						c.failAlways("Targets", elevator.Errorf(elevator.EINVALID, "AccessDenied: elasticloadbalancing:DescribeTargetHealth"))
					case "AttachTargetGroups":
						c.clearFaults("Targets")
					}
				}
				e := w.engine("engine-1")
				rel := w.release()
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				if !strings.Contains(rec.Error, "AccessDenied") {
					t.Errorf("error %q", rec.Error)
				}
				assertFailure(t, rec, elevator.FailureStep)
				if tt.attach < 99 {
					w.assertOnly(only(oldGroup))
					w.assertServing(oldGroup)
					return
				}
				for _, want := range []string{
					"us-east-1: " + w.noun(oldGroup) + " detached from its target groups " + tg("us-east-1"),
					w.leftover("us-east-1", GroupName(rel, "web"), "new; kept serving while an old group is out of its target groups"),
				} {
					if !slices.Contains(rec.Leftovers, want) {
						t.Errorf("leftovers %q, want %q", rec.Leftovers, want)
					}
				}
				w.assertOnly(only(oldGroup, GroupName(rel, "web")))
			})
		}
	})
}

func TestAFailureInOneRegionRollsBackEveryRegion(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		tests := []struct {
			name       string
			sequential bool
			path       []State
		}{
			{"regions in parallel", false, rolledBack},
			{"one region at a time, after the first was cut over", true, path(V, L, VR, D, CH, CO, D, CH, CUF, U, FC)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r, "us-east-1", "eu-west-1")
				w.clouds["eu-west-1"].neverHealthy = true
				e := w.engine("engine-1")
				rel := w.release(func(r *elevator.Release) { r.Sequential = tt.sequential })
				rec := w.run(e, rel)
				assertPath(t, rec, tt.path)
				if !strings.Contains(rec.Error, "eu-west-1/web: 0 of 2 needed healthy") {
					t.Errorf("error %q", rec.Error)
				}
				w.assertOnly(only(oldGroup))
				w.assertServing(oldGroup)
			})
		}
	})
}

func TestSequentialRegionsGoOneAfterTheOther(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r, "us-east-1", "eu-west-1")
		e := w.engine("engine-1")
		rel := w.release(func(r *elevator.Release) { r.Sequential = true })
		rec := w.run(e, rel)
		assertPath(t, rec, path(V, L, VR, D, CH, CO, D, CH, CO, CUS, U, OK))
		w.assertOnly(only(GroupName(rel, "web")))
		w.assertServing(GroupName(rel, "web"))
	})
}

// crashScenarios are releases whose engine is killed right after it
// stores each state, then resumed by another engine.
var crashScenarios = []struct {
	name  string
	setup func(*world, *elevator.Release)
	path  []State
}{
	{"a healthy release", func(*world, *elevator.Release) {}, happyPath},
	{"a canary release", func(_ *world, r *elevator.Release) { r.Services[0].Capacity.Strategy = elevator.StrategyCanary },
		path(V, L, VR, D, CH, SU, CH, CO, CUS, U, OK)},
	{"a release that never gets healthy", func(w *world, _ *elevator.Release) { w.clouds["us-east-1"].neverHealthy = true }, rolledBack},
	{"a release in two regions, one after the other",
		func(w *world, r *elevator.Release) { r.Sequential = true },
		path(V, L, VR, D, CH, CO, D, CH, CO, CUS, U, OK)},
}

func TestAReleaseResumesAfterItsEngineDiesInAnyState(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, sc := range crashScenarios {
			for i, state := range sc.path {
				t.Run(fmt.Sprintf("%s, dead after storing %s (#%d)", sc.name, state, i+1), func(t *testing.T) {
					regions := []string{"us-east-1"}
					if strings.Contains(sc.name, "two regions") {
						regions = append(regions, "eu-west-1")
					}
					w := newWorldOn(t, r, regions...)
					rel := w.release()
					sc.setup(w, rel)
					ctx, crash := context.WithCancel(context.Background())
					defer crash()
					w.store.afterPut = func(rec elevator.ReleaseRecord) {
						if len(rec.Path) == i+1 {
							crash()
						}
					}
					e1 := w.engine("engine-1")
					rec, err := e1.Run(ctx, rel.ID, w.submit(e1, rel))
					w.store.afterPut = nil
					if i == len(sc.path)-1 {
						if err != nil || !rec.State.Ended() {
							t.Fatalf("dying after the end: %v, %s", err, rec.State)
						}
					} else if !errors.Is(err, context.Canceled) {
						t.Fatalf("Run = %v in %s, want the engine to die", err, rec.State)
					}

					e2 := w.engine("engine-2")
					if _, err := e2.Resume(context.Background(), rel.ID, "ops"); table[state].locked && elevator.ErrorCode(err) != elevator.ECONFLICT {
						t.Fatalf("resume while the dead engine's lease lasts: %v, want a conflict", err)
					}
					w.clock.Advance(lease + time.Second)
					rec, err = e2.Resume(context.Background(), rel.ID, "ops")
					if err != nil {
						t.Fatalf("Resume: %v", err)
					}
					assertPath(t, rec, sc.path)
					if sc.path[len(sc.path)-1] == OK {
						w.assertOnly(only(GroupName(rel, "web")))
						w.assertServing(GroupName(rel, "web"))
					} else {
						w.assertOnly(only(oldGroup))
						w.assertServing(oldGroup)
					}
					for _, reg := range regions {
						if n := len(w.clouds[reg].created); n != 1 {
							t.Errorf("%s: %d groups created, want 1", reg, n)
						}
					}
				})
			}
		}
	})
}

func TestAReleaseResumesAfterItsEngineDiesBetweenTwoCalls(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		// The engine dies right after the n-th change it makes in AWS, before
		// it stores what it did.
		mutations := []string{"RegisterTaskDefinition", "CreateGroup", "SetCapacity", "PutScaling", "DetachTargetGroups", "AttachTargetGroups", "DeleteGroup"}
		for _, sc := range crashScenarios[:3] {
			for n := 1; ; n++ {
				w := newWorldOn(t, r)
				rel := w.release()
				sc.setup(w, rel)
				c := w.clouds["us-east-1"]
				ctx, crash := context.WithCancel(context.Background())
				seen := 0
				c.hook = func(op string) {
					if slices.Contains(mutations, op) {
						if seen++; seen == n {
							crash()
						}
					}
				}
				e1 := w.engine("engine-1")
				rec, err := e1.Run(ctx, rel.ID, w.submit(e1, rel))
				crash()
				c.hook = nil
				if err == nil {
					break // fewer than n changes: every one was covered
				}
				t.Run(fmt.Sprintf("%s, dead after change %d in %s", sc.name, n, rec.State), func(t *testing.T) {
					w.clock.Advance(lease + time.Second)
					rec, err := w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
					if err != nil {
						t.Fatalf("Resume: %v", err)
					}
					assertPath(t, rec, sc.path)
					if sc.path[len(sc.path)-1] == OK {
						w.assertOnly(only(GroupName(rel, "web")))
					} else {
						w.assertOnly(only(oldGroup))
						w.assertServing(oldGroup)
					}
				})
			}
		}
	})
}

func TestTwoReleasesOfOneAppAtOnceLetExactlyOneProceed(t *testing.T) {
	w := newWorld(t)
	rels := []*elevator.Release{w.release(), w.release(func(r *elevator.Release) { r.Version = "1.5.0" })}
	// The first release past the lock waits there until the other one
	// has ended, so that their lock attempts overlap whatever the
	// scheduler does.
	var mu sync.Mutex
	past := 0
	ended := make(chan struct{})
	var once sync.Once
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		switch {
		case rec.State == VR:
			mu.Lock()
			past++
			n := past
			mu.Unlock()
			if n > 1 {
				t.Error("both releases got past the lock")
				once.Do(func() { close(ended) })
				return
			}
			<-ended
		case rec.State.Ended():
			once.Do(func() { close(ended) })
		}
	}
	recs := make([]*elevator.ReleaseRecord, 2)
	var wg sync.WaitGroup
	for i, rel := range rels {
		e := w.engine(fmt.Sprintf("engine-%d", i+1))
		sum := w.submit(e, rel)
		wg.Go(func() {
			rec, err := e.Run(context.Background(), rel.ID, sum)
			if err != nil {
				t.Error(err)
			}
			recs[i] = rec
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	won := slices.IndexFunc(recs, func(r *elevator.ReleaseRecord) bool { return r.State == OK })
	if won < 0 {
		t.Fatalf("no release succeeded: %v / %v", recs[0].Path, recs[1].Path)
	}
	lost := 1 - won
	assertPath(t, recs[won], happyPath)
	assertPath(t, recs[lost], path(V, L, FC))
	if !strings.Contains(recs[lost].Error, "locked by release "+rels[won].ID) {
		t.Errorf("loser's error %q does not name the winner", recs[lost].Error)
	}
	w.assertOnly(only(GroupName(rels[won], "web")))
}

func TestTwoEnginesResumingOneReleaseAtOnceLetExactlyOneProceed(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		for _, state := range []State{V, L, CH, CUS} {
			t.Run("dead in "+string(state), func(t *testing.T) {
				w := newWorldOn(t, r)
				rel := w.release()
				ctx, crash := context.WithCancel(context.Background())
				defer crash()
				w.store.afterPut = func(rec elevator.ReleaseRecord) {
					if rec.State == state && len(rec.Path) > 0 {
						crash()
					}
				}
				e1 := w.engine("engine-1")
				if _, err := e1.Run(ctx, rel.ID, w.submit(e1, rel)); !errors.Is(err, context.Canceled) {
					t.Fatal(err)
				}
				w.store.afterPut = nil
				w.clock.Advance(lease + time.Second)

				errs := make([]error, 2)
				recs := make([]*elevator.ReleaseRecord, 2)
				var start, wg sync.WaitGroup
				start.Add(1)
				for i := range 2 {
					e := w.engine(fmt.Sprintf("engine-%d", i+2))
					wg.Go(func() {
						start.Wait()
						recs[i], errs[i] = e.Resume(context.Background(), rel.ID, "ops")
					})
				}
				start.Done()
				wg.Wait()
				succeeded := 0
				for i := range 2 {
					switch {
					case errs[i] == nil:
						succeeded++
					case elevator.ErrorCode(errs[i]) != elevator.ECONFLICT:
						t.Errorf("engine %d: %v, want success or a conflict", i+2, errs[i])
					}
				}
				final, _ := w.store.Record(context.Background(), rel.ID)
				assertPath(t, final, happyPath)
				if succeeded < 1 {
					t.Errorf("no engine finished the release: %v", errs)
				}
				w.assertOnly(only(GroupName(rel, "web")))
				if n := len(w.clouds["us-east-1"].created); n != 1 {
					t.Errorf("%d groups created, want 1", n)
				}
			})
		}
	})
}

func TestRunRefusesAStartedReleaseAndResumeAnUnstartedOne(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	sum := w.submit(e, rel)
	if _, err := e.Resume(context.Background(), rel.ID, "ops"); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("resuming an unstarted release: %v", err)
	}
	if _, err := e.Run(context.Background(), rel.ID, sum); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Run(context.Background(), rel.ID, sum); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("running an ended release again: %v", err)
	}
	rec, err := e.Resume(context.Background(), rel.ID, "ops")
	if err != nil || rec.State != OK {
		t.Errorf("resuming an ended release: %v, %v", rec, err)
	}
	if _, err := e.Submit(context.Background(), rel); err != nil {
		t.Errorf("submitting the same release again: %v", err)
	}
	changed := *rel
	changed.Version = "9.9.9"
	if _, err := e.Submit(context.Background(), &changed); !errors.Is(err, ErrExists) {
		t.Errorf("submitting another release under the same id: %v", err)
	}
}

func TestRollbackReleasesAnEarlierReleasesContentAgain(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		e := w.engine("engine-1")
		first := w.release()
		assertPath(t, w.run(e, first), happyPath)
		w.clock.Advance(time.Hour)
		second := w.release(func(r *elevator.Release) { r.Version = "2.0.0" })
		assertPath(t, w.run(e, second), happyPath)
		w.clock.Advance(time.Hour)

		back, err := e.Rollback(context.Background(), first.ID, "erin")
		if err != nil {
			t.Fatal(err)
		}
		if back.ID == first.ID || back.RollbackOf != first.ID || back.Version != "1.4.2" || back.CreatedBy != "erin" || !back.CreatedAt.Equal(w.clock.Now()) {
			t.Errorf("rollback release %+v", back)
		}
		sum, _ := back.Checksum()
		rec, err := e.Run(context.Background(), back.ID, sum)
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, happyPath)
		w.assertOnly(only(GroupName(back, "web")))
		c := w.clouds["us-east-1"]
		if spec := c.created[len(c.created)-1]; r == onECS {
			if spec.ECS.Image != "public.ecr.aws/nginx/nginx:1.4.2" || spec.ECS.Env["ELEVATOR_RELEASE_ID"] != back.ID || spec.ECS.Env["ELEVATOR_VERSION"] != "1.4.2" {
				t.Errorf("task %+v, want the first version with the new release id", spec.ECS)
			}
		} else if !strings.Contains(spec.UserData, "1.4.2 "+back.ID) {
			t.Errorf("user data %q, want the first version with the new release id", spec.UserData)
		}
		var actions []string
		for _, a := range w.store.audits() {
			actions = append(actions, a.Action+":"+a.Outcome)
		}
		if !slices.Contains(actions, "rollback:submitted") {
			t.Errorf("audit %v has no rollback", actions)
		}

		failed := w.release(func(r *elevator.Release) { r.Services[0].Placements[0].SecurityGroups = []string{"sg-other"} })
		w.run(e, failed)
		if _, err := e.Rollback(context.Background(), failed.ID, "erin"); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("rolling back to a failed release: %v", err)
		}
	})
}

func TestUnlockBreaksAStuckLockAndAuditsIt(t *testing.T) {
	w := newWorld(t)
	stuck := Lock{App: app, Orbit: orbit, ReleaseID: "20261123-110000-cccccccc", Owner: "engine-9", Holder: "bob", Since: w.clock.Now(), Expires: w.clock.Now().Add(time.Hour)}
	_, _ = w.locker.Acquire(context.Background(), stuck, w.clock.Now())
	e := w.engine("engine-1")
	l, err := e.Unlock(context.Background(), app, orbit, "frank", "engine-9 is gone")
	if err != nil || l != stuck {
		t.Fatalf("Unlock = %+v, %v", l, err)
	}
	a := w.store.audits()
	if last := a[len(a)-1]; last.Action != elevator.AuditUnlock || last.By != "frank" || !strings.Contains(last.Detail, "engine-9 is gone") || !strings.Contains(last.Detail, "cccccccc") {
		t.Errorf("audit %+v", last)
	}
	assertPath(t, w.run(e, w.release()), happyPath)
	if _, err := e.Unlock(context.Background(), app, orbit, "frank", "again"); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("unlocking nothing: %v", err)
	}
}

func TestAHaltMetOnTheWayIntoCutOverTurnsTheReleaseBack(t *testing.T) {
	// Instances boot at once, so CheckHealthy never waits and never reads
	// the halt flag: the halt is met only by the write of the CutOver
	// record, which the store refuses.
	w := newWorld(t)
	for _, c := range w.clouds {
		c.boot = 0
	}
	e := w.engine("engine-1")
	rel := w.release()
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CH && rec.ID == rel.ID {
			_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now(), Reason: "bad metrics"})
		}
	}
	rec := w.run(e, rel)
	assertPath(t, rec, rolledBack)
	if n := rec.Calls["Store.Halt"]; n != 0 {
		t.Errorf("the halt flag was read %d times; want none: the record writes met the halt", n)
	}
	if !strings.Contains(rec.Error, "halted by dave") {
		t.Errorf("error %q, want the halt", rec.Error)
	}
	w.assertOnly(only(oldGroup))
	w.assertServing(oldGroup)
}

func TestHaltCurrentFindsTheRunningReleaseByItsLock(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	var haltErr error
	var halted string
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == D && halted == "" {
			halted, haltErr = e.HaltCurrent(context.Background(), app, orbit, "dave", "stop it")
		}
	}
	rec := w.run(e, rel)
	if haltErr != nil || halted != rel.ID {
		t.Fatalf("HaltCurrent = %q, %v", halted, haltErr)
	}
	assertPath(t, rec, path(V, L, VR, D, CH, CUF, U, FC))
	w.assertOnly(only(oldGroup))
}

// TestHaltCurrentAndRollBackInGatesSayTheLockIsChaoss: a chaos run puts
// its run id in the lock's ReleaseID; it is no release to halt (a fake
// locker holds the chaos run's lock).
func TestHaltCurrentAndRollBackInGatesSayTheLockIsChaoss(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	now := w.clock.Now()
	run := elevator.ChaosRunPrefix + "20261130-050000-0a1b2c3d"
	if _, err := w.locker.Acquire(context.Background(), Lock{App: app, Orbit: orbit, ReleaseID: run, Owner: run, Holder: "elevator chaos by dave", Since: now, Expires: now.Add(time.Minute)}, now); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() (string, error){
		"HaltCurrent":     func() (string, error) { return e.HaltCurrent(context.Background(), app, orbit, "erin", "stop") },
		"RollBackInGates": func() (string, error) { return e.RollBackInGates(context.Background(), app, orbit, "erin", "stop") },
	} {
		id, err := call()
		if id != "" || elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "held by elevator chaos") || !strings.Contains(err.Error(), "elevator unlock") {
			t.Errorf("%s = %q, %v; want a conflict naming elevator chaos and elevator unlock", name, id, err)
		}
	}
	if h, _ := w.store.Halt(context.Background(), run); h != nil {
		t.Errorf("a halt was stored for the chaos run's id: %+v", h)
	}
}

func TestTheEngineStopsWhenItsLockIsBroken(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CH {
			_, _ = w.locker.Break(context.Background(), app, orbit)
		}
	}
	w.clouds["us-east-1"].boot = 10 * time.Minute // long enough to renew
	sum := w.submit(e, rel)
	rec, err := e.Run(context.Background(), rel.ID, sum)
	if elevator.ErrorCode(err) != elevator.ECONFLICT || rec.State != CH {
		t.Fatalf("Run = %v in %s, want a conflict while waiting for health", err, rec.State)
	}
	w.store.afterPut = nil
	rec, err = w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	assertPath(t, rec, rolledBack)
	w.assertOnly(only(oldGroup))
}

func TestStoreFailuresAreRetried(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		e := w.engine("engine-1")
		rel := w.release()
		sum := w.submit(e, rel)
		w.store.failNext("PutRecord", 2, errThrottled)
		// Failed halt reads and steps count as attempts of their state alike:
		// fewer than the engine's four.
		w.store.failNext("Halt", 2, errThrottled)
		w.locker.failNext("Acquire", 1, errThrottled)
		rec, err := e.Run(context.Background(), rel.ID, sum)
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, happyPath)
		w.assertOnly(only(GroupName(rel, "web")))
	})
}

func TestTransitionsListsEveryStateThatIsNotAnEnd(t *testing.T) {
	tr := Transitions()
	if len(tr) != 14 || !slices.Equal(tr[CH], []State{SU, ST, CO, CUF}) || !slices.Equal(tr[BK], []State{CUS, RB}) || !slices.Equal(tr[V], []State{L, FC}) {
		t.Errorf("Transitions = %v", tr)
	}
}

func TestEveryStateLeadsToAnEndAndEveryLockedPathUnlocks(t *testing.T) {
	for s, tr := range table {
		targets := slices.Clone(tr.next)
		if tr.fail != "" {
			targets = append(targets, tr.fail)
		}
		for _, next := range targets {
			if _, ok := table[next]; !ok && !next.Ended() {
				t.Errorf("%s goes to %s, which is not in the table", s, next)
			}
			if tr.locked && next.Ended() && s != U {
				t.Errorf("%s holds the lock but ends the release at %s without unlocking", s, next)
			}
		}
		// Every state reaches an end.
		seen := map[State]bool{}
		var reach func(State) bool
		reach = func(x State) bool {
			if x.Ended() {
				return true
			}
			if seen[x] {
				return false
			}
			seen[x] = true
			row := table[x]
			for _, n := range append(slices.Clone(row.next), row.fail) {
				if n != "" && reach(n) {
					return true
				}
			}
			return false
		}
		if !reach(s) {
			t.Errorf("%s never reaches an end state", s)
		}
	}
}

// TestAnUnreadableHaltIsNotIgnored: when the halt flag cannot be read,
// the engine looks again before moving on, so a halt written while the
// store failed still stops the release.
func TestAnUnreadableHaltIsNotIgnored(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CH && rec.ID == rel.ID {
			_ = w.store.PutHalt(context.Background(), rel.ID, elevator.ReleaseHalt{By: "dave", At: w.clock.Now(), Reason: "bad metrics"})
			w.store.failNext("Halt", 3, errors.New("throttled"))
		}
	}
	rec := w.run(e, rel)
	assertPath(t, rec, rolledBack)
	if rec.Halt == nil || !strings.Contains(rec.Error, "halted by dave") {
		t.Errorf("the halt was missed: halt %+v, error %q", rec.Halt, rec.Error)
	}
}

func TestAPlacementMayNameItsTier(t *testing.T) {
	w := newWorld(t)
	for _, c := range w.clouds {
		c.addResource(Resource{Kind: KindSubnet, ID: "subnet-app", Tags: map[string]string{elevator.TagOrbit: "prod", elevator.TagTier: "app"}})
	}
	e := w.engine("engine-1")
	rec := w.run(e, w.release(func(r *elevator.Release) {
		for i := range r.Services {
			for j := range r.Services[i].Placements {
				r.Services[i].Placements[j].Subnets, r.Services[i].Placements[j].Tier = []string{"subnet-app"}, "app"
			}
		}
	}))
	if rec.State != elevator.StateSuccess {
		t.Errorf("release into a tier called app: %s (%s)", rec.State, rec.Error)
	}
}

// TestAnImageIsAllowedPerOrbitAndApp: elevator:allow:<orbit> pairs apps
// with an orbit, so an image allowed for shop in test and blog in prod is
// not thereby allowed for shop in prod.
func TestAnImageIsAllowedPerOrbitAndApp(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rec := w.run(e, w.release(func(r *elevator.Release) {
		for i := range r.Services {
			r.Services[i].Placements[0].Image = "ami-shop-prod"
		}
	}))
	if rec.State != elevator.StateSuccess {
		t.Errorf("an image allowed for shop in prod: %s (%s)", rec.State, rec.Error)
	}
}

// TestTheOrbitsImageAllowListAllowsExactlyItsPairs: an image without
// tags is allowed by the orbit's allow list for the pairs it has, in the
// regions it has them, and for no other pair.
func TestTheOrbitsImageAllowListAllowsExactlyItsPairs(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1"}
	listed := func(w *world, allow func(c *fakeCloud)) {
		for _, c := range w.clouds {
			c.addResource(Resource{Kind: KindImage, ID: "ami-listed", Tags: map[string]string{"Name": "built today"}})
			allow(c)
		}
	}
	withListed := func(r *elevator.Release) {
		for i := range r.Services[0].Placements {
			r.Services[0].Placements[i].Image = "ami-listed"
		}
	}
	tests := []struct {
		name  string
		allow func(c *fakeCloud)
		want  string // "" for Success, else what the refusal says
	}{
		{"the list has the app in the orbit, in every region", func(c *fakeCloud) {
			c.allowImage(orbit, app, "ami-listed")
		}, ""},
		{"the list has the app in another orbit and another app in this one", func(c *fakeCloud) {
			c.allowImage("test", app, "ami-listed")
			c.allowImage(orbit, "blog", "ami-listed")
		}, "us-east-1: service web: image ami-listed is not authorized: want an entry for shop in " + elevator.ImagesTableName(orbit)},
		{"the list has the app for another image", func(c *fakeCloud) {
			c.allowImage(orbit, app, "ami-other")
		}, "image ami-listed is not authorized"},
		{"the list has the app in one region only", func(c *fakeCloud) {
			if c.region == "us-east-1" {
				c.allowImage(orbit, app, "ami-listed")
			}
		}, "eu-west-1: service web: image ami-listed is not authorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, regions...)
			listed(w, tt.allow)
			rec := w.run(w.engine("engine-1"), w.release(withListed))
			for _, reg := range regions {
				if n := rec.Calls["Cloud.AllowedImages "+reg]; n != 1 {
					t.Errorf("the allow list of %s read %d times, want once", reg, n)
				}
			}
			if tt.want == "" {
				if rec.State != elevator.StateSuccess {
					t.Errorf("release with a listed image: %s (%s)", rec.State, rec.Error)
				}
				return
			}
			assertPath(t, rec, path(V, L, VR, U, FC))
			assertFailure(t, rec, elevator.FailureUnusableResources)
			if !strings.Contains(rec.Error, tt.want) {
				t.Errorf("error %q, want it to say %q", rec.Error, tt.want)
			}
			if tt.name == "the list has the app in one region only" && strings.Contains(rec.Error, "us-east-1:") {
				t.Errorf("error %q names us-east-1, where the list has the image", rec.Error)
			}
		})
	}
}

// TestTaggedImagesAreAllowedWithoutReadingTheAllowList: images older
// Elevators tagged cost no read of the list; a failed read is retried.
func TestTaggedImagesAreAllowedWithoutReadingTheAllowList(t *testing.T) {
	w := newWorld(t)
	rec := w.run(w.engine("engine-1"), w.release())
	if rec.State != elevator.StateSuccess {
		t.Fatalf("release with a tagged image: %s (%s)", rec.State, rec.Error)
	}
	if n := w.clouds["us-east-1"].count("AllowedImages"); n != 0 {
		t.Errorf("the allow list read %d times for an image its tags allow", n)
	}

	w = newWorld(t)
	c := w.clouds["us-east-1"]
	c.addResource(Resource{Kind: KindImage, ID: "ami-listed"})
	c.allowImage(orbit, app, "ami-listed")
	c.failNext("AllowedImages", 2, errThrottled)
	rec = w.run(w.engine("engine-1"), w.release(func(r *elevator.Release) { r.Services[0].Placements[0].Image = "ami-listed" }))
	if rec.State != elevator.StateSuccess {
		t.Errorf("release after the allow list failed twice: %s (%s)", rec.State, rec.Error)
	}
	if n := c.count("AllowedImages"); n != 3 {
		t.Errorf("the allow list read %d times, want 3 (two failures, then an answer)", n)
	}
}

func TestStartRunsWhatItSubmitsWithoutReadingItBack(t *testing.T) {
	w := newWorld(t)
	e := w.engine("engine-1")
	rel := w.release()
	rec, err := e.Start(context.Background(), rel)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	assertPath(t, rec, happyPath)
	if rec.Revision != int64(len(rec.Path)) {
		t.Errorf("revision %d after %d states; want one record write per state, submission included", rec.Revision, len(rec.Path))
	}
	for _, call := range []string{"Store.Release", "Store.Record"} {
		if n := rec.Calls[call]; n != 0 {
			t.Errorf("%s called %d times; want none: the engine holds the document and the record it stored", call, n)
		}
	}
	stored, _, err := w.store.Release(context.Background(), rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := rel.Canonical(); string(stored) != string(want) {
		t.Errorf("stored document differs from the release's canonical form")
	}
	if _, err := e.Start(context.Background(), rel); elevator.ErrorCode(err) != elevator.ECONFLICT {
		t.Errorf("Start of a release that already ran: %v, want ECONFLICT", err)
	}
}

// TestAReleaseKilledBetweenATemplateAndItsGroupLeavesNothingWhenRolledBack:
// the engine dies after Deploy made the launch template of a group but
// not the group; another release takes the lock once the lease ends and
// succeeds; the dead release, resumed, ends FailureClean and its launch
// template is gone too, though no group leads to it. (On moto:
// TestAReleaseKilledBetweenATemplateAndItsGroupAndOvertakenLeavesNothingTagged
// in awsrelease.)
func TestAReleaseKilledBetweenATemplateOrATaskDefinitionAndItsGroupLeavesNothingWhenRolledBack(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		dead := w.release()
		c := w.clouds["us-east-1"]
		ctx, crash := context.WithCancel(context.Background())
		defer crash()
		c.hook = func(op string) {
			if op == w.beforeGroup() {
				crash()
			}
		}
		e1 := w.engine("engine-1")
		if rec, err := e1.Run(ctx, dead.ID, w.submit(e1, dead)); !errors.Is(err, context.Canceled) || rec.State != D {
			t.Fatalf("Run = %v in %s, want the engine to die in Deploy", err, rec.State)
		}
		c.hook = nil
		want := []string{w.made(GroupName(dead, "web"))}
		if r == onECS {
			want = append([]string{w.made(oldGroup)}, want...) // the serving service's
		}
		if got := c.remains(); !slices.Equal(got, want) {
			t.Fatalf("after the crash: %v, want the dead release's launch template or task definition %v", got, want)
		}
		w.clock.Advance(lease + time.Second)
		next := w.release(func(r *elevator.Release) { r.Version = "1.5.0" })
		assertPath(t, w.run(w.engine("engine-2"), next), happyPath)

		rec, err := w.engine("engine-3").Resume(context.Background(), dead.ID, "carol")
		if err != nil {
			t.Fatal(err)
		}
		assertPath(t, rec, path(V, L, VR, D, CUF, U, FC))
		assertFailure(t, rec, elevator.FailureLockLost)
		if len(rec.Leftovers) > 0 {
			t.Errorf("leftovers %v", rec.Leftovers)
		}
		w.assertOnly(only(GroupName(next, "web")))
		if got, want := c.remains(), []string{w.made(GroupName(next, "web"))}; !slices.Equal(got, want) {
			t.Errorf("launch templates and alarms: %v, want only the serving release's %v", got, want)
		}
	})
}

// TestAStoreThatStaysUnreachableStopsTheEngineWhereTheReleaseWas: the
// state store stops answering while the release waits for health. Each
// failed halt read is an attempt; once the state's attempts are spent the
// engine stops with an EAWS error that says so, within the release's
// timeout, having stored nothing more; a resume once the store is back
// ends the release. (The in-memory store; on moto through the fault
// proxy: TestADeployWhoseStoreGoesAwayExitsFourAndResumes in cli.)
func TestAStoreThatStaysUnreachableStopsTheEngineWhereTheReleaseWas(t *testing.T) {
	w := newWorld(t)
	rel := w.release()
	down := errors.New("dial tcp 127.0.0.1:5000: connect: connection refused")
	ops := []string{"Halt", "PutRecord", "Record", "Audit", "Release"}
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CH {
			for _, op := range ops {
				w.store.failAlways(op, down)
			}
		}
	}
	w.clouds["us-east-1"].boot = time.Hour // it waits in CheckHealthy
	// A bound on the test only: an engine that never gives up spins here.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := w.engine("engine-1")
	start := w.clock.Now()
	rec, err := e.Run(ctx, rel.ID, w.submit(e, rel))
	if elevator.ErrorCode(err) != elevator.EAWS || !errors.Is(err, ErrStoreUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Run = %v (code %q), want an EAWS error saying the store does not answer", err, elevator.ErrorCode(err))
	}
	if !strings.Contains(err.Error(), "stopped in CheckHealthy") || !strings.Contains(err.Error(), "release resume "+rel.ID) {
		t.Errorf("the error does not say where the release stays and how to resume it: %v", err)
	}
	if n := w.store.count("Halt"); n > 4 {
		t.Errorf("%d halt reads, want at most the state's 4 attempts", n)
	}
	if took := w.clock.Now().Sub(start); took >= rel.Timeout() {
		t.Errorf("the engine gave up after %s, not within the release's timeout %s", took, rel.Timeout())
	}

	for _, op := range ops {
		w.store.clearFaults(op)
	}
	stored, err := w.store.Record(context.Background(), rel.ID)
	if err != nil || stored.State != CH || stored.Failed {
		t.Fatalf("stored record %+v, %v; want it left in CheckHealthy, not failed", stored, err)
	}
	if rec.State == FD || rec.State == FC {
		t.Errorf("the engine returned a record in %s", rec.State)
	}
	w.clouds["us-east-1"].boot = 40 * time.Second
	w.clock.Advance(lease + time.Second)
	rec, err = w.engine("engine-2").Resume(context.Background(), rel.ID, "ops")
	if err != nil {
		t.Fatal(err)
	}
	assertPath(t, rec, happyPath)
	w.assertOnly(only(GroupName(rel, "web")))
}

// TestNoStateRetriesPastTheReleaseTimeout: a step that keeps failing with
// more attempts than its timeout allows (MaxAttempts 100, four minutes of
// backoff each) is given up once the state has lasted the release's
// timeout, and the release rolls back.
func TestNoStateRetriesPastTheReleaseTimeout(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		w := newWorldOn(t, r)
		e := w.engine("engine-1", func(c *Config) { c.MaxAttempts = 100 })
		rel := w.release()
		w.clouds["us-east-1"].failAlways("CreateGroup", errThrottled)
		rec := w.run(e, rel)
		assertPath(t, rec, path(V, L, VR, D, CUF, U, FC))
		in := rec.Visits[4].Sub(rec.Visits[3]) // from Deploy to CleanUpFailure
		if most := rel.Timeout() + 8*poll; in > most {
			t.Errorf("Deploy lasted %s, want the release's timeout %s and one backoff at most", in, rel.Timeout())
		}
	})
}

// TestACleanupThatGivesUpWithoutNamingWhatIsLeftIsNotClean: after cut-over
// began, target health becomes unreadable for good (the in-memory fake
// refuses it), so the rollback cannot tell what still serves. Giving up
// then must not be called clean.
func TestACleanupThatGivesUpWithoutNamingWhatIsLeftIsNotClean(t *testing.T) {
	w := newWorld(t)
	c := w.clouds["us-east-1"]
	c.hook = func(op string) {
		if op == "DetachTargetGroups" {
			c.failAlways("Targets", elevator.Errorf(elevator.EINVALID, "AccessDenied: elasticloadbalancing:DescribeTargetHealth"))
		}
	}
	rec := w.run(w.engine("engine-1"), w.release())
	if rec.State != FD || len(rec.Leftovers) == 0 {
		t.Fatalf("state %s, leftovers %q (error %q); want FailureDirty naming what may be left", rec.State, rec.Leftovers, rec.Error)
	}
	if !strings.Contains(rec.Leftovers[0], "elevator gc") {
		t.Errorf("leftovers %q do not say how to find what is left", rec.Leftovers)
	}
}

// lossyStore is the in-memory store whose write of one state's record is
// stored but answered with a throttling error, and whose next read fails
// too: the engine cannot tell whose the stored record is.
type lossyStore struct {
	*fakeStore
	at              State
	lost, readFails bool
}

func (s *lossyStore) PutLockedRecord(ctx context.Context, rec *elevator.ReleaseRecord, l Lock) error {
	err := s.fakeStore.PutLockedRecord(ctx, rec, l)
	if err == nil && rec.State == s.at && !s.lost {
		s.lost, s.readFails = true, true
		return errThrottled
	}
	return err
}

func (s *lossyStore) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	if s.readFails {
		s.readFails = false
		return nil, errThrottled
	}
	return s.fakeStore.Record(ctx, id)
}

func TestAWriteWhoseAnswerAndReadBackFailKeepsTheLockAndGoesOn(t *testing.T) {
	w := newWorld(t)
	store := &lossyStore{fakeStore: w.store, at: CH}
	e := w.engine("engine-1", func(c *Config) { c.Store = store })
	rec, err := e.Start(context.Background(), w.release())
	if err != nil {
		t.Fatalf("Start: %v; want the write tried again, not a conflict", err)
	}
	assertPath(t, rec, happyPath)
	if !store.lost {
		t.Fatal("the fault was never injected")
	}
}

// watchStore is the in-memory store that notes whether the engine's lease
// ran out while it read the halt flag.
type watchStore struct {
	*fakeStore
	w       *world
	expired time.Duration
}

func (s *watchStore) Halt(ctx context.Context, id string) (*elevator.ReleaseHalt, error) {
	if l, err := s.w.locker.Get(ctx, app, orbit); err == nil && s.w.clock.Now().After(l.Expires) {
		s.expired = max(s.expired, s.w.clock.Now().Sub(l.Expires))
	}
	return s.fakeStore.Halt(ctx, id)
}

func TestTheLeaseIsKeptWhileTheHaltFlagCannotBeRead(t *testing.T) {
	w := newWorld(t)
	store := &watchStore{fakeStore: w.store, w: w}
	e := w.engine("engine-1", func(c *Config) { c.Store = store; c.MaxAttempts = 6; c.Random = func() float64 { return 0.99 } })
	rel := w.release()
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CH && rec.ID == rel.ID {
			w.store.failNext("Halt", 5, errThrottled)
		}
	}
	rec, err := e.Start(context.Background(), rel)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	assertPath(t, rec, happyPath)
	if store.expired > 0 {
		t.Errorf("the lease had run out %s before a halt read; want it renewed while the engine waits", store.expired)
	}
}

// TestAStoreThatGoesDownUnderTheLockStopsTheEngineAsLastStored: once
// CleanUpSuccess is stored, every write of the in-memory store fails.
func TestAStoreThatGoesDownUnderTheLockStopsTheEngineAsLastStored(t *testing.T) {
	w := newWorld(t)
	rel := w.release()
	ops := []string{"PutRecord", "PutLockedRecord", "Record", "Audit"}
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.State == CUS {
			for _, op := range ops {
				w.store.failAlways(op, errThrottled)
			}
		}
	}
	e := w.engine("engine-1")
	rec, err := e.Run(context.Background(), rel.ID, w.submit(e, rel))
	if !errors.Is(err, ErrStoreUnreachable) || elevator.ErrorCode(err) != elevator.EAWS {
		t.Fatalf("Run: %v; want ErrStoreUnreachable (EAWS)", err)
	}
	for _, op := range ops {
		w.store.clearFaults(op)
	}
	stored, serr := w.store.Record(context.Background(), rel.ID)
	if serr != nil {
		t.Fatal(serr)
	}
	if rec.State != stored.State || rec.Revision != stored.Revision || len(rec.Path) != len(stored.Path) {
		t.Errorf("returned %s (revision %d, %d states), stored %s (revision %d, %d states); want the record as last stored",
			rec.State, rec.Revision, len(rec.Path), stored.State, stored.Revision, len(stored.Path))
	}
}

// TestLeaseRenewalsAreObservedWithTheirOutcome counts the renewals of a
// release that runs to its end (all ok), then breaks the lock of another
// one in the middle: its next renewal is lost.
func TestLeaseRenewalsAreObservedWithTheirOutcome(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	seen := map[string]int{}
	observe := func(c *Config) {
		c.ObserveRenewal = func(outcome string) { mu.Lock(); seen[outcome]++; mu.Unlock() }
	}
	e := w.engine("engine-1", observe)
	assertPath(t, w.run(e, w.release()), happyPath)
	if seen[RenewalOK] == 0 || seen[RenewalLost] != 0 || seen[RenewalError] != 0 {
		t.Fatalf("renewals of a release that ran to its end: %v, want some ok and nothing else", seen)
	}

	clear(seen)
	rel := w.release(func(r *elevator.Release) { r.Version = "2.0.0" })
	w.store.afterPut = func(rec elevator.ReleaseRecord) {
		if rec.ID == rel.ID && rec.State == CH {
			if _, err := w.locker.Break(context.Background(), rel.App, rel.Orbit); err != nil {
				t.Error(err)
			}
		}
	}
	_, _ = e.Run(context.Background(), rel.ID, w.submit(e, rel))
	if seen[RenewalLost] == 0 {
		t.Errorf("renewals after the lock was broken: %v, want one lost", seen)
	}
}
