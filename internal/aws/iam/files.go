package iam

// The operations of IAM kept in files (`elevator iam`): read everything
// under a path, change it object by object, and list and deactivate
// users' access keys. Documents are returned as IAM gives them
// (URL-encoded JSON); iampolicy.Decode reads them.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// filesAPI lists the IAM operations IAM kept in files uses.
type filesAPI interface {
	ListPolicies(context.Context, *iamsdk.ListPoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListPoliciesOutput, error)
	GetPolicy(context.Context, *iamsdk.GetPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.GetPolicyOutput, error)
	GetPolicyVersion(context.Context, *iamsdk.GetPolicyVersionInput, ...func(*iamsdk.Options)) (*iamsdk.GetPolicyVersionOutput, error)
	ListPolicyVersions(context.Context, *iamsdk.ListPolicyVersionsInput, ...func(*iamsdk.Options)) (*iamsdk.ListPolicyVersionsOutput, error)
	CreatePolicy(context.Context, *iamsdk.CreatePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.CreatePolicyOutput, error)
	CreatePolicyVersion(context.Context, *iamsdk.CreatePolicyVersionInput, ...func(*iamsdk.Options)) (*iamsdk.CreatePolicyVersionOutput, error)
	DeletePolicyVersion(context.Context, *iamsdk.DeletePolicyVersionInput, ...func(*iamsdk.Options)) (*iamsdk.DeletePolicyVersionOutput, error)
	DeletePolicy(context.Context, *iamsdk.DeletePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DeletePolicyOutput, error)
	ListEntitiesForPolicy(context.Context, *iamsdk.ListEntitiesForPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.ListEntitiesForPolicyOutput, error)

	ListGroups(context.Context, *iamsdk.ListGroupsInput, ...func(*iamsdk.Options)) (*iamsdk.ListGroupsOutput, error)
	GetGroup(context.Context, *iamsdk.GetGroupInput, ...func(*iamsdk.Options)) (*iamsdk.GetGroupOutput, error)
	CreateGroup(context.Context, *iamsdk.CreateGroupInput, ...func(*iamsdk.Options)) (*iamsdk.CreateGroupOutput, error)
	DeleteGroup(context.Context, *iamsdk.DeleteGroupInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteGroupOutput, error)
	ListAttachedGroupPolicies(context.Context, *iamsdk.ListAttachedGroupPoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListAttachedGroupPoliciesOutput, error)
	AttachGroupPolicy(context.Context, *iamsdk.AttachGroupPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.AttachGroupPolicyOutput, error)
	DetachGroupPolicy(context.Context, *iamsdk.DetachGroupPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DetachGroupPolicyOutput, error)
	ListGroupPolicies(context.Context, *iamsdk.ListGroupPoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListGroupPoliciesOutput, error)
	GetGroupPolicy(context.Context, *iamsdk.GetGroupPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.GetGroupPolicyOutput, error)
	PutGroupPolicy(context.Context, *iamsdk.PutGroupPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.PutGroupPolicyOutput, error)
	DeleteGroupPolicy(context.Context, *iamsdk.DeleteGroupPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteGroupPolicyOutput, error)

	ListUsers(context.Context, *iamsdk.ListUsersInput, ...func(*iamsdk.Options)) (*iamsdk.ListUsersOutput, error)
	GetUser(context.Context, *iamsdk.GetUserInput, ...func(*iamsdk.Options)) (*iamsdk.GetUserOutput, error)
	CreateUser(context.Context, *iamsdk.CreateUserInput, ...func(*iamsdk.Options)) (*iamsdk.CreateUserOutput, error)
	DeleteUser(context.Context, *iamsdk.DeleteUserInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteUserOutput, error)
	ListGroupsForUser(context.Context, *iamsdk.ListGroupsForUserInput, ...func(*iamsdk.Options)) (*iamsdk.ListGroupsForUserOutput, error)
	AddUserToGroup(context.Context, *iamsdk.AddUserToGroupInput, ...func(*iamsdk.Options)) (*iamsdk.AddUserToGroupOutput, error)
	RemoveUserFromGroup(context.Context, *iamsdk.RemoveUserFromGroupInput, ...func(*iamsdk.Options)) (*iamsdk.RemoveUserFromGroupOutput, error)
	ListAttachedUserPolicies(context.Context, *iamsdk.ListAttachedUserPoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListAttachedUserPoliciesOutput, error)
	AttachUserPolicy(context.Context, *iamsdk.AttachUserPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.AttachUserPolicyOutput, error)
	DetachUserPolicy(context.Context, *iamsdk.DetachUserPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DetachUserPolicyOutput, error)
	ListUserPolicies(context.Context, *iamsdk.ListUserPoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListUserPoliciesOutput, error)
	GetUserPolicy(context.Context, *iamsdk.GetUserPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.GetUserPolicyOutput, error)
	PutUserPolicy(context.Context, *iamsdk.PutUserPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.PutUserPolicyOutput, error)
	DeleteUserPolicy(context.Context, *iamsdk.DeleteUserPolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteUserPolicyOutput, error)
	DeleteLoginProfile(context.Context, *iamsdk.DeleteLoginProfileInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteLoginProfileOutput, error)
	ListAccessKeys(context.Context, *iamsdk.ListAccessKeysInput, ...func(*iamsdk.Options)) (*iamsdk.ListAccessKeysOutput, error)
	GetAccessKeyLastUsed(context.Context, *iamsdk.GetAccessKeyLastUsedInput, ...func(*iamsdk.Options)) (*iamsdk.GetAccessKeyLastUsedOutput, error)
	UpdateAccessKey(context.Context, *iamsdk.UpdateAccessKeyInput, ...func(*iamsdk.Options)) (*iamsdk.UpdateAccessKeyOutput, error)
	ListMFADevices(context.Context, *iamsdk.ListMFADevicesInput, ...func(*iamsdk.Options)) (*iamsdk.ListMFADevicesOutput, error)
	ListSigningCertificates(context.Context, *iamsdk.ListSigningCertificatesInput, ...func(*iamsdk.Options)) (*iamsdk.ListSigningCertificatesOutput, error)
	ListSSHPublicKeys(context.Context, *iamsdk.ListSSHPublicKeysInput, ...func(*iamsdk.Options)) (*iamsdk.ListSSHPublicKeysOutput, error)
	ListServiceSpecificCredentials(context.Context, *iamsdk.ListServiceSpecificCredentialsInput, ...func(*iamsdk.Options)) (*iamsdk.ListServiceSpecificCredentialsOutput, error)

	GetRole(context.Context, *iamsdk.GetRoleInput, ...func(*iamsdk.Options)) (*iamsdk.GetRoleOutput, error)
	CreateRole(context.Context, *iamsdk.CreateRoleInput, ...func(*iamsdk.Options)) (*iamsdk.CreateRoleOutput, error)
	UpdateRole(context.Context, *iamsdk.UpdateRoleInput, ...func(*iamsdk.Options)) (*iamsdk.UpdateRoleOutput, error)
	UpdateAssumeRolePolicy(context.Context, *iamsdk.UpdateAssumeRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.UpdateAssumeRolePolicyOutput, error)
	DeleteRole(context.Context, *iamsdk.DeleteRoleInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteRoleOutput, error)
	ListAttachedRolePolicies(context.Context, *iamsdk.ListAttachedRolePoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListAttachedRolePoliciesOutput, error)
	AttachRolePolicy(context.Context, *iamsdk.AttachRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.AttachRolePolicyOutput, error)
	DetachRolePolicy(context.Context, *iamsdk.DetachRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DetachRolePolicyOutput, error)
	ListRolePolicies(context.Context, *iamsdk.ListRolePoliciesInput, ...func(*iamsdk.Options)) (*iamsdk.ListRolePoliciesOutput, error)
	GetRolePolicy(context.Context, *iamsdk.GetRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.GetRolePolicyOutput, error)
	PutRolePolicy(context.Context, *iamsdk.PutRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.PutRolePolicyOutput, error)
	DeleteRolePolicy(context.Context, *iamsdk.DeleteRolePolicyInput, ...func(*iamsdk.Options)) (*iamsdk.DeleteRolePolicyOutput, error)
	ListInstanceProfilesForRole(context.Context, *iamsdk.ListInstanceProfilesForRoleInput, ...func(*iamsdk.Options)) (*iamsdk.ListInstanceProfilesForRoleOutput, error)
}

