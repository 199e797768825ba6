package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/iampolicy"
	"github.com/elevatorhq/elevator/schemas"
)

var iamSchema = mustCompileSchema("https://github.com/elevatorhq/elevator/schemas/iam.schema.json", schemas.IAM)

// MinRoleSession and MaxRoleSession bound a role's max_session, as IAM does.
const (
	MinRoleSession = time.Hour
	MaxRoleSession = 12 * time.Hour
)

// ReadIAM reads IAM files and merges them into one: each of paths is a
// file, or a directory whose *.yml and *.yaml files are read in name
// order. A policy's `file:` is read relative to the directory of the file
// naming it, and parsed like the manifest (JSON is YAML), so its problems
// point into it too.
//
// Merging: path, account and allow_admin may be written in any of the
// files and must agree where written in several; path must be written in
// one. Groups, users, roles and policies are the union of the files', and
// a name twice (in one file or two) is an error at the second.
//
// It returns elevator.FieldErrors listing every problem of every file,
// each with file:line:column (an EINVALID error), or an EINVALID error
// for a file that cannot be read.
func ReadIAM(paths []string) (*elevator.IAMFile, error) {
	files, err := iamFiles(paths)
	if err != nil {
		return nil, err
	}
	return readIAM(files, false)
}

// ReadIAMUsers reads IAM files as ReadIAM does, for what concerns users
// only (`elevator iam keys`): policies and policy files are neither read
// nor checked, so a problem in one never stands in the way of
// deactivating a key.
func ReadIAMUsers(paths []string) (*elevator.IAMFile, error) {
	files, err := iamFiles(paths)
	if err != nil {
		return nil, err
	}
	return readIAM(files, true)
}

func readIAM(files []string, usersOnly bool) (*elevator.IAMFile, error) {
	m := newIAMMerger()
	m.usersOnly = usersOnly
	for _, f := range files {
		data, err := ReadFile(f)
		if err != nil {
			if elevator.ErrorCode(err) == elevator.EINVALID {
				return nil, err
			}
			return nil, elevator.Errorf(elevator.EINVALID, "read IAM file: %w", err)
		}
		m.add(f, data, readSibling)
	}
	return m.finish()
}

// ParseIAM parses and checks one IAM file whose policy files, if any, are
// read by readFile (given the path relative to the file's directory,
// joined to it). It returns elevator.FieldErrors as ReadIAM does.
func ParseIAM(file string, data []byte, readFile func(string) ([]byte, error)) (*elevator.IAMFile, error) {
	m := newIAMMerger()
	m.add(file, data, readFile)
	return m.finish()
}

