// Package bake drives a bake: the making of one machine image from an
// image manifest on a builder instance in an orbit's tier. A bake is a
// small state machine, like a release:
//
//	Launching -> Provisioning -> Stopping -> Imaging -> Tagging -> Terminating -> Succeeded
//
// and any failure goes to CleaningUp (terminate the builder, deregister a
// half-made image and delete its snapshots) and ends Failed. Its Record
// is written to the state bucket of the region it bakes in
// (elevator.BakeRecordKey) before each step, so that a bake whose process
// died is resumed, or cleaned up, by `elevator image bake --resume`: a
// crashed bake never leaves a builder running.
//
// The builder runs the Elevator agent in bake mode: it downloads the
// bake's bundle (elevator.BakeBundleKey), copies the files, runs the
// scripts and uploads an elevator.BakeResult (elevator.BakeResultKey),
// which Provisioning waits for.
package bake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// State is a state of a bake.
type State string

// A bake's states, in the order a successful bake visits them; CleaningUp
// and Failed are its failure path.
const (
	StateLaunching    State = "Launching"
	StateProvisioning State = "Provisioning"
	StateStopping     State = "Stopping"
	StateImaging      State = "Imaging"
	StateTagging      State = "Tagging"
	StateTerminating  State = "Terminating"
	StateSucceeded    State = "Succeeded"
	StateCleaningUp   State = "CleaningUp"
	StateFailed       State = "Failed"
)

// Done reports whether s is an end state.
func (s State) Done() bool { return s == StateSucceeded || s == StateFailed }

// Why a bake failed (Record.Reason).
const (
	ReasonScript      = "script"       // a script exited non-zero: Record.Result says which
	ReasonTimeout     = "timeout"      // the builder did not report within the manifest's timeout
	ReasonBuilderGone = "builder-gone" // the builder stopped or was terminated by someone else
	ReasonImage       = "image"        // the image failed to become available
	ReasonInterrupted = "interrupted"  // the command was stopped (Ctrl-C)
	ReasonAWS         = "aws"          // a call kept failing
)

