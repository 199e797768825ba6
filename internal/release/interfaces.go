package release

import (
	"context"
	"fmt"
	"time"

	"github.com/elevatorhq/elevator"
)

// Store keeps releases, their records, halts and the audit log: in AWS,
// the orbit's state bucket and table. Every method may be called again
// after an error; implementations return ErrNotFound, ErrStale and
// ErrExists (or errors wrapping them) as documented, and anything else for
// a failure worth retrying.
type Store interface {
	// PutRelease stores a release document and its checksum under the
	// release id, once. Storing the same document again returns nil; a
	// different document under the same id returns ErrExists.
	PutRelease(ctx context.Context, id string, doc []byte, checksum string) error
	// Release returns a stored document and the checksum stored with it, or
	// ErrNotFound. It returns the bytes exactly as stored.
	Release(ctx context.Context, id string) (doc []byte, checksum string, err error)
	// PutRecord stores rec only if the stored record of rec.ID has
	// Revision rec.Revision-1 (or there is none and rec.Revision is 1);
	// otherwise it returns ErrStale and changes nothing. This conditional
	// write is what keeps two engines from both advancing a release. When
	// the release was halted (PutHalt) and rec does not carry the halt yet
	// (rec.Halt is nil), it returns a *HaltedError with the halt and
	// changes nothing: the engine learns of a halt from the write that
	// would have missed it, without reading the flag at every transition.
	PutRecord(ctx context.Context, rec *elevator.ReleaseRecord) error
	// PutLockedRecord is PutRecord for a release whose engine holds its
	// lock: in the same conditional write, it also requires that the
	// Locker's lock of rec.App in rec.Orbit has l's Owner and ReleaseID,
	// and otherwise returns ErrLockLost (after ErrStale and *HaltedError,
	// which are reported first) and changes nothing. This is the engine's
	// fence: a lock broken by `unlock`, or taken by another release after
	// its lease ended, refuses the next record of the release that had it.
	PutLockedRecord(ctx context.Context, rec *elevator.ReleaseRecord, l Lock) error
	// Record returns the stored record of a release, or ErrNotFound.
	Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error)
	// ReleasesAfter returns the records of an app's releases whose ids
	// sort after after, in id order. Ids begin with the time they were
	// made (elevator.ReleaseIDStamp), so after "20261123-120000123" gives
	// the releases made in that millisecond or later.
	ReleasesAfter(ctx context.Context, app, after string) ([]*elevator.ReleaseRecord, error)
	// PutHalt asks a release to stop. Halting a release again keeps the
	// first halt and returns nil.
	PutHalt(ctx context.Context, id string, h elevator.ReleaseHalt) error
	// Halt returns the halt asked for a release, or nil and no error when
	// there is none. Halts never expire.
	Halt(ctx context.Context, id string) (*elevator.ReleaseHalt, error)
	// Audit appends an entry to the orbit's audit log. Appending the same
	// entry twice may keep both.
	Audit(ctx context.Context, e elevator.AuditEntry) error
	// PutTestRetry asks the engine running a release to run its failed
	// tests again, as round round (the record's TestRound + 1). Asking for
	// a round again keeps the first request and returns nil.
	PutTestRetry(ctx context.Context, id string, round int, t elevator.TestRetry) error
	// TestRetry returns the request for a round of a release's tests, or
	// nil and no error when there is none.
	TestRetry(ctx context.Context, id string, round int) (*elevator.TestRetry, error)
}

// Lock is the (app, orbit) release lock: at most one release of an app in
// an orbit runs at a time, driven by one engine (Owner) that renews its
// lease (Expires) while it works. A lock whose lease has expired may be
// taken by anyone.
type Lock struct {
	App, Orbit string
	ReleaseID  string
	Owner      string    // the engine instance driving the release
	Holder     string    // who asked for the release, for people to read
	Since      time.Time // when the release first took the lock
	Expires    time.Time // the end of the lease
}