// ManagedPolicy is a customer managed policy and its default version's
// document.
type ManagedPolicy struct {
	Name, ARN, Path, Description string
	DefaultVersion               string
	Document                     string // as IAM returns it: URL-encoded JSON
}

// Entity is a group, user or role (Kind is elevator.IAMKindGroup, User or
// Role) with its policies.
type Entity struct {
	Kind, Name, ARN, Path string
	Description           string        // roles
	MaxSession            time.Duration // roles
	Trust                 string        // roles: the trust policy, as IAM returns it
	// Attached are the ARNs of the managed policies attached to it.
	Attached []string
	// Inline are its inline policies' documents, by name, as IAM returns
	// them.
	Inline map[string]string
	// Groups are, for a user, the names of the groups it belongs to.
	Groups []string
}

// Inventory is what an account holds under a path.
type Inventory struct {
	Policies []ManagedPolicy
	Groups   []Entity
	Users    []Entity
	Roles    []Entity
}

// AccessKey is one of a user's access keys.
type AccessKey struct {
	User, ID string
	Active   bool
	Created  time.Time
	// LastUsed is when it was last used (zero: never, or not known), and
	// LastService and LastRegion where.
	LastUsed                time.Time
	LastService, LastRegion string
}

func (c *Client) fail(doing, kind, name string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Kind: kind, Name: name}, err)
}

// ownedReaders is how many objects Owned reads at once: IAM answers
// each call in tens of milliseconds, and an account has hundreds.
const ownedReaders = 8