// iamFiles lists the files of paths: each a file, or a directory whose
// *.yml and *.yaml files are taken in name order.
func iamFiles(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, elevator.Errorf(elevator.EINVALID, "no IAM file given; pass -f iam.yml (or a directory of them)")
	}
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, elevator.Errorf(elevator.EINVALID, "IAM file %s: %w", p, err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		for _, pattern := range []string{"*.yml", "*.yaml"} {
			m, _ := filepath.Glob(filepath.Join(p, pattern))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, elevator.Errorf(elevator.EINVALID, "IAM directory %s has no *.yml or *.yaml file", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

func readSibling(path string) ([]byte, error) { return ReadFile(path) }

// iamDoc is a policy document waiting to be checked once allow_admin is
// known.
type iamDoc struct {
	value any
	src   elevator.Source
	at    string
	kind  iampolicy.Kind
}

type iamMerger struct {
	out  *elevator.IAMFile
	errs elevator.FieldErrors
	docs []iamDoc
	// where each setting and name was first written
	pathAt, accountAt, adminAt *elevator.FieldError
	firstAt                    map[string]elevator.IAMAt
	// foldAt is firstAt by kind and name in lower case: IAM names are
	// unique regardless of case.
	foldAt map[string]elevator.IAMAt
	// usersOnly leaves policy documents unread and unchecked.
	usersOnly bool
	// refs are names to resolve once every file is read; arnRefs the
	// ARNs attached, checked against the path.
	refs, arnRefs []iamRef
}

type iamRef struct {
	kind, name string // a policy or group name
	src        elevator.Source
	at         string
}

func newIAMMerger() *iamMerger {
	return &iamMerger{out: &elevator.IAMFile{}, firstAt: map[string]elevator.IAMAt{}, foldAt: map[string]elevator.IAMAt{}}
}

func (m *iamMerger) add(file string, data []byte, readFile func(string) ([]byte, error)) {
	d := parseDocument(file, data)
	if len(d.errs) > 0 {
		m.errs = append(m.errs, d.errs...)
		return
	}
	iamSchema.validate(d)
	root, ok := d.value.(map[string]any)
	if !ok || len(d.errs) > 0 {
		m.errs = append(m.errs, d.errs...)
		return
	}
	src := d.source
	idx := len(m.out.Sources)
	m.out.Sources = append(m.out.Sources, src)
	errorf := func(path string, value any, format string, args ...any) {
		m.errs = append(m.errs, src.Errorf(path, value, format, args...))
	}
	// setting reports whether key is written here for the first time,
	// and a value that differs from the first.
	setting := func(key string, first **elevator.FieldError, value any, same func() bool) bool {
		if _, ok := root[key]; !ok {
			return false
		}
		if *first == nil {
			*first = src.Errorf(key, value, "")
			return true
		}
		if !same() {
			errorf(key, value, "differs from %s written at %s:%d:%d; files merged must agree on it", key, (*first).File, (*first).Pos.Line, (*first).Pos.Column)
		}
		return false
	}
	path := str(root["path"])
	if setting("path", &m.pathAt, path, func() bool { return path == m.out.Path }) {
		m.out.Path = path
		if msg := ownedPathProblem(path); msg != "" {
			errorf("path", path, "%s", msg)
		}
	}
	acct := obj(root["account"])
	account := elevator.Account{ID: str(acct["id"]), Role: str(acct["role"]), ExternalID: str(acct["external_id"]), Path: "account"}
	if account.ID != "" && account.Role != "" && !strings.Contains(account.Role, "::"+account.ID+":") {
		errorf("account.role", account.Role, "is a role of another account than id %s; want a role in the account, such as arn:aws:iam::%s:role/elevator", account.ID, account.ID)
	}
	if setting("account", &m.accountAt, acct, func() bool {
		a := m.out.Account
		return a.ID == account.ID && a.Role == account.Role && a.ExternalID == account.ExternalID
	}) {
		m.out.Account = account
	}
	admin := root["allow_admin"] == true
	if setting("allow_admin", &m.adminAt, admin, func() bool { return admin == m.out.AllowAdmin }) {
		m.out.AllowAdmin = admin
	}

	dir := filepath.Dir(file)
	for i, v := range list(root["policies"]) {
		at := fmt.Sprintf("policies[%d]", i)
		p := obj(v)
		pol := elevator.IAMPolicy{Name: str(p["name"]), Description: str(p["description"]), At: elevator.IAMAt{File: idx, Path: at}}
		if !m.unique(elevator.IAMKindPolicy, pol.Name, src, at, pol.At) {
			continue
		}
		_, hasDoc := p["document"]
		name, hasFile := p["file"].(string)
		switch {
		case hasDoc && hasFile:
			errorf(at+".file", name, "a policy has document or file, not both")
		case m.usersOnly:
		case hasDoc:
			pol.Document = numbersAsText(p["document"], at+".document", d.numbers)
			m.docs = append(m.docs, iamDoc{pol.Document, src, at + ".document", iampolicy.Identity})
		case hasFile:
			full := filepath.Join(dir, name)
			data, err := readFile(full)
			if err != nil {
				errorf(at+".file", name, "cannot read the policy file %s: %v", full, unwrapPath(err))
				continue
			}
			pd := parseDocument(full, data)
			if len(pd.errs) > 0 {
				m.errs = append(m.errs, pd.errs...)
				continue
			}
			pol.Document = numbersAsText(pd.value, "", pd.numbers)
			m.docs = append(m.docs, iamDoc{pol.Document, pd.source, "", iampolicy.Identity})
		default:
			errorf(at, nil, "missing the policy: give document (the policy inline) or file (a JSON file next to this one)")
		}
		m.out.Policies = append(m.out.Policies, pol)
	}
	for i, v := range list(root["groups"]) {
		at := fmt.Sprintf("groups[%d]", i)
		g := obj(v)
		grp := elevator.IAMGroup{Name: str(g["name"]), At: elevator.IAMAt{File: idx, Path: at}}
		if !m.unique(elevator.IAMKindGroup, grp.Name, src, at, grp.At) {
			continue
		}
		grp.Policies = m.attached(g["policies"], src, at+".policies")
		grp.Inline = m.inline(g["inline"], d, at+".inline")
		m.out.Groups = append(m.out.Groups, grp)
	}
	for i, v := range list(root["users"]) {
		at := fmt.Sprintf("users[%d]", i)
		u := obj(v)
		user := elevator.IAMUser{Name: str(u["name"]), At: elevator.IAMAt{File: idx, Path: at}}
		if !m.unique(elevator.IAMKindUser, user.Name, src, at, user.At) {
			continue
		}
		for j, gv := range list(u["groups"]) {
			name := str(gv)
			user.Groups = append(user.Groups, name)
			m.refs = append(m.refs, iamRef{elevator.IAMKindGroup, name, src, fmt.Sprintf("%s.groups[%d]", at, j)})
		}
		user.Policies = m.attached(u["policies"], src, at+".policies")
		user.Inline = m.inline(u["inline"], d, at+".inline")
		m.out.Users = append(m.out.Users, user)
	}
	for i, v := range list(root["roles"]) {
		at := fmt.Sprintf("roles[%d]", i)
		r := obj(v)
		role := elevator.IAMRole{Name: str(r["name"]), Description: str(r["description"]), Trust: numbersAsText(r["trust"], at+".trust", d.numbers), At: elevator.IAMAt{File: idx, Path: at}}
		if !m.unique(elevator.IAMKindRole, role.Name, src, at, role.At) {
			continue
		}
		m.docs = append(m.docs, iamDoc{role.Trust, src, at + ".trust", iampolicy.Trust})
		if s, ok := r["max_session"].(string); ok {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				errorf(at+".max_session", s, "want a duration such as 4h or 90m")
			case d < MinRoleSession || d > MaxRoleSession || d%time.Second != 0:
				errorf(at+".max_session", s, "want whole seconds from 1h to 12h")
			default:
				role.MaxSession = d
			}
		}
		role.Policies = m.attached(r["policies"], src, at+".policies")
		role.Inline = m.inline(r["inline"], d, at+".inline")
		m.out.Roles = append(m.out.Roles, role)
	}
}

// unique records where kind name is written, and reports a second one.
func (m *iamMerger) unique(kind, name string, src elevator.Source, at string, where elevator.IAMAt) bool {
	if first, dup := m.foldAt[kind+"/"+strings.ToLower(name)]; dup {
		fs := m.out.Sources[first.File]
		p := fs.At(first.Path + ".name")
		m.errs = append(m.errs, src.Errorf(at+".name", name, "a second %s of this name (the first is at %s:%d:%d); IAM names are unique in an account, upper and lower case alike", kind, fs.File, p.Line, p.Column))
		return false
	}
	m.foldAt[kind+"/"+strings.ToLower(name)] = where
	m.firstAt[kind+"/"+name] = where
	return true
}

func (m *iamMerger) attached(v any, src elevator.Source, at string) []string {
	var out []string
	for i, e := range list(v) {
		name := str(e)
		out = append(out, name)
		ref := iamRef{elevator.IAMKindPolicy, name, src, fmt.Sprintf("%s[%d]", at, i)}
		if strings.HasPrefix(name, "arn:") {
			m.arnRefs = append(m.arnRefs, ref)
		} else {
			m.refs = append(m.refs, ref)
		}
	}
	return out
}

func (m *iamMerger) inline(v any, d *document, at string) map[string]any {
	in := obj(v)
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]any, len(in))
	for name, doc := range in {
		out[name] = numbersAsText(doc, at+"."+name, d.numbers)
		m.docs = append(m.docs, iamDoc{out[name], d.source, at + "." + name, iampolicy.Identity})
	}
	return out
}

