package manifest

import (
	"slices"

	"github.com/elevatorhq/elevator/internal/window"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

const pipelineBase = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n"

const pipelineApp = pipelineBase + `pipeline:
  stages:
    - orbit: test
      auto: true
    - name: staging
      orbits: [stage-eu, stage-us]
      bake: 30m
    - orbit: production
      approval:
        roles: [approver]
        principals: [arn:aws:iam::123456789012:role/release-*]
        expiry: 72h
        auto: safe-changes
      windows: [Mon-Thu 09:00-16:00 Europe/Berlin, Fri 09:00-12:00 UTC]
      freeze: [2026-12-24, 2026-12-31]
      outside: fail
`

func TestParseAppReadsThePipeline(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(pipelineApp), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	p := a.Pipeline
	if p == nil || len(p.Stages) != 3 {
		t.Fatalf("pipeline %+v", p)
	}
	test, staging, prod := p.Stages[0], p.Stages[1], p.Stages[2]
	if test.Name != "test" || !slices.Equal(test.Orbits, []string{"test"}) || !test.Auto || test.Approval != nil ||
		test.Outside != elevator.OutsideWait || test.Bake != 0 || test.Path != "pipeline.stages[0]" {
		t.Errorf("stage 1 %+v", test)
	}
	if staging.Name != "staging" || !slices.Equal(staging.Orbits, []string{"stage-eu", "stage-us"}) || staging.Auto || staging.Bake != 30*time.Minute {
		t.Errorf("stage 2 %+v", staging)
	}
	if prod.Name != "production" || prod.Outside != elevator.OutsideFail ||
		!slices.Equal(prod.Windows, []string{"Mon-Thu 09:00-16:00 Europe/Berlin", "Fri 09:00-12:00 UTC"}) ||
		!slices.Equal(prod.Freeze, []string{"2026-12-24", "2026-12-31"}) {
		t.Errorf("stage 3 %+v", prod)
	}
	if ap := prod.Approval; ap == nil || !slices.Equal(ap.Roles, []elevator.AccessRole{elevator.RoleApprover}) ||
		!slices.Equal(ap.Principals, []string{"arn:aws:iam::123456789012:role/release-*"}) || ap.Expiry != 72*time.Hour || ap.Auto != elevator.ApproveSafeChanges {
		t.Errorf("approval %+v", prod.Approval)
	}
	if p.Stage("staging") != &p.Stages[1] || p.Stage("stage-eu") != nil {
		t.Errorf("Stage finds the wrong stage")
	}
}

func TestParseAppDefaultsAnApprovalExpiry(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(pipelineBase+"pipeline:\n  stages:\n    - {orbit: prod, approval: {roles: [admin]}}\n"), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if got := a.Pipeline.Stages[0].Approval.Expiry; got != 7*24*time.Hour {
		t.Errorf("expiry %s, want 7 days", got)
	}
}

func TestParseAppWithoutAPipelineHasNone(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(pipelineBase), "")
	if err != nil || a.Pipeline != nil {
		t.Fatalf("ParseApp = %+v, %v; want no pipeline", a, err)
	}
}