// Owned returns every managed policy, group, user and role whose path
// starts with path, with their documents, attachments, inline policies
// and (for users) groups; nothing outside path is read but the groups a
// user belongs to. Errors are EAWS (or another of awserr's codes).
func (c *Client) Owned(ctx context.Context, path string) (Inventory, error) {
	var inv Inventory
	pp := iamsdk.NewListPoliciesPaginator(c.files, &iamsdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal, PathPrefix: aws.String(path)})
	for pp.HasMorePages() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return inv, c.fail("list policies", "policies on path", path, err)
		}
		for _, p := range page.Policies {
			if under(p.Path, path) {
				inv.Policies = append(inv.Policies, ManagedPolicy{Name: aws.ToString(p.PolicyName), ARN: aws.ToString(p.Arn), Path: aws.ToString(p.Path), DefaultVersion: aws.ToString(p.DefaultVersionId)})
			}
		}
	}
	gp := iamsdk.NewListGroupsPaginator(c.files, &iamsdk.ListGroupsInput{PathPrefix: aws.String(path)})
	for gp.HasMorePages() {
		page, err := gp.NextPage(ctx)
		if err != nil {
			return inv, c.fail("list groups", "groups on path", path, err)
		}
		for _, g := range page.Groups {
			if under(g.Path, path) {
				inv.Groups = append(inv.Groups, Entity{Kind: elevator.IAMKindGroup, Name: aws.ToString(g.GroupName), ARN: aws.ToString(g.Arn), Path: aws.ToString(g.Path)})
			}
		}
	}
	up := iamsdk.NewListUsersPaginator(c.files, &iamsdk.ListUsersInput{PathPrefix: aws.String(path)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return inv, c.fail("list users", "users on path", path, err)
		}
		for _, u := range page.Users {
			if under(u.Path, path) {
				inv.Users = append(inv.Users, Entity{Kind: elevator.IAMKindUser, Name: aws.ToString(u.UserName), ARN: aws.ToString(u.Arn), Path: aws.ToString(u.Path)})
			}
		}
	}
	rp := iamsdk.NewListRolesPaginator(c.api, &iamsdk.ListRolesInput{PathPrefix: aws.String(path)})
	for rp.HasMorePages() {
		page, err := rp.NextPage(ctx)
		if err != nil {
			return inv, c.fail("list roles", "roles on path", path, err)
		}
		for _, r := range page.Roles {
			if under(r.Path, path) {
				inv.Roles = append(inv.Roles, Entity{Kind: elevator.IAMKindRole, Name: aws.ToString(r.RoleName), ARN: aws.ToString(r.Arn), Path: aws.ToString(r.Path)})
			}
		}
	}

	// The details of each object, several at once.
	var reads []func(context.Context) error
	for i := range inv.Policies {
		reads = append(reads, func(ctx context.Context) error { return c.policyDetails(ctx, &inv.Policies[i]) })
	}
	for _, list := range [][]Entity{inv.Groups, inv.Users, inv.Roles} {
		for i := range list {
			reads = append(reads, func(ctx context.Context) error { return c.entityDetails(ctx, &list[i]) })
		}
	}
	return inv, parallel(ctx, ownedReaders, reads)
}