// Locker keeps locks with conditional writes (in AWS, a DynamoDB table with
// condition expressions). Time is the caller's, so that the engine's
// injected clock decides leases.
type Locker interface {
	// Acquire stores want if there is no lock for want.App and want.Orbit,
	// or the lock's lease expired before now, or the lock already has
	// want's Owner and ReleaseID; in one conditional write. It returns the
	// lock it replaced (zero when there was none). Otherwise it changes
	// nothing and returns a *LockHeldError with the lock as stored.
	Acquire(ctx context.Context, want Lock, now time.Time) (prev Lock, err error)
	// Renew sets the lease of a lock to l.Expires if the stored lock has
	// l's Owner and ReleaseID; else it returns ErrLockLost. Renewing twice
	// is harmless.
	Renew(ctx context.Context, l Lock) error
	// Release deletes the lock if it has l's Owner and ReleaseID. It
	// returns nil when there is no lock, and ErrLockLost when someone else
	// holds it.
	Release(ctx context.Context, l Lock) error
	// Break deletes the lock of an app in an orbit whoever holds it, and
	// returns it; ErrNotFound when there is none.
	Break(ctx context.Context, app, orbit string) (Lock, error)
	// Get returns the lock of an app in an orbit, or ErrNotFound.
	Get(ctx context.Context, app, orbit string) (Lock, error)
}

// ResourceKind is a kind of resource a release uses.
type ResourceKind string

// Resource kinds. Ids are AMI ids, subnet ids, security group ids, target
// group ARNs, instance profile names and, for container images in a
// service's own ECR repository, <repository>:<tag>.
const (
	KindImage           ResourceKind = "image"
	KindSubnet          ResourceKind = "subnet"
	KindSecurityGroup   ResourceKind = "security group"
	KindTargetGroup     ResourceKind = "target group"
	KindInstanceProfile ResourceKind = "instance profile"
	KindContainerImage  ResourceKind = "container image"
)

// Resource is a resource a release uses, with what authorizes its use.
type Resource struct {
	Kind ResourceKind
	ID   string
	Tags map[string]string
	Path string // the IAM path of an instance profile (see elevator.IAMPath)
	// Allows lists, for an image or a container image, the apps the
	// orbit's image allow list lets releases into the release's orbit use
	// it for, of those asked about (see Cloud.AllowedImages).
	Allows []string
	// Foreign says an image is owned by another account than the
	// release's (its owner's tags are not seen), Public that every
	// account may launch it.
	Foreign, Public bool
	// Deprecated is when an image's owner set it to be deprecated; zero
	// when not. Another account's image shows it where its tags are not
	// seen: a revocation deprecates the image (see imageStageRule).
	Deprecated time.Time
}

// GroupFilter selects Auto Scaling Groups by their tags. Orbit is always
// set, and App by releases (gc looks at a whole orbit); Service and
// ReleaseID narrow when set.
type GroupFilter struct {
	App, Orbit, Service, ReleaseID string
}

// Group is an Auto Scaling Group made by a release, or an ECS service
// (Cluster set): the engine releases both the same way. An ECS service's
// tasks are its Instances, its desired count its Capacity.Desired (Min
// and Max are its scalable target's, or the desired count when it has
// none).
type Group struct {
	Name         string
	Cluster      string // the ECS cluster of an ECS service; "" for an Auto Scaling Group
	Tags         map[string]string
	Capacity     Capacity
	TargetGroups []string // ARNs the group is attached to
	Instances    []Instance
	Deleting     bool // deletion started; the group is going away
	// Failed says why ECS gave up the service's deployment (its circuit
	// breaker tripped: tasks kept failing to start or to become
	// healthy); "" while it has not. Always "" for an Auto Scaling Group.
	Failed string
	// Settling says why an ECS service's deployment is not steady yet,
	// such as "deployment IN_PROGRESS: 2 of 3 tasks running" or "2
	// deployments" (a change of its load balancers, or of its task,
	// starts new tasks and then stops the old ones); "" when it is
	// steady. Always "" for an Auto Scaling Group.
	Settling string
}

// ReleaseID is the id of the release that made the group.
func (g Group) ReleaseID() string { return g.Tags[elevator.TagRelease] }

// Ref is how the Cloud's methods name the group.
func (g Group) Ref() GroupRef { return GroupRef{Name: g.Name, Cluster: g.Cluster} }

// GroupRef names a group for the Cloud: an Auto Scaling Group by its
// name, or an ECS service by its name and cluster.
type GroupRef struct {
	Name    string
	Cluster string // "" for an Auto Scaling Group
}

// ECS reports whether the group is an ECS service.
func (g GroupRef) ECS() bool { return g.Cluster != "" }

// String names the group for messages: "web-1234" or "ECS service
// web-1234 of cluster elevator-prod".
func (g GroupRef) String() string {
	if g.ECS() {
		return "ECS service " + g.Name + " of cluster " + g.Cluster
	}
	return g.Name
}

// Capacity is the size of a group.
type Capacity struct {
	Min, Max, Desired int
}

