package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/chaos"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// chaosTest is the result of one integration test after a chaos run.
type chaosTest struct {
	App     string `json:"app"`
	Release string `json:"release"`
	Region  string `json:"region"`
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Output  string `json:"output,omitempty"`
	Error   string `json:"error,omitempty"`
}

// testsOf reads the document of each app's current release and returns
// it; an app whose current release has no integration tests is refused
// (EINVALID) before anything changes: --then-test would prove nothing.
func (r *chaosRun) testsOf(ctx context.Context, apps []string) (map[string]*elevator.Release, error) {
	docs := map[string]*elevator.Release{}
	for _, app := range apps {
		cur, err := r.currentRelease(ctx, app)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			continue
		}
		body, _, err := r.backend.Store.Release(ctx, cur.ID)
		if err != nil {
			return nil, fmt.Errorf("read release %s of %s: %w", cur.ID, app, err)
		}
		doc, err := elevator.ParseRelease(body)
		if err != nil {
			return nil, fmt.Errorf("read release %s of %s: %w", cur.ID, app, err)
		}
		if doc.Tests == nil || len(doc.Tests.Integration) == 0 {
			return nil, elevator.Errorf(elevator.EINVALID, "--then-test: release %s, the current one of %s in orbit %s, has no integration tests (tests.integration in its manifest); nothing was terminated", cur.ID, app, r.orbit.Name)
		}
		docs[app] = doc
	}
	return docs, nil
}

// waitReplaced waits, up to --test-wait, until every group has at least
// its desired capacity InService and healthy again, and none of the
// instances terminated (gone) is in it any more: Auto Scaling's answers
// lag, and a group counting an instance on its way out is not whole.
func (r *chaosRun) waitReplaced(ctx context.Context, groups []chaos.Group, gone map[string]bool) error {
	deadline := r.now().Add(r.testWait)
	for _, g := range groups {
		for {
			now, err := r.describeGroup(ctx, g.Region, g.Name)
			if err != nil {
				return err
			}
			in := len(now.InService())
			var left []string
			for _, i := range now.Instances {
				if gone[i.ID] {
					left = append(left, i.ID)
				}
			}
			if in >= now.Desired && len(left) == 0 {
				r.progress.Note(g.Region, fmt.Sprintf("%s: %d of %d InService again", g.Name, in, now.Desired))
				break
			}
			state := fmt.Sprintf("%d of %d InService", in, now.Desired)
			if len(left) > 0 {
				state += ", terminated " + strings.Join(left, " ") + " still in it"
			}
			if !r.now().Before(deadline) {
				return elevator.Errorf(elevator.EFAILED, "--then-test: group %s in %s has %s after %s (--test-wait); the tests did not run", g.Name, g.Region, state, r.testWait)
			}
			r.progress.Note(g.Region, fmt.Sprintf("%s: %s, waiting for the replacements", g.Name, state))
			if err := r.sleep(ctx, min(5*r.pollUnit(), deadline.Sub(r.now()))); err != nil {
				return err
			}
		}
	}
	return nil
}

// describeGroup reads a group (a fake in tests).
func (r *chaosRun) describeGroup(ctx context.Context, region, name string) (autoscaling.Group, error) {
	if r.describeFake != nil {
		return r.describeFake(ctx, region, name)
	}
	return r.groups[region].Group(ctx, name)
}

// runTests waits for the replacements, then runs the integration tests of
// each app's current release in each region where its groups lost
// instances, as the release engine runs them after a cut-over: against
// the service's URL, with the release's facts as environment; ssm tests
// on an InService instance of the service.
func (r *chaosRun) runTests(ctx context.Context, docs map[string]*elevator.Release, groups []chaos.Group, terminated []termination) ([]chaosTest, error) {
	gone := map[string]bool{}
	for _, t := range terminated {
		if t.Error == "" && t.Instance != "" {
			gone[t.Instance] = true
		}
	}
	if err := r.waitReplaced(ctx, groups, gone); err != nil {
		return nil, err
	}
	regions := map[string]map[string]bool{} // app -> regions
	for _, g := range groups {
		if regions[g.App] == nil {
			regions[g.App] = map[string]bool{}
		}
		regions[g.App][g.Region] = true
	}
	var out []chaosTest
	for _, app := range sortedApps(docs) {
		doc := docs[app]
		for _, region := range sortedApps(regions[app]) {
			cl := awsrelease.NewCloud(r.cfgs[region]).WithECS(r.orbit.ECS != nil)
			for _, t := range doc.Tests.Integration {
				r.progress.Note(region, fmt.Sprintf("%s: integration test %s", app, t.Name))
				// The engine's own runner: the same environment, and the
				// same secret values taken out of what it prints.
				o := release.RunTest(ctx, cl, r.tester, doc, elevator.PhaseIntegration, t, region)
				out = append(out, chaosTest{App: app, Release: doc.ID, Region: region, Name: t.Name, Passed: o.Passed, Output: o.Output, Error: o.Error})
			}
		}
	}
	r.progress.Done()
	return out, nil
}

// pollUnit is a second, or a tenth of one against the local emulator.
func (r *chaosRun) pollUnit() time.Duration {
	if r.configs.emulated() {
		return time.Second / 10
	}
	return time.Second
}

func printTests(w io.Writer, tests []chaosTest) {
	for _, t := range tests {
		verdict := "passed"
		if !t.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "test %-6s  %s  %s  %s (release %s)", verdict, t.Region, t.App, t.Name, t.Release)
		if t.Error != "" {
			fmt.Fprintf(w, ": %s", t.Error)
		}
		fmt.Fprintln(w)
	}
}

// testsFailed is an EFAILED error (exit 6) when a test failed.
func testsFailed(tests []chaosTest) error {
	var failed []string
	for _, t := range tests {
		if !t.Passed {
			failed = append(failed, t.App+" "+t.Name+" in "+t.Region)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return elevator.Errorf(elevator.EFAILED, "after chaos, %d integration tests failed: %s", len(failed), strings.Join(failed, ", "))
}