// parallel runs fns, n at a time, and returns the first error; after
// one, the rest are not started.
func parallel(ctx context.Context, n int, fns []func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	slots := make(chan struct{}, n)
	for _, fn := range fns {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			if err := fn(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return first
}

func (c *Client) policyDetails(ctx context.Context, mp *ManagedPolicy) error {
	got, err := c.files.GetPolicy(ctx, &iamsdk.GetPolicyInput{PolicyArn: &mp.ARN})
	if err != nil {
		return c.fail("get policy "+mp.Name, "policy", mp.Name, err)
	}
	mp.Description = aws.ToString(got.Policy.Description)
	v, err := c.files.GetPolicyVersion(ctx, &iamsdk.GetPolicyVersionInput{PolicyArn: &mp.ARN, VersionId: &mp.DefaultVersion})
	if err != nil {
		return c.fail("get policy version "+mp.Name, "policy", mp.Name, err)
	}
	mp.Document = aws.ToString(v.PolicyVersion.Document)
	return nil
}

func (c *Client) entityDetails(ctx context.Context, e *Entity) error {
	switch e.Kind {
	case elevator.IAMKindUser:
		gs := iamsdk.NewListGroupsForUserPaginator(c.files, &iamsdk.ListGroupsForUserInput{UserName: &e.Name})
		for gs.HasMorePages() {
			page, err := gs.NextPage(ctx)
			if err != nil {
				return c.fail("list groups of user "+e.Name, "user", e.Name, err)
			}
			for _, g := range page.Groups {
				e.Groups = append(e.Groups, aws.ToString(g.GroupName))
			}
		}
		sort.Strings(e.Groups)
	case elevator.IAMKindRole:
		// ListRoles leaves out some fields (AWS documents which); GetRole has them all.
		got, err := c.files.GetRole(ctx, &iamsdk.GetRoleInput{RoleName: &e.Name})
		if err != nil {
			return c.fail("get role "+e.Name, "role", e.Name, err)
		}
		e.Description, e.Trust = aws.ToString(got.Role.Description), aws.ToString(got.Role.AssumeRolePolicyDocument)
		if got.Role.MaxSessionDuration != nil {
			e.MaxSession = time.Duration(*got.Role.MaxSessionDuration) * time.Second
		}
	}
	return c.policiesOf(ctx, e)
}

// under reports whether an object's path is under prefix. The lists are
// asked for that prefix already; this holds even where an emulator
// ignores it (moto's ListGroups does), so that nothing outside is ever
// taken for owned.
func under(path *string, prefix string) bool { return strings.HasPrefix(aws.ToString(path), prefix) }

// policiesOf reads the attached and inline policies of e.
func (c *Client) policiesOf(ctx context.Context, e *Entity) error {
	name := aws.String(e.Name)
	e.Inline = map[string]string{}
	var attached []iamtypes.AttachedPolicy
	var inline []string
	var err error
	switch e.Kind {
	case elevator.IAMKindGroup:
		p := iamsdk.NewListAttachedGroupPoliciesPaginator(c.files, &iamsdk.ListAttachedGroupPoliciesInput{GroupName: name})
		for p.HasMorePages() && err == nil {
			var page *iamsdk.ListAttachedGroupPoliciesOutput
			if page, err = p.NextPage(ctx); err == nil {
				attached = append(attached, page.AttachedPolicies...)
			}
		}
		q := iamsdk.NewListGroupPoliciesPaginator(c.files, &iamsdk.ListGroupPoliciesInput{GroupName: name})
		for q.HasMorePages() && err == nil {
			var page *iamsdk.ListGroupPoliciesOutput
			if page, err = q.NextPage(ctx); err == nil {
				inline = append(inline, page.PolicyNames...)
			}
		}
	case elevator.IAMKindUser:
		p := iamsdk.NewListAttachedUserPoliciesPaginator(c.files, &iamsdk.ListAttachedUserPoliciesInput{UserName: name})
		for p.HasMorePages() && err == nil {
			var page *iamsdk.ListAttachedUserPoliciesOutput
			if page, err = p.NextPage(ctx); err == nil {
				attached = append(attached, page.AttachedPolicies...)
			}
		}
		q := iamsdk.NewListUserPoliciesPaginator(c.files, &iamsdk.ListUserPoliciesInput{UserName: name})
		for q.HasMorePages() && err == nil {
			var page *iamsdk.ListUserPoliciesOutput
			if page, err = q.NextPage(ctx); err == nil {
				inline = append(inline, page.PolicyNames...)
			}
		}
	case elevator.IAMKindRole:
		p := iamsdk.NewListAttachedRolePoliciesPaginator(c.files, &iamsdk.ListAttachedRolePoliciesInput{RoleName: name})
		for p.HasMorePages() && err == nil {
			var page *iamsdk.ListAttachedRolePoliciesOutput
			if page, err = p.NextPage(ctx); err == nil {
				attached = append(attached, page.AttachedPolicies...)
			}
		}
		q := iamsdk.NewListRolePoliciesPaginator(c.files, &iamsdk.ListRolePoliciesInput{RoleName: name})
		for q.HasMorePages() && err == nil {
			var page *iamsdk.ListRolePoliciesOutput
			if page, err = q.NextPage(ctx); err == nil {
				inline = append(inline, page.PolicyNames...)
			}
		}
	}
	if err != nil {
		return c.fail("list policies of "+e.Kind+" "+e.Name, e.Kind, e.Name, err)
	}
	for _, a := range attached {
		e.Attached = append(e.Attached, aws.ToString(a.PolicyArn))
	}
	sort.Strings(e.Attached)
	for _, p := range inline {
		doc, err := c.inlineDocument(ctx, e.Kind, e.Name, p)
		if err != nil {
			return err
		}
		e.Inline[p] = doc
	}
	return nil
}

func (c *Client) inlineDocument(ctx context.Context, kind, name, policy string) (string, error) {
	var doc *string
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		var out *iamsdk.GetGroupPolicyOutput
		if out, err = c.files.GetGroupPolicy(ctx, &iamsdk.GetGroupPolicyInput{GroupName: &name, PolicyName: &policy}); err == nil {
			doc = out.PolicyDocument
		}
	case elevator.IAMKindUser:
		var out *iamsdk.GetUserPolicyOutput
		if out, err = c.files.GetUserPolicy(ctx, &iamsdk.GetUserPolicyInput{UserName: &name, PolicyName: &policy}); err == nil {
			doc = out.PolicyDocument
		}
	case elevator.IAMKindRole:
		var out *iamsdk.GetRolePolicyOutput
		if out, err = c.files.GetRolePolicy(ctx, &iamsdk.GetRolePolicyInput{RoleName: &name, PolicyName: &policy}); err == nil {
			doc = out.PolicyDocument
		}
	}
	if err != nil {
		return "", c.fail("get inline policy "+policy+" of "+kind+" "+name, "inline policy", policy, err)
	}
	return aws.ToString(doc), nil
}

// PathOf returns the path of the group, user, role or customer managed
// policy called name (for several policies, PolicyPaths reads the list
// once), and false when the account has none. Errors are
// EAWS (or another of awserr's codes).
func (c *Client) PathOf(ctx context.Context, kind, name string) (string, bool, error) {
	var path *string
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		var out *iamsdk.GetGroupOutput
		if out, err = c.files.GetGroup(ctx, &iamsdk.GetGroupInput{GroupName: &name, MaxItems: aws.Int32(1)}); err == nil {
			path = out.Group.Path
		}
	case elevator.IAMKindUser:
		var out *iamsdk.GetUserOutput
		if out, err = c.files.GetUser(ctx, &iamsdk.GetUserInput{UserName: &name}); err == nil {
			path = out.User.Path
		}
	case elevator.IAMKindRole:
		var out *iamsdk.GetRoleOutput
		if out, err = c.files.GetRole(ctx, &iamsdk.GetRoleInput{RoleName: &name}); err == nil {
			path = out.Role.Path
		}
	case elevator.IAMKindPolicy:
		paths, err := c.PolicyPaths(ctx)
		if err != nil {
			return "", false, err
		}
		path, ok := paths[strings.ToLower(name)]
		return path, ok, nil
	default:
		return "", false, fmt.Errorf("iam: unknown kind %q", kind)
	}
	if err != nil {
		err = c.fail("get "+kind+" "+name, kind, name, err)
		if elevator.ErrorCode(err) == elevator.ENOTFOUND {
			return "", false, nil
		}
		return "", false, err
	}
	return aws.ToString(path), true, nil
}

