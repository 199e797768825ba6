// Package iampolicy checks and compares IAM policy documents: the shape IAM
// takes (Version, Statement, Effect, Action, Resource, Principal), that
// every action names a service and at least one of its actions (from a
// table shipped in the binary, see actions.go), and that no policy allows
// everything unless asked. Documents are plain values (maps, lists,
// strings, numbers, bools) as a YAML or JSON file decodes to; problems are
// elevator.FieldErrors at the position of the offending value.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Kind says what a document is for, which decides the fields it needs.
type Kind int

const (
	// Identity is a policy attached to a group, user or role (managed or
	// inline): it needs Resource and has no Principal.
	Identity Kind = iota
	// Trust is a role's trust policy: it needs Principal and has no
	// Resource.
	Trust
)

// Versions IAM accepts as a policy's Version.
var Versions = []string{"2012-10-17", "2008-10-17"}

// Check validates doc, found at field path at of src, and returns every
// problem at its value's position. allowAdmin lets a statement allow "*" or
// "*:*" on every resource.
func Check(doc any, src elevator.Source, at string, kind Kind, allowAdmin bool) elevator.FieldErrors {
	c := &checker{src: src, kind: kind, allowAdmin: allowAdmin}
	c.document(doc, at)
	return c.errs
}

type checker struct {
	src        elevator.Source
	kind       Kind
	allowAdmin bool
	errs       elevator.FieldErrors
}

func (c *checker) errorf(path string, value any, format string, args ...any) {
	c.errs = append(c.errs, c.src.Errorf(path, value, format, args...))
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func (c *checker) document(doc any, at string) {
	m, ok := doc.(map[string]any)
	if !ok {
		c.errorf(at, nil, "want a policy document: a mapping with Version and Statement")
		return
	}
	for k := range m {
		switch k {
		case "Version", "Id", "Statement":
		default:
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, k)), Path: join(at, k),
				Message: "unknown field of a policy document; want Version, Id or Statement"})
		}
	}
	switch v, ok := m["Version"].(string); {
	case m["Version"] == nil:
		c.errorf(at, nil, "Version is missing; want \"2012-10-17\"")
	case !ok || (v != Versions[0] && v != Versions[1]):
		c.errorf(join(at, "Version"), m["Version"], "want \"2012-10-17\" (or the older \"2008-10-17\")")
	}
	switch st := m["Statement"].(type) {
	case nil:
		c.errorf(at, nil, "Statement is missing; want a list of statements")
	case map[string]any:
		c.statement(st, join(at, "Statement"))
	case []any:
		if len(st) == 0 {
			c.errorf(join(at, "Statement"), nil, "want at least one statement")
		}
		for i, s := range st {
			c.statement(s, fmt.Sprintf("%s[%d]", join(at, "Statement"), i))
		}
	default:
		c.errorf(join(at, "Statement"), st, "want a list of statements")
	}
}

// keyPos is where a key is written, for an error about the key itself.
func (c *checker) keyPos(path string) elevator.Pos {
	if p, ok := c.src.Positions[path+"#key"]; ok {
		return p
	}
	return c.src.At(path)
}

var statementFields = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"}

