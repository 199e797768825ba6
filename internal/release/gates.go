package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/elevatorhq/elevator"
)

// The gates (see elevator.ReleaseTests) add four states to the table:
//
//	CheckHealthy -> SmokeTest -> CutOver   new groups on a per-release test
//	                                       target group behind the load
//	                                       balancer's test listener only
//	CutOver -> IntegrationTest -> Bake -> CleanUpSuccess
//	                                       old groups out of their target
//	                                       groups, alive, until the bake ends
//	SmokeTest -> CleanUpFailure            production never saw the new groups
//	IntegrationTest, Bake -> RollBack -> CleanUpFailure
//	                                       old groups back in at once; the
//	                                       new ones leave once they serve
//
// One alarm watch spans SmokeTest, CutOver, IntegrationTest and Bake:
// every change of a watched alarm's state is written to the record, and
// an alarm in ALARM (or without data, when missing data breaches) fails
// the state it is seen in.

// maxAlarmChanges is how many alarm changes a record keeps: the latest.
const maxAlarmChanges = 200

// TestTargetGroupName is the name of the per-release test target group of
// a service: "t-", the release's short id (the part after its last '-')
// and the service, such as t-9f86d081-web. ELBv2 wants 1 to 32 letters,
// digits and hyphens, neither first nor last a hyphen: a name that would
// break that rule (a service whose name ends with '-', a longer id; any
// character other than those is first made a '-') is
// cut to 23 characters, its trailing hyphens dropped, and ends with '-'
// and the first 8 hex digits of the SHA-256 of the id and the service, so
// that two services of a release still have two names.
func TestTargetGroupName(releaseID, service string) string {
	short := releaseID[strings.LastIndexByte(releaseID, '-')+1:]
	name := "t-" + tgChars(short) + "-" + tgChars(service)
	if len(name) <= maxTargetGroupName && !strings.HasSuffix(name, "-") && short != "" && service != "" &&
		name == "t-"+short+"-"+service {
		return name
	}
	sum := sha256.Sum256([]byte(releaseID + "/" + service))
	name = strings.TrimRight(name[:min(len(name), maxTargetGroupName-9)], "-")
	return name + "-" + hex.EncodeToString(sum[:4])
}

// maxTargetGroupName is the longest name ELBv2 gives a target group.
const maxTargetGroupName = 32

// tgChars replaces what a target group name may not hold with '-'.
func tgChars(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, s)
}

// onTestListener says whether a service's new group is made on a test
// target group in region, behind its load balancer's test listener, to be
// smoke-tested before it sees production traffic.
func onTestListener(doc *elevator.Release, s *elevator.ReleaseService, region string) bool {
	pl := s.Placement(region)
	return doc.Tests != nil && len(doc.Tests.Smoke) > 0 && pl != nil && len(pl.TargetGroups) > 0 && pl.TestListener != ""
}

// testTargetGroup makes (or finds, after a crash) the service's test
// target group in a region, points the test listener at it, and records
// it; Deploy then makes the new group in it instead of the production
// target groups.
func (e *Engine) testTargetGroup(ctx context.Context, r *Release, cl Cloud, s *elevator.ReleaseService, sr *elevator.ReleaseServiceRecord, region string) (string, error) {
	doc := r.Doc
	pl := s.Placement(region)
	if sr.TestTargetGroup == "" {
		tags := map[string]string{elevator.TagApp: doc.App, elevator.TagOrbit: doc.Orbit, elevator.TagService: s.Name,
			elevator.TagRelease: doc.ID, elevator.TagManagedBy: elevator.ManagedBy}
		arn, err := cl.CreateTestTargetGroup(ctx, TestTargetGroupName(doc.ID, s.Name), pl.TargetGroups[0], tags)
		if err != nil {
			return "", fmt.Errorf("create test target group of %s: %w", s.Name, err)
		}
		sr.TestTargetGroup = arn
	}
	if err := cl.ForwardListener(ctx, pl.TestListener, sr.TestTargetGroup); err != nil {
		return "", fmt.Errorf("point test listener %s at %s: %w", pl.TestListener, sr.TestTargetGroup, err)
	}
	return sr.TestTargetGroup, nil
}

