// Package iamfile makes an account's IAM match IAM files (elevator.IAMFile):
// Plan reads what the account holds under the files' path and lists the
// changes, object by object; Apply makes them in dependency order
// (policies, then groups, users and roles, then attachments, inline
// policies and group membership; deletions in reverse). Nothing outside
// the path is read for changing, or changed.
package iamfile

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/iampolicy"
)

// Account is what Plan and Apply call: the IAM adapter's operations.
type Account interface {
	Owned(ctx context.Context, path string) (iam.Inventory, error)
	PathOf(ctx context.Context, kind, name string) (string, bool, error)
	PolicyPaths(ctx context.Context) (map[string]string, error)
	PolicyUsers(ctx context.Context, arn string) ([]string, error)
	PolicyBoundaryUsers(ctx context.Context, arn string) ([]string, error)
	GroupMembers(ctx context.Context, group string) ([]string, error)
	InstanceProfilesOf(ctx context.Context, role string) ([]string, error)
	AccessKeys(ctx context.Context, user string) ([]iam.AccessKey, error)
	UserCredentials(ctx context.Context, user string) ([]string, error)
	ServiceCredentials(ctx context.Context, user string) ([]string, error)

	CreatePolicy(ctx context.Context, name, path, description, document string) (string, error)
	SetPolicyDocument(ctx context.Context, arn, document string) error
	DeletePolicy(ctx context.Context, arn string) error
	Create(ctx context.Context, e iam.Entity) error
	UpdateRole(ctx context.Context, name, description string, maxSession time.Duration) error
	SetTrust(ctx context.Context, name, document string) error
	Attach(ctx context.Context, kind, name, arn string) error
	Detach(ctx context.Context, kind, name, arn string) error
	PutInline(ctx context.Context, kind, name, policy, document string) error
	DeleteInline(ctx context.Context, kind, name, policy string) error
	AddToGroup(ctx context.Context, user, group string) error
	RemoveFromGroup(ctx context.Context, user, group string) error
	DeleteLoginProfile(ctx context.Context, user string) error
	Delete(ctx context.Context, kind, name string) error
}