// numbersAsText returns the policy document v, found at path at, with
// each number replaced by its text as written (numbers holds it by
// path): IAM compares condition values as text, and an account id such
// as 012345678901 read as a number would lose its leading zero.
func numbersAsText(v any, at string, numbers map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = numbersAsText(e, childPath(at, k), numbers)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = numbersAsText(e, fmt.Sprintf("%s[%d]", at, i), numbers)
		}
		return out
	case int64, float64:
		if text, ok := numbers[at]; ok {
			return text
		}
	}
	return v
}

// ownedPathProblem says why the files may not own path: it holds, or is
// under, Elevator's own roles or the paths AWS keeps for its own.
func ownedPathProblem(path string) string {
	for _, r := range append([]string{elevator.IAMElevatorPath}, elevator.IAMReservedPaths...) {
		whose := "AWS's own roles"
		if r == elevator.IAMElevatorPath {
			whose = "Elevator's orbits' roles and policies"
		}
		switch {
		case strings.HasPrefix(path, r):
			return fmt.Sprintf("is under %s, which holds %s: the files would take them for theirs; choose a path of its own, such as /elevator-iam/", r, whose)
		case strings.HasPrefix(r, path):
			return fmt.Sprintf("holds %s, which holds %s: the files would take them for theirs and delete them; choose a path of its own, such as /elevator-iam/", r, whose)
		}
	}
	return ""
}