// PolicyPaths returns the path of every customer managed policy of the
// account, by name in lower case (IAM names are unique regardless of
// case; a policy is found by its ARN, which holds its path,
// so they are all listed).
func (c *Client) PolicyPaths(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	pp := iamsdk.NewListPoliciesPaginator(c.files, &iamsdk.ListPoliciesInput{Scope: iamtypes.PolicyScopeTypeLocal})
	for pp.HasMorePages() {
		page, err := pp.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list policies", "policies", "", err)
		}
		for _, p := range page.Policies {
			out[strings.ToLower(aws.ToString(p.PolicyName))] = aws.ToString(p.Path)
		}
	}
	return out, nil
}

// CreatePolicy creates a managed policy and returns its ARN.
func (c *Client) CreatePolicy(ctx context.Context, name, path, description, document string) (string, error) {
	in := &iamsdk.CreatePolicyInput{PolicyName: &name, Path: &path, PolicyDocument: &document}
	if description != "" {
		in.Description = &description
	}
	out, err := c.files.CreatePolicy(ctx, in)
	if err != nil {
		return "", c.fail("create policy "+name, "policy", name, err)
	}
	return aws.ToString(out.Policy.Arn), nil
}

// SetPolicyDocument makes document the default version of the policy arn,
// deleting its oldest version that is not the default first when it has
// IAM's five.
func (c *Client) SetPolicyDocument(ctx context.Context, arn, document string) error {
	versions, err := c.files.ListPolicyVersions(ctx, &iamsdk.ListPolicyVersionsInput{PolicyArn: &arn})
	if err != nil {
		return c.fail("list versions of policy "+arn, "policy", arn, err)
	}
	if len(versions.Versions) >= 5 {
		var oldest *iamtypes.PolicyVersion
		for i, v := range versions.Versions {
			if !v.IsDefaultVersion && (oldest == nil || older(v, *oldest)) {
				oldest = &versions.Versions[i]
			}
		}
		if oldest != nil {
			if _, err := c.files.DeletePolicyVersion(ctx, &iamsdk.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: oldest.VersionId}); err != nil {
				return c.fail("delete version "+aws.ToString(oldest.VersionId)+" of policy "+arn, "policy", arn, err)
			}
		}
	}
	if _, err := c.files.CreatePolicyVersion(ctx, &iamsdk.CreatePolicyVersionInput{PolicyArn: &arn, PolicyDocument: &document, SetAsDefault: true}); err != nil {
		return c.fail("create version of policy "+arn, "policy", arn, err)
	}
	return nil
}

// older reports whether version a was made before b: by date, and by
// number (v2 before v10) within one second.
func older(a, b iamtypes.PolicyVersion) bool {
	ta, tb := aws.ToTime(a.CreateDate), aws.ToTime(b.CreateDate)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	na, _ := strconv.Atoi(strings.TrimPrefix(aws.ToString(a.VersionId), "v"))
	nb, _ := strconv.Atoi(strings.TrimPrefix(aws.ToString(b.VersionId), "v"))
	return na < nb
}

// PolicyVersions returns how many versions the policy arn has.
func (c *Client) PolicyVersions(ctx context.Context, arn string) (int, error) {
	versions, err := c.files.ListPolicyVersions(ctx, &iamsdk.ListPolicyVersionsInput{PolicyArn: &arn})
	if err != nil {
		return 0, c.fail("list versions of policy "+arn, "policy", arn, err)
	}
	return len(versions.Versions), nil
}

// PolicyUsers returns the groups, users and roles the policy arn is
// attached to, as kind/name.
func (c *Client) PolicyUsers(ctx context.Context, arn string) ([]string, error) {
	return c.policyEntities(ctx, arn, iamtypes.PolicyUsageTypePermissionsPolicy)
}