func TestParseAppRejectsBadPipelines(t *testing.T) {
	stages := func(lines ...string) string {
		return pipelineBase + "pipeline:\n  stages:\n" + strings.Join(lines, "\n") + "\n"
	}
	tests := []struct {
		name, src string
		want      []string
	}{
		{"an orbit in two stages", stages("    - orbit: test", "    - {name: prod, orbits: [eu, test]}"),
			[]string{`app.yml:8:33: pipeline.stages[1].orbits[1]: "test": is listed twice, in pipeline.stages[0] too; an orbit is in one stage`}},
		{"a stage name used twice", stages("    - orbit: test", "    - {name: test, orbit: prod}"),
			[]string{`app.yml:8:7: pipeline.stages[1]: "test": is the name of pipeline.stages[0] too; each stage needs its own name`}},
		{"an approval role that does not exist", stages("    - orbit: prod", "      approval: {roles: [approver, release-manager]}"),
			[]string{`app.yml:8:36: pipeline.stages[0].approval.roles[1]: "release-manager": no such role; roles are viewer, deployer, approver, admin`}},
		{"an approval principal that is not an ARN", stages("    - {orbit: prod, approval: {principals: [email:bob@example.com]}}"),
			[]string{`app.yml:7:45: pipeline.stages[0].approval.principals[0]: "email:bob@example.com": not an IAM or STS ARN`}},
		{"an approval naming nobody", stages("    - {orbit: prod, approval: {expiry: 1h}}"),
			[]string{`app.yml:7:31: pipeline.stages[0].approval: say who may approve`}},
		{"an unknown auto-approval policy", stages("    - {orbit: prod, approval: {roles: [admin], auto: everything}}"),
			[]string{`app.yml:7:54: pipeline.stages[0].approval.auto: "everything": must be one of: safe-changes`}},
		{"an approval expiring after 90 days", stages("    - {orbit: prod, approval: {roles: [admin], expiry: 2400h}}"),
			[]string{`app.yml:7:56: pipeline.stages[0].approval.expiry: "2400h": must be between 1m and 2160h`}},
		{"an unparseable window", stages("    - orbit: prod", "      windows: [Mon-Thu 9-16 Europe/Berlin]"),
			[]string{`app.yml:8:17: pipeline.stages[0].windows[0]: "Mon-Thu 9-16 Europe/Berlin": time "9": want HH:MM`}},
		{"an unknown time zone", stages("    - orbit: prod", "      windows:", "        - Mon-Thu 09:00-16:00 Europe/Atlantis"),
			[]string{`app.yml:9:11: pipeline.stages[0].windows[0]: "Mon-Thu 09:00-16:00 Europe/Atlantis": time zone "Europe/Atlantis": not an IANA time zone`}},
		{"a freeze date that is no date", stages("    - orbit: prod", "      windows: [Mon 09:00-10:00 UTC]", "      freeze: [2026-02-30]"),
			[]string{`app.yml:9:16: pipeline.stages[0].freeze[0]: "2026-02-30": date "2026-02-30": want YYYY-MM-DD`}},
		{"freeze dates without a window", stages("    - orbit: prod", "      freeze: [2026-12-24]"),
			[]string{`app.yml:8:7: pipeline.stages[0].freeze: freeze dates are days of a window's time zone`}},
		{"a stage without an orbit", stages("    - {auto: true}"),
			[]string{`app.yml:7:7: pipeline.stages[0]: a stage needs orbit: NAME`}},
		{"a stage with orbit and orbits", stages("    - {orbit: a, orbits: [b]}"),
			[]string{`pipeline.stages[0].orbits: a stage names its orbit (orbit) or its parallel orbits (orbits), not both`}},
		{"a stage of several orbits without a name", stages("    - {orbits: [a, b]}"),
			[]string{`pipeline.stages[0].orbits: a stage of several orbits needs a name`}},
		{"an outside that is neither wait nor fail", stages("    - {orbit: a, outside: skip}"),
			[]string{`pipeline.stages[0].outside: "skip": must be one of: wait, fail`}},
		{"a pipeline in an orbit's override", pipelineBase + "orbits:\n  prod:\n    pipeline: {stages: [{orbit: prod}]}\n",
			[]string{`orbits.prod.pipeline`}},
		{"no stages", pipelineBase + "pipeline: {stages: []}\n",
			[]string{`pipeline.stages`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApp("app.yml", []byte(tt.src), "")
			if err == nil {
				t.Fatal("ParseApp accepted it")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
				}
			}
		})
	}
}

