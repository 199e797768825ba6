package elevator

import (
	"net/netip"
	"slices"
	"time"
)

// App is an application: one or more services that run on EC2 instances in
// Auto Scaling Groups, optionally behind load balancers, with the data
// stores the app owns. It is what the app manifest (app.yml, kept with the
// app's code) says once parsed, defaulted, and merged with the overrides of
// one orbit.
type App struct {
	Name     string
	Services []Service // in manifest order
	Data     Data
	Env      map[string]string // plain settings given to every service
	Secrets  []Secret          // references, in manifest order; values never appear in templates
	// Orbit is the orbit whose overrides (orbits.<orbit> in the manifest)
	// are merged in; "" when none are.
	Orbit string
	// ReleaseTimeout bounds each wait of a release of the app: for health
	// at each capacity step, for old targets to drain, for groups to be
	// deleted. It is whole seconds.
	ReleaseTimeout time.Duration
	// Tests are the gates of the app's releases; nil when the manifest
	// has no tests section.
	Tests *AppTests
	// Pipeline is how a version is promoted through orbits; nil when
	// the manifest has no pipeline section. Orbit overrides cannot
	// change it.
	Pipeline *Pipeline
	// ChaosOptOut is the manifest's `chaos: false` (for the orbit, when
	// an override says so): `elevator chaos` never terminates the app's
	// instances. Its releases' groups carry TagChaos.
	ChaosOptOut bool
	// Overrides lists the orbits the manifest has overrides for, in
	// manifest order, whether merged in or not.
	Overrides []string
	// Source has the positions of the merged fields: where each winning
	// value is written, in the base or in the orbit's override.
	Source Source
}

// Service is one logical group of servers of an app, such as web or worker:
// one Auto Scaling Group per release per region.
type Service struct {
	Name         string
	Runtime      Runtime
	InstanceType string
	AMI          AMISelector
	// Port is the port the service listens on, on the instance (with
	// Docker, a host port of Runtime.Docker.Ports); 0 when it takes no
	// traffic.
	Port         int
	LoadBalancer LoadBalancer
	Firewall     []FirewallRule
	Alarms       []Alarm
	Scaling      Scaling
	// Release is how a release replaces the service's instances.
	Release ReleaseSettings
	// LifecycleHooks are the Auto Scaling lifecycle hooks each of the
	// service's groups is created with, in manifest order; their names
	// are unique.
	LifecycleHooks []LifecycleHook
	// OrbitPolicies are the orbit's managed policies the service's role
	// is given besides its own least-privilege policy, in manifest order,
	// such as OrbitPolicyDeployer for the orbit's deployer service.
	OrbitPolicies []OrbitPolicy
	// Env is the service's environment: the app's Env with the service's
	// own env over it. A Docker container adds Runtime.Docker.Env over this.
	Env  map[string]string
	Path string // field path in the manifest, such as "services.web"
}

// Runtime is how a service runs: Docker containers or raw systemd units on
// the instances of its Auto Scaling Groups, or tasks of an ECS service.
// Exactly one of Docker, Units and ECS is set.
type Runtime struct {
	Docker *Docker
	Units  map[string]string // unit file name -> contents
	// ECS runs the service as ECS services (one per release per region)
	// in the orbit's cluster, on Fargate or on the orbit's EC2 capacity,
	// instead of Auto Scaling Groups: the service has no instance type,
	// image (AMI) or lifecycle hooks.
	ECS *ECS
}

// ECS capacities: where an ECS service's tasks run.
const (
	ECSFargate     = "fargate"      // Fargate
	ECSFargateSpot = "fargate_spot" // Fargate Spot: cheaper, may be stopped with two minutes' notice
	ECSEC2         = "ec2"          // the orbit's EC2 capacity provider (the orbit manifest's ecs.ec2)
)

// ECS is a service that runs as an ECS service: one container per task,
// in the awsvpc network mode (each task has its own address in the
// orbit's private tier, and load balancers reach it by IP), its logs in
// the app's log group.
type ECS struct {
	// Image is the repository without a tag; a release adds :VERSION. ""
	// when the service runs from its own repository (Repository), as
	// for Docker.
	Image      string
	Repository *Repository
	// CPU is in CPU units (1024 = one vCPU) and Memory in MiB: on
	// Fargate one of the combinations Fargate allows (see FargateSizes).
	CPU, Memory int
	Ports       []ECSPort
	Command     []string          // nil: the image's command
	Env         map[string]string // the container's own, over Service.Env
	Capacity    string            // ECSFargate, ECSFargateSpot or ECSEC2
	Path        string            // field path, such as "services.web.runtime.ecs"
}