func (m *iamMerger) finish() (*elevator.IAMFile, error) {
	if m.pathAt == nil && len(m.out.Sources) > 0 {
		src := m.out.Sources[0]
		m.errs = append(m.errs, src.Errorf("", nil, "missing required field \"path\": what Elevator owns, such as /elevator-iam/; only IAM objects under it are created, changed or deleted"))
	}
	for _, r := range m.arnRefs {
		if _, rest, ok := strings.Cut(r.name, ":policy/"); ok && m.out.Path != "" && strings.HasPrefix("/"+rest, m.out.Path) {
			m.errs = append(m.errs, r.src.Errorf(r.at, r.name, "is under the files' path %s, which Elevator owns: name a policy of these files instead (by its name)", m.out.Path))
		}
	}
	for _, r := range m.refs {
		if _, ok := m.firstAt[r.kind+"/"+r.name]; !ok {
			what := "the name of a policy of these files, or the ARN of another such as arn:aws:iam::aws:policy/ReadOnlyAccess"
			if r.kind == elevator.IAMKindGroup {
				what = "the name of a group of these files (groups outside the files' path are not managed)"
			}
			m.errs = append(m.errs, r.src.Errorf(r.at, r.name, "no %s of this name; want %s", r.kind, what))
		}
	}
	if !m.usersOnly {
		for _, d := range m.docs {
			m.errs = append(m.errs, iampolicy.Check(d.value, d.src, d.at, d.kind, m.out.AllowAdmin)...)
		}
		m.checkSizes()
	}
	if len(m.errs) > 0 {
		return nil, m.errs.Sorted()
	}
	return m.out, nil
}

// checkSizes reports documents over IAM's limits, which IAM would refuse
// part way through an apply.
func (m *iamMerger) checkSizes() {
	src := func(at elevator.IAMAt) elevator.Source { return m.out.Sources[at.File] }
	for _, p := range m.out.Policies {
		if n := iampolicy.Size(p.Document); n > iampolicy.MaxManagedSize {
			m.errs = append(m.errs, src(p.At).Errorf(p.At.Path+".name", p.Name, "the policy is %d characters (white space left out); IAM takes at most %d in a managed policy: split it", n, iampolicy.MaxManagedSize))
		}
	}
	inline := func(at elevator.IAMAt, kind string, docs map[string]any, limit int) {
		n := 0
		for _, d := range docs {
			n += iampolicy.Size(d)
		}
		if n > limit {
			m.errs = append(m.errs, src(at).Errorf(at.Path+".inline", nil, "the %s's inline policies are %d characters together (white space left out); IAM takes at most %d for a %s: move some into managed policies", kind, n, limit, kind))
		}
	}
	for _, g := range m.out.Groups {
		inline(g.At, elevator.IAMKindGroup, g.Inline, iampolicy.MaxGroupInlineSize)
	}
	for _, u := range m.out.Users {
		inline(u.At, elevator.IAMKindUser, u.Inline, iampolicy.MaxUserInlineSize)
	}
	for _, r := range m.out.Roles {
		inline(r.At, elevator.IAMKindRole, r.Inline, iampolicy.MaxRoleInlineSize)
		if n := iampolicy.Size(r.Trust); n > iampolicy.MaxTrustSize {
			m.errs = append(m.errs, src(r.At).Errorf(r.At.Path+".trust", nil, "the trust policy is %d characters (white space left out); IAM takes at most %d unless the account's quota was raised: name fewer principals", n, iampolicy.MaxTrustSize))
		}
	}
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
