package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// schema is a compiled JSON Schema together with its raw document, which the
// error messages read to say what a field allows.
type schema struct {
	compiled *jsonschema.Schema
	doc      any
}

// mustCompileSchema compiles one of the embedded schemas. It panics on a bad
// schema: that is a bug in Elevator, caught by every test.
func mustCompileSchema(url string, data []byte) *schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		panic(fmt.Sprintf("schema %s: %v", url, err))
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		panic(fmt.Sprintf("schema %s: %v", url, err))
	}
	compiled, err := c.Compile(url)
	if err != nil {
		panic(fmt.Sprintf("schema %s: %v", url, err))
	}
	return &schema{compiled: compiled, doc: doc}
}

// validate checks d.value against the schema and appends one field error per
// problem found.
func (s *schema) validate(d *document) {
	err := s.compiled.Validate(d.value)
	if err == nil {
		return
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		d.errs = append(d.errs, d.source.Errorf("", nil, "%v", err))
		return
	}
	seen := map[string]bool{}
	for _, leaf := range leaves(verr) {
		for _, fe := range s.fieldErrors(d, leaf) {
			if key := fe.Error(); !seen[key] {
				seen[key] = true
				d.errs = append(d.errs, fe)
			}
		}
	}
}

// leaves returns the innermost errors: the ones that say what is wrong.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if _, ok := e.ErrorKind.(*kind.PropertyNames); ok || len(e.Causes) == 0 {
		// A bad property name is reported as such: its causes describe
		// the name as if it were a value.

		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// fieldErrors translates one schema error into messages that name the field,
// the bad value and what is allowed.
func (s *schema) fieldErrors(d *document, e *jsonschema.ValidationError) []*elevator.FieldError {
	path, value := locate(d.value, e.InstanceLocation)
	at := func(p string, v any, format string, args ...any) *elevator.FieldError {
		return d.source.Errorf(p, v, format, args...)
	}
	rule := s.lookup(e.SchemaURL)
	allowed := describe(rule)
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		names := propertyNames(rule)
		var out []*elevator.FieldError
		for _, p := range k.Properties {
			child := childPath(path, p)
			fe := at(child, nil, "unknown field %q; allowed here: %s", p, strings.Join(names, ", "))
			if kp, ok := d.source.Positions[child+"#key"]; ok {
				fe.Pos = kp
			}
			out = append(out, fe)
		}
		return out
	case *kind.Required:
		var out []*elevator.FieldError
		for _, m := range k.Missing {
			out = append(out, at(path, nil, "missing required field %q (%s)", m, describe(s.property(rule, m))))
		}
		return out
	case *kind.Type:
		return []*elevator.FieldError{at(path, display(value), "is %s; want %s%s", article(k.Got), strings.Join(k.Want, " or "), suffix(allowed))}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return []*elevator.FieldError{at(path, display(value), "must be one of: %s", strings.Join(want, ", "))}
	case *kind.Pattern, *kind.MinLength, *kind.MaxLength:
		return []*elevator.FieldError{at(path, display(value), "not allowed; want %s", allowed)}
	case *kind.PropertyNames:
		names := s.lookupSub(rule, "propertyNames")
		if names == nil {
			names = rule // the error's location is the propertyNames rule itself
		}
		// The validator may report a property-name error at another
		// field's location (it shares the location slice), so find the
		// mapping that holds the name.
		path = mappingWithKey(d, path, k.Property)
		fe := at(childPath(path, k.Property), nil, "%q is not allowed as a name here; want %s", k.Property, describe(names))
		if kp, ok := d.source.Positions[childPath(path, k.Property)+"#key"]; ok {
			fe.Pos = kp
		}
		return []*elevator.FieldError{fe}
	case *kind.Minimum:
		return []*elevator.FieldError{at(path, display(value), "must be at least %s%s", ratString(k.Want), suffix(allowed))}
	case *kind.Maximum:
		return []*elevator.FieldError{at(path, display(value), "must be at most %s%s", ratString(k.Want), suffix(allowed))}
	case *kind.MinItems:
		return []*elevator.FieldError{at(path, nil, "needs at least %d item(s)%s", k.Want, suffix(allowed))}
	case *kind.MinProperties:
		return []*elevator.FieldError{at(path, nil, "needs at least %d entry(ies)%s", k.Want, suffix(allowed))}
	case *kind.UniqueItems:
		return []*elevator.FieldError{at(fmt.Sprintf("%s[%d]", path, k.Duplicates[1]), nil, "repeats item %d; items must be unique", k.Duplicates[0])}
	default:
		return []*elevator.FieldError{at(path, nil, "%s%s", e.ErrorKind.LocalizedString(nil), suffix(allowed))}
	}
}

