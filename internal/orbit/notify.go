package orbit

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/compile"
	yaml "go.yaml.in/yaml/v4"
)

// An orbit whose alarms go to PagerDuty or Slack has a second stack per
// region, the notifications stack (see compile.NotificationsStack). It is
// applied after the orbit's stack, whose outputs (the topics, the state
// bucket) it takes as parameters, and deleted before it. The Slack
// forwarder's code goes into the state bucket first, under a key named by
// its hash, so that a new build replaces the function's code and the same
// build changes nothing.

// LambdaDirEnv names the variable that points at the directory holding
// Elevator's Lambda functions, each built as <dir>/<function>/bootstrap
// (scripts/setup builds them into bin/lambda). When it is not set, the
// directory is lambda/ beside the running elevator binary.
const LambdaDirEnv = "ELEVATOR_LAMBDA_DIR"

// lambdaPrefix is where Elevator keeps Lambda code in an orbit's bucket.
const lambdaPrefix = "elevator/lambda/"

// Objects is what an orbit needs of S3 in one region: a place for the
// Slack forwarder's code and the agent's builds (agent.go) in the orbit's
// state bucket.
type Objects interface {
	// PutIfAbsent writes an object unless one is there, and reports
	// whether it did.
	PutIfAbsent(ctx context.Context, bucket, key, contentType string, body []byte) (bool, error)
	// Put writes an object, replacing the one there.
	Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error)
	// DeletePrefix deletes every version of every object under prefix;
	// a missing bucket holds nothing.
	DeletePrefix(ctx context.Context, bucket, prefix string) (int, error)
	// Exists reports whether an object is there; false for a missing
	// bucket too.
	Exists(ctx context.Context, bucket, key string) (bool, error)
}

// lambdaCode is a function's zip and the key it is stored under.
type lambdaCode struct {
	Key string
	Zip []byte
}

// slackForwarderCode zips the Slack forwarder when a severity of o has
// Slack, and returns nil when none has. The zip is the same for the same
// build: one file, bootstrap, mode 0755, with a fixed time.
//
// It returns an ENOTFOUND error, saying to run scripts/setup, when the
// forwarder is not built, and EINVALID when the file there is not a
// linux/arm64 executable.
func slackForwarderCode(o *elevator.Orbit) (*lambdaCode, error) {
	if !compile.HasSlack(o) {
		return nil, nil
	}
	dir := os.Getenv(LambdaDirEnv)
	if dir == "" {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "find the Slack forwarder: cannot tell where elevator runs from: %w; set %s", err, LambdaDirEnv)
		}
		dir = filepath.Join(filepath.Dir(exe), "lambda")
	}
	path := filepath.Join(dir, "slack-forwarder", "bootstrap")
	bin, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "orbit %s sends alarms to Slack, and the Slack forwarder is not built: no %s; run scripts/setup (or set %s to the directory holding slack-forwarder/bootstrap)", o.Name, path, LambdaDirEnv)
	}
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read the Slack forwarder: %w", err)
	}
	if f, err := elf.NewFile(bytes.NewReader(bin)); err != nil || f.Machine != elf.EM_AARCH64 {
		return nil, elevator.Errorf(elevator.EINVALID, "%s is not a linux/arm64 executable, which Lambda needs; rebuild it with scripts/setup", path)
	}
	zipped, err := zipBootstrap(bin)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "zip the Slack forwarder: %w", err)
	}
	sum := sha256.Sum256(zipped)
	return &lambdaCode{Key: lambdaPrefix + "slack-forwarder-" + hex.EncodeToString(sum[:8]) + ".zip", Zip: zipped}, nil
}

// zipBootstrap zips a Lambda executable as the provided runtimes want it:
// one executable file named bootstrap. The time and mode are fixed, so the
// same executable always gives the same bytes.
func zipBootstrap(bin []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate, Modified: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)}
	h.SetMode(0o755)
	f, err := w.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(bin); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// notificationsFacts reads what the notifications stack needs from the
// orbit stack's outputs in one region. ok is false when the orbit stack
// does not exist yet (a plan before the first up) or does not have the
// outputs yet.
func (s *Service) notificationsFacts(ctx context.Context, o *elevator.Orbit, c Clients, code *lambdaCode) (f compile.NotificationsFacts, ok bool, err error) {
	outputs, err := s.engine(c).Outputs(ctx, o.StackName())
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return f, false, nil
	}
	if err != nil {
		return f, false, err
	}
	f.TopicARNs = map[elevator.Severity]string{}
	for _, sev := range elevator.Severities {
		f.TopicARNs[sev] = outputs[compile.TopicOutput(sev)]
	}
	f.StateBucket = outputs[compile.StateBucketOutput]
	if code != nil {
		f.SlackForwarderKey = code.Key
	}
	ok = f.StateBucket != ""
	for _, n := range o.Notifications {
		if (!n.PagerDuty.IsZero() || !n.Slack.IsZero()) && f.TopicARNs[n.Severity] == "" {
			ok = false
		}
	}
	return f, ok, nil
}