func (c *checker) statement(s any, at string) {
	m, ok := s.(map[string]any)
	if !ok {
		c.errorf(at, nil, "want a statement: a mapping with Effect, Action and %s", c.needs())
		return
	}
	for k := range m {
		known := false
		for _, f := range statementFields {
			known = known || k == f
		}
		if !known {
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, k)), Path: join(at, k),
				Message: "unknown field of a statement; want " + strings.Join(statementFields, ", ")})
		}
	}
	if v, ok := m["Sid"]; ok {
		if s, ok := v.(string); !ok || !alnum(s) {
			c.errorf(join(at, "Sid"), v, "want letters and digits only")
		}
	}
	effect, _ := m["Effect"].(string)
	switch {
	case m["Effect"] == nil:
		c.errorf(at, nil, "Effect is missing; want Allow or Deny")
	case effect != "Allow" && effect != "Deny":
		c.errorf(join(at, "Effect"), m["Effect"], "want Allow or Deny")
	}
	_, hasA := m["Action"]
	_, hasNA := m["NotAction"]
	var actions []string
	switch {
	case hasA && hasNA:
		c.errorf(join(at, "NotAction"), nil, "a statement has Action or NotAction, not both")
	case hasA:
		actions = c.actions(m["Action"], join(at, "Action"))
	case hasNA:
		c.actions(m["NotAction"], join(at, "NotAction"))
	default:
		c.errorf(at, nil, "Action is missing; want a list of actions such as s3:GetObject")
	}
	_, hasR := m["Resource"]
	_, hasNR := m["NotResource"]
	_, hasP := m["Principal"]
	_, hasNP := m["NotPrincipal"]
	var resources []string
	switch c.kind {
	case Identity:
		switch {
		case hasP || hasNP:
			f := "Principal"
			if hasNP {
				f = "NotPrincipal"
			}
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, f)), Path: join(at, f),
				Message: "an identity policy (attached to a group, user or role) has no Principal; who may assume a role goes in its trust"})
		}
		switch {
		case hasR && hasNR:
			c.errorf(join(at, "NotResource"), nil, "a statement has Resource or NotResource, not both")
		case hasR:
			resources = c.strings(m["Resource"], join(at, "Resource"), "resources (ARNs or *)")
		case hasNR:
			c.strings(m["NotResource"], join(at, "NotResource"), "resources (ARNs or *)")
		default:
			c.errorf(at, nil, "Resource is missing; want the ARNs the statement is about, or \"*\"")
		}
	case Trust:
		if hasR || hasNR {
			f := "Resource"
			if hasNR {
				f = "NotResource"
			}
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, f)), Path: join(at, f),
				Message: "a trust policy has no Resource: the resource is the role"})
		}
		if hasNP {
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, "NotPrincipal")), Path: join(at, "NotPrincipal"),
				Message: "IAM refuses NotPrincipal in a trust policy; say who may assume the role in Principal"})
		}
		if hasNA {
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, "NotAction")), Path: join(at, "NotAction"),
				Message: "a trust policy names its actions in Action: " + strings.Join(TrustActions, ", ")})
		}
		for i, a := range actions {
			if a != "" && !containsFold(TrustActions, a) {
				path := join(at, "Action")
				if _, list := m["Action"].([]any); list {
					path = fmt.Sprintf("%s[%d]", path, i)
				}
				c.errorf(path, a, "a trust policy allows only %s", strings.Join(TrustActions, ", "))
			}
		}
		switch {
		case hasP:
			_, hasCond := m["Condition"]
			if c.principal(m["Principal"], join(at, "Principal")) && effect == "Allow" && !hasCond && !c.allowAdmin {
				c.errorf(join(at, "Principal"), nil, "lets anyone in any AWS account assume the role; add a Condition (such as StringEquals: {sts:ExternalId: ...}), name the principals, or set allow_admin: true in the file")
			}
		case !hasNP:
			c.errorf(at, nil, "Principal is missing; a trust policy says who may assume the role, such as Principal: {Service: ec2.amazonaws.com}")
		}
	}
	if v, ok := m["Condition"]; ok {
		if _, ok := v.(map[string]any); !ok {
			c.errorf(join(at, "Condition"), v, "want a mapping of condition operators, such as StringEquals: {aws:SourceAccount: \"111122223333\"}")
		}
	}
	if effect == "Allow" && !c.allowAdmin && c.kind == Identity && (hasNR || anyEverything(resources)) {
		// On every resource (or every one but some): every action, or
		// every action but some, is an administrator's policy.
		if hasNA && !hasA {
			c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, "NotAction")), Path: join(at, "NotAction"),
				Message: "allows every action but those listed, on every resource; set allow_admin: true in the file to allow it"})
		}
		for i, a := range actions {
			if a == "*" || a == "*:*" {
				path := join(at, "Action")
				if _, list := m["Action"].([]any); list {
					path = fmt.Sprintf("%s[%d]", path, i)
				}
				c.errorf(path, a, "allows every action on every resource; set allow_admin: true in the file to allow it")
			}
		}
	}
}

