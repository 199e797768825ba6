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

// AccessRule grants a role to principals, in the whole orbit or in some of
// its apps. Principals are IAM or STS ARNs, or patterns of them in which
// '*' stands for any run of characters other than ':' (callers of the
// deployer's API), or the OpenID Connect identities of the dashboard's
// users: "email:alice@example.com", "email:*@example.com" (every address
// of a domain) or "group:ops" (a value of the ID token's groups claim).
// See CheckPrincipal and MatchPrincipal.
type AccessRule struct {
	Role       AccessRole
	Principals []string
	Apps       []string // empty: every app of the orbit
	Path       string   // field path of this rule in the manifest
}

// Prefixes of the principals that name a dashboard user signed in with
// OpenID Connect: by the ID token's verified email, or by a value of its
// groups claim.
const (
	PrincipalEmail = "email:"
	PrincipalGroup = "group:"
)

// principalPattern is the form an access rule's principal must have: an
// IAM or STS ARN of a known partition with a literal 12-digit account, so
// that no pattern can grant a role to other accounts; an email address
// whose domain is literal (its local part may be '*', so that no pattern
// spans domains); or a group name without '*'. The orbit schema's
// access_rule principal pattern is the same expression.
var principalPattern = regexp.MustCompile(PrincipalPattern)

// PrincipalPattern is the regular expression of CheckPrincipal.
const PrincipalPattern = `^(arn:aws(-cn|-us-gov)?:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=,.@_/*-]+|email:(\*|[a-z0-9._%+-]+)@[a-z0-9-]+(\.[a-z0-9-]+)+|group:[A-Za-z0-9._@/-]{1,128})$`

// PrincipalForms says what a principal may be, for error messages.
const PrincipalForms = "an IAM or STS ARN with a 12-digit account id (arn:aws:iam::123456789012:role/ci-*), email:ADDRESS in lowercase (email:alice@example.com, or email:*@example.com for a whole domain) or group:NAME (a value of the OpenID Connect groups claim, such as group:ops)"

