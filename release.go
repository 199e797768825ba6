package elevator

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Release is an immutable request to put one version of an app into one
// orbit, in every region of the orbit. It is written to the orbit's state
// bucket with its checksum (see Canonical and Checksum) before anything
// changes, and the release engine refuses to act on a document whose
// checksum differs from the one it was asked to release.
type Release struct {
	ID        string    `json:"id"`         // from NewReleaseID
	CreatedAt time.Time `json:"created_at"` // UTC; the engine refuses stale releases
	CreatedBy string    `json:"created_by"` // the caller's identity, such as an IAM ARN
	App       string    `json:"app"`
	Orbit     string    `json:"orbit"`
	Version   string    `json:"version"` // what {{VERSION}} becomes, such as a Docker tag
	Regions   []string  `json:"regions"` // the orbit's regions, in rollout order
	// Sequential releases one region at a time, in Regions order; else
	// every region at once. Either way a failure in one region rolls back
	// every region.
	Sequential bool `json:"sequential,omitempty"`
	// TimeoutSeconds bounds each wait: for health at each capacity step,
	// for old targets to drain, for groups to be deleted
	// (DefaultReleaseTimeout unless the app says otherwise).
	TimeoutSeconds int `json:"timeout_seconds"`
	// RollbackOf is the earlier release whose content this one repeats, or "".
	RollbackOf string           `json:"rollback_of,omitempty"`
	Services   []ReleaseService `json:"services"`
	// Tests are the release's gates (see ReleaseTests); nil for none.
	Tests *ReleaseTests `json:"tests,omitempty"`
	// Images is the stage the orbit needs the release's images at; nil
	// for an orbit that takes any (see ReleaseImages).
	Images *ReleaseImages `json:"images,omitempty"`
	// ChaosOptOut is the app's `chaos: false`: the release's groups carry
	// TagChaos with ChaosOptOut, and `elevator chaos` leaves them alone.
	ChaosOptOut bool `json:"chaos_opt_out,omitempty"`
}

// ReleaseService is what a release puts in place for one service: one new
// Auto Scaling Group per region.
type ReleaseService struct {
	Name         string `json:"name"`
	InstanceType string `json:"instance_type"`
	// UserData is the instances' user data with {{RELEASE_ID}}, {{APP}},
	// {{ORBIT}}, {{SERVICE}}, {{REGION}} and {{VERSION}} still in it; the
	// engine fills them in for each region.
	UserData string          `json:"user_data"`
	Capacity ReleaseCapacity `json:"capacity"`
	Policies []ReleasePolicy `json:"policies,omitempty"`
	// Schedule changes the desired capacity at fixed times (see
	// ParseSchedule for Asiaq's "1@30 10 * * *" notation).
	Schedule []ReleaseSchedule `json:"schedule,omitempty"`
	Hooks    []ReleaseHook     `json:"lifecycle_hooks,omitempty"`
	// HealthCheckGraceSeconds is how long a new instance may fail health
	// checks before its group replaces it.
	HealthCheckGraceSeconds int `json:"health_check_grace_seconds,omitempty"`
	// Placements has one entry per region of the release.
	Placements []ReleasePlacement `json:"placements"`
	// ECS is set when the service runs as ECS services instead of Auto
	// Scaling Groups: InstanceType, UserData and Hooks are then empty,
	// and each placement says the cluster, roles and log group and, in
	// Image, the container image with the release's version.
	ECS *ReleaseECS `json:"ecs,omitempty"`
}

// ReleaseECS is the task a release's ECS service runs: one container,
// named after the service, in the awsvpc network mode.
type ReleaseECS struct {
	Capacity string        `json:"capacity"` // ECSFargate, ECSFargateSpot or ECSEC2
	CPU      int           `json:"cpu"`      // CPU units
	Memory   int           `json:"memory"`   // MiB
	Ports    []ReleasePort `json:"ports,omitempty"`
	Command  []string      `json:"command,omitempty"`
	// Env is the container's plain environment, the same in every
	// region; a placement adds its own (Env) over it.
	Env map[string]string `json:"env,omitempty"`
}

// ReleasePort is a port an ECS container listens on; the first one takes
// the load balancer's traffic.
type ReleasePort struct {
	Container int    `json:"container"`
	Protocol  string `json:"protocol"` // tcp or udp
}

// ReleaseSecret is a secret an ECS container gets as an environment
// variable: ECS reads it from ValueFrom (a Secrets Manager secret or SSM
// parameter ARN) when the task starts; the value is never in the release.
type ReleaseSecret struct {
	Name      string `json:"name"`       // the environment variable
	ValueFrom string `json:"value_from"` // an ARN
}

