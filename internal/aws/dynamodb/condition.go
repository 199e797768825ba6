package dynamodb

import (
	"fmt"
	"strings"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Condition is a condition on the item a write finds in place; the write
// happens only if it holds. Build one from the functions below, e.g. the
// condition to take a lock that is free or has expired:
//
//	Or(AttributeNotExists("id"), LessThan("expires_at", now.Unix()))
//
// and the one to renew or release it only while holding it:
//
//	Equal("owner", me)
//
// Attribute names are passed as expression attribute names, so reserved
// words (owner, name, status, ...) need no care; values map as Item's do.
// A comparison with an attribute the item lacks (or with no item) is false.
type Condition struct {
	op    string // one of the ops below
	name  string
	value any
	subs  []Condition
}

const (
	opNotExists = "attribute_not_exists"
	opAnd       = "AND"
	opOr        = "OR"
)

// AttributeNotExists holds when the item lacks the attribute; on the key
// attribute, when there is no item.
func AttributeNotExists(name string) Condition { return Condition{op: opNotExists, name: name} }

// Equal holds when the attribute equals v.
func Equal(name string, v any) Condition { return Condition{op: "=", name: name, value: v} }

// LessThan holds when the attribute is less than v.
func LessThan(name string, v any) Condition { return Condition{op: "<", name: name, value: v} }

// And holds when every condition holds.
func And(cs ...Condition) Condition { return Condition{op: opAnd, subs: cs} }

// Or holds when any condition holds.
func Or(cs ...Condition) Condition { return Condition{op: opOr, subs: cs} }

// expression is a rendered condition or update with its placeholders.
type expression struct {
	names  map[string]string
	values map[string]ddbtypes.AttributeValue
}

func (e *expression) name(n string) string {
	for k, v := range e.names { // reuse a placeholder for a name seen before
		if v == n {
			return k
		}
	}
	if e.names == nil {
		e.names = map[string]string{}
	}
	k := fmt.Sprintf("#n%d", len(e.names))
	e.names[k] = n
	return k
}

func (e *expression) value(v any) (string, error) {
	av, err := attribute(v)
	if err != nil {
		return "", err
	}
	if e.values == nil {
		e.values = map[string]ddbtypes.AttributeValue{}
	}
	k := fmt.Sprintf(":v%d", len(e.values))
	e.values[k] = av
	return k, nil
}

// condition renders the conjunction of cs, or "" for none.
func (e *expression) condition(cs []Condition) (string, error) {
	switch len(cs) {
	case 0:
		return "", nil
	case 1:
		return e.render(cs[0])
	}
	return e.render(And(cs...))
}

func (e *expression) render(c Condition) (string, error) {
	switch c.op {
	case opNotExists:
		return c.op + "(" + e.name(c.name) + ")", nil
	case opAnd, opOr:
		if len(c.subs) == 0 {
			return "", fmt.Errorf("an empty %s condition", c.op)
		}
		parts := make([]string, len(c.subs))
		for i, s := range c.subs {
			p, err := e.render(s)
			if err != nil {
				return "", err
			}
			parts[i] = "(" + p + ")"
		}
		return strings.Join(parts, " "+c.op+" "), nil
	case "=", "<":
		v, err := e.value(c.value)
		if err != nil {
			return "", fmt.Errorf("condition on %s: %w", c.name, err)
		}
		return e.name(c.name) + " " + c.op + " " + v, nil
	}
	return "", fmt.Errorf("an empty condition (build conditions with Equal, Or, ...)")
}