// ECSPort is a port the container listens on. In the awsvpc network mode
// the host port is the container port.
type ECSPort struct {
	Container int
	Protocol  string // "tcp" or "udp"
}

// FargateSizes lists, for each CPU value Fargate takes (in CPU units),
// the memory sizes (MiB) it takes with it: from the lowest to the highest,
// in steps of Step.
var FargateSizes = []FargateSize{
	{CPU: 256, Memory: []int{512, 1024, 2048}},
	{CPU: 512, MinMemory: 1024, MaxMemory: 4096, Step: 1024},
	{CPU: 1024, MinMemory: 2048, MaxMemory: 8192, Step: 1024},
	{CPU: 2048, MinMemory: 4096, MaxMemory: 16384, Step: 1024},
	{CPU: 4096, MinMemory: 8192, MaxMemory: 30720, Step: 1024},
	{CPU: 8192, MinMemory: 16384, MaxMemory: 61440, Step: 4096},
	{CPU: 16384, MinMemory: 32768, MaxMemory: 122880, Step: 8192},
}

// FargateSize is the memory Fargate takes with one CPU value: the sizes
// listed in Memory, or MinMemory to MaxMemory in steps of Step.
type FargateSize struct {
	CPU                        int
	Memory                     []int
	MinMemory, MaxMemory, Step int
}

// FargateAllows reports whether Fargate runs a task of cpu units and
// memory MiB.
func FargateAllows(cpu, memory int) bool {
	for _, s := range FargateSizes {
		if s.CPU != cpu {
			continue
		}
		if len(s.Memory) > 0 {
			return slices.Contains(s.Memory, memory)
		}
		return memory >= s.MinMemory && memory <= s.MaxMemory && (memory-s.MinMemory)%s.Step == 0
	}
	return false
}

// Docker runs one container per instance as a systemd unit.
type Docker struct {
	// Image is the repository without a tag; a release adds :VERSION. ""
	// when the service runs from its own repository (Repository).
	Image string
	// Repository is set exactly when Image is "": the service runs from
	// the ECR repository AppRepositoryName(orbit, app, service) that the
	// app stack makes in each region of the orbit.
	Repository *Repository
	Ports      []string          // host:container, optionally /tcp or /udp
	Env        map[string]string // the container's own, over Service.Env
	Command    []string          // nil: the image's command
	Volumes    []string          // host:container, optionally :ro or :rw
}

// Repository is the settings of a Docker service's own ECR repository.
// Its tags are immutable and every push is scanned; the lifecycle policy
// expires untagged images beyond the newest KeepUntagged. The repository
// outlives the app stack (see docs/images.md): `app down` keeps the
// images, and a later `app up` takes the repository back.
type Repository struct {
	KeepUntagged int // from 1 to MaxKeepUntagged
	Path         string
}

// Bounds of Repository.KeepUntagged, and its value when the manifest
// gives none.
const (
	DefaultKeepUntagged = 10
	MaxKeepUntagged     = 1000
)

// LoadBalancerType says who can reach a service.
type LoadBalancerType string

// Load balancer types.
const (
	LoadBalancerNone    LoadBalancerType = "none"
	LoadBalancerPublic  LoadBalancerType = "public"  // internet-facing, in the public tier
	LoadBalancerPrivate LoadBalancerType = "private" // internal to the orbit's region
)

// LoadBalancer is a service's Application Load Balancer settings. The app
// has one load balancer per type per region, shared by its services;
// services after the first on the same one route by host or path. When
// Type is LoadBalancerNone every other field is zero.
type LoadBalancer struct {
	Type                LoadBalancerType
	Listeners           []Listener
	HealthCheck         HealthCheck
	DeregistrationDelay time.Duration
	SlowStart           time.Duration
	Stickiness          time.Duration // 0 = off
	Hosts               []string      // host-header routing rules
	Paths               []string      // path-pattern routing rules
}