// Lifecycle states of instances in a group, as Auto Scaling names them.
// Any state starting with "Terminat" counts as terminating.
const (
	LifecyclePending   = "Pending"
	LifecycleInService = "InService"
	LifecycleTerminate = "Terminating"
	LifecycleGone      = "Terminated"
)

// Instance is an instance of a group, or a task of an ECS service. A
// task's Lifecycle is Pending until it runs (PROVISIONING, PENDING,
// ACTIVATING), InService while it runs, Terminating while it stops and
// Terminated once stopped: an ECS service's stopped tasks count as
// terminations. Healthy is its container health check's status (true
// when the container has none).
type Instance struct {
	ID        string
	Lifecycle string // Pending, InService, Terminating, Terminating:Wait, Terminated, ...
	Healthy   bool   // the group's health status is Healthy
	// Target is the id the instance has in target groups when it is not
	// ID: a task's private IP address (awsvpc tasks register by IP).
	Target string
}

// TargetID is the id the instance has in its target groups: Target, or
// ID.
func (in Instance) TargetID() string {
	if in.Target != "" {
		return in.Target
	}
	return in.ID
}

// Target health states of an ELBv2 target.
const (
	TargetHealthy   = "healthy"
	TargetInitial   = "initial"
	TargetUnhealthy = "unhealthy"
	TargetDraining  = "draining"
	TargetUnused    = "unused"
)

// Target is an instance (or, for ECS tasks, an IP address) registered
// with a target group.
type Target struct {
	InstanceID string // an instance id, or an IP address (see Instance.TargetID)
	State      string // healthy, initial, unhealthy, draining, unused, unavailable
}

// GroupSpec is what CreateGroup makes: a launch template and an Auto
// Scaling Group that uses it.
type GroupSpec struct {
	Name         string // also the launch template's name
	ImageID      string
	InstanceType string
	// UserData is plain text; the adapter encodes it.
	UserData        string
	InstanceProfile string // a name, or ""
	SecurityGroups  []string
	Subnets         []string
	TargetGroups    []string // attached at creation
	Capacity        Capacity
	// HealthCheckELB makes the group use its target groups' health checks
	// (the group has target groups); else EC2 status checks.
	HealthCheckELB   bool
	HealthCheckGrace time.Duration
	Hooks            []elevator.ReleaseHook // created with the group
	Tags             map[string]string      // on the group, propagated to instances
	// Absent says the caller has just looked for the group and found none
	// (the engine holds the lock, and names groups after their release),
	// so CreateGroup need not look it up again before creating it.
	Absent bool
	// The launch template always requires IMDSv2 (HttpTokens required,
	// hop limit 1); there is no field to turn that off.

	// ECS, when set, makes an ECS service instead: a task definition
	// (family Name) and a service called Name in ECS.Cluster, of
	// Capacity.Desired tasks in Subnets with SecurityGroups (no public
	// address), registered with TargetGroups by IP, with HealthCheckGrace
	// and Tags (propagated to its tasks), its deployment circuit breaker
	// on without rollback. ImageID, InstanceType, UserData,
	// InstanceProfile, HealthCheckELB and Hooks are then unused.
	ECS *ECSSpec
}

// Ref is how the Cloud's methods name the group spec makes: an ECS
// service in spec.ECS.Cluster when spec.ECS is set, else an Auto Scaling
// Group.
func (spec GroupSpec) Ref() GroupRef {
	if spec.ECS != nil {
		return GroupRef{Name: spec.Name, Cluster: spec.ECS.Cluster}
	}
	return GroupRef{Name: spec.Name}
}

// ECSSpec is the task of an ECS service a release makes: one container,
// named Container, running Image.
type ECSSpec struct {
	Cluster   string
	Container string // the container's name: the service's
	Image     string // with its tag
	CPU       int    // CPU units
	Memory    int    // MiB
	Ports     []elevator.ReleasePort
	Command   []string
	// Env is the container's whole environment, the release's variables
	// (ELEVATOR_RELEASE_ID and the others of elevator.UserDataVars)
	// included; Secrets are read by ECS when a task starts.
	Env           map[string]string
	Secrets       []elevator.ReleaseSecret
	Capacity      string // elevator.ECSFargate, ECSFargateSpot or ECSEC2
	TaskRole      string // ARN
	ExecutionRole string // ARN
	LogGroup      string // the awslogs driver's group; the stream prefix is the service's name
}