// ReleasePlacement is where a service's instances run in one region and
// which resources they use. Each resource must be tagged for the release's
// orbit, app and service (see internal/release).
type ReleasePlacement struct {
	Region  string   `json:"region"`
	Image   string   `json:"image"`   // an AMI id
	Subnets []string `json:"subnets"` // subnet ids of the orbit's private tier
	// Tier names that tier when it is not TierPrivate; its subnets must
	// carry TagTier with this name.
	Tier            string   `json:"tier,omitempty"`
	SecurityGroups  []string `json:"security_groups,omitempty"`
	TargetGroups    []string `json:"target_groups,omitempty"` // ARNs; none for a service without a load balancer
	InstanceProfile string   `json:"instance_profile,omitempty"`
	// Repository is, for a Docker service that runs from its own ECR
	// repository, that repository's name in the region
	// (AppRepositoryName): the release checks that it holds the release's
	// version as a tag, and that the orbit's image allow list has
	// <repository>:<version> for the app. "" for other services.
	Repository string `json:"repository,omitempty"`
	// Alarms watch each new group in this region; their actions are the
	// region's topics.
	Alarms []ReleaseAlarm `json:"alarms,omitempty"`
	// TestListener is the ARN of the test listener of the service's load
	// balancer, which the engine points at a per-release test target
	// group while smoke tests run; TestURL is its address, such as
	// "http://shop-prod-123.us-east-1.elb.amazonaws.com:8443", and
	// ServiceURL the service's production address.
	TestListener string `json:"test_listener,omitempty"`
	TestURL      string `json:"test_url,omitempty"`
	ServiceURL   string `json:"service_url,omitempty"`
	// Events is the ARN of the orbit's topic in the region that hears of
	// the release's events, such as "green is ready"; "" for none.
	Events string `json:"events,omitempty"`

	// The fields of an ECS service's placement (ReleaseService.ECS);
	// Image is then the container image with the release's version, and
	// there is no InstanceProfile.

	// Cluster is the orbit's ECS cluster in the region (ECSClusterName).
	Cluster string `json:"cluster,omitempty"`
	// TaskRole is the ARN of the role the service's containers act as;
	// ExecutionRole the ARN of the role ECS pulls the image and reads
	// the secrets with; LogGroup the CloudWatch Logs group of the
	// containers' output.
	TaskRole      string `json:"task_role,omitempty"`
	ExecutionRole string `json:"execution_role,omitempty"`
	LogGroup      string `json:"log_group,omitempty"`
	// Env is the environment of the region (data stores' endpoints),
	// over ReleaseECS.Env; Secrets the secrets, by reference.
	Env     map[string]string `json:"env,omitempty"`
	Secrets []ReleaseSecret   `json:"secrets,omitempty"`
}

// ReleaseAlarm is a CloudWatch alarm on a group's average CPU (the alarms
// of a service's manifest that watch its instances), put on every group the
// release makes and deleted with it.
type ReleaseAlarm struct {
	Name          string   `json:"name"` // unique within the service
	Threshold     float64  `json:"threshold"`
	PeriodSeconds int      `json:"period_seconds"`
	Evaluations   int      `json:"evaluations"`
	Actions       []string `json:"actions"` // SNS topic ARNs, on alarm and on recovery
}

// Release strategies: how a new group grows to its full size.
const (
	StrategyAllAtOnce = "all-at-once" // launch everything, wait for health
	StrategyCanary    = "canary"      // one instance first, then everything
	StrategyPercent   = "percent"     // grow through ReleaseCapacity.Steps percentages
)

// ReleaseCapacity sizes a service's new groups. The desired capacity is
// the running group's (carried over), bounded by Min and Max, or Min when
// nothing runs. A group launches desired x (1 + Spread) instances and is
// healthy with desired x (1 - Spread) of them; MaxTerms or more instances
// terminating halts the release (0 means any one does).
type ReleaseCapacity struct {
	Min      int     `json:"min"`
	Max      int     `json:"max"`
	Spread   float64 `json:"spread,omitempty"`    // 0 <= Spread < 1
	MaxTerms int     `json:"max_terms,omitempty"` // >= 0
	Strategy string  `json:"strategy,omitempty"`  // "" means all-at-once
	// Steps are the percentages of the desired capacity a percent
	// strategy goes through, increasing and ending at 100.
	Steps []int `json:"steps,omitempty"`
}

// Scaling policy types.
const (
	PolicyCPUTarget    = "cpu_target"     // target tracking on average CPU
	PolicyCPUScaleUp   = "cpu_scale_up"   // step: add instances above a CPU threshold
	PolicyCPUScaleDown = "cpu_scale_down" // step: remove instances below a CPU threshold
)

// ReleasePolicy is a scaling policy attached to each new group once it is
// healthy. Step policies come with the CloudWatch alarm that triggers them.
type ReleasePolicy struct {
	Type string `json:"type"`
	// Target is the average CPU percent a cpu_target policy keeps.
	Target float64 `json:"target,omitempty"`
	// Threshold, Adjustment, Periods and CooldownSeconds describe a step
	// policy: change the desired capacity by Adjustment when the average
	// CPU percent is above (scale up) or below (scale down) Threshold for
	// Periods minutes in a row.
	Threshold       float64 `json:"threshold,omitempty"`
	Adjustment      int     `json:"adjustment,omitempty"`
	Periods         int     `json:"periods,omitempty"`
	CooldownSeconds int     `json:"cooldown_seconds,omitempty"`
}

// ReleaseSchedule sets a group's desired capacity at the times a cron
// expression (five fields, UTC) names.
type ReleaseSchedule struct {
	Desired int    `json:"desired"`
	Cron    string `json:"cron"`
}

// Lifecycle hook transitions.
const (
	HookLaunching   = "autoscaling:EC2_INSTANCE_LAUNCHING"
	HookTerminating = "autoscaling:EC2_INSTANCE_TERMINATING"
)