// anyEverything reports whether one of resources matches every resource:
// "*", or an ARN pattern of wildcards only past its partition, such as
// arn:* or arn:aws:*:*:*:*.
func anyEverything(resources []string) bool {
	for _, r := range resources {
		if r != "" && strings.Trim(r, "*") == "" {
			return true
		}
		parts := strings.Split(r, ":")
		if len(parts) < 2 || parts[0] != "arn" || !strings.HasSuffix(r, "*") {
			continue
		}
		all := true
		for i, p := range parts[1:] {
			if i == 0 && (p == "aws" || p == "aws-cn" || p == "aws-us-gov") {
				continue
			}
			all = all && strings.Trim(p, "*?") == ""
		}
		if all {
			return true
		}
	}
	return false
}

func (c *checker) needs() string {
	if c.kind == Trust {
		return "Principal"
	}
	return "Resource"
}

// strings reads a string or a list of strings, reporting anything else.
// The list returned has an entry for each of v's, at the same index: ""
// for one that is not a string, already reported.
func (c *checker) strings(v any, at, what string) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			c.errorf(at, v, "want %s, not an empty string", what)
		}
		return []string{v}
	case []any:
		if len(v) == 0 {
			c.errorf(at, nil, "want at least one of %s", what)
		}
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok || s == "" {
				c.errorf(fmt.Sprintf("%s[%d]", at, i), e, "want a string: %s", what)
				continue
			}
			out[i] = s
		}
		return out
	default:
		c.errorf(at, v, "want a string or a list of strings: %s", what)
		return nil
	}
}

// actions checks each action and returns them.
func (c *checker) actions(v any, at string) []string {
	list := c.strings(v, at, "actions such as s3:GetObject")
	_, isList := v.([]any)
	for i, a := range list {
		path := at
		if isList {
			path = fmt.Sprintf("%s[%d]", at, i)
		}
		if a == "*" || a == "" {
			continue
		}
		svc, name, ok := strings.Cut(a, ":")
		switch {
		case !ok || svc == "" || name == "":
			c.errorf(path, a, "want service:Action, such as s3:GetObject (wildcards allowed: s3:Get*)")
		case svc == "*" && name == "*":
		case !KnownService(svc):
			c.errorf(path, a, "no AWS service has the prefix %q", svc)
		case !ActionExists(svc, name):
			c.errorf(path, a, "%s has no action matching %q", svc, name)
		}
	}
	return list
}

// principalKinds are the principals IAM takes in a trust policy.
var principalKinds = []string{"AWS", "Service", "Federated"}

// TrustActions are the actions a trust policy may allow.
var TrustActions = []string{"sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity", "sts:SetContext"}

