package elevator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Pipeline is how a version of an app is promoted through orbits: stages
// in order, each released when the one before it has succeeded and its own
// gates are open. It is the app manifest's pipeline section.
type Pipeline struct {
	Stages []PipelineStage // in manifest order; at least one
	Path   string
}

// PipelineStage is one step of a pipeline: a release of the version into
// one orbit, or into several orbits in parallel, behind the stage's gates.
type PipelineStage struct {
	// Name identifies the stage in commands (pipeline approve --stage);
	// it is the orbit's name when the manifest gives none for a
	// one-orbit stage.
	Name string
	// Orbits are released in parallel; no orbit is in two stages.
	Orbits []string
	// Approval, when set, must be given before the stage releases.
	Approval *StageApproval
	// Windows are the time windows the stage may start in, such as
	// "Mon-Thu 09:00-16:00 Europe/Berlin" (see internal/window); none
	// means any time. Freeze lists dates (YYYY-MM-DD, in each window's
	// zone) on which no window opens.
	Windows []string
	Freeze  []string
	// Outside is what a stage does when it is due outside its windows:
	// OutsideWait (the default) or OutsideFail.
	Outside string
	// Bake is how long the stage's releases stay watched after they
	// succeed before the next stage may start; whole seconds.
	Bake time.Duration
	// Auto starts the stage as soon as the one before it succeeds; the
	// first stage starts with the pipeline either way. Without it someone
	// runs `pipeline resume` to start it.
	Auto bool
	// PromoteImages, when set, is the image stage the images of the
	// stage's releases are promoted to once the stage has succeeded (its
	// bake included): a stage of each of its orbits (see
	// Orbit.ImageStages).
	PromoteImages string
	Path          string
}

// What a stage does when it is due outside its windows.
const (
	OutsideWait = "wait"
	OutsideFail = "fail"
)

// StageApproval says who may approve a stage: callers whose role in each of
// the stage's orbits (the access rules of its orbit manifest) covers one
// of Roles, or who match one of Principals (IAM or STS ARNs, '*' as in
// access rules). The approver is never the principal who started the
// pipeline (see SamePrincipal), unless every orbit of the stage allows
// self-approval (Orbit.SelfApproval).
type StageApproval struct {
	Roles      []AccessRole
	Principals []string
	// Expiry is how long an approval stays good; DefaultApprovalExpiry
	// when the manifest gives none.
	Expiry time.Duration
	// Auto, when set (ApproveSafeChanges), approves by policy a review
	// the policy finds safe.
	Auto string
	Path string
}

// DefaultApprovalExpiry is how long a stage's approval stays good when the
// manifest does not say.
const DefaultApprovalExpiry = 7 * 24 * time.Hour

// Stage returns the pipeline's stage called name, or nil.
func (p *Pipeline) Stage(name string) *PipelineStage {
	for i := range p.Stages {
		if p.Stages[i].Name == name {
			return &p.Stages[i]
		}
	}
	return nil
}

// ExecutionState is where a pipeline execution as a whole is.
type ExecutionState string

// Execution states. Running covers waiting: a running execution that
// waits for an approval or a window holds no process.
const (
	ExecutionRunning   ExecutionState = "Running"
	ExecutionSucceeded ExecutionState = "Succeeded"
	ExecutionFailed    ExecutionState = "Failed"
	ExecutionCancelled ExecutionState = "Cancelled"
)

// Done reports whether the execution has ended.
func (s ExecutionState) Done() bool { return s != ExecutionRunning }

// StageState is where one stage of a pipeline execution is:
// Pending -> Waiting -> (Updating ->) Releasing -> Baking -> Succeeded, or
// Failed from Waiting (outside its windows, rejected), Updating (a change
// set failed), Releasing or Baking; Updating goes back to Waiting when a
// reviewed change set went stale.
type StageState string

// Stage states.
const (
	StagePending   StageState = "Pending"   // an earlier stage has not succeeded, or it waits to be promoted
	StageWaiting   StageState = "Waiting"   // for its approval or its window
	StageUpdating  StageState = "Updating"  // its reviewed change sets are executed
	StageReleasing StageState = "Releasing" // its orbits' releases run
	StageBaking    StageState = "Baking"    // released; the bake time runs
	StageSucceeded StageState = "Succeeded"
	StageFailed    StageState = "Failed"
)