// ReleaseHook is an Auto Scaling lifecycle hook created with each new
// group, such as one that lets a worker finish its jobs before it stops.
type ReleaseHook struct {
	Name             string `json:"name"`
	Transition       string `json:"transition"`
	RoleARN          string `json:"role_arn,omitempty"`
	TopicARN         string `json:"topic_arn,omitempty"`
	HeartbeatSeconds int    `json:"heartbeat_seconds,omitempty"`
	DefaultResult    string `json:"default_result,omitempty"` // CONTINUE or ABANDON
}

var (
	// releaseIDPattern takes the ids NewReleaseID makes and those it made
	// before it counted milliseconds (see ReleaseIDStamp).
	releaseIDPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}(?:[0-9]{3})?-[0-9a-f]{8}$`)
	namePattern      = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
)

// releaseIDClock is the stamp of the last id NewReleaseID returned in this
// process.
var releaseIDClock struct {
	sync.Mutex
	last time.Time
}

// NewReleaseID returns a new release id: the UTC time to the millisecond
// and eight random hex digits from rnd (crypto/rand when nil), such as
// "20261123-120000123-9f86d081". Ids sort by time (see ReleaseIDStamp).
//
// It never returns an id whose stamp is at or before that of an id it
// returned before in this process: when now is not later than the last
// id's millisecond (two ids in one millisecond, or a clock that stepped
// back) it stamps the millisecond after it. So the ids one process makes
// sort in the order it made them. Two processes can make ids in one
// millisecond; those sort by their random parts, whatever the order they
// were made in, and readers that must order such ids (the release list,
// the deployer's turns) break the tie with the records' submission time.
// It returns an error when rnd fails or the time has no four-digit year.
func NewReleaseID(now time.Time, rnd io.Reader) (string, error) {
	at := now.UTC().Truncate(time.Millisecond)
	releaseIDClock.Lock()
	defer releaseIDClock.Unlock()
	if !at.After(releaseIDClock.last) {
		at = releaseIDClock.last.Add(time.Millisecond)
	}
	id, err := ReleaseIDAt(at, rnd)
	if err != nil {
		return "", err // no id made: the next may have this stamp
	}
	releaseIDClock.last = at
	return id, nil
}

// ReleaseIDAt returns the release id of the time at (to the millisecond,
// in UTC) with eight random hex digits from rnd (crypto/rand when nil),
// whatever ids were made before: for ids of a given time, such as in
// tests. It returns an error when rnd fails or at has no four-digit year.
func ReleaseIDAt(at time.Time, rnd io.Reader) (string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	at = at.UTC()
	if at.Year() < 0 || at.Year() > 9999 {
		return "", Errorf(EINVALID, "make release id: year %d: want 0 to 9999", at.Year())
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("make release id: %w", err)
	}
	return fmt.Sprintf("%s%03d-%s", at.Format("20060102-150405"), at.Nanosecond()/int(time.Millisecond), hex.EncodeToString(b)), nil
}

// ReleaseIDStamp returns the part of a release id that says when it was
// made: "20261123-120000123" of "20261123-120000123-9f86d081", or
// "20261123-120000" of an id made before ids counted milliseconds, such as
// "20261123-120000-9f86d081" (id itself when it has no '-' after its
// date).
//
// Ids, and their stamps, sort as strings in the order they were made, in
// Go as in DynamoDB's sort keys and S3's listings (both order UTF-8
// bytes): ids of different seconds differ in their first 15 bytes, which
// both forms share; within one second an id of the old form has '-' where
// one of the new form has the first digit of its milliseconds, and '-'
// sorts before every digit, so an old id sorts as made at the start of its
// second, before the new ids of that second. Two ids with one stamp were
// made in the same millisecond (or, both of the old form, the same second)
// by different processes: their order says nothing of which came first.
func ReleaseIDStamp(id string) string {
	if len(id) > 9 {
		if i := strings.IndexByte(id[9:], '-'); i >= 0 {
			return id[:9+i]
		}
	}
	return id
}

// ReleaseIDTime returns when id was made, as its stamp says (to the
// millisecond, or the second for an id of the old form), and false when
// id is not a release id (CheckReleaseID).
func ReleaseIDTime(id string) (time.Time, bool) {
	if CheckReleaseID(id) != nil {
		return time.Time{}, false
	}
	stamp := ReleaseIDStamp(id)
	layout := "20060102-150405"
	if len(stamp) > len(layout) {
		stamp = stamp[:len(layout)] + "." + stamp[len(layout):]
		layout += ".000"
	}
	at, err := time.Parse(layout, stamp)
	return at, err == nil
}

// versionPattern is the grammar of an OCI image tag: a version goes into
// image references, user data and systemd units, so it may hold nothing a
// shell, a unit file or a registry would read specially.
var versionPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// CheckReleaseID returns an EINVALID error unless id has the form
// NewReleaseID makes, such as "20261123-120000123-9f86d081", or the form
// it made before it counted milliseconds, such as
// "20261123-120000-9f86d081". Ids name keys in the orbit's state bucket,
// so anything else (such as "../x") is refused before it reaches a call.
func CheckReleaseID(id string) error {
	if !releaseIDPattern.MatchString(id) {
		return Errorf(EINVALID, "release id %q: want the form 20261123-120000123-9f86d081 (or 20261123-120000-9f86d081)", id)
	}
	return nil
}

// CheckVersion returns an EINVALID error unless v is a version a release
// can carry: an OCI image tag, 1 to 128 letters, digits, '_', '.' or '-',
// not starting with '.' or '-'.
func CheckVersion(v string) error {
	if !versionPattern.MatchString(v) {
		return Errorf(EINVALID, "version %q: want an OCI image tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", v)
	}
	return nil
}

// ShortID is the random part of the release id, used in resource names.
func (r *Release) ShortID() string {
	if i := strings.LastIndexByte(r.ID, '-'); i >= 0 {
		return r.ID[i+1:]
	}
	return r.ID
}

// Service returns the release's service called name, or nil.
func (r *Release) Service(name string) *ReleaseService {
	for i := range r.Services {
		if r.Services[i].Name == name {
			return &r.Services[i]
		}
	}
	return nil
}

// Placement returns the service's placement in region, or nil.
func (s *ReleaseService) Placement(region string) *ReleasePlacement {
	for i := range s.Placements {
		if s.Placements[i].Region == region {
			return &s.Placements[i]
		}
	}
	return nil
}

// Timeout is TimeoutSeconds as a duration.
func (r *Release) Timeout() time.Duration { return time.Duration(r.TimeoutSeconds) * time.Second }

// Canonical returns the release's canonical JSON: fields in declaration
// order, no insignificant white space, no HTML escaping, CreatedAt in UTC.
// Encoding the same release always gives the same bytes, so their SHA-256
// (Checksum) identifies the release's content.
func (r *Release) Canonical() ([]byte, error) {
	c := *r
	c.CreatedAt = c.CreatedAt.UTC()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, Errorf(EINVALID, "encode release %s: %w", r.ID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Checksum returns the hex SHA-256 of the release's canonical JSON.
func (r *Release) Checksum() (string, error) {
	b, err := r.Canonical()
	if err != nil {
		return "", err
	}
	return ChecksumOf(b), nil
}

// ChecksumOf returns the hex SHA-256 of a stored release document.
func ChecksumOf(doc []byte) string {
	sum := sha256.Sum256(doc)
	return hex.EncodeToString(sum[:])
}

// ParseRelease decodes a stored release document. It returns an EINVALID
// error when the document has unknown fields, trailing data, or is not in
// canonical form (so that two documents with the same content always have
// the same checksum).
func ParseRelease(doc []byte) (*Release, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	var r Release
	if err := dec.Decode(&r); err != nil {
		return nil, Errorf(EINVALID, "decode release document: %v", err)
	}
	if dec.More() {
		return nil, Errorf(EINVALID, "decode release document: trailing data")
	}
	c, err := r.Canonical()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(c, doc) {
		return nil, Errorf(EINVALID, "release document %s is not in canonical form", r.ID)
	}
	return &r, nil
}

// Check returns an EINVALID error listing every problem with the release's
// structure and values, or nil. It looks nothing up.
func (r *Release) Check() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if CheckReleaseID(r.ID) != nil {
		bad("id %q: want the form 20261123-120000123-9f86d081 (see NewReleaseID)", r.ID)
	}
	if r.CreatedAt.IsZero() {
		bad("created_at: missing")
	}
	if strings.TrimSpace(r.CreatedBy) == "" {
		bad("created_by: missing")
	}
	if !namePattern.MatchString(r.App) {
		bad("app %q: want 1 to 20 lowercase letters, digits or '-', starting with a letter", r.App)
	}
	if !namePattern.MatchString(r.Orbit) {
		bad("orbit %q: want 1 to 20 lowercase letters, digits or '-', starting with a letter", r.Orbit)
	}
	if CheckVersion(r.Version) != nil {
		bad("version %q: want an OCI image tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'", r.Version)
	}
	if len(r.Regions) == 0 {
		bad("regions: want at least one")
	}
	for i, reg := range r.Regions {
		if !IsRegionName(reg) {
			bad("regions[%d] %q: not an AWS region name", i, reg)
		}
		if slices.Index(r.Regions, reg) != i {
			bad("regions[%d] %q: listed twice", i, reg)
		}
	}
	if r.TimeoutSeconds <= 0 || r.TimeoutSeconds > 31556926 {
		bad("timeout_seconds %d: want 1 to 31556926 (a year)", r.TimeoutSeconds)
	}
	if len(r.Services) == 0 {
		bad("services: want at least one")
	}
	for i := range r.Services {
		r.Services[i].check(r, fmt.Sprintf("services[%d]", i), bad)
		if r.Service(r.Services[i].Name) != &r.Services[i] {
			bad("services[%d] %q: listed twice", i, r.Services[i].Name)
		}
	}
	r.Tests.check(r, bad)
	r.Images.check(bad)
	if len(p) > 0 {
		return Errorf(EINVALID, "release %s is invalid:\n  %s", r.ID, strings.Join(p, "\n  "))
	}
	return nil
}

// MaxUserData is the most user data EC2 takes for an instance (and a
// launch template): 16 KB, counted before base64 encoding.
const MaxUserData = 16 << 10

// CheckUserData returns an EINVALID error naming each service whose user
// data is more than EC2 takes (MaxUserData) once ExpandUserData has filled
// its placeholders as the release engine does, in a region it is placed
// in; or nil. Building a release runs it, so that `deploy --dry-run`
// refuses what EC2 would.
func (r *Release) CheckUserData() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	for i := range r.Services {
		r.Services[i].checkUserData(r, "service "+r.Services[i].Name, bad)
	}
	if len(p) > 0 {
		return Errorf(EINVALID, "release %s of %s: %s", r.ID, r.App, strings.Join(p, "; "))
	}
	return nil
}

// checkUserData reports the service's user data when it is more than
// MaxUserData in a region, its placeholders filled (or as it is, when the
// service is placed nowhere).
func (s *ReleaseService) checkUserData(r *Release, at string, bad func(string, ...any)) {
	if len(s.Placements) == 0 && len(s.UserData) > MaxUserData {
		bad("%s: user data of %d bytes; EC2 takes at most %d (16 KB)", at, len(s.UserData), MaxUserData)
	}
	for _, p := range s.Placements {
		ud := ExpandUserData(s.UserData, UserDataVars{ReleaseID: r.ID, App: r.App, Orbit: r.Orbit, Service: s.Name, Region: p.Region, Version: r.Version})
		if len(ud) > MaxUserData {
			bad("%s: user data of %d bytes in %s once its placeholders are filled; EC2 takes at most %d (16 KB)", at, len(ud), p.Region, MaxUserData)
		}
	}
}

func (s *ReleaseService) check(r *Release, at string, bad func(string, ...any)) {
	if !namePattern.MatchString(s.Name) {
		bad("%s.name %q: want 1 to 20 lowercase letters, digits or '-', starting with a letter", at, s.Name)
	}
	if s.ECS != nil {
		s.checkECS(at, bad)
	} else if s.InstanceType == "" {
		bad("%s.instance_type: missing", at)
	}
	s.checkUserData(r, at, bad)
	c := s.Capacity
	if c.Min < 0 || c.Max < 1 || c.Min > c.Max {
		bad("%s.capacity: min %d, max %d: want 0 <= min <= max and max >= 1", at, c.Min, c.Max)
	}
	if c.Spread < 0 || c.Spread >= 1 {
		bad("%s.capacity.spread %v: want 0 <= spread < 1", at, c.Spread)
	}
	if c.MaxTerms < 0 {
		bad("%s.capacity.max_terms %d: want >= 0", at, c.MaxTerms)
	}
	switch c.Strategy {
	case "", StrategyAllAtOnce, StrategyCanary:
		if len(c.Steps) > 0 {
			bad("%s.capacity.steps: only the %s strategy takes steps", at, StrategyPercent)
		}
	case StrategyPercent:
		ok := len(c.Steps) > 0 && c.Steps[len(c.Steps)-1] == 100
		for i, v := range c.Steps {
			if v < 1 || v > 100 || (i > 0 && v <= c.Steps[i-1]) {
				ok = false
			}
		}
		if !ok {
			bad("%s.capacity.steps %v: want increasing percentages from 1 to 100, ending at 100", at, c.Steps)
		}
	default:
		bad("%s.capacity.strategy %q: want %s, %s or %s", at, c.Strategy, StrategyAllAtOnce, StrategyCanary, StrategyPercent)
	}
	for i, pol := range s.Policies {
		pat := fmt.Sprintf("%s.policies[%d]", at, i)
		switch pol.Type {
		case PolicyCPUTarget:
			if pol.Target <= 0 || pol.Target > 100 {
				bad("%s.target %v: want a CPU percent above 0, at most 100", pat, pol.Target)
			}
		case PolicyCPUScaleUp, PolicyCPUScaleDown:
			if pol.Threshold <= 0 || pol.Threshold > 100 {
				bad("%s.threshold %v: want a CPU percent above 0, at most 100", pat, pol.Threshold)
			}
			if (pol.Type == PolicyCPUScaleUp) != (pol.Adjustment > 0) || pol.Adjustment == 0 {
				bad("%s.adjustment %d: want above 0 to scale up, below 0 to scale down", pat, pol.Adjustment)
			}
			if pol.Periods < 0 || pol.CooldownSeconds < 0 {
				bad("%s: periods and cooldown_seconds must not be negative", pat)
			}
		default:
			bad("%s.type %q: want %s, %s or %s", pat, pol.Type, PolicyCPUTarget, PolicyCPUScaleUp, PolicyCPUScaleDown)
		}
	}
	for i, sc := range s.Schedule {
		if sc.Desired < c.Min || sc.Desired > c.Max {
			bad("%s.schedule[%d].desired %d: want between min %d and max %d", at, i, sc.Desired, c.Min, c.Max)
		}
		if len(strings.Fields(sc.Cron)) != 5 {
			bad("%s.schedule[%d].cron %q: want five fields: minute hour day month weekday", at, i, sc.Cron)
		}
	}
	for i, h := range s.Hooks {
		pat := fmt.Sprintf("%s.lifecycle_hooks[%d]", at, i)
		if h.Name == "" {
			bad("%s.name: missing", pat)
		}
		if h.Transition != HookLaunching && h.Transition != HookTerminating {
			bad("%s.transition %q: want %s or %s", pat, h.Transition, HookLaunching, HookTerminating)
		}
		if h.DefaultResult != "" && h.DefaultResult != "CONTINUE" && h.DefaultResult != "ABANDON" {
			bad("%s.default_result %q: want CONTINUE or ABANDON", pat, h.DefaultResult)
		}
		if h.HeartbeatSeconds < 0 || h.HeartbeatSeconds > 7200 {
			bad("%s.heartbeat_seconds %d: want 0 to 7200", pat, h.HeartbeatSeconds)
		}
	}
	if s.HealthCheckGraceSeconds < 0 {
		bad("%s.health_check_grace_seconds %d: want >= 0", at, s.HealthCheckGraceSeconds)
	}
	for i, pl := range s.Placements {
		pat := fmt.Sprintf("%s.placements[%d]", at, i)
		if !slices.Contains(r.Regions, pl.Region) {
			bad("%s.region %q: not one of the release's regions", pat, pl.Region)
		} else if s.Placement(pl.Region) != &s.Placements[i] {
			bad("%s.region %q: placed twice", pat, pl.Region)
		}
		if pl.Image == "" {
			bad("%s.image: missing", pat)
		}
		if want := AppRepositoryName(r.Orbit, r.App, s.Name); pl.Repository != "" && pl.Repository != want {
			bad("%s.repository %q: a service runs only from its own repository, %s", pat, pl.Repository, want)
		}
		if len(pl.Subnets) == 0 {
			bad("%s.subnets: want at least one", pat)
		}
		if s.ECS != nil {
			pl.checkECS(pat, bad)
		} else {
			for _, f := range []struct {
				name string
				set  bool
			}{
				{"cluster", pl.Cluster != ""}, {"task_role", pl.TaskRole != ""}, {"execution_role", pl.ExecutionRole != ""},
				{"log_group", pl.LogGroup != ""}, {"env", len(pl.Env) > 0}, {"secrets", len(pl.Secrets) > 0},
			} {
				if f.set {
					bad("%s.%s: only the placement of an ECS service (ecs set) has one", pat, f.name)
				}
			}
		}
		names := map[string]bool{}
		for j, a := range pl.Alarms {
			aat := fmt.Sprintf("%s.alarms[%d]", pat, j)
			if a.Name == "" || names[a.Name] {
				bad("%s.name %q: want a name unique in the service", aat, a.Name)
			}
			names[a.Name] = true
			if a.PeriodSeconds < 60 || a.PeriodSeconds%60 != 0 || a.Evaluations < 1 || len(a.Actions) == 0 {
				bad("%s: want a period of whole minutes, at least one evaluation and an action", aat)
			}
		}
	}
	for _, reg := range r.Regions {
		if s.Placement(reg) == nil {
			bad("%s.placements: no placement in region %s", at, reg)
		}
	}
}

// envNamePattern is the form of an environment variable's name.
var envNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// isSecretARN reports whether s is what an ECS secret's valueFrom takes
// from Elevator: the ARN of a Secrets Manager secret (optionally with
// :json-key:version-stage:version-id) or of an SSM parameter.
func isSecretARN(s string) bool {
	f := strings.SplitN(s, ":", 6)
	if len(f) != 6 || f[0] != "arn" || !slices.Contains([]string{"aws", "aws-cn", "aws-us-gov"}, f[1]) ||
		!IsRegionName(f[3]) || !accountIDPattern.MatchString(f[4]) || strings.ContainsAny(s, " \t\n") {
		return false
	}
	switch f[2] {
	case "secretsmanager":
		return strings.HasPrefix(f[5], "secret:") && len(f[5]) > len("secret:")
	case "ssm":
		return strings.HasPrefix(f[5], "parameter/") && len(f[5]) > len("parameter/")
	}
	return false
}

// checkECS checks the fields of a service that runs as ECS services: no
// instance type, user data or lifecycle hooks, and a task ECS can run.
func (s *ReleaseService) checkECS(at string, bad func(string, ...any)) {
	if s.InstanceType != "" {
		bad("%s.instance_type %q: an ECS service has none", at, s.InstanceType)
	}
	if s.UserData != "" {
		bad("%s.user_data: an ECS service has none", at)
	}
	if len(s.Hooks) > 0 {
		bad("%s.lifecycle_hooks: an ECS service has none", at)
	}
	e := s.ECS
	switch e.Capacity {
	case ECSFargate, ECSFargateSpot:
		if e.CPU > 0 && e.Memory > 0 && !FargateAllows(e.CPU, e.Memory) {
			bad("%s.ecs: cpu %d with memory %d: not a size Fargate takes (see FargateSizes)", at, e.CPU, e.Memory)
		}
	case ECSEC2:
	default:
		bad("%s.ecs.capacity %q: want %s, %s or %s", at, e.Capacity, ECSFargate, ECSFargateSpot, ECSEC2)
	}
	if e.CPU <= 0 {
		bad("%s.ecs.cpu %d: want CPU units above 0", at, e.CPU)
	}
	if e.Memory <= 0 {
		bad("%s.ecs.memory %d: want MiB above 0", at, e.Memory)
	}
	seen := map[ReleasePort]bool{}
	for i, p := range e.Ports {
		if p.Container < 1 || p.Container > 65535 || (p.Protocol != "tcp" && p.Protocol != "udp") {
			bad("%s.ecs.ports[%d] %d/%s: want a port from 1 to 65535, tcp or udp", at, i, p.Container, p.Protocol)
		}
		if seen[p] {
			bad("%s.ecs.ports[%d] %d/%s: listed twice", at, i, p.Container, p.Protocol)
		}
		seen[p] = true
	}
}

// checkECS checks the fields of an ECS service's placement: the cluster,
// the roles, the log group and the secrets' references.
func (pl *ReleasePlacement) checkECS(at string, bad func(string, ...any)) {
	if pl.Cluster == "" {
		bad("%s.cluster: missing", at)
	}
	if !IsRoleARN(pl.TaskRole) {
		bad("%s.task_role %q: want a role ARN", at, pl.TaskRole)
	}
	if !IsRoleARN(pl.ExecutionRole) {
		bad("%s.execution_role %q: want a role ARN", at, pl.ExecutionRole)
	}
	if pl.LogGroup == "" {
		bad("%s.log_group: missing", at)
	}
	if pl.InstanceProfile != "" {
		bad("%s.instance_profile %q: an ECS service has none (its tasks act as task_role)", at, pl.InstanceProfile)
	}
	for name := range pl.Env {
		if !envNamePattern.MatchString(name) {
			bad("%s.env %q: not an environment variable name", at, name)
		}
	}
	names := map[string]bool{}
	for i, sec := range pl.Secrets {
		sat := fmt.Sprintf("%s.secrets[%d]", at, i)
		if !envNamePattern.MatchString(sec.Name) {
			bad("%s.name %q: want an environment variable name (letters, digits and '_', not starting with a digit)", sat, sec.Name)
		} else if names[sec.Name] {
			bad("%s.name %q: listed twice", sat, sec.Name)
		}
		names[sec.Name] = true
		if !isSecretARN(sec.ValueFrom) {
			bad("%s.value_from: want the ARN of a Secrets Manager secret or SSM parameter", sat)
		}
	}
}

// ReleaseState is a state of the release state machine (see
// internal/release for the transition table).
type ReleaseState string

// Release states, in the order a successful release visits them, then the
// failure path and the three end states.
const (
	StateValidate          ReleaseState = "Validate"          // document, checksum, created_at
	StateLock              ReleaseState = "Lock"              // the (app, orbit) lock, with a lease
	StateValidateResources ReleaseState = "ValidateResources" // tags, paths, running groups
	StateDeploy            ReleaseState = "Deploy"            // a launch template and group per service per region
	StateCheckHealthy      ReleaseState = "CheckHealthy"      // instances and targets healthy
	StateScaleUp           ReleaseState = "ScaleUp"           // the next capacity step of a canary or percent strategy
	StateSmokeTest         ReleaseState = "SmokeTest"         // new groups on the test listener only; smoke tests run
	StateCutOver           ReleaseState = "CutOver"           // scaling in place, old groups out of the target groups
	StateIntegrationTest   ReleaseState = "IntegrationTest"   // integration tests against the new groups serving; old groups kept alive
	StateBake              ReleaseState = "Bake"              // alarms watched for the bake time; old groups kept alive
	StateRollBack          ReleaseState = "RollBack"          // old groups back in their target groups at once; the new ones leave once those serve
	StateCleanUpSuccess    ReleaseState = "CleanUpSuccess"    // delete the old groups
	StateCleanUpFailure    ReleaseState = "CleanUpFailure"    // old groups back in, new groups deleted
	StateUnlock            ReleaseState = "Unlock"            // release the lock, on every path
	StateSuccess           ReleaseState = "Success"
	StateFailureClean      ReleaseState = "FailureClean"
	StateFailureDirty      ReleaseState = "FailureDirty"
)

// Ended reports whether s is an end state: Success, FailureClean or
// FailureDirty.
func (s ReleaseState) Ended() bool {
	return s == StateSuccess || s == StateFailureClean || s == StateFailureDirty
}

// ReleaseRecord is what is known about a release while it runs and after
// it ends. The engine stores it after every transition; Revision makes
// those writes conditional, so two engines can never both advance one
// release.
type ReleaseRecord struct {
	ID       string       `json:"id"`
	App      string       `json:"app"`
	Orbit    string       `json:"orbit"`
	Revision int64        `json:"revision"` // 1 when submitted, +1 on every write
	State    ReleaseState `json:"state"`
	// Path lists every state visited, in order, with Visits the time each
	// was entered; an empty Path means the release has not started.
	Path   []ReleaseState `json:"path"`
	Visits []time.Time    `json:"visits"`
	// Checksum is the checksum the engine was asked to release.
	Checksum    string    `json:"checksum,omitempty"`
	Owner       string    `json:"owner,omitempty"` // the engine that wrote this revision
	SubmittedAt time.Time `json:"submitted_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	Attempts    int       `json:"attempts,omitempty"` // failed attempts at the current state
	Step        int       `json:"step"`               // the capacity step the new groups are at
	Wave        int       `json:"wave"`               // the region (sequential) or all regions (0)
	LockedAt    time.Time `json:"locked_at,omitzero"` // when the release first took the lock
	// Failed is set once the release is on its way to FailureClean or
	// FailureDirty; Error says why, and Failure says it for programs (see
	// Err).
	Failed  bool           `json:"failed,omitempty"`
	Error   string         `json:"error,omitempty"`
	Failure ReleaseFailure `json:"failure,omitempty"`
	Halt    *ReleaseHalt   `json:"halt,omitempty"` // the halt that stopped the release
	// Leftovers names what cleanup could not remove: the release ends
	// FailureDirty exactly when it is not empty.
	Leftovers []string              `json:"leftovers,omitempty"`
	Notes     []string              `json:"notes,omitempty"` // lock takeovers, halts after cut-over
	Regions   []ReleaseRegionRecord `json:"regions"`
	// GreenReadyAt is when the new groups first answered on the test
	// listener (an event published to the orbit's topic as well).
	GreenReadyAt time.Time `json:"green_ready_at,omitzero"`
	// Tests are the latest tries of the release's tests (at most
	// MaxTestResults), TestRound the round of `release retry-tests` being
	// run, and TestsFailedAt when the current phase's tests failed, while
	// it waits for a retry; zero otherwise.
	Tests         []ReleaseTestResult `json:"tests,omitempty"`
	TestRound     int                 `json:"test_round,omitempty"`
	TestsFailedAt time.Time           `json:"tests_failed_at,omitzero"`
	// Alarms are the watched alarms' changes of state, in order.
	Alarms []ReleaseAlarmChange `json:"alarms,omitempty"`
	// Calls counts the engine's calls per interface method, such as
	// "Cloud.Groups us-east-1" or "Store.PutRecord".
	Calls map[string]int `json:"calls,omitempty"`
}