func TestCheckPipelineAgainstTheOrbits(t *testing.T) {
	const src = pipelineBase + `pipeline:
  stages:
    - orbit: test
    - orbit: prod
      approval: {roles: [approver]}
    - {name: more, orbits: [prod-us, prodd]}
`
	a, err := ParseApp("app.yml", []byte(src), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	approver := elevator.AccessRule{Role: elevator.RoleApprover, Principals: []string{"arn:aws:iam::123456789012:role/ops"}}
	otherApp := elevator.AccessRule{Role: elevator.RoleAdmin, Principals: []string{"arn:aws:iam::123456789012:role/ops"}, Apps: []string{"blog"}}
	deployer := elevator.AccessRule{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::123456789012:role/ci"}}
	for _, c := range []struct {
		name   string
		orbits map[string]*elevator.Orbit
		want   []string // "" when it passes
	}{
		{"every orbit given, prod grants approver", map[string]*elevator.Orbit{
			"test": {}, "prod": {Access: []elevator.AccessRule{deployer, approver}}, "prod-us": {}, "prodd": {},
		}, nil},
		{"an admin rule covers approver", map[string]*elevator.Orbit{
			"test": {}, "prod": {Access: []elevator.AccessRule{{Role: elevator.RoleAdmin, Principals: approver.Principals, Apps: []string{"shop"}}}}, "prod-us": {}, "prodd": {},
		}, nil},
		{"a misspelt orbit", map[string]*elevator.Orbit{
			"test": {}, "prod": {Access: []elevator.AccessRule{approver}}, "prod-us": {},
		}, []string{`app.yml:10:38: pipeline.stages[2].orbits[1]: "prodd": no such orbit; the orbits given are prod, prod-us, test`}},
		{"a stage's orbit missing", map[string]*elevator.Orbit{
			"prod": {Access: []elevator.AccessRule{approver}}, "prod-us": {}, "prodd": {},
		}, []string{`app.yml:7:14: pipeline.stages[0].orbit: "test": no such orbit`}},
		{"nobody holds the approving role in the orbit", map[string]*elevator.Orbit{
			"test": {}, "prod": {Access: []elevator.AccessRule{deployer, otherApp}}, "prod-us": {}, "prodd": {},
		}, []string{`app.yml:9:25: pipeline.stages[1].approval.roles: orbit prod grants none of these roles (or one above them) in app shop to anyone`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPipeline(a, c.orbits)
			if c.want == nil {
				if err != nil {
					t.Fatalf("CheckPipeline: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckPipeline passed it")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
				}
			}
		})
	}
	if err := CheckPipeline(&elevator.App{}, nil); err != nil {
		t.Errorf("CheckPipeline without a pipeline: %v", err)
	}
}

// checkPipelineInvariants fails t unless a pipeline ParseApp accepted has
// stages with names and orbits, each orbit and name once, approvals that
// name someone and expire within bounds, and windows that parse.
func checkPipelineInvariants(t *testing.T, p *elevator.Pipeline) {
	t.Helper()
	if len(p.Stages) == 0 {
		t.Fatalf("accepted a pipeline without stages")
	}
	names, orbits := map[string]bool{}, map[string]bool{}
	for _, s := range p.Stages {
		if s.Name == "" || names[s.Name] || len(s.Orbits) == 0 {
			t.Fatalf("accepted stage %+v", s)
		}
		names[s.Name] = true
		for _, o := range s.Orbits {
			if orbits[o] {
				t.Fatalf("accepted orbit %s in two stages", o)
			}
			orbits[o] = true
		}
		if ap := s.Approval; ap != nil && (len(ap.Roles)+len(ap.Principals) == 0 || ap.Expiry < time.Minute || ap.Expiry > MaxApprovalExpiry) {
			t.Fatalf("accepted approval %+v", ap)
		}
		for _, w := range s.Windows {
			if _, err := window.Parse(w); err != nil {
				t.Fatalf("accepted window %q: %v", w, err)
			}
		}
		if s.Outside != elevator.OutsideWait && s.Outside != elevator.OutsideFail {
			t.Fatalf("accepted outside %q", s.Outside)
		}
	}
}

func TestAPipelineStagePromotesImagesToAStageOfEachOfItsOrbits(t *testing.T) {
	const src = pipelineBase + `pipeline:
  stages:
    - orbit: test
      promote_images: tested
    - {name: prod, orbits: [prod-us, prod-eu]}
`
	a, err := ParseApp("app.yml", []byte(src), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if got := a.Pipeline.Stages[0].PromoteImages; got != "tested" {
		t.Fatalf("PromoteImages %q, want tested", got)
	}
	if got := a.Pipeline.Stages[1].PromoteImages; got != "" {
		t.Errorf("a stage without promote_images promotes to %q", got)
	}
	orbits := map[string]*elevator.Orbit{"test": {}, "prod-us": {}, "prod-eu": {}}
	if err := CheckPipeline(a, orbits); err != nil {
		t.Errorf("an orbit with the default stages: %v", err)
	}
	orbits["test"] = &elevator.Orbit{Images: elevator.ImageSettings{Stages: []string{"new", "qa", "live"}}}
	err = CheckPipeline(a, orbits)
	if want := `app.yml:8:23: pipeline.stages[0].promote_images: "tested": not an image stage of orbit test; its stages are new, qa, live`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to contain %s", err, want)
	}
	_, err = ParseApp("app.yml", []byte(pipelineBase+"pipeline:\n  stages:\n    - {orbit: test, promote_images: Tested}\n"), "")
	if want := `pipeline.stages[0].promote_images: "Tested": not allowed`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to contain %s", err, want)
	}
}
