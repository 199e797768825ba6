package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elevatorhq/elevator"
)

// cleanupWait is the least time cleanup waits for groups to go away before
// it names them as left behind: deleting a group terminates its instances,
// which takes minutes in AWS.
const cleanupWait = 15 * time.Minute

// defaultGrace is a new group's health check grace period when the
// release gives none.
const defaultGrace = 300 * time.Second

// GroupName is the name of the Auto Scaling Group (and launch template),
// or of the ECS service (and task definition family), a release makes
// for a service: <app>-<orbit>-<service>-<short release id>.
func GroupName(rel *elevator.Release, service string) string {
	return rel.App + "-" + rel.Orbit + "-" + service + "-" + rel.ShortID()
}

// token derives an idempotency token for a mutating call from the release
// id, the state that makes the call, and what it is made for (region,
// service). A call retried after a timeout, a crash or a resume carries
// the same token, so AWS makes the resource once; another release, or the
// same release in another state, gets another token. It is 32 hex digits,
// within EC2's 64-character ClientToken.
func token(id string, state State, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(append([]string{id, string(state)}, parts...), "/")))
	return hex.EncodeToString(sum[:16])
}

// waves lists the regions each wave of the release covers: every region
// at once, or one at a time.
func waves(rel *elevator.Release) [][]string {
	if !rel.Sequential {
		return [][]string{rel.Regions}
	}
	w := make([][]string, len(rel.Regions))
	for i, reg := range rel.Regions {
		w[i] = []string{reg}
	}
	return w
}

// active is the regions of the current wave.
func (r *Release) active() []string {
	w := waves(r.Doc)
	return w[min(r.Rec.Wave, len(w)-1)]
}

// steps is how many capacity steps the release goes through: the most any
// of its services has.
func (r *Release) steps() int {
	n := 1
	for _, s := range r.Doc.Services {
		n = max(n, len(Plan(s.Capacity, 1)))
	}
	return n
}

// stepOf is a service's capacity at step i (its last step when it has
// fewer).
func stepOf(svc *elevator.ReleaseService, desired, i int) CapacityStep {
	p := Plan(svc.Capacity, desired)
	return p[min(i, len(p)-1)]
}

func (r *Release) region(name string) *elevator.ReleaseRegionRecord {
	for i := range r.Rec.Regions {
		if r.Rec.Regions[i].Region == name {
			return &r.Rec.Regions[i]
		}
	}
	return nil
}

func service(rr *elevator.ReleaseRegionRecord, name string) *elevator.ReleaseServiceRecord {
	for i := range rr.Services {
		if rr.Services[i].Service == name {
			return &rr.Services[i]
		}
	}
	return nil
}

// newRef names a service's new group in a region.
func newRef(sr *elevator.ReleaseServiceRecord) GroupRef {
	return GroupRef{Name: sr.Group, Cluster: sr.Cluster}
}

// oldRef names an old group of a service.
func oldRef(old *elevator.ReleaseOldGroup) GroupRef {
	return GroupRef{Name: old.Name, Cluster: old.Cluster}
}

