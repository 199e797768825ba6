package elevator

import (
	"regexp"
	"strings"
)

// The forms of an orbit's account section (Account), shared by the
// manifest, the settings `orbit up` stores and the configs that act in the
// account.
var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	// roleARNPattern is an IAM role ARN: a path of segments and a name of
	// at most 64 characters, no wildcards.
	roleARNPattern = regexp.MustCompile(`^arn:aws(-cn|-us-gov)?:iam::([0-9]{12}):role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}$`)
	// externalIDPattern is what STS AssumeRole takes as an ExternalId.
	// (2 to 1224 of these characters: Go's regexp counts to 1000 at most).
	externalIDPattern = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/_-]+$`)
)

// RoleSessionPrefix starts the name of every session Elevator opens with
// an orbit's role: elevator-<caller>. A trust policy may require it
// (sts:RoleSessionName).
const RoleSessionPrefix = "elevator-"

// Forms of an account section's fields, as messages state what is allowed.
const (
	AccountIDForm  = "a 12-digit AWS account id, such as 111122223333"
	RoleARNForm    = "an IAM role ARN, such as arn:aws:iam::111122223333:role/elevator"
	ExternalIDForm = "2 to 1224 letters, digits or any of +=,.@:/_-"
)

// IsAccountID reports whether s is a 12-digit AWS account id.
func IsAccountID(s string) bool { return accountIDPattern.MatchString(s) }

// IsRoleARN reports whether s is an IAM role ARN (no wildcards).
func IsRoleARN(s string) bool { return roleARNPattern.MatchString(s) }

// IsExternalID reports whether s is an external id STS takes.
func IsExternalID(s string) bool {
	return len(s) >= 2 && len(s) <= 1224 && externalIDPattern.MatchString(s)
}

// RoleAccount returns the account id in the ARN of a's role, or "".
func (a Account) RoleAccount() string {
	m := roleARNPattern.FindStringSubmatch(a.Role)
	if m == nil {
		return ""
	}
	return m[2]
}

// Want returns the account a's configs must end up in: ID, or the role's
// account when ID is not given; "" when neither says.
func (a Account) Want() string {
	if a.ID != "" {
		return a.ID
	}
	return a.RoleAccount()
}

// Check returns an EINVALID error naming the first field of a that is not
// allowed (field names as in the manifest's account section), or nil.
func (a Account) Check() error {
	switch {
	case a.IsZero() && a.ExternalID != "":
		return Errorf(EINVALID, "account: external_id without a role; want role (and id) too")
	case a.ID != "" && !IsAccountID(a.ID):
		return Errorf(EINVALID, "account.id %q: want %s", a.ID, AccountIDForm)
	case a.Role != "" && !IsRoleARN(a.Role):
		return Errorf(EINVALID, "account.role %q: want %s", a.Role, RoleARNForm)
	case a.ExternalID != "" && !IsExternalID(a.ExternalID):
		return Errorf(EINVALID, "account.external_id: want %s", ExternalIDForm)
	case a.ExternalID != "" && a.Role == "":
		return Errorf(EINVALID, "account.external_id: only used to assume a role; want a role too")
	case a.ID != "" && a.Role != "" && a.RoleAccount() != a.ID:
		return Errorf(EINVALID, "account.role %q is in account %s, not in account.id %s; want a role of account %s", a.Role, a.RoleAccount(), a.ID, a.ID)
	}
	return nil
}

// String names a for messages: its account and the role assumed there.
func (a Account) String() string {
	var parts []string
	if w := a.Want(); w != "" {
		parts = append(parts, "account "+w)
	}
	if a.Role != "" {
		parts = append(parts, "role "+a.Role)
	}
	return strings.Join(parts, ", ")
}

// RegionPartition is the AWS partition of a region: aws, aws-cn,
// aws-us-gov, aws-iso or aws-iso-b.
func RegionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// partitionHomes is a region of each partition that every account has
// enabled (none is opt-in): where a caller's own STS calls go.
var partitionHomes = map[string]string{
	"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1",
	"aws-iso": "us-iso-east-1", "aws-iso-b": "us-isob-east-1",
}

// PartitionHome returns a region of region's partition that no account
// has to opt in to: the caller's own STS calls go there, as an orbit's
// region may be one the caller's account has not enabled.
func PartitionHome(region string) string { return partitionHomes[RegionPartition(region)] }

// RolePartition returns the partition in the ARN of a's role, or "".
func (a Account) RolePartition() string {
	m := roleARNPattern.FindStringSubmatch(a.Role)
	if m == nil {
		return ""
	}
	return "aws" + m[1]
}