// What a waiting stage waits for (StageRun.WaitingFor).
const (
	WaitApproval = "approval"
	WaitWindow   = "window"
	WaitPromote  = "promotion" // a stage without auto: `pipeline resume --stage`
	WaitUnpin    = "unpin"     // an orbit of the stage is pinned by a rollback: `pipeline unpin`
	// WaitAccess starts the WaitingFor entry of a stage whose driver may
	// not release into one of its orbits ("access: ..." says which grant
	// is missing); `pipeline resume` from a machine with access goes on.
	WaitAccess = "access"
)

// PipelineExecution is the durable record of one run of an app's pipeline
// for one version. It is written on condition of its revision, like a
// release record, so that a driver, an approver and a canceller never
// overwrite each other's writes; the driver holds a lease in it.
type PipelineExecution struct {
	ID        string         `json:"id"`
	App       string         `json:"app"`
	Version   string         `json:"version"`
	StartedBy string         `json:"started_by"` // the caller's ARN
	StartedAt time.Time      `json:"started_at"`
	State     ExecutionState `json:"state"`
	Stages    []StageRun     `json:"stages"`
	// Pipeline is the pipeline as the manifest said when the execution
	// started; later edits of the manifest do not change a running one.
	Pipeline Pipeline `json:"pipeline"`
	// Sources name the manifests the execution ships (see
	// PipelineSources); nil for an execution started before they were
	// kept, whose stages read the manifest files.
	Sources *PipelineSourcesRef `json:"sources,omitempty"`
	// Cancel is set by `pipeline cancel`; the driver ends the execution
	// at its next step.
	Cancel *StageDecision `json:"cancel,omitempty"`
	// Owner and LeaseExpires are the lease of the process that drives
	// the execution; no other process drives it before LeaseExpires
	// unless Owner gave the lease up (zero LeaseExpires).
	Owner        string    `json:"owner,omitempty"`
	LeaseExpires time.Time `json:"lease_expires,omitzero"`
	Revision     int64     `json:"revision"`
	// Decisions counts the writes of decisions (approve, reject, promote,
	// override, unpin, cancel): every one adds 1, and nothing else
	// changes it. A driver's own writes (a lease taken, a stage parked)
	// move Revision, not Decisions, so a deployer that parked an
	// execution runs it again when Decisions moved, not when another
	// replica's run wrote the record.
	Decisions int64 `json:"decisions,omitempty"`
	// HandOvers counts the leases given up by drivers that stopped
	// before the execution parked (a deployer shutting down): such a
	// write asks another driver to go on at once, as a decision does.
	HandOvers int64     `json:"hand_overs,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Stage returns the run of the stage called name, or nil.
func (e *PipelineExecution) Stage(name string) *StageRun {
	for i := range e.Stages {
		if e.Stages[i].Name == name {
			return &e.Stages[i]
		}
	}
	return nil
}

// StageRun is one stage of an execution.
type StageRun struct {
	Name       string     `json:"name"`
	State      StageState `json:"state"`
	WaitingFor []string   `json:"waiting_for,omitempty"` // WaitApproval, WaitWindow, WaitPromote
	// Until is when the stage's next window opens while it waits for
	// one, or when its bake ends while it bakes.
	Until time.Time `json:"until,omitzero"`
	// Review is what an approver is shown and approves: the change sets
	// of the app's stacks in the stage's orbits, computed when the stage
	// starts waiting for its approval.
	Review []ChangeSetRef `json:"review,omitempty"`
	// Approval is the approval given, bound to Review; void when the
	// change sets change or it expires.
	Approval  *StageDecision `json:"approval,omitempty"`
	Rejection *StageDecision `json:"rejection,omitempty"`
	// Promoted is who started a stage that does not start by itself.
	Promoted *StageDecision `json:"promoted,omitempty"`
	// Override is an admin's decision to release the stage outside its
	// windows.
	Override *StageDecision `json:"override,omitempty"`
	// Pins say why the stage's orbits are pinned (a person rolled the
	// app back there) while it waits to be unpinned; Unpinned is who
	// cleared them for this execution.
	Pins     []string       `json:"pins,omitempty"`
	Unpinned *StageDecision `json:"unpinned,omitempty"`
	// Updates are the reviewed change sets the stage executes, by change
	// set id: UpdateStarted once it asked CloudFormation to execute it,
	// UpdateDone when the stack settled.
	Updates map[string]string `json:"updates,omitempty"`
	// Releases are the release ids of the stage, by orbit.
	Releases  map[string]string `json:"releases,omitempty"`
	StartedAt time.Time         `json:"started_at,omitzero"`
	EndedAt   time.Time         `json:"ended_at,omitzero"`
	Error     string            `json:"error,omitempty"`
}

// ChangeSetRef names a change set computed for review: the CloudFormation
// change set of the app's stack in one orbit and region, the hash of the
// template it would apply, and what it would change. Two reviews are the
// same when their refs name the same change sets and hashes (SameReview);
// Changes only describe the change set.
type ChangeSetRef struct {
	Orbit        string           `json:"orbit"`
	Region       string           `json:"region"`
	Stack        string           `json:"stack"`
	ChangeSetID  string           `json:"change_set_id"` // the change set's ARN; "" when the stack would not change
	TemplateHash string           `json:"template_hash"`
	Changes      []ResourceChange `json:"changes,omitempty"`
	// Created is when CloudFormation made the change set: executing it
	// reads the stack's events from then on, not its whole history.
	Created time.Time `json:"created,omitzero"`
}

// ReviewOwner names who keeps the change sets a stage of an execution
// reviews: the description of each, by which a review finds and deletes
// those it made and lost track of.
func ReviewOwner(execution, stage string) string {
	return "elevator pipeline " + execution + " stage " + stage
}

// SameChangeSet reports whether r and o name the same change set of the
// same stack for the same template.
func (r ChangeSetRef) SameChangeSet(o ChangeSetRef) bool {
	return r.Orbit == o.Orbit && r.Region == o.Region && r.Stack == o.Stack && r.ChangeSetID == o.ChangeSetID && r.TemplateHash == o.TemplateHash
}

// SameReview reports whether two reviews name the same change sets, in
// the same order.
func SameReview(a, b []ChangeSetRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].SameChangeSet(b[i]) {
			return false
		}
	}
	return true
}

// ResourceChange is one resource a change set would add, modify or
// remove, as CloudFormation describes it.
type ResourceChange struct {
	Action    string `json:"action"` // Add, Modify, Remove (Import, Dynamic)
	LogicalID string `json:"logical_id"`
	Type      string `json:"type"`
	// Replacement is True, False or Conditional for a Modify; "" when
	// CloudFormation does not say (the emulator never does).
	Replacement string `json:"replacement,omitempty"`
	// Stateful marks a resource that holds data (StatefulType).
	Stateful bool `json:"stateful,omitempty"`
}

// Destructive reports whether the change removes or may replace a
// stateful resource: a Remove, or a Modify whose replacement is True,
// Conditional or not known.
func (c ResourceChange) Destructive() bool {
	if !c.Stateful {
		return false
	}
	switch c.Action {
	case "Remove":
		return true
	case "Modify", "Dynamic":
		return c.Replacement != "False"
	}
	return false
}

// statefulTypes are the CloudFormation resource types that hold data:
// the data stores an app compiles to (RDS, Aurora, ElastiCache, DynamoDB
// and the generated database password), and log groups, buckets, queues
// and file systems generally.
var statefulTypes = map[string]bool{
	"AWS::RDS::DBInstance":               true,
	"AWS::RDS::DBCluster":                true,
	"AWS::RDS::GlobalCluster":            true,
	"AWS::ElastiCache::ReplicationGroup": true,
	"AWS::ElastiCache::CacheCluster":     true,
	"AWS::DynamoDB::Table":               true,
	"AWS::DynamoDB::GlobalTable":         true,
	"AWS::SecretsManager::Secret":        true,
	"AWS::Logs::LogGroup":                true,
	"AWS::S3::Bucket":                    true,
	"AWS::SQS::Queue":                    true,
	"AWS::EFS::FileSystem":               true,
}

// StatefulType reports whether resources of a CloudFormation type hold
// data that replacing or removing them loses.
func StatefulType(t string) bool { return statefulTypes[t] }

// Auto-approval policies of a stage (StageApproval.Auto).
const (
	// ApproveSafeChanges approves a stage by policy when no change set of
	// its review removes or may replace a stateful resource (and when
	// nothing changes at all); otherwise a person approves.
	ApproveSafeChanges = "safe-changes"
	// PolicyApprover is the approver of an approval given by policy.
	PolicyApprover = "policy"
)

// Where a stage's change set is (StageRun.Updates).
const (
	UpdateStarted = "started"
	UpdateDone    = "done"
)

// StageDecision is a person's decision on an execution or one of its
// stages: an approval, a rejection, a promotion or a cancellation.
type StageDecision struct {
	By     string    `json:"by"` // the caller's ARN
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	// Reviewed are the change sets the decision was made on (approvals).
	Reviewed []ChangeSetRef `json:"reviewed,omitempty"`
	// Expires is when an approval stops being good.
	Expires time.Time `json:"expires,omitzero"`
	// Self says that the principal who started the execution approved
	// it, as the stage's orbits allow (Orbit.SelfApproval).
	Self bool `json:"self,omitempty"`
}

// PipelineKeyPrefix starts the hash key ("app") of a pipeline execution's
// item in an orbit's releases table (ReleasesTableName): the item of
// execution ID of app A has app "pipeline#A" and release_id ID, so that
// it never shows among A's releases (app names cannot hold '#') and the
// orbit stack needs no table of its own for it.
const PipelineKeyPrefix = "pipeline#"

// ReleaseTokenKey is the key, in the state bucket of the execution's
// home (the orbit of its first stage), whichever orbit the release goes
// to, of the object that binds a release token to the id of the release
// it started: the pipeline executor gives each stage's release
// in each orbit one token, the same at every try, and the object is
// written (if absent) before the release is submitted, so that a try
// after a crash finds the release the one before it submitted. The token
// is hashed: it is the key's only variable part, and may hold anything.
func ReleaseTokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return ReleasesPrefix + "tokens/" + hex.EncodeToString(sum[:]) + ".json"
}

// RollbackPin says why the newest release of an app in an orbit pins the
// orbit against pipelines, or "" when it does not: a pipeline never ships
// into an orbit where a person has just rolled the app back (see
// `pipeline unpin`). rec is that release's record, rel its document. A
// person rolls an app back in one of two ways, and both pin:
//   - a rollback release (`elevator rollback`, the dashboard's or the
//     deployer's rollback: rel.RollbackOf is set), whatever its state:
//     running, it is on its way; failed, the person still wanted the
//     content before it back;
//   - a halt of a release at its gates (`elevator rollback` while a
//     release is at SmokeTest, IntegrationTest or Bake halts it, and so
//     does `release halt`), which takes it back at once: the record has
//     the halt, reached a gate, and did not succeed.
//
// A release that failed by itself (a test, an alarm: its own instant
// rollback) does not pin: no person decided it, and the pipeline stage
// that made it failed with it.
func RollbackPin(rec *ReleaseRecord, rel *Release) string {
	if rel != nil && rel.RollbackOf != "" {
		return fmt.Sprintf("release %s by %s rolled %s back to the content of %s", rel.ID, rel.CreatedBy, rel.App, rel.RollbackOf)
	}
	if rec == nil || rec.Halt == nil || rec.State == StateSuccess {
		return ""
	}
	for _, s := range rec.Path {
		if s == StateSmokeTest || s == StateIntegrationTest || s == StateBake {
			version := ""
			if rel != nil {
				version = " (version " + rel.Version + ")"
			}
			return fmt.Sprintf("release %s%s was rolled back at its gates by %s: %s", rec.ID, version, rec.Halt.By, rec.Halt.Reason)
		}
	}
	return ""
}

// ErrStaleChangeSet is wrapped by the error of a reviewed change set that
// may not run: its stack changed since it was made, it is gone or not
// executable, or the app no longer compiles to the template it applies.
// What was reviewed is not what would run: review again.
var ErrStaleChangeSet = errors.New("the reviewed change set is stale; review again")

// ErrChangeSetFailed is wrapped by the error of a reviewed change set
// whose stack ended its update in failure (rolled back).
var ErrChangeSetFailed = errors.New("the change set's update failed")