func byName(groups []Group, name string) (Group, bool) {
	for _, g := range groups {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}

// each runs fn for every region in regions at once, and joins their errors,
// each prefixed with its region.
func (e *Engine) each(ctx context.Context, r *Release, regions []string, fn func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error) error {
	errs := make([]error, len(regions))
	var wg sync.WaitGroup
	for i, reg := range regions {
		cl, rr := e.cloud(r, reg), r.region(reg)
		if cl == nil || rr == nil {
			errs[i] = fail(elevator.FailureInvalid, "%s: no AWS access configured for the region", reg)
			continue
		}
		wg.Go(func() {
			if err := fn(ctx, cl, rr); err != nil {
				errs[i] = fmt.Errorf("%s: %w", reg, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// collector gathers lines from regions working in parallel.
type collector struct {
	mu    sync.Mutex
	lines []string
}

func (c *collector) add(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

func (c *collector) sorted() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := slices.Clone(c.lines)
	sort.Strings(s)
	return s
}

// validate checks the stored document against its checksum and the
// checksum the engine was asked to release, its structure, and its age.
func (e *Engine) validate(ctx context.Context, r *Release) (Outcome, error) {
	id := r.Rec.ID
	doc, sum, err := r.stored, elevator.ChecksumOf(r.stored), error(nil)
	if doc == nil {
		doc, sum, err = e.store(r).Release(ctx, id)
	}
	if errors.Is(err, ErrNotFound) {
		return Outcome{}, fail(elevator.FailureInvalid, "no release document is stored under id %s", id)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("read release %s: %w", id, err)
	}
	if got := elevator.ChecksumOf(doc); got != sum {
		return Outcome{}, fail(elevator.FailureInvalid, "the stored document's SHA-256 is %s, not the checksum stored with it (%s): it changed after it was written", got, sum)
	}
	if sum != r.Rec.Checksum {
		return Outcome{}, fail(elevator.FailureInvalid, "asked to release checksum %q, but the release stored under id %s has checksum %s", r.Rec.Checksum, id, sum)
	}
	rel, err := elevator.ParseRelease(doc)
	if err != nil {
		return Outcome{}, fail(elevator.FailureInvalid, "%w", err)
	}
	if err := rel.Check(); err != nil {
		return Outcome{}, fail(elevator.FailureInvalid, "%w", err)
	}
	if rel.ID != id {
		return Outcome{}, fail(elevator.FailureInvalid, "the document stored under id %s has id %s", id, rel.ID)
	}
	for _, s := range rel.Services {
		for _, sc := range s.Schedule {
			if err := elevator.CheckCron(sc.Cron); err != nil {
				return Outcome{}, fail(elevator.FailureInvalid, "service %s: schedule %q: %w", s.Name, sc.Cron, err)
			}
		}
	}
	if p := checkECS(rel); len(p) > 0 {
		return Outcome{}, fail(elevator.FailureInvalid, "%s", strings.Join(p, "; "))
	}
	now := e.now()
	if age := now.Sub(rel.CreatedAt); age > e.c.MaxAge {
		return Outcome{}, fail(elevator.FailureInvalid, "created_at %s is %s old; releases older than %s are refused (replay protection): make a new release",
			rel.CreatedAt.Format(time.RFC3339), age.Round(time.Second), e.c.MaxAge)
	}
	if ahead := rel.CreatedAt.Sub(now); ahead > e.c.MaxAhead {
		return Outcome{}, fail(elevator.FailureInvalid, "created_at %s is %s in the future; more than %s ahead is refused: check the clock",
			rel.CreatedAt.Format(time.RFC3339), ahead.Round(time.Second), e.c.MaxAhead)
	}
	for _, reg := range rel.Regions {
		if _, ok := e.clouds[reg]; !ok {
			return Outcome{}, fail(elevator.FailureInvalid, "no AWS access configured for region %s", reg)
		}
	}
	r.Doc = rel
	if len(r.Rec.Regions) == 0 {
		for _, reg := range rel.Regions {
			rr := elevator.ReleaseRegionRecord{Region: reg}
			for _, s := range rel.Services {
				sr := elevator.ReleaseServiceRecord{Service: s.Name, Group: GroupName(rel, s.Name)}
				if pl := s.Placement(reg); s.ECS != nil && pl != nil {
					sr.Cluster = pl.Cluster
				}
				rr.Services = append(rr.Services, sr)
			}
			r.Rec.Regions = append(r.Rec.Regions, rr)
		}
	}
	return goTo(elevator.StateLock), nil
}

// lock takes the (app, orbit) lock with a lease. A lock held by another
// release ends this one FailureClean, naming the holder; an expired lease
// is taken over and noted.
func (e *Engine) lock(ctx context.Context, r *Release) (Outcome, error) {
	now := e.now()
	want := e.lockOf(r, now)
	prev, err := e.locker(r).Acquire(ctx, want, now)
	var held *LockHeldError
	if errors.As(err, &held) {
		if held.Lock.ReleaseID == r.Rec.ID {
			return Outcome{}, &abort{running(r.Rec.ID, held.Lock)}
		}
		return Outcome{}, fail(elevator.FailureLocked, "%w", held)
	}
	if err != nil {
		return Outcome{}, fmt.Errorf("lock %s in %s: %w", want.App, want.Orbit, err)
	}
	r.lock, r.locked = want, true
	r.Rec.LockedAt = want.Since
	if prev.ReleaseID != "" && prev.ReleaseID != r.Rec.ID {
		r.note("took over the lock of release %s of %s (engine %s, held since %s), whose lease ended at %s",
			prev.ReleaseID, prev.Holder, prev.Owner, prev.Since.Format(time.RFC3339), prev.Expires.Format(time.RFC3339))
	}
	return goTo(elevator.StateValidateResources), nil
}

// validateResources checks, in every region, that every resource a
// release uses exists and is tagged for it (collect, describe, authorize:
// see authorize.go for the rule of each kind), and that no group already
// carries its id; and records the groups that serve each service now,
// whose desired capacity is carried over.
func (e *Engine) validateResources(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	var problems collector
	err := e.each(ctx, r, doc.Regions, func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		uses := collect(doc, rr.Region, e.now())
		found, err := describe(ctx, cl, uses)
		if err != nil {
			return err
		}
		for _, p := range append(authorize(uses, found), authorizeECS(doc, rr.Region)...) {
			problems.add("%s: %s", rr.Region, p)
		}
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit})
		if err != nil {
			return fmt.Errorf("find groups of %s in %s: %w", doc.App, doc.Orbit, err)
		}
		for _, g := range groups {
			if g.ReleaseID() == doc.ID {
				problems.add("%s: %s already carries release id %s", rr.Region, groupNoun(g.Ref()), doc.ID)
			} else if doc.Service(g.Tags[elevator.TagService]) == nil && !g.Deleting {
				r.note("%s: %s of service %q, which this release does not have, keeps running", rr.Region, groupNoun(g.Ref()), g.Tags[elevator.TagService])
			}
		}
		carryOver(doc, rr, groups)
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	if p := problems.sorted(); len(p) > 0 {
		return Outcome{}, fail(elevator.FailureUnusableResources, "resources not usable by release %s:\n  %s", doc.ID, strings.Join(p, "\n  "))
	}
	return goTo(elevator.StateDeploy), nil
}

// carryOver records, for each service in a region, the groups that serve
// it now (the old groups), and the desired capacity the new group starts
// from: carried over from the largest of them.
func carryOver(doc *elevator.Release, rr *elevator.ReleaseRegionRecord, groups []Group) {
	for _, s := range doc.Services {
		sr := service(rr, s.Name)
		sr.Old, sr.CarriedFrom = nil, ""
		var running []int
		for _, g := range groups {
			if g.Tags[elevator.TagService] != s.Name || g.ReleaseID() == doc.ID || g.Deleting {
				continue
			}
			sr.Old = append(sr.Old, elevator.ReleaseOldGroup{Name: g.Name, Cluster: g.Cluster, Desired: g.Capacity.Desired, TargetGroups: g.TargetGroups})
			if len(running) == 0 || g.Capacity.Desired > slices.Max(running) {
				sr.CarriedFrom = g.Name
			}
			running = append(running, g.Capacity.Desired)
		}
		sr.Desired = Desired(s.Capacity, running)
	}
}

// spec is what CreateGroup makes for a service in a region.
func (e *Engine) spec(r *Release, s *elevator.ReleaseService, region string, st CapacityStep) GroupSpec {
	doc := r.Doc
	pl := s.Placement(region)
	grace := time.Duration(s.HealthCheckGraceSeconds) * time.Second
	if grace == 0 {
		grace = defaultGrace
	}
	if s.ECS != nil {
		return GroupSpec{
			Name:             GroupName(doc, s.Name),
			SecurityGroups:   pl.SecurityGroups,
			Subnets:          pl.Subnets,
			TargetGroups:     pl.TargetGroups,
			Capacity:         Capacity{Min: st.Launch, Max: max(s.Capacity.Max, st.Launch), Desired: st.Launch},
			HealthCheckGrace: grace,
			Tags:             groupTags(doc, s.Name),
			ECS:              ecsSpec(doc, s, pl),
		}
	}
	return GroupSpec{
		Name:         GroupName(doc, s.Name),
		ImageID:      pl.Image,
		InstanceType: s.InstanceType,
		UserData: elevator.ExpandUserData(s.UserData, elevator.UserDataVars{ReleaseID: doc.ID, App: doc.App, Orbit: doc.Orbit,
			Service: s.Name, Region: region, Version: doc.Version}),
		InstanceProfile:  pl.InstanceProfile,
		SecurityGroups:   pl.SecurityGroups,
		Subnets:          pl.Subnets,
		TargetGroups:     pl.TargetGroups,
		Capacity:         Capacity{Min: st.Launch, Max: max(s.Capacity.Max, st.Launch), Desired: st.Launch},
		HealthCheckELB:   len(pl.TargetGroups) > 0,
		HealthCheckGrace: grace,
		Hooks:            s.Hooks,
		Tags:             groupTags(doc, s.Name),
	}
}

// ecsSpec is the task of a service's ECS service in a placement: its
// container named after the service, running the placement's image, with
// the service's environment, the placement's over it, and the release's
// variables over both (as user data has them, see elevator.UserDataVars).
func ecsSpec(doc *elevator.Release, s *elevator.ReleaseService, pl *elevator.ReleasePlacement) *ECSSpec {
	env := map[string]string{}
	maps.Copy(env, s.ECS.Env)
	maps.Copy(env, pl.Env)
	maps.Copy(env, releaseVars(doc, s.Name, pl.Region))
	spec := &ECSSpec{
		Cluster:       pl.Cluster,
		Container:     s.Name,
		Image:         pl.Image,
		CPU:           s.ECS.CPU,
		Memory:        s.ECS.Memory,
		Ports:         slices.Clone(s.ECS.Ports),
		Command:       slices.Clone(s.ECS.Command),
		Env:           env,
		Secrets:       slices.Clone(pl.Secrets),
		Capacity:      s.ECS.Capacity,
		TaskRole:      pl.TaskRole,
		ExecutionRole: pl.ExecutionRole,
		LogGroup:      pl.LogGroup,
	}
	if spec.Capacity == "" {
		spec.Capacity = elevator.ECSFargate
	}
	return spec
}

// groupTags are the tags of a release's group of a service: which orbit,
// app, service and release it is, and, for an app that opts out of chaos,
// elevator.TagChaos.
func groupTags(doc *elevator.Release, service string) map[string]string {
	tags := map[string]string{elevator.TagApp: doc.App, elevator.TagOrbit: doc.Orbit, elevator.TagService: service,
		elevator.TagRelease: doc.ID, elevator.TagManagedBy: elevator.ManagedBy}
	if doc.ChaosOptOut {
		tags[elevator.TagChaos] = elevator.ChaosOptOut
	}
	return tags
}

// deploy makes a launch template and a group per service in each region
// of the wave, at the first capacity step, attached to the service's
// target groups. Groups that already exist (made before a crash) are kept.
func (e *Engine) deploy(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	err := e.each(ctx, r, r.active(), func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit, ReleaseID: doc.ID})
		if err != nil {
			return fmt.Errorf("find groups of release %s: %w", doc.ID, err)
		}
		for i := range doc.Services {
			s := &doc.Services[i]
			sr := service(rr, s.Name)
			st := stepOf(s, sr.Desired, 0)
			sr.Health = elevator.ReleaseGroupHealth{Launch: st.Launch, Needed: st.Healthy}
			var testTG string
			if onTestListener(doc, s, rr.Region) {
				if testTG, err = e.testTargetGroup(ctx, r, cl, s, sr, rr.Region); err != nil {
					return err
				}
			}
			if g, ok := byName(groups, sr.Group); ok {
				if g.Deleting {
					return fail(elevator.FailureConflict, "%s is being deleted by someone else", groupNoun(g.Ref()))
				}
				continue
			}
			spec := e.spec(r, s, rr.Region, st)
			spec.Absent = true
			if testTG != "" {
				// Smoke tests first: production sees the group at cut-over.
				spec.TargetGroups = []string{testTG}
			}
			if err := cl.CreateGroup(ctx, spec, token(doc.ID, elevator.StateDeploy, rr.Region, s.Name)); err != nil {
				return fmt.Errorf("create %s: %w", groupNoun(spec.Ref()), err)
			}
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	r.Rec.Step = 0
	return goTo(elevator.StateCheckHealthy), nil
}

func terminating(lifecycle string) bool { return strings.HasPrefix(lifecycle, "Terminat") }

// checkHealthy looks at the new groups of the wave: enough instances in
// service and healthy in the group and in every target group for the
// current step moves on (to the next step, or to cut-over); max_terms
// terminating instances, or the timeout, fail the release. Otherwise it
// looks again after a poll interval.
func (e *Engine) checkHealthy(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	now := e.now()
	var waiting collector
	err := e.each(ctx, r, r.active(), func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit, ReleaseID: doc.ID})
		if err != nil {
			return fmt.Errorf("find groups of release %s: %w", doc.ID, err)
		}
		healthyIn := map[string]map[string]bool{} // target group -> healthy instances
		for i := range doc.Services {
			s := &doc.Services[i]
			sr := service(rr, s.Name)
			st := stepOf(s, sr.Desired, r.Rec.Step)
			g, ok := byName(groups, sr.Group)
			if !ok || g.Deleting {
				return fail(elevator.FailureConflict, "%s disappeared", groupNoun(newRef(sr)))
			}
			if err := failed(g); err != nil {
				return err
			}
			h := elevator.ReleaseGroupHealth{Launch: st.Launch, Needed: st.Healthy, ObservedAt: now}
			var ready []string // target ids
			for _, in := range g.Instances {
				switch {
				case terminating(in.Lifecycle):
					// Terminated too: an ECS service lists its stopped
					// tasks, and each one counts.
					h.Terminating++
				case in.Lifecycle == LifecycleInService && in.Healthy:
					ready = append(ready, in.TargetID())
				}
			}
			h.InService = len(ready)
			if limit := max(1, s.Capacity.MaxTerms); h.Terminating >= limit {
				sr.Health = h
				what := "instance(s) of " + groupNoun(g.Ref()) + " terminating"
				if g.Ref().ECS() {
					what = "task(s) of " + groupNoun(g.Ref()) + " stopping or stopped"
				}
				return fail(elevator.FailureTerminating, "%d %s, max_terms %d: halting the release", h.Terminating, what, s.Capacity.MaxTerms)
			}
			for _, tg := range healthTargetGroups(s, sr, rr.Region) {
				set, ok := healthyIn[tg]
				if !ok {
					targets, err := cl.Targets(ctx, tg)
					if err != nil {
						return fmt.Errorf("target health of %s: %w", tg, err)
					}
					set = map[string]bool{}
					for _, t := range targets {
						if t.State == TargetHealthy {
							set[t.InstanceID] = true
						}
					}
					healthyIn[tg] = set
				}
				ready = slices.DeleteFunc(ready, func(id string) bool { return !set[id] })
			}
			h.Healthy = len(ready)
			sr.Health = h
			switch {
			case h.Healthy < h.Needed:
				waiting.add("%s/%s: %d of %d needed healthy (%d in service, %d launching)", rr.Region, s.Name, h.Healthy, h.Needed, h.InService, h.Launch)
			case g.Settling != "":
				// Healthy enough, but ECS may still give the deployment
				// up (and then stop launching): wait until it is steady.
				waiting.add("%s/%s: %s not steady yet: %s", rr.Region, s.Name, groupNoun(g.Ref()), g.Settling)
			}
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	if w := waiting.sorted(); len(w) > 0 {
		if waited := now.Sub(r.stateSince()); waited >= doc.Timeout() {
			return Outcome{}, fail(elevator.FailureUnhealthy, "not healthy after %s: %s", doc.Timeout(), strings.Join(w, "; "))
		}
		return requeue(e.c.Poll), nil
	}
	if r.Rec.Step+1 < r.steps() {
		return goTo(elevator.StateScaleUp), nil
	}
	return goTo(afterHealthy(doc)), nil
}

// scaleUp grows the new groups of the wave to the next capacity step.
func (e *Engine) scaleUp(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	next := r.Rec.Step + 1
	err := e.each(ctx, r, r.active(), func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		for i := range doc.Services {
			s := &doc.Services[i]
			sr := service(rr, s.Name)
			st := stepOf(s, sr.Desired, next)
			if err := cl.SetCapacity(ctx, newRef(sr), Capacity{Min: st.Launch, Max: max(s.Capacity.Max, st.Launch), Desired: st.Launch}); err != nil {
				return fmt.Errorf("grow %s to %d: %w", groupNoun(newRef(sr)), st.Launch, err)
			}
			sr.Health.Launch, sr.Health.Needed = st.Launch, st.Healthy
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	r.Rec.Step = next
	return goTo(elevator.StateCheckHealthy), nil
}

// cutOver gives the new groups of the wave their final size, scaling
// policies and scheduled actions, takes the old groups out of their target
// groups, and waits until their targets have drained (the deregistration
// delay), looking every poll interval. Then it moves to the next wave, or
// to CleanUpSuccess.
func (e *Engine) cutOver(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	now := e.now()
	alarmed := false
	if doc.Tests.Gated() {
		changed, err := e.watchAlarms(ctx, r)
		if err != nil {
			return Outcome{}, err
		}
		alarmed = changed
	}
	var draining, joining collector
	err := e.each(ctx, r, r.active(), func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		// New groups smoke-tested on a test target group join production
		// first, and the old groups leave once they serve there.
		ok, err := e.attachTested(ctx, r, cl, rr, &joining)
		if err != nil || !ok {
			return err
		}
		oldTGs := map[string][]string{} // target group -> old groups in it
		for i := range doc.Services {
			s := &doc.Services[i]
			sr := service(rr, s.Name)
			if !sr.Scaled {
				c := Capacity{Min: s.Capacity.Min, Max: s.Capacity.Max, Desired: sr.Desired}
				if err := cl.SetCapacity(ctx, newRef(sr), c); err != nil {
					return fmt.Errorf("size %s: %w", groupNoun(newRef(sr)), err)
				}
				alarms := s.Placement(rr.Region).Alarms
				if len(s.Policies)+len(s.Schedule)+len(alarms) > 0 {
					sc := Scaling{Min: s.Capacity.Min, Max: s.Capacity.Max, Policies: s.Policies, Schedule: s.Schedule, Alarms: alarms}
					if err := cl.PutScaling(ctx, newRef(sr), sc); err != nil {
						return fmt.Errorf("put scaling on %s: %w", groupNoun(newRef(sr)), err)
					}
				}
				sr.Scaled = true
			}
			for j := range sr.Old {
				old := &sr.Old[j]
				if len(old.TargetGroups) == 0 {
					continue
				}
				if !old.Detached {
					err := cl.DetachTargetGroups(ctx, oldRef(old), old.TargetGroups)
					if err != nil && !errors.Is(err, ErrNotFound) {
						return fmt.Errorf("detach %s from its target groups: %w", groupNoun(oldRef(old)), err)
					}
					old.Detached = true
				}
				for _, tg := range old.TargetGroups {
					oldTGs[tg] = append(oldTGs[tg], old.Name)
				}
			}
		}
		if len(oldTGs) == 0 {
			return nil
		}
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit})
		if err != nil {
			return fmt.Errorf("find groups of %s in %s: %w", doc.App, doc.Orbit, err)
		}
		for _, g := range groups {
			if g.ReleaseID() == doc.ID {
				if err := failed(g); err != nil {
					return err
				}
			}
		}
		for tg, names := range oldTGs {
			old := map[string]bool{}
			for _, g := range groups {
				if slices.Contains(names, g.Name) {
					for _, in := range g.Instances {
						// A stopped task's IP may be a new task's now.
						if in.Lifecycle != LifecycleGone {
							old[in.TargetID()] = true
						}
					}
				}
			}
			targets, err := cl.Targets(ctx, tg)
			if err != nil {
				return fmt.Errorf("target health of %s: %w", tg, err)
			}
			for _, t := range targets {
				if old[t.InstanceID] && t.State != TargetUnused {
					draining.add("%s: %s still %s in %s", rr.Region, t.InstanceID, t.State, tg)
				}
			}
		}
		return nil
	})
	if err != nil {
		return Outcome{}, err
	}
	if j := joining.sorted(); len(j) > 0 {
		if now.Sub(r.stateSince()) >= doc.Timeout() {
			return Outcome{}, fail(elevator.FailureUnhealthy, "new groups not healthy in their target groups after %s: %s", doc.Timeout(), strings.Join(j, "; "))
		}
		return Outcome{After: e.c.Poll, Save: alarmed}, nil
	}
	if d := draining.sorted(); len(d) > 0 {
		if now.Sub(r.stateSince()) < doc.Timeout() {
			return Outcome{After: e.c.Poll, Save: alarmed}, nil
		}
		r.note("cut-over went on after %s with targets still draining: %s", doc.Timeout(), strings.Join(d, "; "))
	}
	if r.Rec.Wave+1 < len(waves(doc)) {
		r.Rec.Wave++
		r.Rec.Step = 0
		return goTo(elevator.StateDeploy), nil
	}
	return goTo(afterCutOver(doc)), nil
}

// attachTested attaches the new groups of a region that were made on a
// test target group to their production target groups, and says whether
// they serve there (enough instances healthy, as at CheckHealthy); then
// it takes them off the test target group. What is not ready yet is
// added to joining.
func (e *Engine) attachTested(ctx context.Context, r *Release, cl Cloud, rr *elevator.ReleaseRegionRecord, joining *collector) (bool, error) {
	doc := r.Doc
	ready := true
	for i := range doc.Services {
		s := &doc.Services[i]
		sr := service(rr, s.Name)
		if sr.TestTargetGroup == "" || sr.Attached {
			continue
		}
		tgs := s.Placement(rr.Region).TargetGroups
		if err := cl.AttachTargetGroups(ctx, newRef(sr), tgs); err != nil {
			return false, fmt.Errorf("attach %s to its target groups: %w", groupNoun(newRef(sr)), err)
		}
		// An ECS service redeploys its tasks when its load balancers
		// change: it serves once that deployment is steady.
		g, err := newGroup(ctx, cl, doc, sr)
		if err != nil {
			return false, err
		}
		if g.Settling != "" {
			joining.add("%s/%s: %s not steady yet: %s", rr.Region, s.Name, groupNoun(g.Ref()), g.Settling)
			ready = false
			continue
		}
		healthy := 0
		for _, tg := range tgs {
			targets, err := cl.Targets(ctx, tg)
			if err != nil {
				return false, fmt.Errorf("target health of %s: %w", tg, err)
			}
			for _, t := range targets {
				if t.State == TargetHealthy && slices.ContainsFunc(g.Instances, func(in Instance) bool {
					return in.Lifecycle != LifecycleGone && in.TargetID() == t.InstanceID
				}) {
					healthy++
				}
			}
		}
		if need := sr.Health.Needed * len(tgs); healthy < need {
			joining.add("%s/%s: %d of %d targets healthy", rr.Region, s.Name, healthy, need)
			ready = false
			continue
		}
		if err := cl.DetachTargetGroups(ctx, newRef(sr), []string{sr.TestTargetGroup}); err != nil {
			return false, fmt.Errorf("detach %s from its test target group: %w", groupNoun(newRef(sr)), err)
		}
		if g, err = newGroup(ctx, cl, doc, sr); err != nil {
			return false, err
		}
		if g.Settling != "" {
			joining.add("%s/%s: %s not steady yet: %s", rr.Region, s.Name, groupNoun(g.Ref()), g.Settling)
			ready = false
			continue
		}
		sr.Attached = true
	}
	return ready, nil
}

// newGroup reads the new group of a service in a region; a new ECS
// service whose deployment ECS gave up fails the release
// (FailureUnhealthy, so that cleanup undoes it).
func newGroup(ctx context.Context, cl Cloud, doc *elevator.Release, sr *elevator.ReleaseServiceRecord) (Group, error) {
	groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit, ReleaseID: doc.ID})
	if err != nil {
		return Group{}, fmt.Errorf("find groups of release %s: %w", doc.ID, err)
	}
	g, ok := byName(groups, sr.Group)
	if !ok || g.Deleting {
		return Group{}, fail(elevator.FailureConflict, "%s disappeared", groupNoun(newRef(sr)))
	}
	return g, failed(g)
}

// failed is the failure of a new group whose deployment ECS gave up (its
// circuit breaker tripped); nil otherwise.
func failed(g Group) error {
	if g.Failed != "" {
		return fail(elevator.FailureUnhealthy, "ECS gave up the deployment of %s (its circuit breaker tripped): %s", g.Ref(), g.Failed)
	}
	return nil
}

// leftover names a group cleanup leaves behind, with what goes with it:
// "us-east-1: Auto Scaling group NAME (new; with its instances, ...)" or
// "us-east-1: ECS service NAME of cluster C (new; with its tasks, ...)".
func leftover(region string, group GroupRef, what string) string {
	with := "instances, launch template"
	if group.ECS() {
		with = "tasks, task definition"
	}
	return fmt.Sprintf("%s: %s (%s; with its %s, scaling policies and alarms)", region, groupNoun(group), what, with)
}

// groupNoun names a group for messages about it as it is: "Auto Scaling
// group NAME" or "ECS service NAME of cluster C".
func groupNoun(g GroupRef) string {
	if g.ECS() {
		return g.String()
	}
	return "Auto Scaling group " + g.Name
}

// cleanupBound is how long cleanup waits for groups to go away.
func cleanupBound(doc *elevator.Release) time.Duration { return max(doc.Timeout(), cleanupWait) }

// cleanUpSuccess deletes the old groups in every region and waits until
// they are gone. What it cannot delete after its retries, or what is still
// there after the wait, is named in the record's Leftovers.
func (e *Engine) cleanUpSuccess(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	var left collector
	err := e.each(ctx, r, doc.Regions, func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		var olds []GroupRef
		for _, sr := range rr.Services {
			for i := range sr.Old {
				olds = append(olds, oldRef(&sr.Old[i]))
			}
		}
		if doc.Tests != nil && len(doc.Tests.Smoke) > 0 {
			if err := e.dropTestTargetGroups(ctx, r, cl, rr, nil, &left); err != nil {
				return err
			}
		}
		if len(olds) == 0 {
			return nil
		}
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit})
		if err != nil {
			for _, ref := range olds {
				left.add("%s", leftover(rr.Region, ref, "old"))
			}
			return fmt.Errorf("find groups of %s in %s: %w", doc.App, doc.Orbit, err)
		}
		var errs []error
		for _, ref := range olds {
			g, ok := byName(groups, ref.Name)
			if !ok {
				continue
			}
			left.add("%s", leftover(rr.Region, g.Ref(), "old"))
			if g.Deleting {
				continue
			}
			if err := cl.DeleteGroup(ctx, g.Ref()); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("delete %s: %w", groupNoun(g.Ref()), err))
			}
		}
		return errors.Join(errs...)
	})
	return e.cleanedUp(r, left.sorted(), err)
}