// Change operations.
const (
	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Change is what happens to one object.
type Change struct {
	Op   string `json:"op"`   // create, update or delete
	Kind string `json:"kind"` // policy, group, user or role
	Name string `json:"name"`
	// Details says what changes: "attach arn:...", "trust policy", ...
	Details []string `json:"details,omitempty"`
}

func (c Change) String() string {
	s := fmt.Sprintf("%s %s %s", c.Op, c.Kind, c.Name)
	if len(c.Details) > 0 {
		s += ": " + strings.Join(c.Details, "; ")
	}
	return s
}

// Plan is the difference between the files and the account.
type Plan struct {
	Path    string   `json:"path"`
	Account string   `json:"account"`
	Changes []Change `json:"changes"`
	// Unchanged counts the objects of the files the account holds as
	// they are.
	Unchanged int `json:"unchanged"`
	// Notes are differences Apply does not make, and why.
	Notes []string `json:"notes,omitempty"`
	// Blockers are why Apply would refuse to make any change: a name in
	// the files taken outside the path, an object to delete that is used
	// outside it or holds what Elevator never deletes.
	Blockers []string `json:"blockers,omitempty"`

	steps       []step
	policyPaths map[string]string
}

// step is one call of Apply.
type step struct {
	change int // index into Changes
	what   string
	run    func(context.Context, Account) error
}

// Input is what Plan works from.
type Input struct {
	File *elevator.IAMFile
	// AccountID and Partition (aws, aws-cn, aws-us-gov) make the ARNs of
	// the files' policies.
	AccountID, Partition string
}

// desired is the files' objects with documents encoded.
type wantEntity struct {
	kind, name  string
	description string
	maxSession  time.Duration
	trust       any
	attached    []string // ARNs
	inline      map[string]any
	groups      []string
}

// MakePlan reads the account under the files' path and returns the
// changes that make it match. Errors are the adapter's (EAWS and the
// like).
func MakePlan(ctx context.Context, acct Account, in Input) (*Plan, error) {
	f := in.File
	inv, err := acct.Owned(ctx, f.Path)
	if err != nil {
		return nil, err
	}
	p := &Plan{Path: f.Path, Account: in.AccountID, Changes: []Change{}}
	policyARN := map[string]string{}
	// IAM names are unique regardless of case: the account's objects
	// are found by their names in lower case.
	havePolicy := map[string]iam.ManagedPolicy{}
	for _, mp := range inv.Policies {
		havePolicy[strings.ToLower(mp.Name)] = mp
	}
	for _, pol := range f.Policies {
		if mp, ok := havePolicy[strings.ToLower(pol.Name)]; ok {
			policyARN[pol.Name] = mp.ARN
		} else {
			policyARN[pol.Name] = fmt.Sprintf("arn:%s:iam::%s:policy%s%s", in.Partition, in.AccountID, f.Path, pol.Name)
		}
	}
	resolve := func(names []string) []string {
		out := make([]string, 0, len(names))
		for _, n := range names {
			if arn, ok := policyARN[n]; ok && !strings.HasPrefix(n, "arn:") {
				out = append(out, arn)
			} else {
				out = append(out, n)
			}
		}
		sort.Strings(out)
		return out
	}

	// Phase 1: policies created or updated.
	for _, pol := range f.Policies {
		doc, err := iampolicy.Encode(pol.Document)
		if err != nil {
			return nil, err
		}
		mp, ok := havePolicy[strings.ToLower(pol.Name)]
		if ok && mp.Name != pol.Name {
			p.caseBlocker(elevator.IAMKindPolicy, pol.Name, mp.Name)
			continue
		}
		if !ok {
			if err := p.checkFree(ctx, acct, elevator.IAMKindPolicy, pol.Name); err != nil {
				return nil, err
			}
			name, desc := pol.Name, pol.Description
			i := p.change(OpCreate, elevator.IAMKindPolicy, name)
			p.add(i, "create", func(ctx context.Context, a Account) error {
				_, err := a.CreatePolicy(ctx, name, f.Path, desc, doc)
				return err
			})
			continue
		}
		changed := false
		if have, err := iampolicy.Decode(mp.Document); err != nil || iampolicy.Canonical(have) != iampolicy.Canonical(pol.Document) {
			arn := mp.ARN
			i := p.change(OpUpdate, elevator.IAMKindPolicy, pol.Name)
			p.detail(i, "document (a new default version)")
			p.add(i, "new default version", func(ctx context.Context, a Account) error { return a.SetPolicyDocument(ctx, arn, doc) })
			changed = true
		}
		if mp.Description != pol.Description {
			p.Notes = append(p.Notes, fmt.Sprintf("policy %s: the description differs (%q in the account), but IAM sets it only when a policy is created; it is left as it is", pol.Name, mp.Description))
		}
		if !changed {
			p.Unchanged++
		}
	}

	// Phase 2: groups, users and roles created or updated; their
	// policies and membership after.
	have := map[string]iam.Entity{}
	for _, list := range [][]iam.Entity{inv.Groups, inv.Users, inv.Roles} {
		for _, e := range list {
			have[e.Kind+"/"+strings.ToLower(e.Name)] = e
		}
	}
	// A user's membership of a group outside the path is the other
	// group's business: left as it is.
	ownedGroup := map[string]bool{}
	for _, g := range inv.Groups {
		ownedGroup[g.Name] = true
	}
	var wants []wantEntity
	for _, g := range f.Groups {
		wants = append(wants, wantEntity{kind: elevator.IAMKindGroup, name: g.Name, attached: resolve(g.Policies), inline: g.Inline})
	}
	for _, u := range f.Users {
		groups := append([]string(nil), u.Groups...)
		sort.Strings(groups)
		wants = append(wants, wantEntity{kind: elevator.IAMKindUser, name: u.Name, attached: resolve(u.Policies), inline: u.Inline, groups: groups})
	}
	for _, r := range f.Roles {
		wants = append(wants, wantEntity{kind: elevator.IAMKindRole, name: r.Name, description: r.Description, maxSession: r.MaxSession, trust: r.Trust, attached: resolve(r.Policies), inline: r.Inline})
	}
	type later struct {
		i   int
		w   wantEntity
		got iam.Entity
	}
	var attachLater []later
	for _, w := range wants {
		got, ok := have[w.kind+"/"+strings.ToLower(w.name)]
		if ok && got.Name != w.name {
			p.caseBlocker(w.kind, w.name, got.Name)
			continue
		}
		if !ok {
			if err := p.checkFree(ctx, acct, w.kind, w.name); err != nil {
				return nil, err
			}
			i := p.change(OpCreate, w.kind, w.name)
			e := iam.Entity{Kind: w.kind, Name: w.name, Path: f.Path, Description: w.description, MaxSession: w.maxSession}
			if w.kind == elevator.IAMKindRole {
				if e.Trust, err = iampolicy.Encode(w.trust); err != nil {
					return nil, err
				}
			}
			p.add(i, "create", func(ctx context.Context, a Account) error { return a.Create(ctx, e) })
			attachLater = append(attachLater, later{i, w, iam.Entity{Kind: w.kind, Name: w.name}})
			continue
		}
		i := -1
		if w.kind == elevator.IAMKindRole {
			want := w.maxSession
			if want == 0 {
				want = time.Hour
			}
			if got.Description != w.description || got.MaxSession != want {
				i = p.changeOnce(i, OpUpdate, w.kind, w.name)
				if got.Description != w.description {
					p.detail(i, fmt.Sprintf("description %q → %q", got.Description, w.description))
				}
				if got.MaxSession != want {
					p.detail(i, fmt.Sprintf("max session %s → %s", got.MaxSession, want))
				}
				name, desc, ms := w.name, w.description, w.maxSession
				p.add(i, "update", func(ctx context.Context, a Account) error { return a.UpdateRole(ctx, name, desc, ms) })
			}
			if trust, err := iampolicy.Decode(got.Trust); err != nil || iampolicy.Canonical(trust) != iampolicy.Canonical(w.trust) {
				i = p.changeOnce(i, OpUpdate, w.kind, w.name)
				p.detail(i, "trust policy")
				doc, err := iampolicy.Encode(w.trust)
				if err != nil {
					return nil, err
				}
				name := w.name
				p.add(i, "trust policy", func(ctx context.Context, a Account) error { return a.SetTrust(ctx, name, doc) })
			}
		}
		attachLater = append(attachLater, later{i, w, got})
	}
	// Attachments, inline policies and membership: added first, removed
	// after, so that an object never has less than both.
	var removals []func()
	for _, l := range attachLater {
		w, got, i := l.w, l.got, l.i
		kind, name := w.kind, w.name
		created := i >= 0 && p.Changes[i].Op == OpCreate
		for _, arn := range w.attached {
			if !contains(got.Attached, arn) {
				i = p.changeOnce(i, OpUpdate, kind, name)
				p.detail(i, "attach "+arn)
				arn := arn
				p.add(i, "attach "+arn, func(ctx context.Context, a Account) error { return a.Attach(ctx, kind, name, arn) })
			}
		}
		for _, pn := range sortedKeys(w.inline) {
			doc := w.inline[pn]
			if h, ok := got.Inline[pn]; ok {
				if hd, err := iampolicy.Decode(h); err == nil && iampolicy.Canonical(hd) == iampolicy.Canonical(doc) {
					continue
				}
			}
			i = p.changeOnce(i, OpUpdate, kind, name)
			verb := "add"
			if _, ok := got.Inline[pn]; ok {
				verb = "change"
			}
			p.detail(i, verb+" inline policy "+pn)
			enc, err := iampolicy.Encode(doc)
			if err != nil {
				return nil, err
			}
			pn := pn
			p.add(i, "inline policy "+pn, func(ctx context.Context, a Account) error { return a.PutInline(ctx, kind, name, pn, enc) })
		}
		for _, g := range w.groups {
			if !contains(got.Groups, g) {
				i = p.changeOnce(i, OpUpdate, kind, name)
				p.detail(i, "join group "+g)
				g := g
				p.add(i, "join group "+g, func(ctx context.Context, a Account) error { return a.AddToGroup(ctx, name, g) })
			}
		}
		if created {
			continue
		}
		// Removals of kept objects, after every addition.
		ii := i
		removals = append(removals, func() {
			i := ii
			for _, arn := range got.Attached {
				if !contains(w.attached, arn) {
					i = p.changeOnce(i, OpUpdate, kind, name)
					p.detail(i, "detach "+arn)
					arn := arn
					p.add(i, "detach "+arn, func(ctx context.Context, a Account) error { return a.Detach(ctx, kind, name, arn) })
				}
			}
			for _, pn := range sortedKeys(got.Inline) {
				if _, ok := w.inline[pn]; !ok {
					i = p.changeOnce(i, OpUpdate, kind, name)
					p.detail(i, "delete inline policy "+pn)
					pn := pn
					p.add(i, "delete inline policy "+pn, func(ctx context.Context, a Account) error { return a.DeleteInline(ctx, kind, name, pn) })
				}
			}
			for _, g := range got.Groups {
				if !contains(w.groups, g) && ownedGroup[g] {
					i = p.changeOnce(i, OpUpdate, kind, name)
					p.detail(i, "leave group "+g)
					g := g
					p.add(i, "leave group "+g, func(ctx context.Context, a Account) error { return a.RemoveFromGroup(ctx, name, g) })
				}
			}
			if i < 0 {
				p.Unchanged++
			}
		})
	}
	for _, r := range removals {
		r()
	}

	// Phase 3: deletions, users and roles before groups, policies last.
	wanted := map[string]bool{}
	for _, w := range wants {
		wanted[w.kind+"/"+strings.ToLower(w.name)] = true
	}
	deleted := map[string]bool{}
	for _, list := range [][]iam.Entity{inv.Users, inv.Roles, inv.Groups} {
		for _, e := range list {
			if wanted[e.Kind+"/"+strings.ToLower(e.Name)] {
				continue
			}
			deleted[e.Kind+"/"+e.Name] = true
			if err := p.deleteEntity(ctx, acct, e, ownedGroup); err != nil {
				return nil, err
			}
		}
	}
	wantedPolicy := map[string]bool{}
	for _, pol := range f.Policies {
		wantedPolicy[strings.ToLower(pol.Name)] = true
	}
	for _, mp := range inv.Policies {
		if wantedPolicy[strings.ToLower(mp.Name)] {
			continue
		}
		users, err := acct.PolicyUsers(ctx, mp.ARN)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			kept := false
			for _, w := range wants {
				kept = kept || (w.kind+"/"+w.name == u)
			}
			if !deleted[u] && !kept {
				p.Blockers = append(p.Blockers, fmt.Sprintf("policy %s is to be deleted (it is under %s and not in the files), but %s, outside the path, uses it: detach it there first, or add the policy to the files", mp.Name, f.Path, u))
			}
		}
		bounded, err := acct.PolicyBoundaryUsers(ctx, mp.ARN)
		if err != nil {
			return nil, err
		}
		for _, u := range bounded {
			if !deleted[u] {
				p.Blockers = append(p.Blockers, fmt.Sprintf("policy %s is to be deleted (it is under %s and not in the files), but it is the permissions boundary of %s, which IAM refuses to delete it from under: remove the boundary first (aws iam delete-%s-permissions-boundary), or add the policy to the files", mp.Name, f.Path, u, strings.SplitN(u, "/", 2)[0]))
			}
		}
		i := p.change(OpDelete, elevator.IAMKindPolicy, mp.Name)
		arn := mp.ARN
		p.add(i, "delete", func(ctx context.Context, a Account) error { return a.DeletePolicy(ctx, arn) })
	}
	return p, nil
}