// Scaling is what PutScaling puts on a group.
type Scaling struct {
	// Min and Max bound an ECS service's desired count (its scalable
	// target); an Auto Scaling Group has its own (SetCapacity).
	Min, Max int
	Policies []elevator.ReleasePolicy
	Schedule []elevator.ReleaseSchedule
	Alarms   []elevator.ReleaseAlarm // on the group's average CPU
}

// Cloud is what the engine needs of AWS in one region: EC2, IAM, Auto
// Scaling, ELBv2 and CloudWatch. Errors: ErrNotFound where documented; an
// *elevator.Error with code EINVALID when AWS refuses a request as
// malformed (the engine does not retry those); anything else is retried.
type Cloud interface {
	// Region names the region the Cloud acts in.
	Region() string
	// Describe returns the resources of a kind with these ids, with their
	// tags (and path, for instance profiles). An id that does not exist is
	// left out of the result, not an error: for a container image, a tag
	// its repository lacks, or a repository that does not exist. It asks
	// about container images with one call per repository. Read-only.
	Describe(ctx context.Context, kind ResourceKind, ids []string) ([]Resource, error)
	// AllowedImages returns those of images that the image allow list of
	// orbit in the Cloud's region (elevator.ImagesTableName) lets releases
	// of app use. A region whose orbit has no allow list yet allows none.
	// Read-only, and at most one read per image.
	AllowedImages(ctx context.Context, orbit, app string, images []string) ([]string, error)
	// Groups returns the groups whose tags match every non-empty field of
	// f, with their instances, including groups being deleted. It must
	// use tag-filtered calls, never list every group. Read-only.
	Groups(ctx context.Context, f GroupFilter) ([]Group, error)
	// CreateGroup makes spec's launch template and group. token is an
	// idempotency token derived from the release id, state, region and
	// service; a retried call carries the same token. If the launch
	// template or a group named spec.Name already exists with spec's
	// elevator.TagRelease, CreateGroup completes what is missing and returns nil.
	CreateGroup(ctx context.Context, spec GroupSpec, token string) error
	// SetCapacity sets a group's size. Setting the same size again is
	// harmless.
	SetCapacity(ctx context.Context, group GroupRef, c Capacity) error
	// PutScaling puts scaling policies (with the CloudWatch alarms of step
	// policies) and scheduled actions on a group, named after the group
	// and their index, so that putting them again replaces them. For an
	// ECS service they are Application Auto Scaling's, on a scalable
	// target of its desired count between s.Min and s.Max.
	PutScaling(ctx context.Context, group GroupRef, s Scaling) error
	// Targets returns the targets registered with a target group and their
	// health. Read-only.
	Targets(ctx context.Context, targetGroup string) ([]Target, error)
	// AttachTargetGroups attaches a group to target groups; attaching an
	// attached group is harmless.
	AttachTargetGroups(ctx context.Context, group GroupRef, targetGroups []string) error
	// DetachTargetGroups detaches a group from target groups (its targets
	// then drain); detaching a detached group is harmless. An ECS service
	// detached from all its target groups is scaled to zero, its scaling
	// suspended, and Groups lists it with no TargetGroups until
	// AttachTargetGroups gives it back its tasks and resumes its scaling.
	DetachTargetGroups(ctx context.Context, group GroupRef, targetGroups []string) error
	// DeleteGroup starts deleting a group with its instances, its launch
	// template, its scaling policies and their alarms, and its scheduled
	// actions; an ECS service with its tasks (scaled to zero first), its
	// task definition, its scalable target, policies and alarms. A group
	// already gone, or being deleted, is nil.
	DeleteGroup(ctx context.Context, group GroupRef) error
	// Remains returns what releases made besides their groups, which
	// outlives a group that was never made or went away without
	// DeleteGroup: launch templates and ECS task definitions found by tag
	// (f.App, f.Orbit and f.ReleaseID when set), and CloudWatch alarms found by their name,
	// which starts with their group's (see GroupName). f.Orbit is
	// required, and f.App for alarms. Read-only.
	Remains(ctx context.Context, f GroupFilter) ([]Remain, error)
	// DeleteRemain deletes what Remains found. A launch template already
	// gone is nil; an alarm already gone may be an error, and Remains no
	// longer lists it.
	DeleteRemain(ctx context.Context, r Remain) error

	// The gates' operations (see gates.go).

	// CreateTestTargetGroup makes a target group called name like the
	// target group like (its VPC, protocol, port and health check),
	// tagged with tags, and returns its ARN. A target group of that name
	// that carries tags' elevator.TagRelease is returned as it is; one
	// that carries another is an EINVALID error.
	CreateTestTargetGroup(ctx context.Context, name, like string, tags map[string]string) (string, error)
	// DeleteTestTargetGroup deletes the target group called name; one
	// already gone is nil.
	DeleteTestTargetGroup(ctx context.Context, name string) error
	// ForwardListener makes a listener's default action forward to a
	// target group, or, when targetGroup is "", answer 503 (no release
	// under test). Doing it again is harmless.
	ForwardListener(ctx context.Context, listener, targetGroup string) error
	// AlarmStates returns the states of the named CloudWatch alarms; an
	// alarm that does not exist is left out. Read-only.
	AlarmStates(ctx context.Context, names []string) ([]AlarmState, error)
	// RunCommand runs shell lines on an instance through SSM Run Command,
	// waits at most timeout for them to finish, and returns what they
	// printed and whether they succeeded.
	RunCommand(ctx context.Context, instance string, lines []string, timeout time.Duration) (CommandResult, error)
	// Publish sends a message to an SNS topic.
	Publish(ctx context.Context, topic, subject, message string) error
}