// ReleaseRegionRecord is a release's progress in one region.
type ReleaseRegionRecord struct {
	Region   string                 `json:"region"`
	Services []ReleaseServiceRecord `json:"services"`
	// GreenReadyAt is when the new groups of the region answered on the
	// test listener ("green is ready").
	GreenReadyAt time.Time `json:"green_ready_at,omitzero"`
}

// ReleaseServiceRecord is a release's progress for one service in one
// region.
type ReleaseServiceRecord struct {
	Service string `json:"service"`
	Group   string `json:"group"` // the new Auto Scaling Group, or ECS service
	// Cluster is the ECS cluster of the new group when it is an ECS
	// service; "" for an Auto Scaling Group.
	Cluster string `json:"cluster,omitempty"`
	Desired int    `json:"desired"` // the desired capacity, carried over or min
	// CarriedFrom names the running group whose desired capacity was kept.
	CarriedFrom string             `json:"carried_from,omitempty"`
	Old         []ReleaseOldGroup  `json:"old,omitempty"`
	Health      ReleaseGroupHealth `json:"health"`
	// Scaled is set once the new group has its final size, scaling
	// policies and scheduled actions (at cut-over).
	Scaled bool `json:"scaled,omitempty"`
	// TestTargetGroup is the ARN of the per-release test target group the
	// new group was made in, while smoke tests run; Attached is set once
	// the new group is in its production target groups (at cut-over).
	TestTargetGroup string `json:"test_target_group,omitempty"`
	Attached        bool   `json:"attached,omitempty"`
	// TestTargetGroupGone is set once cleanup deleted the test target
	// group (or found none).
	TestTargetGroupGone bool `json:"test_target_group_gone,omitempty"`
}