// deleteEntity plans the deletion of a group, user or role under the path
// that the files do not name: what it holds first, then itself.
func (p *Plan) deleteEntity(ctx context.Context, acct Account, e iam.Entity, ownedGroup map[string]bool) error {
	i := p.change(OpDelete, e.Kind, e.Name)
	kind, name := e.Kind, e.Name
	switch kind {
	case elevator.IAMKindUser:
		keys, err := acct.AccessKeys(ctx, name)
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			p.Blockers = append(p.Blockers, fmt.Sprintf("user %s is to be deleted (it is under %s and not in the files), but has %d access key(s), which Elevator never deletes: delete them by hand (aws iam delete-access-key --user-name %s --access-key-id ...) or add the user to the files", name, p.Path, len(keys), name))
		}
		// IAM refuses to delete a user that holds any of these, and
		// Elevator deletes none: refused before anything is changed.
		creds, err := acct.UserCredentials(ctx, name)
		if err != nil {
			return err
		}
		service, err := acct.ServiceCredentials(ctx, name)
		if err != nil {
			return err
		}
		if creds = append(creds, service...); len(creds) > 0 {
			p.Blockers = append(p.Blockers, fmt.Sprintf("user %s is to be deleted (it is under %s and not in the files), but holds %s, which Elevator never deletes (IAM refuses to delete a user holding them): remove them by hand or add the user to the files", name, p.Path, strings.Join(creds, ", ")))
		}
		for _, g := range e.Groups {
			g := g
			if ownedGroup[g] {
				p.detail(i, "leave group "+g)
			} else {
				p.detail(i, "leave group "+g+" (outside path)")
			}
			p.add(i, "leave group "+g, func(ctx context.Context, a Account) error { return a.RemoveFromGroup(ctx, name, g) })
		}
		p.add(i, "delete login profile", func(ctx context.Context, a Account) error { return a.DeleteLoginProfile(ctx, name) })
	case elevator.IAMKindGroup:
		members, err := acct.GroupMembers(ctx, name)
		if err != nil {
			return err
		}
		for _, u := range members {
			u := u
			p.detail(i, "remove member "+u)
			p.add(i, "remove member "+u, func(ctx context.Context, a Account) error {
				err := a.RemoveFromGroup(ctx, u, name)
				if elevator.ErrorCode(err) == elevator.ENOTFOUND {
					return nil // a user deleted before took its membership with it
				}
				return err
			})
		}
	case elevator.IAMKindRole:
		profiles, err := acct.InstanceProfilesOf(ctx, name)
		if err != nil {
			return err
		}
		if len(profiles) > 0 {
			p.Blockers = append(p.Blockers, fmt.Sprintf("role %s is to be deleted (it is under %s and not in the files), but instance profile(s) %s hold it: remove it from them first, or add the role to the files", name, p.Path, strings.Join(profiles, ", ")))
		}
	}
	for _, arn := range e.Attached {
		arn := arn
		p.add(i, "detach "+arn, func(ctx context.Context, a Account) error { return a.Detach(ctx, kind, name, arn) })
	}
	for _, pn := range sortedKeys(e.Inline) {
		pn := pn
		p.add(i, "delete inline policy "+pn, func(ctx context.Context, a Account) error { return a.DeleteInline(ctx, kind, name, pn) })
	}
	p.add(i, "delete", func(ctx context.Context, a Account) error { return a.Delete(ctx, kind, name) })
	return nil
}