// Record is what a bake keeps in the state bucket: everything needed to
// launch its builder, make and tag its image, and to resume or clean up
// without the manifest.
type Record struct {
	ID      string `json:"id"`
	Orbit   string `json:"orbit"`
	Region  string `json:"region"`
	Line    string `json:"line"` // the image line (elevator:image)
	Version string `json:"version"`
	State   State  `json:"state"`

	Builder Builder `json:"builder"`
	// ImageName and ImageTags are the image's name and tags.
	ImageName string            `json:"image_name"`
	ImageTags map[string]string `json:"image_tags"`
	// Timeout bounds Provisioning; Deadline is when it ends, set when the
	// builder is launched.
	Timeout  time.Duration `json:"timeout"`
	Deadline time.Time     `json:"deadline,omitzero"`
	// KeepBuilder leaves the builder running when the bake fails, for
	// debugging.
	KeepBuilder bool `json:"keep_builder,omitempty"`

	InstanceID string `json:"instance_id,omitempty"`
	// LaunchUnsure is set while a launch has not been answered: a
	// builder may exist that InstanceID does not name.
	LaunchUnsure bool `json:"launch_unsure,omitempty"`
	// BuilderSearchUntil is when a cleanup that knows no builder stops
	// looking for one by the bake's tag.
	BuilderSearchUntil time.Time            `json:"builder_search_until,omitzero"`
	ImageID            string               `json:"image_id,omitempty"`
	Snapshots          []string             `json:"snapshots,omitempty"`
	Result             *elevator.BakeResult `json:"result,omitempty"`

	// Error and Reason say why a failed bake failed; Leftovers what its
	// cleanup could not remove (or kept, with KeepBuilder).
	Error     string   `json:"error,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	Leftovers []string `json:"leftovers,omitempty"`

	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Path lists the states the bake has entered, in order, across
	// resumes.
	Path []State `json:"path"`
}

// Builder is how a bake's builder is launched.
type Builder struct {
	BaseImage       string `json:"base_image"`
	RootDevice      string `json:"root_device"`
	InstanceType    string `json:"instance_type"`
	VolumeSize      int    `json:"volume_size"`
	Tier            string `json:"tier"`
	SubnetID        string `json:"subnet_id"`
	SecurityGroupID string `json:"security_group_id"`
	InstanceProfile string `json:"instance_profile"`
	UserData        string `json:"user_data"`
}

// Cloud is what a bake does in AWS, in its region: the builder and the
// image in EC2, and the bake's objects in the state bucket.
type Cloud interface {
	PutObject(ctx context.Context, key string, body []byte) error
	// GetObject returns an ENOTFOUND error when there is no such object.
	GetObject(ctx context.Context, key string) ([]byte, error)
	// DeleteObject deletes an object; one that is gone already is done.
	DeleteObject(ctx context.Context, key string) error
	RunBuilder(ctx context.Context, in ec2.BuilderInput) (string, error)
	InstancesTagged(ctx context.Context, tags map[string]string) ([]ec2.Instance, error)
	Instances(ctx context.Context, ids []string) ([]ec2.Instance, error)
	StopInstance(ctx context.Context, id string) error
	TerminateInstance(ctx context.Context, id string) error
	CreateImage(ctx context.Context, instanceID, name, description string, tags map[string]string) (string, error)
	OwnImages(ctx context.Context, name string, tags map[string]string) ([]ec2.ImageDetail, error)
	ImageDetail(ctx context.Context, id string) (ec2.ImageDetail, error)
	Tag(ctx context.Context, id string, tags map[string]string) error
	DeregisterImage(ctx context.Context, id string) error
	DeleteSnapshot(ctx context.Context, id string) error
}

// Config wires an Engine.
type Config struct {
	Cloud Cloud
	// Poll is how long a step waits before it looks again (5s when 0).
	Poll time.Duration
	// Now and Sleep are the clock; time.Now and a context-aware sleep
	// when nil.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is told of each state the bake enters, after
	// the record is stored: for progress.
	Observe func(r *Record)
	// Wait, when set, is told each time a step waits to look again
	// (the builder still provisioning, the image still pending): for a
	// heartbeat.
	Wait func(r *Record)
	// Audit, when set, is called once when the bake ends.
	Audit func(ctx context.Context, r *Record) error
	Log   *slog.Logger
}

// Engine runs bakes.
type Engine struct{ Config }

// New returns an engine.
func New(c Config) *Engine {
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = elevator.Sleep
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return &Engine{c}
}

// Outcome is what a step asks of the engine: go to Next, or, when Next is
// "", run the same step again after After.
type Outcome struct {
	Next  State
	After time.Duration
}

// failure is a step's permanent error: the bake fails at once, for
// reason.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(reason string, format string, args ...any) error {
	return &failure{reason: reason, err: fmt.Errorf(format, args...)}
}

// transition is a row of the table: the state's step, the states it may
// go to, and how many times it is tried while it returns errors that are
// not failures.
type transition struct {
	step     func(e *Engine, ctx context.Context, r *Record) (Outcome, error)
	next     []State
	attempts int
}

// table is the bake state machine. Every state but the end states and
// CleaningUp goes to CleaningUp when its step fails for good; CleaningUp
// always ends in Failed.
var table = map[State]transition{
	StateLaunching:    {step: (*Engine).launch, next: []State{StateProvisioning}, attempts: 4},
	StateProvisioning: {step: (*Engine).provision, next: []State{StateStopping}, attempts: 6},
	StateStopping:     {step: (*Engine).stop, next: []State{StateImaging}, attempts: 6},
	StateImaging:      {step: (*Engine).makeImage, next: []State{StateTagging}, attempts: 6},
	StateTagging:      {step: (*Engine).tag, next: []State{StateTerminating}, attempts: 6},
	StateTerminating:  {step: (*Engine).terminate, next: []State{StateSucceeded}, attempts: 8},
	StateCleaningUp:   {step: (*Engine).cleanUp, next: []State{StateFailed}, attempts: 8},
}

// Transitions returns the state machine: for each state that is not an
// end state, the states it may go to (CleaningUp last), for docs and
// tests.
func Transitions() map[State][]State {
	out := map[State][]State{}
	for s, t := range table {
		next := slices.Clone(t.next)
		if s != StateCleaningUp {
			next = append(next, StateCleaningUp)
		}
		out[s] = next
	}
	return out
}

// ErrInterrupted is the cause of the EINTERRUPTED error Run returns when
// its context is cancelled.
var ErrInterrupted = errors.New("bake interrupted")

// Run drives r from its state to an end state, storing the record before
// each step. It returns nil when the bake succeeded; an EFAILED error
// saying why when it failed and cleaned up (the failed script's output
// included); an EDIRTY error naming what it left behind when its cleanup
// failed or KeepBuilder kept the builder; and an EINTERRUPTED error when
// ctx was cancelled, after it has cleaned up with a context of its own
// (unless KeepBuilder, which leaves the bake to be resumed).
func (e *Engine) Run(ctx context.Context, r *Record) error {
	if r.State == "" {
		r.State = StateLaunching
	}
	if r.State.Done() {
		return Ended(r) // ended and audited already
	}
	if n := len(r.Path); n > 0 && r.Path[n-1] == r.State {
		// Stored already (by Start, or before the process died).
		if e.Observe != nil {
			e.Observe(r)
		}
	} else if err := e.enter(ctx, r, r.State); err != nil {
		if ctx.Err() != nil {
			return e.interrupted(ctx, r)
		}
		return e.abandon(ctx, r, err)
	}
	tries := 0
	for !r.State.Done() {
		if ctx.Err() != nil {
			if r.State != StateCleaningUp {
				return e.interrupted(ctx, r)
			}
			// Cleaning up goes on after Ctrl-C, with a context of its own.
			own, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			ctx = own
		}
		t := table[r.State]
		out, err := t.step(e, ctx, r)
		var f *failure
		switch {
		case err != nil && ctx.Err() != nil && r.State != StateCleaningUp:
			return e.interrupted(ctx, r)
		case errors.As(err, &f) && r.State != StateCleaningUp:
			e.Log.Warn("bake step failed", "bake", r.ID, "state", r.State, "error", err)
			r.Error, r.Reason = f.Error(), f.reason
			if err := e.enter(ctx, r, StateCleaningUp); err != nil {
				if ctx.Err() != nil {
					return e.interrupted(ctx, r)
				}
				return e.abandon(ctx, r, err)
			}
			tries = 0
			continue
		case err != nil:
			tries++
			e.Log.Warn("bake step error", "bake", r.ID, "state", r.State, "attempt", tries, "error", err)
			if tries < t.attempts {
				out = Outcome{After: e.Poll << min(tries-1, 4)}
				break
			}
			if r.State == StateCleaningUp {
				r.Leftovers = e.leftovers(r)
				r.Error = joinError(r.Error, fmt.Sprintf("clean up: %v", err))
				out = Outcome{Next: StateFailed}
				break
			}
			r.Error, r.Reason = err.Error(), ReasonAWS
			out = Outcome{Next: StateCleaningUp}
		default:
			tries = 0
		}
		if out.Next == "" {
			if e.Wait != nil && err == nil {
				e.Wait(r)
			}
			if err := e.Sleep(ctx, out.After); err != nil && r.State != StateCleaningUp {
				return e.interrupted(ctx, r)
			}
			continue
		}
		if !slices.Contains(t.next, out.Next) && out.Next != StateCleaningUp && !(r.State == StateCleaningUp && out.Next == StateFailed) {
			return elevator.Errorf(elevator.EINTERNAL, "bake %s: %s may not go to %s", r.ID, r.State, out.Next)
		}
		tries = 0
		if err := e.enter(ctx, r, out.Next); err != nil {
			if ctx.Err() != nil {
				// Interrupted while storing: the new state is
				// stored again, and cleaned up, with a context of
				// its own.
				return e.interrupted(ctx, r)
			}
			return e.abandon(ctx, r, err)
		}
	}
	return e.end(ctx, r)
}

// enter moves r to s and stores it.
func (e *Engine) enter(ctx context.Context, r *Record, s State) error {
	if len(r.Path) == 0 || r.Path[len(r.Path)-1] != s {
		r.Path = append(r.Path, s)
	}
	r.State = s
	r.UpdatedAt = e.Now().UTC()
	if s.Done() {
		r.EndedAt = r.UpdatedAt
	}
	if err := e.save(ctx, r); err != nil {
		return err
	}
	if e.Observe != nil {
		e.Observe(r)
	}
	return nil
}

func (e *Engine) save(ctx context.Context, r *Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode bake record: %w", err)
	}
	for try := 1; ; try++ {
		err = e.Cloud.PutObject(ctx, elevator.BakeRecordKey(r.ID), b)
		if err == nil {
			return nil
		}
		if try == saveTries || ctx.Err() != nil {
			return fmt.Errorf("store bake record %s: %w", r.ID, err)
		}
		e.Log.Warn("could not store the bake's record", "bake", r.ID, "attempt", try, "error", err)
		if err := e.Sleep(ctx, e.Poll<<(try-1)); err != nil {
			return fmt.Errorf("store bake record %s: %w", r.ID, err)
		}
	}
}

// saveTries is how many times a bake tries to store its record before
// it gives up on it and cleans up (abandon).
const saveTries = 4

// abandon ends a bake whose record cannot be stored (err): a bake that is
// not stored cannot be resumed, so it does not go on. It finishes a bake
// whose image is made (Tagging, Terminating) and otherwise cleans up, in
// memory, as the CleaningUp state does, then tries once more to store the
// outcome. It returns an EDIRTY error naming what is left when the
// cleanup failed, and else an EAWS error saying the record is not stored.
func (e *Engine) abandon(ctx context.Context, r *Record, err error) error {
	e.Log.Warn("bake record not stored; ending the bake", "bake", r.ID, "state", r.State, "error", err)
	mem := *e
	mem.Cloud = unstored{e.Cloud, r.ID}
	if r.State != StateTagging && r.State != StateTerminating && r.State != StateCleaningUp {
		r.Error, r.Reason = joinError(r.Error, err.Error()), ReasonAWS
		r.State = StateCleaningUp
		r.Path = append(r.Path, StateCleaningUp)
	}
	ended := mem.Run(ctx, r)
	if elevator.ErrorCode(ended) == elevator.EDIRTY {
		return ended
	}
	if e.save(ctx, r) == nil {
		return Ended(r)
	}
	what := "its builder is terminated and no image is left"
	if r.State == StateSucceeded {
		what = "its image " + r.ImageID + " is made and its builder terminated"
	}
	return elevator.Errorf(elevator.EAWS, "bake %s ended %s without its record stored (%v): %s", r.ID, r.State, err, what)
}

// unstored is a Cloud whose bake record writes are dropped: the record
// of an abandoned bake lives in memory only.
type unstored struct {
	Cloud
	id string
}

func (u unstored) PutObject(ctx context.Context, key string, body []byte) error {
	if key == elevator.BakeRecordKey(u.id) {
		return nil
	}
	return u.Cloud.PutObject(ctx, key, body)
}

// interrupted ends a bake whose context was cancelled: with KeepBuilder
// it stores the record as it is, to be resumed; otherwise it cleans up
// with a context of its own and ends Failed.
func (e *Engine) interrupted(ctx context.Context, r *Record) error {
	own, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	cleaner := *e
	cleaner.Sleep = elevator.Sleep // the caller's sleep may be bound to the cancelled context
	if r.State == StateTagging || r.State == StateTerminating {
		// The image is made: finish the bake rather than destroy it.
		// Tagging is a few idempotent calls and Terminating one, so
		// they end with a context of their own; should they fail, the
		// bake cleans up as any failed step does.
		e.Log.Info("bake interrupted after its image was made; finishing it", "bake", r.ID, "state", r.State, "image", r.ImageID)
		return cleaner.Run(own, r)
	}
	if r.KeepBuilder {
		if err := e.save(own, r); err != nil {
			return err
		}
		msg := "bake " + r.ID + " interrupted in " + string(r.State) + "; resume it with `elevator image bake --resume " + r.ID + "`"
		if r.InstanceID != "" {
			msg += "; its builder " + r.InstanceID + " is kept (reach it with Session Manager: `aws ssm start-session --target " + r.InstanceID + " --region " + r.Region + "`)"
		}
		return elevator.Errorf(elevator.EINTERRUPTED, "%s: %w", msg, ErrInterrupted)
	}
	r.Error, r.Reason = "interrupted", ReasonInterrupted
	if r.State != StateCleaningUp {
		if err := cleaner.enter(own, r, StateCleaningUp); err != nil {
			return err
		}
	}
	err := cleaner.Run(own, r)
	if elevator.ErrorCode(err) == elevator.EDIRTY {
		return err
	}
	return elevator.Errorf(elevator.EINTERRUPTED, "bake %s interrupted; its builder is terminated and no image is left: %w", r.ID, ErrInterrupted)
}

// end reports how the bake ended, and audits it. It deletes the bake's
// bundle and the builder's result first: every builder's role may read
// every bundle and write every result, so that a bake's objects last no
// longer than the bake (the record keeps the result).
func (e *Engine) end(ctx context.Context, r *Record) error {
	for _, key := range []string{elevator.BakeBundleKey(r.ID), elevator.BakeResultKey(r.ID)} {
		if err := e.Cloud.DeleteObject(ctx, key); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
			e.Log.Warn("could not delete a bake's object", "bake", r.ID, "key", key, "error", err)
		}
	}
	if e.Audit != nil {
		if err := e.Audit(ctx, r); err != nil {
			e.Log.Warn("bake audit failed", "bake", r.ID, "error", err)
		}
	}
	return Ended(r)
}

// Ended is how an ended bake ended, as Run returns it: nil when it
// succeeded, else the error Run describes.
func Ended(r *Record) error {
	if r.State == StateSucceeded {
		return nil
	}
	msg := fmt.Sprintf("bake %s of %s failed: %s", r.ID, r.Line, r.Error)
	if res := r.Result; res != nil && !res.OK {
		msg += fmt.Sprintf("\nscript %s exited %d; the end of its output:\n%s", res.Script, res.ExitCode, res.Output)
	}
	if len(r.Leftovers) > 0 {
		msg += "\nleft behind: " + fmt.Sprint(r.Leftovers)
		if r.KeepBuilder && r.InstanceID != "" {
			msg += fmt.Sprintf("\nthe builder is kept for debugging: reach it with Session Manager (`aws ssm start-session --target %s --region %s`), and terminate it when done (`aws ec2 terminate-instances --instance-ids %s --region %s`)", r.InstanceID, r.Region, r.InstanceID, r.Region)
		}
		return elevator.Errorf(elevator.EDIRTY, "%s", msg)
	}
	if r.Reason == ReasonInterrupted {
		return elevator.Errorf(elevator.EINTERRUPTED, "%s: %w", msg, ErrInterrupted)
	}
	return elevator.Errorf(elevator.EFAILED, "%s", msg)
}

func (e *Engine) leftovers(r *Record) []string {
	var out []string
	if r.InstanceID != "" {
		out = append(out, "instance "+r.InstanceID)
	}
	if r.ImageID != "" {
		out = append(out, "image "+r.ImageID)
	}
	for _, s := range r.Snapshots {
		out = append(out, "snapshot "+s)
	}
	return out
}

func joinError(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