// cleanedUp decides where cleanup goes: on to Unlock when nothing is left,
// again after a poll while groups are going away, or on to Unlock with
// what is left named once the wait runs out. An error carries what is
// left, for the state's catch to name once its attempts run out.
func (e *Engine) cleanedUp(r *Release, left []string, err error) (Outcome, error) {
	now := e.now()
	switch {
	case err != nil:
		return Outcome{}, &leftBehind{left: left, err: err}
	case len(left) > 0 && now.Sub(r.stateSince()) < cleanupBound(r.Doc):
		return requeue(e.c.Poll), nil
	case len(left) > 0:
		r.Rec.Leftovers = left
		r.Rec.Error = strings.TrimPrefix(r.Rec.Error+"; ", "; ") + fmt.Sprintf("%s: still there after %s", r.Rec.State, cleanupBound(r.Doc))
		if r.Rec.Failure == "" {
			r.Rec.Failure = elevator.FailureLeftBehind
		}
	}
	return goTo(elevator.StateUnlock), nil
}

// cleanUpFailure undoes a release in every region: old groups it took out
// of their target groups go back in (and it waits until they serve again),
// then the groups carrying the release's id are deleted (found by tag, so
// that a group made just before a crash is found too), with the launch
// templates, task definitions and alarms of the release that no group
// holds (see sweep),
// and it waits until they are gone.
func (e *Engine) cleanUpFailure(ctx context.Context, r *Release) (Outcome, error) {
	doc := r.Doc
	now := e.now()
	late := now.Sub(r.stateSince()) >= doc.Timeout()
	var left, waiting collector
	err := e.each(ctx, r, doc.Regions, func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		var errs []error
		var back []*elevator.ReleaseOldGroup
		for i := range rr.Services {
			for j := range rr.Services[i].Old {
				old := &rr.Services[i].Old[j]
				if old.Detached {
					err := cl.AttachTargetGroups(ctx, oldRef(old), old.TargetGroups)
					switch {
					case errors.Is(err, ErrNotFound):
						old.Detached = false
						r.note("%s: old %s is gone; nothing to put back", rr.Region, groupNoun(oldRef(old)))
					case err != nil:
						errs = append(errs, fmt.Errorf("attach %s to its target groups again: %w", groupNoun(oldRef(old)), err))
						left.add("%s: %s detached from its target groups %s", rr.Region, groupNoun(oldRef(old)), strings.Join(old.TargetGroups, ", "))
						continue
					default:
						old.Detached, old.Reattached = false, true
					}
				}
				if old.Reattached {
					back = append(back, old)
				}
			}
		}
		if len(errs) > 0 {
			// The new groups are all that serves: they stay.
			for _, sr := range rr.Services {
				left.add("%s", leftover(rr.Region, newRef(&sr), "new; kept serving while an old group is out of its target groups"))
			}
			return errors.Join(errs...)
		}
		groups, err := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit})
		if err != nil {
			for _, sr := range rr.Services {
				left.add("%s", leftover(rr.Region, newRef(&sr), "new"))
			}
			return fmt.Errorf("find groups of %s in %s: %w", doc.App, doc.Orbit, err)
		}
		if len(back) > 0 {
			serving, err := e.serving(ctx, cl, groups, back)
			if err != nil {
				return err
			}
			if !serving && !late {
				waiting.add("%s", rr.Region)
				for _, g := range groups {
					if g.ReleaseID() == doc.ID {
						left.add("%s", leftover(rr.Region, g.Ref(), "new"))
					}
				}
				return nil
			}
			if !serving {
				r.note("%s: old groups not all healthy again after %s; deleting the new groups anyway", rr.Region, doc.Timeout())
			}
			for _, old := range back {
				old.Reattached = false
			}
		}
		for _, g := range groups {
			if g.ReleaseID() != doc.ID {
				continue
			}
			left.add("%s", leftover(rr.Region, g.Ref(), "new"))
			if g.Deleting {
				continue
			}
			if err := cl.DeleteGroup(ctx, g.Ref()); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("delete %s: %w", groupNoun(g.Ref()), err))
			}
		}
		if err := e.sweep(ctx, r, cl, groups, &left); err != nil {
			errs = append(errs, err)
		}
		if err := e.dropTestTargetGroups(ctx, r, cl, rr, groups, &left); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	if len(waiting.sorted()) > 0 && err == nil {
		return requeue(e.c.Poll), nil
	}
	return e.cleanedUp(r, left.sorted(), err)
}

