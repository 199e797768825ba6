package elevator

import "net/netip"

// Orbit is a tier of the deployment lifecycle ("test", "production") that
// spans one or more AWS regions: in each region one VPC over every
// availability zone, with tiers of subnets, NAT, an optional bastion, alarm
// topics and Elevator's own state (a bucket and tables).
//
// An Orbit is what the orbit manifest says once parsed and defaulted: each
// Region carries its effective settings, overrides already applied.
type Orbit struct {
	Name    string
	Protect bool   // termination protection; `orbit down` refuses while set
	Domain  string // an existing Route53 hosted zone, or ""
	Regions []Region
	// Notifications has one entry per severity, in the order of Severities.
	Notifications []Notification
	// Access grants roles in the deployer's API to IAM principals, in
	// manifest order (see RoleOf).
	Access []AccessRule
	// Deployer is the URL of the orbit's deployer (see internal/api), or
	// "": when set, the CLI submits releases to it and asks it about
	// them instead of running them itself.
	Deployer string
	// Builders are the principals of other accounts (CI, "builders" in
	// stups2go's words) that may submit releases to the orbit's deployers
	// and read what became of them: 12-digit account ids or IAM role or
	// user ARNs (see CheckBuilder). The home region's state bucket and
	// releases table grant them that through resource policies.
	Builders []string
	// SelfApproval lets whoever started a pipeline execution approve its
	// stages in this orbit (the manifest's pipelines.self_approval); a
	// stage of several orbits needs it in each. Such an approval is
	// audited as a self-approval.
	SelfApproval bool
	// IdentityCenterRoles are the IAM Identity Center roles of the
	// orbit's account (pathless role ARNs), as `orbit up` found them on
	// IdentityCenterRolePath: only sessions of these count as different
	// people by their session names (SamePrincipal). Set in an orbit as
	// deployed (OrbitSettings.Deployed), never by a manifest.
	IdentityCenterRoles []string
	// Images is what the manifest's images section says: the stages
	// images are promoted through, the stage releases need, and whom the
	// last stage shares with.
	Images ImageSettings
	// Account is the AWS account the orbit lives in and the role every
	// command for the orbit assumes there; the zero Account means the
	// caller's credentials, whatever account they are for.
	Account Account
	// ECS is the manifest's ecs section: an ECS cluster in every region
	// (in its own stack, ECSStackName) for the apps whose services run on
	// ECS, and optionally EC2 capacity for them; nil when the orbit has
	// none.
	ECS    *OrbitECS
	Source Source
}

// OrbitECS is an orbit's ECS cluster settings. The cluster always offers
// Fargate and Fargate Spot; EC2 adds an Auto Scaling Group of
// ECS-optimized instances in the private tier as a capacity provider with
// managed scaling.
type OrbitECS struct {
	EC2  *ECSCapacity // nil: Fargate only
	Path string
}

// ECSCapacity is the EC2 capacity of an orbit's cluster in each region:
// an Auto Scaling Group of Min to Max instances of InstanceType, from the
// ECS-optimized Amazon Linux 2023 image unless AMI says otherwise, that
// ECS managed scaling keeps at TargetCapacity percent of use.
type ECSCapacity struct {
	InstanceType   string
	Min, Max       int
	TargetCapacity int // 1 to 100
	AMI            AMISelector
	Path           string
}

// ECSStackName is the stack that holds an orbit's ECS cluster (and its
// EC2 capacity) in each region.
func (o *Orbit) ECSStackName() string { return o.StackName() + "-ecs" }

// ECSClusterName is the name of an orbit's ECS cluster in each region.
func ECSClusterName(orbit string) string { return "elevator-" + orbit }

// ECSCapacityProviderName is the name of the EC2 capacity provider of an
// orbit's cluster in a region.
func ECSCapacityProviderName(orbit string) string { return "elevator-" + orbit + "-ec2" }

// The capacity providers AWS gives every ECS cluster, which the
// capacities ECSFargate and ECSFargateSpot run on.
const (
	ECSProviderFargate     = "FARGATE"
	ECSProviderFargateSpot = "FARGATE_SPOT"
)

// DefaultECSTargetCapacity is the percent of use ECS managed scaling keeps
// an orbit's EC2 capacity at when the manifest does not say.
const DefaultECSTargetCapacity = 100

// TagAmazonECSManaged is the tag ECS puts on the Auto Scaling Group of a
// capacity provider with managed scaling, and needs kept there.
const TagAmazonECSManaged = "AmazonECSManaged"

// Account names an AWS account and how to act in it. Every command for an
// orbit with an Account assumes Role (when set) and refuses to act when
// the credentials it ends up with are for another account than ID.
type Account struct {
	ID         string // 12 digits; "" = not checked
	Role       string // IAM role ARN to assume; "" = the caller's credentials as they are
	ExternalID string // the external id the role's trust policy asks for, or ""
	Path       string // field path of the account section in its manifest
}