// checkFree adds a blocker when name is taken outside the path: IAM names
// are unique in an account.
func (p *Plan) checkFree(ctx context.Context, acct Account, kind, name string) error {
	var path string
	var found bool
	var err error
	if kind == elevator.IAMKindPolicy {
		// A policy is found by ARN, which holds its path: all of them are
		// read once.
		if p.policyPaths == nil {
			if p.policyPaths, err = acct.PolicyPaths(ctx); err != nil {
				return err
			}
		}
		path, found = p.policyPaths[strings.ToLower(name)]
	} else if path, found, err = acct.PathOf(ctx, kind, name); err != nil {
		return err
	}
	switch {
	case found && strings.HasPrefix(path, p.Path):
		// Under the path but not read with it: the same name in
		// another case, as IAM finds it.
		p.Blockers = append(p.Blockers, fmt.Sprintf("%s %s is in the files, but the account has a %s of that name, in another case, under %s: IAM names ignore case, and a name cannot change case; write it as the account does", kind, name, kind, p.Path))
	case found:
		p.Blockers = append(p.Blockers, fmt.Sprintf("%s %s is in the files, but the account has a %s of that name at path %s, outside %s, which Elevator does not touch (IAM names are unique in an account): rename it in the files", kind, name, kind, path, p.Path))
	}
	return nil
}

