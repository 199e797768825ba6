package compile

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// AWS's limits on the tags of a resource (the same in EC2, Auto Scaling,
// ELBv2, ACM, DynamoDB and the other services Elevator tags), which tags
// made of manifest values (names, domains) must keep to. CloudFormation
// copies a stack's tags to its resources, so they count too; its own
// aws:cloudformation:* tags do not.
const (
	MaxTags          = 50
	MaxTagKeyChars   = 128
	MaxTagValueChars = 256
)

// checkTags returns an EINVALID error naming every resource of t whose
// tags, with the stack's, break AWS's limits (MaxTags, MaxTagKeyChars,
// MaxTagValueChars), with the tag and the limit; or nil. Tags are found
// under every Tags property, nested ones included (launch templates' tag
// specifications).
func checkTags(t *Template, stackTags map[string]string) error {
	var problems []string
	for k, v := range stackTags {
		problems = append(problems, tagProblems("the stack", k, v)...)
	}
	if len(stackTags) > MaxTags {
		problems = append(problems, fmt.Sprintf("the stack has %d tags; AWS takes at most %d per resource", len(stackTags), MaxTags))
	}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		walkTags(t.Resources[id].Properties, func(tags map[string]string) {
			keys := make([]string, 0, len(tags))
			for k := range tags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				problems = append(problems, tagProblems("resource "+id, k, tags[k])...)
			}
			n := len(tags)
			for k := range stackTags {
				if _, ok := tags[k]; !ok {
					n++
				}
			}
			if n > MaxTags {
				problems = append(problems, fmt.Sprintf("resource %s has %d tags with the stack's; AWS takes at most %d per resource", id, n, MaxTags))
			}
		})
	}
	if len(problems) > 0 {
		return elevator.Errorf(elevator.EINVALID, "tags over AWS's limits: %s", strings.Join(problems, "; "))
	}
	return nil
}

func tagProblems(where, k, v string) []string {
	var p []string
	if n := utf8.RuneCountInString(k); n > MaxTagKeyChars {
		p = append(p, fmt.Sprintf("%s: tag key %.40q... is %d characters; AWS takes at most %d in a tag key", where, k, n, MaxTagKeyChars))
	}
	if n := utf8.RuneCountInString(v); n > MaxTagValueChars {
		p = append(p, fmt.Sprintf("%s: tag %s is %d characters; AWS takes at most %d in a tag value", where, k, n, MaxTagValueChars))
	}
	return p
}

// walkTags calls f with the tags of every Tags property in v, as a map.
func walkTags(v any, f func(map[string]string)) {
	switch v := v.(type) {
	case Props:
		for k, c := range v {
			if k == "Tags" {
				if tags, ok := tagMap(c); ok {
					f(tags)
					continue
				}
			}
			walkTags(c, f)
		}
	case []any:
		for _, c := range v {
			walkTags(c, f)
		}
	}
}

// tagMap reads a Tags property: a list of Tag, a list of {Key, Value}
// objects (Auto Scaling's carry PropagateAtLaunch too), or a map.
func tagMap(v any) (map[string]string, bool) {
	out := map[string]string{}
	switch v := v.(type) {
	case []Tag:
		for _, t := range v {
			out[t.Key] = t.Value
		}
	case []any:
		for _, c := range v {
			p, ok := c.(Props)
			if !ok {
				return nil, false
			}
			k, _ := p["Key"].(string)
			val, _ := p["Value"].(string)
			out[k] = val
		}
	case map[string]string:
		for k, val := range v {
			out[k] = val
		}
	default:
		return nil, false
	}
	return out, true
}
