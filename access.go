package elevator

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// AccessRole is what a caller of the deployer's API may do in an orbit.
// Roles are ordered: each one may do everything the roles below it may.
type AccessRole string

// Access roles, lowest first.
const (
	RoleViewer   AccessRole = "viewer"   // list, show, watch releases; read the audit log
	RoleDeployer AccessRole = "deployer" // and submit releases
	RoleApprover AccessRole = "approver" // and halt releases, roll back, unlock
	RoleAdmin    AccessRole = "admin"    // everything, in every app
)

// AccessRoles lists every role, lowest first.
var AccessRoles = []AccessRole{RoleViewer, RoleDeployer, RoleApprover, RoleAdmin}

// rank is the role's place in AccessRoles plus one; 0 for an unknown role.
func (r AccessRole) rank() int { return slices.Index(AccessRoles, r) + 1 }

// Valid reports whether r is one of AccessRoles.
func (r AccessRole) Valid() bool { return r.rank() > 0 }

// Covers reports whether a caller with role r may do what needs role need.
// An unknown role covers nothing and is covered by nothing.
func (r AccessRole) Covers(need AccessRole) bool {
	return r.Valid() && need.Valid() && r.rank() >= need.rank()
}

// AccessRule grants a role to IAM principals, in the whole orbit or in some
// of its apps. Principals are IAM or STS ARNs, or patterns of them in which
// '*' stands for any run of characters other than ':' (see
// MatchPrincipal).
type AccessRule struct {
	Role       AccessRole
	Principals []string
	Apps       []string // empty: every app of the orbit
	Path       string   // field path of this rule in the manifest
}

// principalPattern is the form an access rule's principal must have: an
// IAM or STS ARN of a known partition with a literal 12-digit account, so
// that no pattern can grant a role to other accounts.
var principalPattern = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/*-]+$`)

// CheckPrincipal returns an EINVALID error unless p is a principal an
// access rule may name: an IAM or STS ARN of a partition AWS has (aws,
// aws-cn, aws-us-gov), with a literal 12-digit account id, whose resource
// may hold '*', such as arn:aws:iam::123456789012:role/ci-*.
func CheckPrincipal(p string) error {
	if !principalPattern.MatchString(p) {
		return Errorf(EINVALID, "principal %q: want an IAM or STS ARN with a 12-digit account id, such as arn:aws:iam::123456789012:role/ci-* or arn:aws:sts::123456789012:assumed-role/ops/*", p)
	}
	return nil
}

// builderPattern is the form of a builder: an account id, or the ARN of
// an IAM role or user with no wildcard (resource policies name principals
// exactly).
var builderPattern = regexp.MustCompile(`^([0-9]{12}|arn:aws(-cn|-us-gov)?:iam::[0-9]{12}:(role|user)/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64})$`)

// CheckBuilder returns an EINVALID error unless p is a principal an orbit
// may name as a builder: a 12-digit account id (every principal of that
// account its own IAM policies allow), or the ARN of one IAM role or user,
// such as arn:aws:iam::222222222222:role/ci.
func CheckBuilder(p string) error {
	if !builderPattern.MatchString(p) {
		return Errorf(EINVALID, "builder %q: want a 12-digit account id or an IAM role or user ARN without wildcards, such as arn:aws:iam::222222222222:role/ci", p)
	}
	return nil
}

// MatchPrincipal reports whether the caller whose ARN is arn is one of the
// principals pattern names. In pattern, '*' stands for any run of
// characters other than ':' (so it never spans an ARN's account or
// service); everything else is literal. A caller in an assumed role
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) also matches the
// patterns of its role's ARN (arn:aws:iam::ACCOUNT:role/ROLE), as IAM
// role ARNs are written without their path in assumed-role ARNs.
func MatchPrincipal(pattern, arn string) bool {
	if glob(pattern, arn) {
		return true
	}
	if role := RoleARNOf(arn); role != "" {
		return glob(pattern, role)
	}
	return false
}

// RoleARNOf returns the IAM role ARN of an assumed-role ARN
// (arn:aws:sts::123456789012:assumed-role/ops/alice gives
// arn:aws:iam::123456789012:role/ops), or "" for any other ARN.
func RoleARNOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" {
		return ""
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return ""
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok || role == "" {
		return ""
	}
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", parts[1], parts[4], role)
}

// SessionNameOf returns the session name of an assumed-role ARN
// (arn:aws:sts::123456789012:assumed-role/ops/alice gives alice), or "".
func SessionNameOf(arn string) string {
	if RoleARNOf(arn) == "" {
		return ""
	}
	i := strings.LastIndexByte(arn, '/')
	return arn[i+1:]
}

// glob matches s against pattern, where '*' is any run of non-':'
// characters. It runs in O(len(pattern) x len(s)).
func glob(pattern, s string) bool {
	// match[j] says whether pattern[:i] matches s[:j], row by row.
	match := make([]bool, len(s)+1)
	match[0] = true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '*' {
			for j := 1; j <= len(s); j++ {
				match[j] = match[j] || (match[j-1] && s[j-1] != ':')
			}
			continue
		}
		for j := len(s); j >= 1; j-- {
			match[j] = match[j-1] && s[j-1] == c
		}
		match[0] = false
	}
	return match[len(s)]
}

// RoleOf returns the highest role the orbit's access rules grant the
// caller whose ARN is arn in app, and "" when they grant none. app "" asks
// for the whole orbit: only rules without apps count.
func (o *Orbit) RoleOf(arn, app string) AccessRole {
	var best AccessRole
	for _, r := range o.Access {
		if len(r.Apps) > 0 && (app == "" || !slices.Contains(r.Apps, app)) {
			continue
		}
		if r.Role.rank() <= best.rank() {
			continue
		}
		for _, p := range r.Principals {
			if MatchPrincipal(p, arn) {
				best = r.Role
				break
			}
		}
	}
	return best
}

// Caller is who called the deployer's API, as STS answered for the
// request the caller signed.
type Caller struct {
	ARN         string `json:"arn"`
	Account     string `json:"account"`
	UserID      string `json:"user_id"`
	AccessKeyID string `json:"access_key_id"`
	// SessionName is the session of an assumed role ("" for a user).
	SessionName string `json:"session_name,omitempty"`
}