// sweep deletes what the release made in a region besides groups and
// that no group of it holds any more: launch templates, ECS task
// definitions and alarms, found by the release's tags and names (not through its groups, which a crash
// between a launch template and its group never made). What is still
// there is added to left. It names the release by its record, not its
// document.
func (e *Engine) sweep(ctx context.Context, r *Release, cl Cloud, groups []Group, left *collector) error {
	remains, err := cl.Remains(ctx, GroupFilter{App: r.Rec.App, Orbit: r.Rec.Orbit, ReleaseID: r.Rec.ID})
	if err != nil {
		return fmt.Errorf("find what release %s left: %w", r.Rec.ID, err)
	}
	var errs []error
	for _, x := range remains {
		if g, ok := byName(groups, x.Group); ok && g.ReleaseID() == r.Rec.ID {
			continue // deleted with its group (see DeleteGroup)
		}
		if err := cl.DeleteRemain(ctx, x); err != nil && !errors.Is(err, ErrNotFound) {
			left.add("%s: %s of release %s", cl.Region(), x, r.Rec.ID)
			errs = append(errs, fmt.Errorf("delete %s: %w", x, err))
		}
	}
	return errors.Join(errs...)
}

// serving reports whether every in-service instance of the old groups is
// healthy in each of their target groups again. An old ECS service was
// scaled to zero when it left its target groups (see
// Cloud.DetachTargetGroups): it serves again once as many tasks as it
// had (old.Desired) are healthy there.
func (e *Engine) serving(ctx context.Context, cl Cloud, groups []Group, olds []*elevator.ReleaseOldGroup) (bool, error) {
	for _, old := range olds {
		g, ok := byName(groups, old.Name)
		if !ok {
			continue
		}
		for _, tg := range old.TargetGroups {
			targets, err := cl.Targets(ctx, tg)
			if err != nil {
				return false, fmt.Errorf("target health of %s: %w", tg, err)
			}
			healthy := map[string]bool{}
			for _, t := range targets {
				healthy[t.InstanceID] = t.State == TargetHealthy
			}
			n := 0
			for _, in := range g.Instances {
				if in.Lifecycle == LifecycleInService && in.Healthy && !healthy[in.TargetID()] {
					return false, nil
				}
				if in.Lifecycle == LifecycleInService && in.Healthy {
					n++
				}
			}
			if g.Cluster != "" && n < old.Desired {
				return false, nil
			}
		}
	}
	return true, nil
}

// unlock releases the lock and ends the release (see ending). A lock that
// cannot be released is left to its lease by the state's catch.
func (e *Engine) unlock(ctx context.Context, r *Release) (Outcome, error) {
	if r.locked {
		err := e.locker(r).Release(ctx, r.lock)
		switch {
		case errors.Is(err, ErrLockLost):
			r.note("the lock had already been taken by another engine")
		case err != nil:
			return Outcome{}, fmt.Errorf("release the lock: %w", err)
		}
		r.locked = false
	}
	return goTo(ending(r)), nil
}

// ending is the end state of a release that unlocked: FailureDirty when
// cleanup left something behind, FailureClean when it failed, else
// Success.
func ending(r *Release) State {
	switch {
	case len(r.Rec.Leftovers) > 0:
		return elevator.StateFailureDirty
	case r.Rec.Failed:
		return elevator.StateFailureClean
	}
	return elevator.StateSuccess
}