// PolicyBoundaryUsers returns the users and roles whose permissions
// boundary is the policy arn, as kind/name: IAM refuses to delete a
// policy in that use.
func (c *Client) PolicyBoundaryUsers(ctx context.Context, arn string) ([]string, error) {
	return c.policyEntities(ctx, arn, iamtypes.PolicyUsageTypePermissionsBoundary)
}

func (c *Client) policyEntities(ctx context.Context, arn string, use iamtypes.PolicyUsageType) ([]string, error) {
	var out []string
	p := iamsdk.NewListEntitiesForPolicyPaginator(c.files, &iamsdk.ListEntitiesForPolicyInput{PolicyArn: &arn, PolicyUsageFilter: use})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list entities of policy "+arn, "policy", arn, err)
		}
		for _, g := range page.PolicyGroups {
			out = append(out, elevator.IAMKindGroup+"/"+aws.ToString(g.GroupName))
		}
		for _, u := range page.PolicyUsers {
			out = append(out, elevator.IAMKindUser+"/"+aws.ToString(u.UserName))
		}
		for _, r := range page.PolicyRoles {
			out = append(out, elevator.IAMKindRole+"/"+aws.ToString(r.RoleName))
		}
	}
	return out, nil
}

// DeletePolicy deletes the policy arn and its versions. It returns an
// ECONFLICT error naming them when the policy is still attached to any
// group, user or role.
func (c *Client) DeletePolicy(ctx context.Context, arn string) error {
	users, err := c.PolicyUsers(ctx, arn)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return elevator.Errorf(elevator.ECONFLICT, "policy %s is still attached to %s; detach it first", arn, strings.Join(users, ", "))
	}
	versions, err := c.files.ListPolicyVersions(ctx, &iamsdk.ListPolicyVersionsInput{PolicyArn: &arn})
	if err != nil {
		return c.fail("list versions of policy "+arn, "policy", arn, err)
	}
	for _, v := range versions.Versions {
		if v.IsDefaultVersion {
			continue
		}
		if _, err := c.files.DeletePolicyVersion(ctx, &iamsdk.DeletePolicyVersionInput{PolicyArn: &arn, VersionId: v.VersionId}); err != nil {
			return c.fail("delete version of policy "+arn, "policy", arn, err)
		}
	}
	if _, err := c.files.DeletePolicy(ctx, &iamsdk.DeletePolicyInput{PolicyArn: &arn}); err != nil {
		return c.fail("delete policy "+arn, "policy", arn, err)
	}
	return nil
}

// Create creates the group, user or role e (its Kind, Name, Path, and for
// a role Description, MaxSession and Trust, a JSON document); policies
// are attached by Attach and PutInline.
func (c *Client) Create(ctx context.Context, e Entity) error {
	var err error
	switch e.Kind {
	case elevator.IAMKindGroup:
		_, err = c.files.CreateGroup(ctx, &iamsdk.CreateGroupInput{GroupName: &e.Name, Path: &e.Path})
	case elevator.IAMKindUser:
		_, err = c.files.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: &e.Name, Path: &e.Path})
	case elevator.IAMKindRole:
		in := &iamsdk.CreateRoleInput{RoleName: &e.Name, Path: &e.Path, AssumeRolePolicyDocument: &e.Trust}
		if e.Description != "" {
			in.Description = &e.Description
		}
		if e.MaxSession > 0 {
			in.MaxSessionDuration = aws.Int32(int32(e.MaxSession / time.Second))
		}
		_, err = c.files.CreateRole(ctx, in)
	}
	return c.fail("create "+e.Kind+" "+e.Name, e.Kind, e.Name, err)
}

// UpdateRole sets a role's description and longest session (0: IAM's
// default, one hour).
func (c *Client) UpdateRole(ctx context.Context, name, description string, maxSession time.Duration) error {
	if maxSession == 0 {
		maxSession = time.Hour
	}
	_, err := c.files.UpdateRole(ctx, &iamsdk.UpdateRoleInput{RoleName: &name, Description: &description, MaxSessionDuration: aws.Int32(int32(maxSession / time.Second))})
	return c.fail("update role "+name, elevator.IAMKindRole, name, err)
}

// SetTrust replaces a role's trust policy.
func (c *Client) SetTrust(ctx context.Context, name, document string) error {
	_, err := c.files.UpdateAssumeRolePolicy(ctx, &iamsdk.UpdateAssumeRolePolicyInput{RoleName: &name, PolicyDocument: &document})
	return c.fail("update trust policy of role "+name, elevator.IAMKindRole, name, err)
}

// Attach attaches the managed policy arn to the group, user or role.
func (c *Client) Attach(ctx context.Context, kind, name, arn string) error {
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		_, err = c.files.AttachGroupPolicy(ctx, &iamsdk.AttachGroupPolicyInput{GroupName: &name, PolicyArn: &arn})
	case elevator.IAMKindUser:
		_, err = c.files.AttachUserPolicy(ctx, &iamsdk.AttachUserPolicyInput{UserName: &name, PolicyArn: &arn})
	case elevator.IAMKindRole:
		_, err = c.files.AttachRolePolicy(ctx, &iamsdk.AttachRolePolicyInput{RoleName: &name, PolicyArn: &arn})
	}
	return c.fail("attach "+arn+" to "+kind+" "+name, kind, name, err)
}