// planNotifications previews the notifications stack in every region: a
// change set when the orbit stack is there to give it parameters, else the
// resources it would add; and its removal when it exists and is no longer
// wanted. Regions with nothing to do have no plan.
func (s *Service) planNotifications(ctx context.Context, o *elevator.Orbit) ([]*apply.Plan, error) {
	code, err := slackForwarderCode(o)
	if err != nil {
		return nil, err
	}
	plans := make([]*apply.Plan, len(o.Regions))
	err = s.eachRegion(ctx, o, func(ctx context.Context, r *elevator.Region, c Clients) error {
		i := regionIndex(o, r.Name)
		if !compile.HasNotificationsStack(o) {
			p, err := removalPlan(ctx, o, c)
			plans[i] = p
			return err
		}
		f, ready, err := s.notificationsFacts(ctx, o, c, code)
		if err != nil {
			return err
		}
		if !ready {
			p, err := additionPlan(o, r)
			plans[i] = p
			return err
		}
		st, err := compile.NotificationsStack(o, r, f)
		if err != nil {
			return err
		}
		p, err := previewStack(ctx, s.engine(c), st)
		plans[i] = p
		return err
	})
	return nonNilPlans(plans), err
}

// upNotifications brings one region's notifications stack in line with o,
// once the orbit's stack there is up: it stores the forwarder's code and
// applies the stack, or deletes the stack when no severity has PagerDuty
// or Slack any more. It returns nil plan and result when there was nothing
// to do.
func (s *Service) upNotifications(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients, code *lambdaCode) (*apply.Plan, *apply.Result, error) {
	e := s.engine(c)
	name := compile.NotificationsStackName(o)
	if !compile.HasNotificationsStack(o) {
		p, err := removalPlan(ctx, o, c)
		if p == nil || err != nil {
			return nil, nil, err
		}
		s.Progress.Note(r.Name, name+": no severity has pagerduty or slack; deleting the stack")
		res, err := deleteStack(ctx, e, name, p)
		return p, res, err
	}
	f, ready, err := s.notificationsFacts(ctx, o, c, code)
	if err != nil {
		return nil, nil, err
	}
	if !ready {
		return nil, nil, elevator.Errorf(elevator.EINTERNAL, "apply %s in %s: the orbit stack %s has no alarm topic or state bucket outputs", name, r.Name, o.StackName())
	}
	if code != nil {
		if c.Objects == nil {
			return nil, nil, elevator.Errorf(elevator.EINTERNAL, "apply %s in %s: no S3 client to store the Slack forwarder with", name, r.Name)
		}
		// The key names the content: when it is there, an earlier up
		// stored this very build.
		stored, err := c.Objects.PutIfAbsent(ctx, f.StateBucket, code.Key, "application/zip", code.Zip)
		if err != nil {
			return nil, nil, err
		}
		if stored {
			s.Progress.Note(r.Name, fmt.Sprintf("stored the Slack forwarder (%d bytes) at s3://%s/%s", len(code.Zip), f.StateBucket, code.Key))
		}
	}
	st, err := compile.NotificationsStack(o, r, f)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.Plan(ctx, spec(st))
	if err != nil {
		return nil, nil, err
	}
	res, err := s.executePlan(ctx, e, r.Name, name, p)
	return p, res, err
}

// downNotifications deletes one region's notifications stack, then the
// Lambda code Elevator stored in the state bucket, so that the orbit's
// stack can delete the bucket. It returns nil when there was neither.
func (s *Service) downNotifications(ctx context.Context, o *elevator.Orbit, c Clients) (*apply.Result, error) {
	e := s.engine(c)
	res, err := e.Delete(ctx, compile.NotificationsStackName(o))
	if err != nil {
		return res, err
	}
	removed := 0
	if c.Objects != nil {
		// Whatever the manifest says now, code stored by an earlier up may
		// be there.
		f, _, err := s.notificationsFacts(ctx, o, c, nil)
		if err != nil {
			return res, err
		}
		if f.StateBucket != "" {
			if removed, err = c.Objects.DeletePrefix(ctx, f.StateBucket, lambdaPrefix); err != nil {
				return res, err
			}
		}
	}
	if removed > 0 {
		s.Progress.Note(res.Region, fmt.Sprintf("deleted %d version(s) of Lambda code from the state bucket", removed))
	}
	if !res.Changed {
		return nil, nil
	}
	return res, nil
}

// removalPlan lists what deleting the notifications stack removes, read
// from its template, or returns nil when there is no such stack.
func removalPlan(ctx context.Context, o *elevator.Orbit, c Clients) (*apply.Plan, error) {
	return stackRemovalPlan(ctx, c, compile.NotificationsStackName(o))
}