// AlarmState is the state of a CloudWatch alarm: elevator.AlarmOK,
// AlarmAlarm or AlarmInsufficient, and why.
type AlarmState struct {
	Name, State, Reason string
}

// CommandResult is what a command run on an instance printed, and whether
// it succeeded (exited 0 before its timeout).
type CommandResult struct {
	// Stdout and Stderr are what the command printed; StdoutCut and
	// StderrCut say that SSM cut one short at its end (it keeps 24,000
	// characters), where a secret may have been cut in two.
	Stdout, Stderr       string
	StdoutCut, StderrCut bool
	OK                   bool
	Status               string // as SSM says it: Success, Failed, TimedOut, ...
}

// RemainKind is a kind of Remain.
type RemainKind string

// Kinds of Remain.
const (
	RemainLaunchTemplate RemainKind = "launch template"
	RemainAlarm          RemainKind = "alarm"
	// RemainTaskDefinition is a revision of an ECS service's task
	// definition, named family:revision.
	RemainTaskDefinition RemainKind = "task definition"
)

// Remain is a launch template, task definition or alarm a release made
// for one of its groups.
type Remain struct {
	Kind RemainKind
	Name string
	// Group is the group it was made for (its name); App and ReleaseID
	// the app and release that made it, from its tags. An alarm carries
	// none: its App is the one Remains was asked for, and its ReleaseID
	// "" unless Remains was asked for one release (its name carries only
	// the short id).
	Group, App, ReleaseID string
}

// String names a Remain for records and output: "launch template NAME".
func (r Remain) String() string { return string(r.Kind) + " " + r.Name }

// Errors the interfaces return, checked with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist.
	ErrNotFound = &elevator.Error{Code: elevator.ENOTFOUND, Message: "not found"}
	// ErrExists: a different release document is stored under the id.
	ErrExists = &elevator.Error{Code: elevator.ECONFLICT, Message: "a different release is stored under this id"}
	// ErrStale: the record changed since it was read (another engine wrote it).
	ErrStale = &elevator.Error{Code: elevator.ECONFLICT, Message: "release record changed since it was read"}
	// ErrLockLost: the lock is no longer held by this engine.
	ErrLockLost = &elevator.Error{Code: elevator.ECONFLICT, Message: "lock no longer held by this engine"}
)

// HaltedError is PutRecord's refusal to store a record that does not know
// that its release was halted.
type HaltedError struct {
	Halt elevator.ReleaseHalt
}

// Error says who halted the release and why.
func (e *HaltedError) Error() string {
	return fmt.Sprintf("release halted by %s at %s: %s", e.Halt.By, e.Halt.At.UTC().Format(time.RFC3339), e.Halt.Reason)
}

// LockHeldError is returned by Locker.Acquire when someone else holds the
// lock.
type LockHeldError struct {
	Lock Lock
}

// Error says who holds the lock and since when.
func (e *LockHeldError) Error() string {
	l := e.Lock
	return fmt.Sprintf("%s in %s is locked by release %s of %s since %s (engine %s, lease until %s)",
		l.App, l.Orbit, l.ReleaseID, l.Holder, l.Since.UTC().Format(time.RFC3339), l.Owner, l.Expires.UTC().Format(time.RFC3339))
}