// caseBlocker refuses a name of the files that the account has in
// another case: IAM takes them for one name, and cannot change its case.
func (p *Plan) caseBlocker(kind, name, have string) {
	p.Blockers = append(p.Blockers, fmt.Sprintf("%s %s is in the files, but the account has it as %s under %s: IAM names ignore case, and a name cannot change case; write %s in the files (or delete it by hand first)", kind, name, have, p.Path, have))
}

func (p *Plan) change(op, kind, name string) int {
	p.Changes = append(p.Changes, Change{Op: op, Kind: kind, Name: name})
	return len(p.Changes) - 1
}

// changeOnce returns i, or a new update of kind name when i < 0.
func (p *Plan) changeOnce(i int, op, kind, name string) int {
	if i >= 0 {
		return i
	}
	return p.change(op, kind, name)
}

func (p *Plan) detail(i int, d string) { p.Changes[i].Details = append(p.Changes[i].Details, d) }

func (p *Plan) add(i int, what string, run func(context.Context, Account) error) {
	p.steps = append(p.steps, step{change: i, what: what, run: run})
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Result is what Apply did.
type Result struct {
	// Done lists the changes made in full; Failed the one that failed
	// part way, if any (the rest were not started).
	Done   []Change `json:"done"`
	Failed *Change  `json:"failed,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// Apply makes the plan's changes, in order, calling progress before each
// call. It refuses (ECONFLICT, nothing changed) a plan with blockers, and
// stops at the first failure, returning what was done and the error.
func Apply(ctx context.Context, acct Account, p *Plan, progress func(Change, string)) (Result, error) {
	var r Result
	if len(p.Blockers) > 0 {
		return r, elevator.Errorf(elevator.ECONFLICT, "nothing was changed: %s", strings.Join(p.Blockers, "; "))
	}
	left := map[int]int{} // steps left of each change
	for _, s := range p.steps {
		left[s.change]++
	}
	for _, s := range p.steps {
		c := p.Changes[s.change]
		if progress != nil {
			progress(c, s.what)
		}
		if err := s.run(ctx, acct); err != nil {
			r.Failed, r.Error = &c, err.Error()
			return r, fmt.Errorf("%s %s %s: %s: %w", c.Op, c.Kind, c.Name, s.what, err)
		}
		if left[s.change]--; left[s.change] == 0 {
			r.Done = append(r.Done, c)
		}
	}
	return r, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