// Listener is one port of the load balancer.
type Listener struct {
	Protocol      string // HTTP or HTTPS
	Port          int
	RedirectHTTPS bool   // HTTP listener that only redirects to HTTPS
	Certificate   string // HTTPS: a certificate ARN, or "" to request one for CertificateDomain
	// CertificateDomain is the domain of an ACM certificate requested with
	// DNS validation in the orbit's hosted zone.
	CertificateDomain string
}

// HealthCheck is how the load balancer decides an instance is healthy.
type HealthCheck struct {
	Path               string
	Port               int // 0 = the traffic port (Service.Port)
	Interval, Timeout  time.Duration
	Healthy, Unhealthy int // consecutive checks
	SuccessCodes       string
}

// FirewallRule lets traffic in to a service.
type FirewallRule struct {
	Protocol string // tcp, udp, icmp or all
	// FromPort and ToPort are the port range; both are -1 for icmp and all
	// (every ICMP type, every port).
	FromPort int
	ToPort   int
	// Exactly one source: CIDR, another app's service in the same orbit
	// (App may name this app; a manifest's {service: x} gives this app's
	// name), or the orbit's bastion.
	CIDR    netip.Prefix
	App     string
	Service string // with App; "" = every service of App
	Bastion bool
	Path    string
}

// AlarmMetric names what an alarm watches.
type AlarmMetric string

// Alarm metrics.
const (
	MetricCPU            AlarmMetric = "cpu"
	MetricUnhealthyHosts AlarmMetric = "unhealthy_hosts"
	Metric5xxRate        AlarmMetric = "5xx_rate"
	MetricP99Latency     AlarmMetric = "p99_latency"
	MetricCustom         AlarmMetric = "custom"
)

// Alarm is a CloudWatch alarm wired to the orbit's topic for Severity. It
// goes off when Evaluations periods in a row breach Threshold: cpu and
// 5xx_rate in percent, unhealthy_hosts in hosts, p99_latency in seconds.
type Alarm struct {
	Metric      AlarmMetric
	Threshold   float64
	Period      time.Duration
	Evaluations int
	Severity    Severity
	// Comparison is how the metric is compared with Threshold: >, >=, < or
	// <=; built-in metrics always use >=.
	Comparison string
	// For custom metrics only.
	Namespace, MetricName, Statistic string
	Dimensions                       map[string]string
	Path                             string
}

// Scaling bounds a service's Auto Scaling Groups; the policies and the
// scheduled capacity are attached to each release's group by the release
// engine.
type Scaling struct {
	Min, Max int
	// TargetCPU is the average CPU percent a target tracking policy keeps
	// the group at; 0 means no policy.
	TargetCPU float64
	// Steps are step scaling policies on average CPU, in manifest order.
	// Every CPUBelow threshold is below every CPUAbove threshold.
	Steps []StepPolicy
	// Schedule sets the desired capacity at fixed times, in manifest
	// order; every Desired is between Min and Max.
	Schedule []ScheduledCapacity
}

// StepCondition says when a step scaling policy acts.
type StepCondition string

// Step conditions.
const (
	CPUAbove StepCondition = "cpu_above" // average CPU above the threshold: add instances
	CPUBelow StepCondition = "cpu_below" // average CPU below the threshold: remove instances
)

// StepPolicy changes a group's desired capacity by Adjustment when the
// group's average CPU percent is above (CPUAbove) or below (CPUBelow)
// Threshold for Periods minutes in a row, then waits Cooldown before it
// acts again (Odin's cpu_scale_up and cpu_scale_down). Adjustment is
// positive for CPUAbove and negative for CPUBelow; Threshold is above 0
// and at most 100.
type StepPolicy struct {
	When       StepCondition
	Threshold  float64
	Adjustment int
	Periods    int
	Cooldown   time.Duration // whole seconds
	Path       string
}

// ScheduledCapacity sets a group's desired capacity to Desired at the
// times Cron names: five fields (minute hour day-of-month month
// day-of-week), in UTC, in the syntax Auto Scaling scheduled actions take.
// The manifest writes it as Asiaq does: "4@0 8 * * 1-5".
type ScheduledCapacity struct {
	Desired int
	Cron    string
	Path    string // the manifest entry it was written in
}