// Detach detaches the managed policy arn from the group, user or role.
func (c *Client) Detach(ctx context.Context, kind, name, arn string) error {
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		_, err = c.files.DetachGroupPolicy(ctx, &iamsdk.DetachGroupPolicyInput{GroupName: &name, PolicyArn: &arn})
	case elevator.IAMKindUser:
		_, err = c.files.DetachUserPolicy(ctx, &iamsdk.DetachUserPolicyInput{UserName: &name, PolicyArn: &arn})
	case elevator.IAMKindRole:
		_, err = c.files.DetachRolePolicy(ctx, &iamsdk.DetachRolePolicyInput{RoleName: &name, PolicyArn: &arn})
	}
	return c.fail("detach "+arn+" from "+kind+" "+name, kind, name, err)
}

// PutInline creates or replaces the inline policy called policy of the
// group, user or role.
func (c *Client) PutInline(ctx context.Context, kind, name, policy, document string) error {
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		_, err = c.files.PutGroupPolicy(ctx, &iamsdk.PutGroupPolicyInput{GroupName: &name, PolicyName: &policy, PolicyDocument: &document})
	case elevator.IAMKindUser:
		_, err = c.files.PutUserPolicy(ctx, &iamsdk.PutUserPolicyInput{UserName: &name, PolicyName: &policy, PolicyDocument: &document})
	case elevator.IAMKindRole:
		_, err = c.files.PutRolePolicy(ctx, &iamsdk.PutRolePolicyInput{RoleName: &name, PolicyName: &policy, PolicyDocument: &document})
	}
	return c.fail("put inline policy "+policy+" of "+kind+" "+name, kind, name, err)
}

// DeleteInline deletes the inline policy called policy of the group, user
// or role.
func (c *Client) DeleteInline(ctx context.Context, kind, name, policy string) error {
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		_, err = c.files.DeleteGroupPolicy(ctx, &iamsdk.DeleteGroupPolicyInput{GroupName: &name, PolicyName: &policy})
	case elevator.IAMKindUser:
		_, err = c.files.DeleteUserPolicy(ctx, &iamsdk.DeleteUserPolicyInput{UserName: &name, PolicyName: &policy})
	case elevator.IAMKindRole:
		_, err = c.files.DeleteRolePolicy(ctx, &iamsdk.DeleteRolePolicyInput{RoleName: &name, PolicyName: &policy})
	}
	return c.fail("delete inline policy "+policy+" of "+kind+" "+name, kind, name, err)
}

// AddToGroup adds user to group.
func (c *Client) AddToGroup(ctx context.Context, user, group string) error {
	_, err := c.files.AddUserToGroup(ctx, &iamsdk.AddUserToGroupInput{UserName: &user, GroupName: &group})
	return c.fail("add user "+user+" to group "+group, elevator.IAMKindGroup, group, err)
}

// RemoveFromGroup removes user from group.
func (c *Client) RemoveFromGroup(ctx context.Context, user, group string) error {
	_, err := c.files.RemoveUserFromGroup(ctx, &iamsdk.RemoveUserFromGroupInput{UserName: &user, GroupName: &group})
	return c.fail("remove user "+user+" from group "+group, elevator.IAMKindGroup, group, err)
}

// GroupMembers returns the names of the users in group.
func (c *Client) GroupMembers(ctx context.Context, group string) ([]string, error) {
	var out []string
	p := iamsdk.NewGetGroupPaginator(c.files, &iamsdk.GetGroupInput{GroupName: &group})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("get group "+group, elevator.IAMKindGroup, group, err)
		}
		for _, u := range page.Users {
			out = append(out, aws.ToString(u.UserName))
		}
	}
	return out, nil
}

// InstanceProfilesOf returns the names of the instance profiles that hold
// role.
func (c *Client) InstanceProfilesOf(ctx context.Context, role string) ([]string, error) {
	var out []string
	p := iamsdk.NewListInstanceProfilesForRolePaginator(c.files, &iamsdk.ListInstanceProfilesForRoleInput{RoleName: &role})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list instance profiles of role "+role, elevator.IAMKindRole, role, err)
		}
		for _, ip := range page.InstanceProfiles {
			out = append(out, aws.ToString(ip.InstanceProfileName))
		}
	}
	return out, nil
}

// DeleteLoginProfile deletes user's console password, if it has one.
func (c *Client) DeleteLoginProfile(ctx context.Context, user string) error {
	_, err := c.files.DeleteLoginProfile(ctx, &iamsdk.DeleteLoginProfileInput{UserName: &user})
	if err = c.fail("delete login profile of user "+user, elevator.IAMKindUser, user, err); elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil
	}
	return err
}