// healthTargetGroups are the target groups a new group must be healthy in:
// its test target group until cut-over attached it to production.
func healthTargetGroups(s *elevator.ReleaseService, sr *elevator.ReleaseServiceRecord, region string) []string {
	if sr.TestTargetGroup != "" && !sr.Attached {
		return []string{sr.TestTargetGroup}
	}
	return s.Placement(region).TargetGroups
}

// afterHealthy is where CheckHealthy goes once the new groups of the wave
// are at full size: SmokeTest when there are smoke tests, else CutOver.
func afterHealthy(doc *elevator.Release) State {
	if doc.Tests != nil && len(doc.Tests.Smoke) > 0 {
		return elevator.StateSmokeTest
	}
	return elevator.StateCutOver
}

// afterCutOver is where the last cut-over goes: the integration tests,
// the bake, or cleanup.
func afterCutOver(doc *elevator.Release) State {
	switch t := doc.Tests; {
	case t != nil && len(t.Integration) > 0:
		return elevator.StateIntegrationTest
	case t.Gated():
		return elevator.StateBake
	}
	return elevator.StateCleanUpSuccess
}

// watchAlarms looks at the watched alarms in every region of the release,
// writes each change of state to the record (and says whether one
// changed, for the step to have the record stored before it waits), and
// returns a permanent FailureAlarm error naming the alarms that breach.
func (e *Engine) watchAlarms(ctx context.Context, r *Release) (bool, error) {
	t := r.Doc.Tests
	if t == nil || len(t.Alarms) == 0 {
		return false, nil
	}
	before := len(r.Rec.Alarms)
	last := lastChange(r.Rec.Alarms)
	now := e.now()
	var breach collector
	err := e.each(ctx, r, r.Doc.Regions, func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		states, err := cl.AlarmStates(ctx, t.Alarms)
		if err != nil {
			return fmt.Errorf("read alarms: %w", err)
		}
		for _, name := range t.Alarms {
			st := AlarmState{Name: name, State: elevator.AlarmMissing, Reason: "no such alarm in the region"}
			for _, s := range states {
				if s.Name == name {
					st = s
				}
			}
			r.alarmSeen(now, rr.Region, st)
			if elevator.Breaching(st.State, t.MissingData) {
				breach.add("alarm %s in %s is %s (%s)", name, rr.Region, st.State, st.Reason)
			}
		}
		return nil
	})
	changed := len(r.Rec.Alarms) != before || lastChange(r.Rec.Alarms) != last
	if err != nil {
		return changed, err
	}
	if b := breach.sorted(); len(b) > 0 {
		return changed, fail(elevator.FailureAlarm, "%s", strings.Join(b, "; "))
	}
	return changed, nil
}

// lastChange is the latest alarm change of a record, or the zero one.
func lastChange(c []elevator.ReleaseAlarmChange) elevator.ReleaseAlarmChange {
	if len(c) == 0 {
		return elevator.ReleaseAlarmChange{}
	}
	return c[len(c)-1]
}

// alarmSeen writes a watched alarm's state to the record when it changed.
func (r *Release) alarmSeen(at time.Time, region string, st AlarmState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := ""
	for i := len(r.Rec.Alarms) - 1; i >= 0; i-- {
		if c := r.Rec.Alarms[i]; c.Region == region && c.Name == st.Name {
			last = c.To
			break
		}
	}
	if last == st.State {
		return
	}
	r.Rec.Alarms = append(r.Rec.Alarms, elevator.ReleaseAlarmChange{At: at, Region: region, Name: st.Name, From: last, To: st.State, Reason: st.Reason})
	if n := len(r.Rec.Alarms); n > maxAlarmChanges {
		r.Rec.Alarms = slices.Clone(r.Rec.Alarms[n-maxAlarmChanges:])
	}
}

