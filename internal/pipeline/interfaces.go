// Package pipeline drives pipeline executions: a version of an app
// promoted through the stages of its manifest's pipeline, each stage
// gated by an approval and time windows, released into its orbits, then
// baked. An execution is a record (elevator.PipelineExecution) in a Store,
// written on condition of its revision; an Executor advances it through a
// transition table of stage states, holding a lease in the record, and
// parks it — writes it and returns, holding no process — whenever it must
// wait longer than it is willing to (an approval, a window, a bake). Any
// process can then resume it.
package pipeline

import (
	"context"
	"errors"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Store keeps execution records. Implementations return ErrNotFound and
// ErrStale, wrapped or not.
type Store interface {
	// Put stores e if the stored record has revision e.Revision-1 (or
	// there is none and e.Revision is 1); otherwise it returns ErrStale
	// and changes nothing.
	Put(ctx context.Context, e *elevator.PipelineExecution) error
	// Get returns the record of execution id of app, or ErrNotFound.
	Get(ctx context.Context, app, id string) (*elevator.PipelineExecution, error)
	// List returns the app's executions, newest first, at most limit.
	List(ctx context.Context, app string, limit int) ([]*elevator.PipelineExecution, error)
	// Audit records a decision (an approval, a rejection, a refusal,
	// a promotion, a cancellation).
	Audit(ctx context.Context, e elevator.AuditEntry) error
}

// Releaser runs the releases of a stage: one per orbit.
type Releaser interface {
	// Start releases version of the app into orbit and returns the
	// release's id. token is the same every time the executor asks for
	// the same release, so that a retry after a crash starts none twice.
	Start(ctx context.Context, orbit, version, token string) (string, error)
	// Status reports whether release id in orbit has ended and whether
	// it succeeded; a failed one's message says why.
	Status(ctx context.Context, orbit, id string) (ReleaseStatus, error)
}

// ReleaseStatus is where a stage's release is.
type ReleaseStatus struct {
	Done, Succeeded bool
	Message         string
}

// Reviewer makes the change sets of the app's stacks in an orbit, in every
// region (`app plan --keep`), for an approver to review, and executes
// them once approved.
type Reviewer interface {
	// Review returns a ref per region of the orbit: the change set of
	// the app's stack, kept for Apply, or no change set id when the stack
	// would not change. previous are the refs the stage reviewed before
	// in this orbit: Review returns a previous ref unchanged when the
	// app still compiles to its template hash and its change set may
	// still run (CheckKept), so that a review is stable; otherwise it
	// makes a new change set and deletes the one it supersedes.
	// owner (elevator.ReviewOwner of the execution and stage) describes
	// the change sets Review makes; those owner made that the review
	// does not return are deleted, so that a review whose record was
	// never written leaves none behind.
	Review(ctx context.Context, orbit, owner string, previous []elevator.ChangeSetRef) ([]elevator.ChangeSetRef, error)
	// Apply executes the reviewed change set of ref and follows its
	// stack until it settles; one executed already (a resume after a
	// crash, whether its update succeeded or failed) is followed, not
	// executed again. It returns an error wrapping
	// elevator.ErrStaleChangeSet when the change set may no longer run
	// (the stack changed since it was made, it is gone or not
	// executable, or the app compiles to another template now), and one
	// wrapping elevator.ErrChangeSetFailed when the stack's update failed.
	Apply(ctx context.Context, ref elevator.ChangeSetRef) error
}

// Pins says whether a person rolled the app back in an orbit: a pipeline
// never ships into it again, whatever its gates say, before someone clears
// the pin (`pipeline unpin`), so that it does not re-ship what a person
// just took out.
type Pins interface {
	// Pin returns why the orbit is pinned, or "" when it is not.
	Pin(ctx context.Context, orbit string) (string, error)
}

// Notifier tells people about an execution: it publishes to an orbit's
// topic (the orbit stack's info topic), from which Slack and email get it.
type Notifier interface {
	Notify(ctx context.Context, orbit, subject, message string) error
}

// Events an Executor notifies, in Notice.Event.
const (
	EventStageStarted   = "stage_started"   // a stage's releases start
	EventApprovalNeeded = "approval_needed" // a stage waits for an approval of a new review
	EventStageFailed    = "stage_failed"
	EventPipelineDone   = "pipeline_done" // it succeeded, failed or was cancelled
)

// Notice is the message of a notification, as JSON.
type Notice struct {
	Event      string    `json:"event"`
	Pipeline   string    `json:"pipeline"`
	App        string    `json:"app"`
	Version    string    `json:"version"`
	Stage      string    `json:"stage,omitempty"`
	State      string    `json:"state"` // the stage's, or the execution's for pipeline_done
	WaitingFor []string  `json:"waiting_for,omitempty"`
	Until      time.Time `json:"until,omitzero"`
	Error      string    `json:"error,omitempty"`
}

// Errors of the package.
var (
	ErrNotFound = &elevator.Error{Code: elevator.ENOTFOUND, Message: "pipeline execution not found"}
	ErrStale    = &elevator.Error{Code: elevator.ECONFLICT, Message: "pipeline execution changed since it was read"}
	// ErrLeased: another process drives the execution and its lease has
	// not ended.
	ErrLeased = &elevator.Error{Code: elevator.ECONFLICT, Message: "another process drives this pipeline execution"}
)

func isStale(err error) bool { return errors.Is(err, ErrStale) }

// Images promotes the images a stage's releases used, once the stage has
// succeeded (elevator.PipelineStage.PromoteImages).
type Images interface {
	// Promote promotes the images release id in orbit used to stage
	// (images already past it stay) and returns what it did and left, a
	// line each. Promoting again is safe. A process that may not promote
	// images in the orbit returns a *BlockedError.
	Promote(ctx context.Context, orbit, releaseID, stage string) ([]string, error)
}

// BlockedError is what a Releaser, Reviewer, Pins or Images returns when the
// process that drives the execution may not act in an orbit (an orbit's
// deployer drives only the stages of its own orbit). The executor parks
// the execution with the stage waiting for elevator.WaitAccess and the
// reason, instead of failing: another driver with access (`pipeline
// resume` from a machine that has it) goes on from there.
type BlockedError struct {
	Orbit  string
	Reason string // what is missing, and who can go on
}

func (e *BlockedError) Error() string { return "orbit " + e.Orbit + ": " + e.Reason }