// Delete deletes the group, user or role called name, which must have
// no policies, members, groups or keys left (IAM refuses otherwise).
func (c *Client) Delete(ctx context.Context, kind, name string) error {
	var err error
	switch kind {
	case elevator.IAMKindGroup:
		_, err = c.files.DeleteGroup(ctx, &iamsdk.DeleteGroupInput{GroupName: &name})
	case elevator.IAMKindUser:
		_, err = c.files.DeleteUser(ctx, &iamsdk.DeleteUserInput{UserName: &name})
	case elevator.IAMKindRole:
		_, err = c.files.DeleteRole(ctx, &iamsdk.DeleteRoleInput{RoleName: &name})
	}
	return c.fail("delete "+kind+" "+name, kind, name, err)
}

// AccessKeys returns user's access keys with when each was last used.
func (c *Client) AccessKeys(ctx context.Context, user string) ([]AccessKey, error) {
	var out []AccessKey
	p := iamsdk.NewListAccessKeysPaginator(c.files, &iamsdk.ListAccessKeysInput{UserName: &user})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list access keys of user "+user, elevator.IAMKindUser, user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			key := AccessKey{User: user, ID: aws.ToString(k.AccessKeyId), Active: k.Status == iamtypes.StatusTypeActive, Created: aws.ToTime(k.CreateDate)}
			used, err := c.files.GetAccessKeyLastUsed(ctx, &iamsdk.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
			if err != nil {
				return nil, c.fail("get last use of access key "+key.ID, "access key", key.ID, err)
			}
			if u := used.AccessKeyLastUsed; u != nil {
				key.LastUsed, key.LastService, key.LastRegion = aws.ToTime(u.LastUsedDate), aws.ToString(u.ServiceName), aws.ToString(u.Region)
				if key.LastService == "N/A" {
					key.LastService = ""
				}
				if key.LastRegion == "N/A" {
					key.LastRegion = ""
				}
			}
			out = append(out, key)
		}
	}
	return out, nil
}

// DeactivateKey makes user's access key id inactive (it is not deleted:
// activating it again undoes this).
func (c *Client) DeactivateKey(ctx context.Context, user, id string) error {
	_, err := c.files.UpdateAccessKey(ctx, &iamsdk.UpdateAccessKeyInput{UserName: &user, AccessKeyId: &id, Status: iamtypes.StatusTypeInactive})
	return c.fail("deactivate access key "+id+" of user "+user, "access key", id, err)
}

// UserCredentials returns what user holds, besides access keys and
// service-specific credentials, that IAM's DeleteUser refuses to delete:
// its MFA devices, signing certificates and SSH public keys, each as
// "MFA device SERIAL", "signing certificate ID" or "SSH public key ID".
func (c *Client) UserCredentials(ctx context.Context, user string) ([]string, error) {
	var out []string
	mfa := iamsdk.NewListMFADevicesPaginator(c.files, &iamsdk.ListMFADevicesInput{UserName: &user})
	for mfa.HasMorePages() {
		page, err := mfa.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list MFA devices of user "+user, elevator.IAMKindUser, user, err)
		}
		for _, d := range page.MFADevices {
			out = append(out, "MFA device "+aws.ToString(d.SerialNumber))
		}
	}
	certs := iamsdk.NewListSigningCertificatesPaginator(c.files, &iamsdk.ListSigningCertificatesInput{UserName: &user})
	for certs.HasMorePages() {
		page, err := certs.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list signing certificates of user "+user, elevator.IAMKindUser, user, err)
		}
		for _, cert := range page.Certificates {
			out = append(out, "signing certificate "+aws.ToString(cert.CertificateId))
		}
	}
	keys := iamsdk.NewListSSHPublicKeysPaginator(c.files, &iamsdk.ListSSHPublicKeysInput{UserName: &user})
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list SSH public keys of user "+user, elevator.IAMKindUser, user, err)
		}
		for _, k := range page.SSHPublicKeys {
			out = append(out, "SSH public key "+aws.ToString(k.SSHPublicKeyId))
		}
	}
	return out, nil
}

// ServiceCredentials returns user's service-specific credentials (for
// CodeCommit, Keyspaces and the like), which IAM's DeleteUser refuses to
// delete, each as "service-specific credential ID (SERVICE)".
func (c *Client) ServiceCredentials(ctx context.Context, user string) ([]string, error) {
	out, err := c.files.ListServiceSpecificCredentials(ctx, &iamsdk.ListServiceSpecificCredentialsInput{UserName: &user})
	if err != nil {
		return nil, c.fail("list service-specific credentials of user "+user, elevator.IAMKindUser, user, err)
	}
	var creds []string
	for _, cr := range out.ServiceSpecificCredentials {
		creds = append(creds, "service-specific credential "+aws.ToString(cr.ServiceSpecificCredentialId)+" ("+aws.ToString(cr.ServiceName)+")")
	}
	return creds, nil
}

// UsersUnder returns the names of the users whose path starts with path,
// reading nothing else.
func (c *Client) UsersUnder(ctx context.Context, path string) ([]string, error) {
	var out []string
	up := iamsdk.NewListUsersPaginator(c.files, &iamsdk.ListUsersInput{PathPrefix: aws.String(path)})
	for up.HasMorePages() {
		page, err := up.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list users", "users on path", path, err)
		}
		for _, u := range page.Users {
			if under(u.Path, path) {
				out = append(out, aws.ToString(u.UserName))
			}
		}
	}
	return out, nil
}
