package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/app"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/progress"
)

// stackReviewer makes what a stage's approver reviews — for every region
// of the orbit, the CloudFormation change set of the app's stack as the
// app compiles now, kept — and executes it once approved
// (pipeline.Reviewer). The command line and the deployer use it alike, so
// that a review made by one is the review the other keeps.
type stackReviewer struct {
	// app is the app merged for an orbit: from the manifest the
	// execution pinned.
	app func(orbit string) (*elevator.App, error)
	// env is the orbit, connected.
	env  func(ctx context.Context, orbit string) (*releaseEnv, error)
	poll time.Duration
	log  io.Writer
}

// cliReviewer is the reviewer of `pipeline start|resume`.
func cliReviewer(p *pipelineEnv) stackReviewer {
	return stackReviewer{app: p.stageApp, env: p.release, poll: p.pollInterval, log: p.stderr}
}

// targets compiles the app's stacks in an orbit, with their engines.
func (r stackReviewer) targets(ctx context.Context, orbitName string) (*app.Service, []apply.Target, error) {
	e, err := r.env(ctx, orbitName)
	if err != nil {
		return nil, nil, err
	}
	a, err := r.app(orbitName)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := e.configs.For(ctx, e.orbit.Regions[0].Name)
	if err != nil {
		return nil, nil, err
	}
	interval := r.poll
	if interval == 0 {
		interval = (&waitFlags{}).poller(e.configs.emulated()).Interval
	}
	svc := &app.Service{
		Clients: func(region string) (app.Clients, error) {
			cfg, err := e.configs.For(ctx, region)
			if err != nil {
				return app.Clients{}, err
			}
			return app.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), LoadBalancing: elbv2.New(cfg)}, nil
		},
		Identity: sts.New(cfg),
		Progress: progress.Plain(r.log), // beside the executor's own lines: no live status line
		Poller:   apply.Poller{Clock: elevator.SystemClock{}, Interval: interval, Timeout: reviewTimeout},
	}
	targets, err := svc.Targets(ctx, a, e.orbit)
	return svc, targets, err
}

// reviewTimeout bounds how long a reviewed change set's stack may take to
// settle when a stage executes it: app commands' default --timeout.
const reviewTimeout = time.Hour

func (r stackReviewer) Review(ctx context.Context, orbitName, owner string, previous []elevator.ChangeSetRef) ([]elevator.ChangeSetRef, error) {
	svc, targets, err := r.targets(ctx, orbitName)
	if err != nil {
		return nil, err
	}
	refs := make([]elevator.ChangeSetRef, len(targets))
	err = apply.Parallel(len(targets), func(i int) error {
		t := targets[i]
		var prev *elevator.ChangeSetRef
		for j := range previous {
			if previous[j].Region == t.Engine.Stacks.Region() && previous[j].Stack == t.Spec.Name {
				prev = &previous[j]
			}
		}
		ref, err := svc.Review(ctx, orbitName, owner, t, prev)
		refs[i] = ref
		return err
	})
	if err != nil {
		return nil, err
	}
	return refs, nil
}

func (r stackReviewer) Apply(ctx context.Context, ref elevator.ChangeSetRef) error {
	svc, targets, err := r.targets(ctx, ref.Orbit)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if t.Engine.Stacks.Region() != ref.Region || t.Spec.Name != ref.Stack {
			continue
		}
		_, err := svc.ExecuteReviewed(ctx, t, ref)
		return err
	}
	return elevator.Errorf(elevator.ECONFLICT, "the app has no stack %s in %s of orbit %s any more: %w", ref.Stack, ref.Region, ref.Orbit, elevator.ErrStaleChangeSet)
}

// reviewDigest names a stage's review in one short word: what `pipeline
// status` prints and `pipeline approve --review` must repeat. It is made of
// what binds an approval — each ref's orbit, region, stack, change set id
// and template hash — so it changes exactly when one of those does.
func reviewDigest(refs []elevator.ChangeSetRef) string {
	type key struct{ Orbit, Region, Stack, ChangeSetID, TemplateHash string }
	keys := make([]key, len(refs))
	for i, r := range refs {
		keys[i] = key{r.Orbit, r.Region, r.Stack, r.ChangeSetID, r.TemplateHash}
	}
	b, _ := json.Marshal(keys)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// printReview prints a stage's review: per stack and region, its change
// set and what it would change, stateful resources marked; and, for a
// stage that may be approved by policy and waits for a person, which
// changes kept the policy from approving.
func printReview(w io.Writer, e *elevator.PipelineExecution, s elevator.StageRun) {
	if len(s.Review) == 0 {
		return
	}
	defer func() {
		spec := e.Pipeline.Stage(s.Name)
		if spec == nil || spec.Approval == nil || spec.Approval.Auto == "" || s.Approval != nil {
			return
		}
		var lose []string
		for _, r := range s.Review {
			for _, c := range r.Changes {
				if c.Destructive() {
					lose = append(lose, fmt.Sprintf("%s %s in %s", strings.ToLower(c.Action), c.LogicalID, r.Region))
				}
			}
		}
		if len(lose) > 0 {
			fmt.Fprintf(w, "    not approved by policy %s, data may be lost: %s\n", spec.Approval.Auto, strings.Join(lose, ", "))
		}
	}()
	fmt.Fprintf(w, "    review %s:\n", reviewDigest(s.Review))
	for _, r := range s.Review {
		if r.ChangeSetID == "" {
			fmt.Fprintf(w, "      %s %s %s: no changes (template %s)\n", r.Orbit, r.Region, r.Stack, r.TemplateHash)
			continue
		}
		state := ""
		if u := s.Updates[r.ChangeSetID]; u != "" {
			state = " [" + u + "]"
		}
		fmt.Fprintf(w, "      %s %s %s: change set %s (template %s)%s\n", r.Orbit, r.Region, r.Stack, r.ChangeSetID, r.TemplateHash, state)
		for _, c := range r.Changes {
			fmt.Fprintf(w, "        %s\n", changeLine(c))
		}
		if len(r.Changes) == 0 {
			fmt.Fprintln(w, "        (template or parameters change; no resource changes)")
		}
	}
}

// changeLine is one change of a review: mark, logical id, type,
// replacement, and STATEFUL for a resource that holds data.
func changeLine(c elevator.ResourceChange) string {
	mark := map[string]string{"Add": "+", "Modify": "~", "Remove": "-"}[c.Action]
	if mark == "" {
		mark = "?"
	}
	parts := []string{mark, c.LogicalID, c.Type}
	if c.Action == "Modify" {
		switch c.Replacement {
		case "True":
			parts = append(parts, "REPLACED")
		case "Conditional":
			parts = append(parts, "may be replaced")
		case "False":
			parts = append(parts, "in place")
		default:
			parts = append(parts, "replacement unknown")
		}
	}
	if c.Stateful {
		note := "STATEFUL"
		if c.Destructive() {
			note += ": data may be lost"
		}
		parts = append(parts, note)
	}
	return strings.Join(parts, "  ")
}