// smokeTest runs the smoke tests against the new groups of the wave on
// the test listener, after saying that they are ready there (green is
// ready). Production target groups have not seen the new groups.
func (e *Engine) smokeTest(ctx context.Context, r *Release) (Outcome, error) {
	changed, err := e.watchAlarms(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	e.greenReady(ctx, r)
	done, out, err := e.runTests(ctx, r, elevator.PhaseSmoke, r.Doc.Tests.Smoke, r.active())
	if err != nil || !done {
		out.Save = out.Save || changed
		return out, err
	}
	return goTo(elevator.StateCutOver), nil
}

// integrationTest runs the integration tests against the new groups
// serving, with the old groups alive out of their target groups.
func (e *Engine) integrationTest(ctx context.Context, r *Release) (Outcome, error) {
	changed, err := e.watchAlarms(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	done, out, err := e.runTests(ctx, r, elevator.PhaseIntegration, r.Doc.Tests.Integration, r.Doc.Regions)
	if err != nil || !done {
		out.Save = out.Save || changed
		return out, err
	}
	if r.Doc.Tests.BakeSeconds > 0 || len(r.Doc.Tests.Alarms) > 0 {
		return goTo(elevator.StateBake), nil
	}
	return goTo(elevator.StateCleanUpSuccess), nil
}

// bake watches the alarms for the bake time, every poll interval, with the
// old groups alive out of their target groups.
func (e *Engine) bake(ctx context.Context, r *Release) (Outcome, error) {
	changed, err := e.watchAlarms(ctx, r)
	if err != nil {
		return Outcome{}, err
	}
	left := time.Duration(r.Doc.Tests.BakeSeconds)*time.Second - e.now().Sub(r.stateSince())
	if left > 0 {
		// Waits are jittered down to half: a floor keeps the last ones
		// from shrinking without end.
		return Outcome{After: max(min(left, e.c.Poll), time.Second), Save: changed}, nil
	}
	return goTo(elevator.StateCleanUpSuccess), nil
}

// rollBack puts the old groups back in their target groups at once, in
// every region, and leaves the new groups in them: the old groups' targets
// are not healthy the moment they are attached (their health checks must
// pass first), and taking the new groups out now would leave the target
// groups with no healthy target. CleanUpFailure waits until the old
// groups serve, and only then deletes the new groups.
func (e *Engine) rollBack(ctx context.Context, r *Release) (Outcome, error) {
	err := e.each(ctx, r, r.Doc.Regions, func(ctx context.Context, cl Cloud, rr *elevator.ReleaseRegionRecord) error {
		var errs []error
		for i := range rr.Services {
			sr := &rr.Services[i]
			for j := range sr.Old {
				old := &sr.Old[j]
				if !old.Detached {
					continue
				}
				err := cl.AttachTargetGroups(ctx, oldRef(old), old.TargetGroups)
				switch {
				case errors.Is(err, ErrNotFound):
					old.Detached = false
					r.note("%s: old %s is gone; nothing to put back", rr.Region, groupNoun(oldRef(old)))
				case err != nil:
					errs = append(errs, fmt.Errorf("attach %s to its target groups again: %w", groupNoun(oldRef(old)), err))
				default:
					old.Detached, old.Reattached = false, true
				}
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return Outcome{}, err
	}
	return goTo(elevator.StateCleanUpFailure), nil
}

// greenReady publishes, once per region of the wave, that the new groups
// answer on the test listener: to the region's events topic and the
// record. A topic that cannot be told is noted, not fatal.
func (e *Engine) greenReady(ctx context.Context, r *Release) {
	doc := r.Doc
	now := e.now()
	for _, reg := range r.active() {
		rr := r.region(reg)
		if rr == nil || !rr.GreenReadyAt.IsZero() {
			continue
		}
		rr.GreenReadyAt = now
		if r.Rec.GreenReadyAt.IsZero() {
			r.Rec.GreenReadyAt = now
		}
		var topic, url string
		for _, s := range doc.Services {
			if pl := s.Placement(reg); pl != nil {
				topic = cmp(topic, pl.Events)
				url = cmp(url, pl.TestURL)
			}
		}
		if topic == "" {
			continue
		}
		msg, _ := json.Marshal(map[string]string{"event": "green_ready", "release": doc.ID, "app": doc.App, "orbit": doc.Orbit,
			"version": doc.Version, "region": reg, "test_url": url, "at": now.Format(time.RFC3339)})
		if err := e.cloud(r, reg).Publish(ctx, topic, fmt.Sprintf("%s %s in %s: green is ready", doc.App, doc.Version, doc.Orbit), string(msg)); err != nil {
			r.note("%s: could not publish green is ready to %s: %v", reg, topic, err)
		}
	}
}

func cmp(have, v string) string {
	if have != "" {
		return have
	}
	return v
}

// runTests runs the tests of a phase in regions, one try of each test
// that has neither passed nor used its tries in the current round, and
// says whether all passed. A failed try with tries left comes again after
// a poll interval. When a test has used its tries, the phase fails at
// once, or, with tests.retry_seconds, waits that long for `release
// retry-tests`, which starts a new round of the tests that did not pass.
func (e *Engine) runTests(ctx context.Context, r *Release, phase string, tests []elevator.ReleaseTest, regions []string) (bool, Outcome, error) {
	doc, now := r.Doc, e.now()
	since := r.stateSince()
	if !r.Rec.TestsFailedAt.IsZero() {
		next := r.Rec.TestRound + 1
		req, err := e.store(r).TestRetry(ctx, r.Rec.ID, next)
		if err != nil {
			return false, Outcome{}, fmt.Errorf("look for a retry of the tests: %w", err)
		}
		if req == nil {
			if wait := time.Duration(doc.Tests.RetrySeconds) * time.Second; now.Sub(r.Rec.TestsFailedAt) < wait {
				return false, requeue(e.c.Poll), nil
			}
			return false, Outcome{}, fail(elevator.FailureTest, "%s tests failed and were not retried within %ds: %s",
				phase, doc.Tests.RetrySeconds, strings.Join(r.failedTests(phase, since), "; "))
		}
		r.Rec.TestRound, r.Rec.TestsFailedAt = next, time.Time{}
		r.note("%s tests retried (round %d) by %s", phase, next, req.By)
	}
	if now.Sub(r.roundSince(phase, since, now)) >= doc.Timeout() {
		return false, Outcome{}, fail(elevator.FailureTest, "%s tests did not all pass within %s: %s", phase, doc.Timeout(), strings.Join(r.failedTests(phase, since), "; "))
	}
	pending, failed, ran := false, false, false
	for _, reg := range regions {
		for _, t := range tests {
			passed, tries := r.tries(phase, t.Name, reg, since)
			if passed {
				continue
			}
			if tries > t.Retries {
				failed = true
				continue
			}
			res := e.test(ctx, r, phase, t, reg)
			ran = true
			res.Attempt = tries + 1
			r.addResult(res)
			switch {
			case res.Passed:
			case tries+1 <= t.Retries:
				pending = true
			default:
				failed = true
			}
		}
	}
	switch {
	case failed && !pending && doc.Tests.RetrySeconds == 0:
		return false, Outcome{}, fail(elevator.FailureTest, "%s tests failed: %s", phase, strings.Join(r.failedTests(phase, since), "; "))
	case failed && !pending:
		r.Rec.TestsFailedAt = now
		r.note("%s tests failed; waiting %ds for `elevator release retry-tests %s`", phase, doc.Tests.RetrySeconds, r.Rec.ID)
		return false, Outcome{After: e.c.Poll, Save: true}, nil
	case pending || failed:
		return false, Outcome{After: e.c.Poll, Save: ran}, nil
	}
	return true, Outcome{}, nil
}

// roundSince is when the current round of a phase's tests began: the
// phase's start, or the first try after `release retry-tests` (now when
// none ran yet), so that each round has the release's timeout.
func (r *Release) roundSince(phase string, since, now time.Time) time.Time {
	if r.Rec.TestRound == 0 {
		return since
	}
	for _, x := range r.Rec.Tests {
		if x.Phase == phase && x.Round == r.Rec.TestRound && !x.At.Before(since) {
			return x.At
		}
	}
	return now
}

// tries says whether a test passed in a region since the phase began, and
// how many tries it had in the current round.
func (r *Release) tries(phase, name, region string, since time.Time) (passed bool, n int) {
	for _, x := range r.Rec.Tests {
		if x.Phase != phase || x.Name != name || x.Region != region || x.At.Before(since) {
			continue
		}
		passed = passed || x.Passed
		if x.Round == r.Rec.TestRound {
			n++
		}
	}
	return passed, n
}

// failedTests describes the last failed try of each test of a phase that
// has not passed.
func (r *Release) failedTests(phase string, since time.Time) []string {
	last := map[string]elevator.ReleaseTestResult{}
	var order []string
	for _, x := range r.Rec.Tests {
		if x.Phase != phase || x.At.Before(since) {
			continue
		}
		k := x.Region + "/" + x.Name
		if _, ok := last[k]; !ok {
			order = append(order, k)
		}
		if !last[k].Passed {
			last[k] = x
		}
	}
	var out []string
	for _, k := range order {
		if x := last[k]; !x.Passed {
			out = append(out, fmt.Sprintf("%s in %s: %s (try %d of round %d; output in the record's tests)", x.Name, x.Region, x.Error, x.Attempt, x.Round))
		}
	}
	return out
}

func (r *Release) addResult(x elevator.ReleaseTestResult) {
	r.Rec.Tests = append(r.Rec.Tests, x)
	if n := len(r.Rec.Tests); n > elevator.MaxTestResults {
		r.Rec.Tests = slices.Clone(r.Rec.Tests[n-elevator.MaxTestResults:])
	}
}

// test runs one try of a test in a region and returns its result, its
// output capped and without secret values.
func (e *Engine) test(ctx context.Context, r *Release, phase string, t elevator.ReleaseTest, region string) elevator.ReleaseTestResult {
	start := e.now()
	out := RunTest(ctx, e.cloud(r, region), e.c.Tester, r.Doc, phase, t, region)
	res := elevator.ReleaseTestResult{Phase: phase, Name: t.Name, Region: region, Round: r.Rec.TestRound, Passed: out.Passed,
		At: start, Seconds: e.now().Sub(start).Seconds(), Output: out.Output, Error: out.Error}
	if len(res.Error) > 512 {
		res.Error = res.Error[:512] + "..."
	}
	return res
}

// RunTest runs one try of a test of a release (its document doc) in a
// region, with cl the region's cloud and tester the runner of http and
// command tests (LocalTester when nil): against the service's URL (or
// its test listener), with the release's facts as environment; an ssm
// test on an InService instance of the release's service. Its Output is
// capped and, like Error, holds no secret value. The engine runs its
// gates with it, and so does `elevator chaos --then-test`.
func RunTest(ctx context.Context, cl Cloud, tester Tester, doc *elevator.Release, phase string, t elevator.ReleaseTest, region string) TestOutcome {
	env := TestEnv{Facts: map[string]string{"RELEASE_ID": doc.ID, "APP": doc.App, "ORBIT": doc.Orbit, "VERSION": doc.Version,
		"REGION": region, "PHASE": phase}}
	target := t.Target
	if target == "" && phase == elevator.PhaseSmoke {
		target = elevator.TargetTestListener
	} else if target == "" {
		target = elevator.TargetServiceURL
	}
	var instances map[string][]string // service -> instance ids in service
	var out TestOutcome
	groups, gerr := cl.Groups(ctx, GroupFilter{App: doc.App, Orbit: doc.Orbit, ReleaseID: doc.ID})
	if gerr == nil {
		instances = map[string][]string{}
		for _, g := range groups {
			for _, in := range g.Instances {
				if in.Lifecycle == LifecycleInService {
					instances[g.Tags[elevator.TagService]] = append(instances[g.Tags[elevator.TagService]], in.ID)
					env.Instances = append(env.Instances, in.ID)
				}
			}
		}
	}
	for _, s := range doc.Services {
		if pl := s.Placement(region); pl != nil {
			if target == elevator.TargetTestListener {
				env.URL = cmp(env.URL, pl.TestURL)
			} else {
				env.URL = cmp(env.URL, pl.ServiceURL)
			}
		}
	}
	env.Facts["TEST_URL"] = env.URL
	env.Facts["INSTANCES"] = strings.Join(env.Instances, ",")
	switch {
	case t.Kind == elevator.TestSSM && gerr != nil:
		out = TestOutcome{Error: fmt.Sprintf("find the new instances: %v", gerr)}
	case t.Kind == elevator.TestSSM:
		svc := t.Service
		if svc == "" {
			svc = doc.Services[0].Name
		}
		if ds := doc.Service(svc); ds != nil && ds.ECS != nil {
			out = TestOutcome{Error: fmt.Sprintf("service %s runs as ECS tasks, which SSM Run Command cannot reach: an ssm test needs instances (use an http or command test)", svc)}
		} else if ids := instances[svc]; len(ids) == 0 {
			out = TestOutcome{Error: fmt.Sprintf("no new instance of %s in service", svc)}
		} else {
			res, err := cl.RunCommand(ctx, ids[0], t.Command, t.Timeout())
			// SSM cuts each stream before the engine sees it: each is
			// redacted on its own, knowing where it was cut.
			secrets := secretsOf(t, os.Environ())
			out = TestOutcome{Passed: err == nil && res.OK, Output: fmt.Sprintf("on %s: %s%s", ids[0],
				redacted(TestOutcome{Output: res.Stdout, Cut: res.StdoutCut}, secrets), redacted(TestOutcome{Output: res.Stderr, Cut: res.StderrCut}, secrets))}
			if err != nil {
				out.Error = err.Error()
			} else if !res.OK {
				out.Error = "command " + res.Status
			}
		}
	default:
		if tester == nil {
			tester = LocalTester{}
		}
		out = tester.Test(ctx, t, env)
	}
	secrets := secretsOf(t, os.Environ())
	return TestOutcome{Passed: out.Passed, Output: elevator.CapOutput(redacted(out, secrets)), Error: elevator.Redact(out.Error, secrets)}
}

// redacted is a test's output without secret values, before it is
// capped: cutting first could leave the beginning of a secret that
// straddled the cut, which Redact would no longer recognise.
func redacted(out TestOutcome, secrets []string) string {
	if out.Cut {
		return elevator.RedactCut(out.Output, secrets)
	}
	return elevator.Redact(out.Output, secrets)
}

// dropTestTargetGroups points the test listeners of a region back at
// nothing and deletes the region's test target groups, once no group of
// the release is in them (gone is what is named). What remains is added to
// left.
func (e *Engine) dropTestTargetGroups(ctx context.Context, r *Release, cl Cloud, rr *elevator.ReleaseRegionRecord, groups []Group, left *collector) error {
	var errs []error
	for i := range rr.Services {
		sr := &rr.Services[i]
		var s *elevator.ReleaseService
		if r.Doc != nil {
			s = r.Doc.Service(sr.Service)
		}
		// A test target group made just before a crash is not in the
		// record: look for it by name whenever the release makes one.
		if sr.TestTargetGroupGone || (sr.TestTargetGroup == "" && (s == nil || !onTestListener(r.Doc, s, rr.Region))) {
			continue
		}
		if s != nil {
			if pl := s.Placement(rr.Region); pl != nil && pl.TestListener != "" {
				if err := cl.ForwardListener(ctx, pl.TestListener, ""); err != nil && !errors.Is(err, ErrNotFound) {
					errs = append(errs, fmt.Errorf("point test listener %s back at nothing: %w", pl.TestListener, err))
				}
			}
		}
		name := TestTargetGroupName(r.Rec.ID, sr.Service)
		if g, ok := byName(groups, sr.Group); ok && sr.TestTargetGroup != "" && slices.Contains(g.TargetGroups, sr.TestTargetGroup) {
			if err := cl.DetachTargetGroups(ctx, newRef(sr), []string{sr.TestTargetGroup}); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("detach %s from test target group: %w", groupNoun(newRef(sr)), err))
			}
		}
		if err := cl.DeleteTestTargetGroup(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
			left.add("%s: test target group %s", rr.Region, name)
			errs = append(errs, fmt.Errorf("delete test target group %s: %w", name, err))
			continue
		}
		sr.TestTargetGroup, sr.TestTargetGroupGone = "", true
	}
	return errors.Join(errs...)
}