// ReleaseOldGroup is a group that served the service before the release.
type ReleaseOldGroup struct {
	Name         string   `json:"name"`
	Cluster      string   `json:"cluster,omitempty"` // its ECS cluster when it is an ECS service
	Desired      int      `json:"desired"`
	TargetGroups []string `json:"target_groups,omitempty"`
	Detached     bool     `json:"detached,omitempty"` // taken out of its target groups by this release
	// Reattached is set while a failed release waits for the group to
	// serve again after putting it back in its target groups.
	Reattached bool `json:"reattached,omitempty"`
}

// ReleaseGroupHealth is the last look at a new group's health.
type ReleaseGroupHealth struct {
	Launch      int       `json:"launch"`      // instances asked for at this step
	Needed      int       `json:"needed"`      // healthy instances needed at this step
	InService   int       `json:"in_service"`  // in service and healthy in the group
	Healthy     int       `json:"healthy"`     // and healthy in every target group
	Terminating int       `json:"terminating"` // terminating or terminated
	ObservedAt  time.Time `json:"observed_at,omitzero"`
}

// ReleaseHalt is an operator's request to stop a release. It does not
// expire: a release checks for it at every transition and every poll until
// cut-over, and then ends FailureClean.
type ReleaseHalt struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Audit actions.
const (
	AuditSubmit     = "submit"      // a release was written down
	AuditRelease    = "release"     // a release ended; Outcome is its end state
	AuditHalt       = "halt"        // an operator asked a release to stop
	AuditUnlock     = "unlock"      // an operator broke an (app, orbit) lock
	AuditRollback   = "rollback"    // an operator released an earlier release's content again
	AuditResume     = "resume"      // an engine took over a release whose engine stopped
	AuditGC         = "gc"          // an operator removed what ended releases left behind
	AuditRefused    = "refused"     // the deployer's API refused a call: not authenticated, or not allowed
	AuditRetryTests = "retry-tests" // an operator asked a release to run its failed tests again
	AuditCall       = "call"        // the deployer's API served a call; Detail names it and the caller's role
	AuditExec       = "exec"        // a command ran on a service's instances; Detail names it and how many failed
	AuditChaos      = "chaos"       // instances were terminated on purpose (or a zone taken away); Detail lists them
	AuditIAMApply   = "iam-apply"   // IAM groups, users, roles or policies were changed from files; Detail lists the changes
	AuditIAMKeys    = "iam-keys"    // IAM users' access keys were deactivated; Detail names them
)

// AuditEntry is one line of an orbit's audit log: who did what, when, and
// how it came out.
type AuditEntry struct {
	At        time.Time `json:"at"`
	By        string    `json:"by"`
	Action    string    `json:"action"`
	App       string    `json:"app"`
	Orbit     string    `json:"orbit"`
	ReleaseID string    `json:"release_id,omitempty"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
	// SessionName and AccessKeyID say which session and key By used,
	// when By called the deployer's API.
	SessionName string `json:"session_name,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	// Suppressed counts, in a refusal's entry, the refusals before it
	// that were over the audit's rate limit and not written.
	Suppressed int `json:"suppressed,omitempty"`
}
