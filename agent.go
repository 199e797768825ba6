package elevator

// This file is the contract between what Elevator writes into an
// instance's user data (internal/compile) and the Elevator agent that runs
// on the instance (internal/agent, cmd/elevator-agent): where the agent
// lives, the files it reads and writes, and its configuration.

// The agent's files on an instance.
const (
	// AgentBinaryPath is where the bootstrap script puts the agent.
	AgentBinaryPath = "/usr/local/bin/elevator-agent"
	// AgentConfigPath holds the AgentConfig, written by cloud-init from
	// the user data. It holds no secret value.
	AgentConfigPath = "/etc/elevator/agent.json"
	// AgentAWSEnvPath, when present, holds extra environment for the agent
	// and the bootstrap script, one NAME=value per line: AWS_ENDPOINT_URL
	// and AWS_EC2_METADATA_SERVICE_ENDPOINT for an emulator or a proxy.
	// A normal instance has none.
	AgentAWSEnvPath = "/etc/elevator/aws.env"
	// AgentRunDir is the agent's tmpfs directory (root only, 0700): a
	// service's environment, secrets resolved, is AgentRunDir/<service>.env.
	AgentRunDir = "/run/elevator"
	// AgentStateDir keeps what the agent must remember across restarts.
	AgentStateDir = "/var/lib/elevator"
)

// The agent's modes (AgentConfig.Mode).
const (
	AgentModeService = "service"
	AgentModeBastion = "bastion"
	// AgentModeBake runs a bake's plan on its builder and reports the
	// result (see BakePlan, BakeResult).
	AgentModeBake = "bake"
)

// AgentOperators is the name of the item of an orbit's services table
// whose admins may log in to every host of the orbit. Spacel's
// SPACE_ELEVATOR_OPERATORS item is read as the same.
const (
	AgentOperators       = "ELEVATOR_OPERATORS"
	AgentSpacelOperators = "SPACE_ELEVATOR_OPERATORS"
)

// AgentObjectPrefix is where the agent's builds live in an orbit's state
// bucket: AgentObjectKey names one.
const AgentObjectPrefix = "agent/"

// AgentArches are the instance architectures the agent is built for, as
// `uname -m` prints them, with the Go architecture of each.
var AgentArches = map[string]string{"x86_64": "amd64", "aarch64": "arm64"}

// AgentObjectKey is the key of one agent build in the state bucket, by
// the hex SHA-256 of the executable and its Go architecture: builds are
// never overwritten, so an instance of an old release still fetches the
// agent it was released with.
func AgentObjectKey(sha256Hex, goarch string) string {
	return AgentObjectPrefix + sha256Hex + "/elevator-agent-linux-" + goarch
}

// AgentBuild is one agent executable in the state bucket, as user data
// names it.
type AgentBuild struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// AgentConfig is what the agent on an instance is told by its user data.
// The placeholders of ExpandUserData are filled in before an instance
// sees it. It never holds a secret's value: only where to read it.
type AgentConfig struct {
	Mode      string `json:"mode"` // AgentModeService, AgentModeBastion or AgentModeBake
	Orbit     string `json:"orbit"`
	Region    string `json:"region"`
	App       string `json:"app,omitempty"`
	Service   string `json:"service,omitempty"`
	ReleaseID string `json:"release_id,omitempty"`
	Version   string `json:"version,omitempty"`
	// BakeID is, in AgentModeBake, the bake whose bundle the agent runs
	// (BakeBundleKey) and whose result it uploads (BakeResultKey), in
	// the orbit's state bucket of its region.
	BakeID string `json:"bake_id,omitempty"`
	// BakeShutdownMinutes, in AgentModeBake when not 0, is when the
	// builder shuts itself down (`shutdown -h +N`), counted from the
	// agent's start: a backstop that ends a builder whose bake was
	// abandoned (see internal/image/bake).
	BakeShutdownMinutes int `json:"bake_shutdown_minutes,omitempty"`

	// UsersTable and ServicesTable are the orbit's SSH tables.
	UsersTable    string `json:"users_table"`
	ServicesTable string `json:"services_table"`

	// AppStack is the app's stack in the region: the agent reads the
	// addresses of the app's data stores from its outputs.
	AppStack string `json:"app_stack,omitempty"`
	// LogGroup receives the service's output, one stream per instance.
	LogGroup string `json:"log_group,omitempty"`

	// Env is the service's plain environment, ELEVATOR_* facts included.
	Env map[string]string `json:"env,omitempty"`
	// Secrets are resolved at boot into the service's environment.
	Secrets []AgentSecret `json:"secrets,omitempty"`
	// Tables are the app's DynamoDB tables, TABLE_<NAME> -> table name.
	Tables map[string]string `json:"tables,omitempty"`
	// Database says how to build DATABASE_URL, with the address, port
	// and secret read from the app stack's outputs.
	Database *AgentDatabase `json:"database,omitempty"`
	// Redis is set when the app has Redis: REDIS_URL is built from the
	// app stack's outputs.
	Redis bool `json:"redis,omitempty"`

	// Docker is set for a Docker runtime: the agent installs Docker when
	// it is missing and logs in to ECR when the image is there.
	Docker *AgentDocker `json:"docker,omitempty"`
	// Units are the systemd units the agent enables and starts, in order.
	Units []string `json:"units,omitempty"`
}

// AgentSecret is a secret the agent resolves into NAME: exactly one of
// SSMParameter (a SecureString or String parameter) and SecretsManager
// (a secret's name or ARN) is set.
type AgentSecret struct {
	Name           string `json:"name"`
	SSMParameter   string `json:"ssm_parameter,omitempty"`
	SecretsManager string `json:"secrets_manager,omitempty"`
}

// AgentDatabase is the app's database as the agent needs it.
type AgentDatabase struct {
	Engine string `json:"engine"` // postgres, mysql, aurora-postgresql, ...
	Name   string `json:"name"`   // the database to connect to
}

// AgentDocker is a Docker runtime's image, with its tag.
type AgentDocker struct {
	Image string `json:"image"`
}

// Outputs of an app's stack the agent reads.
const (
	AppOutputRedisEndpoint    = "RedisEndpoint"
	AppOutputRedisPort        = "RedisPort"
	AppOutputDatabaseEndpoint = "DatabaseEndpoint"
	AppOutputDatabasePort     = "DatabasePort"
	AppOutputDatabaseSecret   = "DatabaseSecret"
)
