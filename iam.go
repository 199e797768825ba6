package elevator

import "time"

// IAMFile is IAM kept in files (`elevator iam plan|apply -f iam.yml`): the
// groups, users, roles and managed policies Elevator owns in one account,
// all under Path. Anything outside Path is never touched.
type IAMFile struct {
	// Path is what Elevator owns, such as /elevator-iam/: the objects it
	// creates are created there, and those under it that the files do
	// not name are deleted.
	Path string
	// Account is where the objects live; the zero Account is the caller's
	// credentials as they are.
	Account Account
	// AllowAdmin lets a policy allow every action ("*" or "*:*") on every
	// resource.
	AllowAdmin bool
	Policies   []IAMPolicy
	Groups     []IAMGroup
	Users      []IAMUser
	Roles      []IAMRole
	// Sources are the files read, in order; each object's At says which.
	Sources []Source
}

// IAMAt says where an object of an IAM file was written: the index of its
// file in IAMFile.Sources and its field path there.
type IAMAt struct {
	File int
	Path string
}

// IAMPolicy is a managed policy Elevator creates under the file's path.
type IAMPolicy struct {
	Name, Description string
	// Document is the policy as a plain value (maps, lists, strings,
	// numbers, bools), already validated.
	Document any
	At       IAMAt
}

// IAMGroup is a group: the managed policies attached to it (names of the
// file's policies, or ARNs of others) and its inline policies by name.
type IAMGroup struct {
	Name     string
	Policies []string
	Inline   map[string]any
	At       IAMAt
}

// IAMUser is a user: the file's groups it belongs to, its policies and
// inline policies. Elevator never creates a user's access keys.
type IAMUser struct {
	Name     string
	Groups   []string
	Policies []string
	Inline   map[string]any
	At       IAMAt
}

// IAMRole is a role: who may assume it (Trust), its policies, inline
// policies, description and longest session (0 = IAM's default, 1h).
type IAMRole struct {
	Name, Description string
	Trust             any
	Policies          []string
	Inline            map[string]any
	MaxSession        time.Duration
	At                IAMAt
}

// IAM object kinds, as plans and errors name them.
const (
	IAMKindPolicy = "policy"
	IAMKindGroup  = "group"
	IAMKindUser   = "user"
	IAMKindRole   = "role"
)