// ReleaseSettings are how a release replaces a service's instances: how
// the new group grows to its full size and when it counts as healthy (see
// ReleaseCapacity, which they become in a release document).
type ReleaseSettings struct {
	// Strategy is StrategyAllAtOnce, StrategyCanary or StrategyPercent.
	Strategy string
	// Steps are the percentages of the desired capacity a percent
	// strategy goes through: increasing, from 1 to 100, ending at 100.
	// Nil for the other strategies.
	Steps []int
	// Spread is the share of the desired capacity launched beyond it, and
	// that may be missing for the group to count as healthy:
	// 0 <= Spread < 1.
	Spread float64
	// MaxTerms is how many of the new group's instances terminating
	// halts the release (Odin's max_terms); 0 and 1 both mean the first
	// one does.
	MaxTerms int
	// HealthCheckGrace is how long a new instance may fail health checks
	// before its group replaces it; whole seconds.
	HealthCheckGrace time.Duration
}

// LifecycleHook is an Auto Scaling lifecycle hook each of a service's
// groups is created with, such as one that gives a worker time to finish
// its jobs before its instance stops. An instance waits in the transition
// until it is told to go on, or for Heartbeat, after which DefaultResult
// applies.
type LifecycleHook struct {
	Name string
	// Transition is HookLaunching or HookTerminating.
	Transition string
	// Heartbeat is whole seconds, from 30s to 2h.
	Heartbeat time.Duration
	// DefaultResult is CONTINUE or ABANDON (which terminates a launching
	// instance).
	DefaultResult string
	// TopicARN is the SNS topic told about each instance in the
	// transition, and RoleARN the IAM role Auto Scaling assumes to publish
	// to it; both are set or both are "" (then the hook only notifies
	// EventBridge).
	TopicARN, RoleARN string
	Path              string
}

// Data holds the data stores an app owns in each region of an orbit.
type Data struct {
	Redis    *Redis
	Database *Database
	Tables   []Table
}

// Redis is an ElastiCache replication group per region; more than one
// node adds automatic failover.
type Redis struct {
	NodeType          string
	Nodes             int
	EngineVersion     string
	MaintenanceWindow string // ddd:hh:mm-ddd:hh:mm in UTC, or "" for AWS's choice
	Path              string
}

// Database is an RDS instance, or an Aurora cluster, per region; Global
// makes it one Aurora global database across the orbit's regions. The
// master password is generated into Secrets Manager.
type Database struct {
	Engine  string // postgres or mysql
	Version string // "" = the engine's default
	Class   string
	Storage int // GiB, for RDS instances; 0 for Aurora
	MultiAZ bool
	Public  bool
	Aurora  bool
	Global  bool
	Path    string
}

// Table is a DynamoDB table; its physical name carries the orbit and the
// app.
type Table struct {
	Name        string
	HashKey     Key
	RangeKey    *Key // nil when the table has no range key
	OnDemand    bool // PAY_PER_REQUEST; else provisioned at Read/Write units
	Read, Write int  // 0 when OnDemand
	Path        string
}

// Key is a DynamoDB key attribute.
type Key struct {
	Name string
	Type string // S, N or B
}

// Secret is a reference to a secret value kept in SSM Parameter Store or
// Secrets Manager; exactly one of SSMParameter and SecretsManager is set.
// Elevator passes references, never values.
type Secret struct {
	Name           string // the environment variable
	SSMParameter   string // a SecureString parameter's name
	SecretsManager string // a secret's name or ARN
	Path           string
}

// Service returns the app's service called name, or nil.
func (a *App) Service(name string) *Service {
	for i := range a.Services {
		if a.Services[i].Name == name {
			return &a.Services[i]
		}
	}
	return nil
}

// StackName is the CloudFormation stack that holds an app's
// infrastructure in one orbit, in each of its regions.
func (a *App) StackName(orbit string) string { return "elevator-app-" + orbit + "-" + a.Name }

// AppTests are the gates of an app's releases (see ReleaseTests, which
// they become in a release document).
type AppTests struct {
	Smoke, Integration []ReleaseTest
	// Bake is how long alarms are watched after the integration tests;
	// RetryWindow how long failed tests wait for `release retry-tests`.
	Bake, RetryWindow time.Duration
	Alarms            []string // CloudWatch alarm names
	MissingData       string   // MissingDataOK or MissingDataBreaching
	// ListenerPort is the port of the first load-balanced service's test
	// listener; the next service's is the next port.
	ListenerPort int
	Path         string
}

// DefaultTestListenerPort is AppTests.ListenerPort when the manifest
// gives none.
const DefaultTestListenerPort = 9000