// stackRemovalPlan lists what deleting the stack name removes, read from
// its template, or returns nil when there is no such stack.
func stackRemovalPlan(ctx context.Context, c Clients, name string) (*apply.Plan, error) {
	body, err := c.Stacks.Template(ctx, name)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var tmpl struct {
		Resources map[string]struct {
			Type string `yaml:"Type"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal([]byte(body), &tmpl); err != nil {
		return nil, elevator.Errorf(elevator.EAWS, "read the template of %s in %s: %w", name, c.Stacks.Region(), err)
	}
	p := &apply.Plan{Region: c.Stacks.Region(), Stack: name, Changes: []cloudformation.Change{}}
	for id, r := range tmpl.Resources {
		p.Changes = append(p.Changes, cloudformation.Change{Action: "Remove", LogicalID: id, Type: r.Type})
	}
	sortChanges(p.Changes)
	return p, nil
}

// additionPlan lists what the notifications stack will add in a region
// whose orbit stack is not up yet, so that no change set can be made: its
// parameters come from that stack.
func additionPlan(o *elevator.Orbit, r *elevator.Region) (*apply.Plan, error) {
	placeholder := "(from " + o.StackName() + ")"
	f := compile.NotificationsFacts{TopicARNs: map[elevator.Severity]string{}, StateBucket: placeholder, SlackForwarderKey: placeholder}
	for _, sev := range elevator.Severities {
		f.TopicARNs[sev] = placeholder
	}
	st, err := compile.NotificationsStack(o, r, f)
	if err != nil {
		return nil, err
	}
	return stackAdditionPlan(st), nil
}

// previewStack makes and discards a change set for st, returning the plan
// it showed. It returns a nil plan when the change set could not be made,
// and the plan with the error when it could not be discarded.
func previewStack(ctx context.Context, e *apply.Engine, st compile.Stack) (*apply.Plan, error) {
	p, err := e.Plan(ctx, spec(st))
	if err != nil {
		return nil, err
	}
	return p, e.Discard(ctx, p)
}

// deleteStack deletes the stack name, whose removal plan is p, and counts
// p's changes in the result.
func deleteStack(ctx context.Context, e *apply.Engine, name string, p *apply.Plan) (*apply.Result, error) {
	res, err := e.Delete(ctx, name)
	if res != nil {
		res.Changes = len(p.Changes)
	}
	return res, err
}

// executePlan applies the change set p of the stack name in region,
// saying how many changes it makes, and discards the change set when
// applying it fails.
func (s *Service) executePlan(ctx context.Context, e *apply.Engine, region, name string, p *apply.Plan) (*apply.Result, error) {
	if p.NoChanges {
		s.Progress.Note(region, name+": no changes")
	} else {
		s.Progress.Note(region, fmt.Sprintf("%s: applying %d change(s)", name, len(p.Changes)))
	}
	res, err := e.Execute(ctx, p)
	if err != nil {
		_ = e.Discard(context.WithoutCancel(ctx), p)
	}
	return res, err
}

// stackAdditionPlan lists what creating st adds.
func stackAdditionPlan(st compile.Stack) *apply.Plan {
	p := &apply.Plan{Region: st.Region, Stack: st.Name, Create: true, Changes: []cloudformation.Change{}}
	for id, res := range st.Template.Resources {
		p.Changes = append(p.Changes, cloudformation.Change{Action: "Add", LogicalID: id, Type: res.Type})
	}
	sortChanges(p.Changes)
	return p
}

func sortChanges(changes []cloudformation.Change) {
	sort.Slice(changes, func(i, j int) bool { return changes[i].LogicalID < changes[j].LogicalID })
}

func regionIndex(o *elevator.Orbit, name string) int {
	for i, r := range o.Regions {
		if r.Name == name {
			return i
		}
	}
	return -1
}

func nonNilPlans(plans []*apply.Plan) []*apply.Plan {
	var out []*apply.Plan
	for _, p := range plans {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// stackOutcome holds what upNotifications or upECS did in each region, by
// region index, for Up to report after the orbit stacks.
type stackOutcome struct {
	plans   []*apply.Plan
	results []*apply.Result
}

func newStackOutcome(o *elevator.Orbit) *stackOutcome {
	return &stackOutcome{plans: make([]*apply.Plan, len(o.Regions)), results: make([]*apply.Result, len(o.Regions))}
}

// appendTo adds the regions that had something to do to res, in region
// order, each plan with its result.
func (n *stackOutcome) appendTo(res *UpResult) {
	for i, p := range n.plans {
		if p != nil {
			res.Plans = append(res.Plans, p)
			res.Results = append(res.Results, n.results[i])
		}
	}
}