// mappingWithKey returns the path of the mapping that has key: guess when
// it does, else the first in file order that does.
func mappingWithKey(d *document, guess, key string) string {
	if slices.Contains(d.keys[guess], key) {
		return guess
	}
	var paths []string
	for p, keys := range d.keys {
		if slices.Contains(keys, key) {
			paths = append(paths, p)
		}
	}
	sort.Slice(paths, func(i, j int) bool {
		a, b := d.source.Positions[paths[i]], d.source.Positions[paths[j]]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	if len(paths) > 0 {
		return paths[0]
	}
	return guess
}

// locate turns a schema instance location into a field path such as
// "network.tiers[1].cidr" and finds the value there.
func locate(root any, loc []string) (string, any) {
	path, v := "", root
	for _, tok := range loc {
		switch c := v.(type) {
		case []any:
			i, _ := strconv.Atoi(tok)
			path = fmt.Sprintf("%s[%d]", path, i)
			if i >= 0 && i < len(c) {
				v = c[i]
			} else {
				v = nil
			}
		case map[string]any:
			path = childPath(path, tok)
			v = c[tok]
		default:
			path = childPath(path, tok)
			v = nil
		}
	}
	return path, v
}

// lookup resolves a schema location (URL#/json/pointer) in the raw schema.
func (s *schema) lookup(url string) map[string]any {
	_, frag, _ := strings.Cut(url, "#")
	var v any = s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[tok]
	}
	m, _ := v.(map[string]any)
	return s.deref(m)
}

func (s *schema) lookupSub(rule map[string]any, key string) map[string]any {
	if rule == nil {
		return nil
	}
	m, _ := rule[key].(map[string]any)
	return s.deref(m)
}

func (s *schema) property(rule map[string]any, name string) map[string]any {
	props := s.lookupSub(rule, "properties")
	if props == nil {
		return nil
	}
	m, _ := props[name].(map[string]any)
	return s.deref(m)
}

// deref follows a local $ref, keeping the referring rule's description.
func (s *schema) deref(m map[string]any) map[string]any {
	ref, ok := m["$ref"].(string)
	if !ok {
		return m
	}
	target := s.lookup(ref)
	if d, ok := m["description"]; ok && target != nil {
		copied := map[string]any{}
		for k, v := range target {
			copied[k] = v
		}
		copied["description"] = d
		return copied
	}
	return target
}

func propertyNames(rule map[string]any) []string {
	props, _ := rule["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// describe says what a rule allows, from its description.
func describe(rule map[string]any) string {
	if d, ok := rule["description"].(string); ok {
		return d
	}
	if enum, ok := rule["enum"].([]any); ok {
		want := make([]string, len(enum))
		for i, w := range enum {
			want[i] = fmt.Sprint(w)
		}
		return "one of: " + strings.Join(want, ", ")
	}
	return "see `elevator schema`"
}

func suffix(allowed string) string {
	if allowed == "" || allowed == "see `elevator schema`" {
		return ""
	}
	return " (" + allowed + ")"
}

func article(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "null":
		return "empty"
	case "integer":
		return "an integer"
	default:
		return "a " + t
	}
}

// display renders a value for a message; collections are summarised.
func display(v any) any {
	switch v.(type) {
	case map[string]any:
		return "{...}"
	case []any:
		return "[...]"
	case json.Number, int64, float64, bool, string:
		return v
	default:
		return nil
	}
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