// CheckPrincipal returns an EINVALID error unless p is a principal an
// access rule may name: an IAM or STS ARN of a partition AWS has (aws,
// aws-cn, aws-us-gov), with a literal 12-digit account id, whose resource
// may hold '*', such as arn:aws:iam::123456789012:role/ci-*; an email
// address in lowercase after "email:", whose local part may be '*'; or a
// group name after "group:".
func CheckPrincipal(p string) error {
	if !principalPattern.MatchString(p) {
		return Errorf(EINVALID, "principal %q: want %s", p, PrincipalForms)
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

// UserPrincipals returns the principals a dashboard user signed in with
// OpenID Connect is known by: email:ADDRESS (lowercased; only when the
// provider verified it) and group:NAME for each group.
func UserPrincipals(email string, verified bool, groups []string) []string {
	var out []string
	if email != "" && verified {
		out = append(out, PrincipalEmail+strings.ToLower(email))
	}
	for _, g := range groups {
		if g != "" && !strings.ContainsAny(g, "*") {
			out = append(out, PrincipalGroup+g)
		}
	}
	return out
}

// MatchPrincipal reports whether the caller whose ARN is arn is one of the
// principals pattern names. In pattern, '*' stands for any run of
// characters other than ':' (so it never spans an ARN's account or
// service); everything else is literal. A caller in an assumed role
// (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION) also matches the
// patterns of its role's ARN (arn:aws:iam::ACCOUNT:role/ROLE), as IAM
// role ARNs are written without their path in assumed-role ARNs.
//
// An email pattern matches only an email principal and a group only a
// group (their prefixes differ from "arn:"), and '*' never spans the '@'
// of an email pattern, whose domain is literal.
func MatchPrincipal(pattern, arn string) bool {
	if strings.HasPrefix(pattern, PrincipalEmail) {
		local, domain, ok := strings.Cut(strings.TrimPrefix(arn, PrincipalEmail), "@")
		plocal, pdomain, _ := strings.Cut(strings.TrimPrefix(pattern, PrincipalEmail), "@")
		return strings.HasPrefix(arn, PrincipalEmail) && ok && local != "" && !strings.Contains(domain, "@") &&
			domain == pdomain && (plocal == "*" || plocal == local)
	}
	if strings.HasPrefix(pattern, PrincipalGroup) {
		return pattern == arn
	}
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

// ssoRolePrefix starts the names of the roles IAM Identity Center makes
// for its permission sets: a session of one is named by Identity Center
// after the signed-in user, and cannot be chosen.
const ssoRolePrefix = "AWSReservedSSO_"

// IdentityCenterRolePath is the IAM path of the roles IAM Identity Center
// makes for its permission sets. The name of a role is no proof (IAM does
// not say it refuses to create a role named AWSReservedSSO_* elsewhere);
// its path, which an assumed-role ARN does not carry, is what `orbit up`
// checks (OrbitSettings.IdentityCenterRoles).
const IdentityCenterRolePath = "/aws-reserved/sso.amazonaws.com/"

// IsIdentityCenterRoleName reports whether name is the name IAM Identity
// Center gives the roles of its permission sets.
func IsIdentityCenterRoleName(name string) bool { return strings.HasPrefix(name, ssoRolePrefix) }

// SamePrincipal reports whether the callers whose ARNs are a and b are
// one principal, as "the approver is not the starter" means it. Anyone
// who may assume a role chooses the session name, so two sessions of an
// assumed role are one principal: the role. Sessions of IAM Identity
// Center roles are the exception: their session name is the user
// Identity Center signed in, so they are one principal only when role and
// session are the same. identityCenterRoles are the roles known to be
// Identity Center's (pathless role ARNs, named AWSReservedSSO_* and on
// IdentityCenterRolePath, as `orbit up` found them); a role named so but
// not among them gets no exception. A federated user
// (arn:aws:sts::ACCOUNT:federated-user/NAME) is named by whoever called
// GetFederationToken, an IAM user (or the root user) of its account whom
// the ARN does not name: every federated user and IAM user of one account
// is one principal with a federated user of that account. Other ARNs
// (IAM users) are compared whole.
func SamePrincipal(a, b string, identityCenterRoles []string) bool {
	if a == b {
		return true
	}
	if fa, fb := federatedAccount(a), federatedAccount(b); fa != "" || fb != "" {
		return (fa != "" && (fa == fb || fa == userAccount(b))) || (fb != "" && fb == userAccount(a))
	}
	ra, rb := RoleARNOf(a), RoleARNOf(b)
	if ra == "" || ra != rb {
		return false
	}
	if IsIdentityCenterRoleName(ra[strings.LastIndexByte(ra, '/')+1:]) && slices.Contains(identityCenterRoles, ra) {
		return SessionNameOf(a) == SessionNameOf(b)
	}
	return true
}

// federatedAccount returns the account of a federated user's ARN
// (arn:aws:sts::ACCOUNT:federated-user/NAME), or "" for any other ARN.
func federatedAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sts" || !strings.HasPrefix(parts[5], "federated-user/") {
		return ""
	}
	return parts[4]
}

// userAccount returns the account of an IAM user's ARN or of the root
// user's (arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:root): who
// may call GetFederationToken. "" for any other ARN.
func userAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || (parts[5] != "root" && !strings.HasPrefix(parts[5], "user/")) {
		return ""
	}
	return parts[4]
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
	return o.RoleOfAny([]string{arn}, app)
}

// RoleOfAny returns the highest role the orbit's access rules grant in
// app to a caller known by any of ids (such as the principals of
// UserPrincipals), and "" when they grant none. app "" asks for the whole
// orbit: only rules without apps count.
func (o *Orbit) RoleOfAny(ids []string, app string) AccessRole {
	var best AccessRole
	for _, r := range o.Access {
		if len(r.Apps) > 0 && (app == "" || !slices.Contains(r.Apps, app)) {
			continue
		}
		if r.Role.rank() <= best.rank() {
			continue
		}
		if matchAny(r.Principals, ids) {
			best = r.Role
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

// matchAny reports whether any of ids is one of the principals patterns
// names.
func matchAny(patterns, ids []string) bool {
	for _, p := range patterns {
		for _, id := range ids {
			if MatchPrincipal(p, id) {
				return true
			}
		}
	}
	return false
}

// Names reports whether any access rule of the orbit, in any app, names
// one of ids.
func (o *Orbit) Names(ids ...string) bool {
	for _, r := range o.Access {
		if matchAny(r.Principals, ids) {
			return true
		}
	}
	return false
}