// IsZero reports whether a names no account: the caller's credentials are
// used as they are.
func (a Account) IsZero() bool { return a.ID == "" && a.Role == "" }

// Region is an orbit's settings in one AWS region.
type Region struct {
	Name string
	// CIDR is the VPC's block; when it is not valid, one of Size bits is
	// allocated from IPSpace, clear of the VPCs already in the region.
	CIDR    netip.Prefix
	IPSpace netip.Prefix
	Size    int // prefix length of an allocated VPC block
	// AZs names the availability zones to use; empty means every zone the
	// region reports.
	AZs     []string
	NAT     NATMode
	Tiers   []Tier
	Bastion *Bastion // nil when the region has no bastion
	Path    string   // field path of this region in the manifest
}

// NATMode says how a region's private tiers reach the internet.
type NATMode string

// NAT modes.
const (
	NATNone   NATMode = "none"   // private tiers have no route out
	NATSingle NATMode = "single" // one NAT gateway in the first zone
	NATPerAZ  NATMode = "per-az" // one NAT gateway per zone
)

// TierAccess says how a tier's subnets reach the internet.
type TierAccess string

// Tier access kinds.
const (
	AccessPublic   TierAccess = "public"   // route to the internet gateway; public IPs
	AccessPrivate  TierAccess = "private"  // route through NAT, when there is NAT
	AccessIsolated TierAccess = "isolated" // no route out of the VPC
)

// Tier is a layer of subnets, one per availability zone.
type Tier struct {
	Name   string
	Access TierAccess
	// CIDR is the tier's block inside the VPC; when it is not valid, a block
	// of Size bits is allocated after the tiers before it.
	CIDR netip.Prefix
	Size int // prefix length of an allocated tier block; 0 = a quarter of the VPC
	Path string
}

// Bastion is the SSH gateway of a region: an Auto Scaling Group of Count
// instances in the maintenance tier (or the public one).
type Bastion struct {
	Count        int
	InstanceType string
	AMI          AMISelector
	AllowedCIDRs []netip.Prefix
	Path         string
}

// AMISelector finds a machine image: by ID, by SSM parameter, or by the
// newest image whose name matches Name (a pattern with *) among Owners.
// Exactly one of ID, SSMParameter and Name is set.
type AMISelector struct {
	ID           string
	SSMParameter string
	Name         string
	Owners       []string
}

// Severity ranks alarms; each has an SNS topic per region.
type Severity string

// Severities, most urgent first.
const (
	SeverityCritical Severity = "critical"
	SeverityWarning  Severity = "warning"
	SeverityInfo     Severity = "info"
)

// Severities lists every severity, most urgent first.
var Severities = []Severity{SeverityCritical, SeverityWarning, SeverityInfo}

// Notification is where a severity's alarms go.
type Notification struct {
	Severity Severity
	Emails   []string
	// PagerDuty is where the PagerDuty CloudWatch integration URL is kept;
	// zero when alarms of this severity do not page.
	PagerDuty SecretRef
	// Slack is where the Slack incoming-webhook URL is kept; zero when
	// alarms of this severity do not go to Slack.
	Slack SecretRef
}

// SecretRef names where a secret is kept, never the secret itself: an SSM
// parameter or a Secrets Manager secret. Elevator passes the name on (to
// CloudFormation as a dynamic reference, to a Lambda function as an
// environment variable) and never reads the value. At most one field is
// set; the zero SecretRef means "none".
type SecretRef struct {
	SSMParameter   string // a parameter name such as /elevator/slack-webhook
	SecretsManager string // a secret name such as elevator/slack-webhook
}

// IsZero reports whether r names no secret.
func (r SecretRef) IsZero() bool { return r.SSMParameter == "" && r.SecretsManager == "" }

// String returns where the secret is kept, such as "ssm:/elevator/slack" or
// "secretsmanager:elevator/slack", and "" for the zero SecretRef.
func (r SecretRef) String() string {
	switch {
	case r.SSMParameter != "":
		return "ssm:" + r.SSMParameter
	case r.SecretsManager != "":
		return "secretsmanager:" + r.SecretsManager
	default:
		return ""
	}
}

// Region returns the orbit's region called name, or nil.
func (o *Orbit) Region(name string) *Region {
	for i := range o.Regions {
		if o.Regions[i].Name == name {
			return &o.Regions[i]
		}
	}
	return nil
}

// StackName is the CloudFormation stack that holds an orbit in each region.
func (o *Orbit) StackName() string { return "elevator-orbit-" + o.Name }