// principal checks a trust policy's Principal and reports whether it is
// everyone: "*", or "*" among the AWS principals.
func (c *checker) principal(v any, at string) (everyone bool) {
	switch v := v.(type) {
	case string:
		if v != "*" {
			c.errorf(at, v, "want \"*\" or a mapping such as {AWS: arn:aws:iam::111122223333:root} or {Service: ec2.amazonaws.com}")
		}
		return v == "*"
	case map[string]any:
		if len(v) == 0 {
			c.errorf(at, nil, "want at least one of %s", strings.Join(principalKinds, ", "))
		}
		for k, p := range v {
			if !contains(principalKinds, k) {
				msg := "unknown kind of principal; want " + strings.Join(principalKinds, ", ")
				if k == "CanonicalUser" {
					msg = "IAM refuses CanonicalUser principals in a trust policy; want " + strings.Join(principalKinds, ", ")
				}
				c.errs = append(c.errs, &elevator.FieldError{File: c.src.File, Pos: c.keyPos(join(at, k)), Path: join(at, k), Message: msg})
				continue
			}
			list := c.strings(p, join(at, k), k+" principals")
			everyone = everyone || (k == "AWS" && contains(list, "*"))
		}
		return everyone
	default:
		c.errorf(at, v, "want \"*\" or a mapping such as {Service: ec2.amazonaws.com}")
		return false
	}
}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func alnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// Encode returns doc as the compact JSON IAM takes.
func Encode(doc any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // IAM takes < > & as they are
	if err := enc.Encode(doc); err != nil {
		return "", fmt.Errorf("encode policy document: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// Size is how IAM counts a document against its limits: the characters
// of its JSON, white space left out.
func Size(doc any) int {
	s, err := Encode(doc)
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			n++
		}
	}
	return n
}

// IAM's limits on documents, in characters without white space.
const (
	MaxManagedSize     = 6144  // a managed policy
	MaxUserInlineSize  = 2048  // all inline policies of a user together
	MaxGroupInlineSize = 5120  // of a group
	MaxRoleInlineSize  = 10240 // of a role
	MaxTrustSize       = 2048  // a role's trust policy (IAM's default quota)
)

// Decode reads a document as IAM returns it: URL-encoded JSON (or plain
// JSON, as some emulators return it). Numbers are json.Numbers, their
// text as written: 111122223333 stays that, not 1.11122223333e+11.
func Decode(s string) (any, error) {
	if un, err := url.PathUnescape(s); err == nil {
		if v, err := decodeJSON(un); err == nil {
			return v, nil
		}
	}
	v, err := decodeJSON(s)
	if err != nil {
		return nil, fmt.Errorf("decode policy document: %w", err)
	}
	return v, nil
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// Canonical returns a form of doc that is equal for documents IAM reads
// the same: keys in order, a single statement or string the same as a
// list of one, lists of actions, resources, principals and condition
// values sorted and without repeats, condition numbers and bools as
// strings.
func Canonical(doc any) string {
	b, _ := json.Marshal(canonical(doc, ""))
	return string(b)
}

func canonical(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			switch {
			case key == "Condition":
				// operator -> condition key -> values
				if m, ok := e.(map[string]any); ok {
					inner := make(map[string]any, len(m))
					for ck, cv := range m {
						inner[ck] = stringSet(cv)
					}
					out[k] = inner
					continue
				}
				out[k] = e
			case key == "Principal" || key == "NotPrincipal":
				if k == "AWS" {
					e = accountRoots(e)
				}
				out[k] = stringSet(e)
			case k == "Statement":
				if m, ok := e.(map[string]any); ok {
					e = []any{m}
				}
				out[k] = canonical(e, k)
			case k == "Action" || k == "NotAction" || k == "Resource" || k == "NotResource":
				out[k] = stringSet(e)
			default:
				out[k] = canonical(e, k)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = canonical(e, key)
		}
		if key == "Statement" {
			keys := make([]string, len(out))
			for i, e := range out {
				b, _ := json.Marshal(e)
				keys[i] = string(b)
			}
			sort.Sort(byKey{out, keys})
		}
		return out
	default:
		return v
	}
}

// accountRoots writes AWS principals naming an account's root
// (arn:aws:iam::111122223333:root) as the bare account id, which IAM
// takes for the same and rewrites to the ARN.
func accountRoots(v any) any {
	root := func(e any) any {
		s, ok := e.(string)
		if !ok {
			return e
		}
		parts := strings.Split(s, ":")
		if len(parts) == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[3] == "" && parts[5] == "root" && accountID(parts[4]) {
			return parts[4]
		}
		return s
	}
	list, ok := v.([]any)
	if !ok {
		return root(v)
	}
	out := make([]any, len(list))
	for i, e := range list {
		out[i] = root(e)
	}
	return out
}

func accountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// stringSet turns a string, number, bool or list of them into a sorted
// list of distinct strings (a number as its text: a json.Number as
// written, an int64 in decimal); anything else is kept as it is.
func stringSet(v any) any {
	var list []any
	switch v := v.(type) {
	case []any:
		list = v
	case map[string]any:
		return canonical(v, "")
	default:
		list = []any{v}
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(list))
	for _, e := range list {
		var s string
		switch e := e.(type) {
		case string:
			s = e
		case json.Number:
			s = string(e)
		case float64:
			s = strconv.FormatFloat(e, 'f', -1, 64)
		case map[string]any, []any:
			return v
		default:
			s = fmt.Sprint(e)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// byKey sorts values by their keys.
type byKey struct {
	values []any
	keys   []string
}

func (b byKey) Len() int           { return len(b.values) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.values[i], b.values[j] = b.values[j], b.values[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}
