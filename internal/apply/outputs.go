package apply

import (
	"context"
	"fmt"
	"strings"

	yaml "go.yaml.in/yaml/v4"
)

// Outputs returns a stack's outputs by key.
//
// Some CloudFormation implementations record no outputs for a stack made
// through change sets (moto, the local emulator, is one). When the stack
// reports none although its template declares some, the declared outputs
// are resolved from the stack's own resources: a Ref is the resource's
// physical id, Fn::Join joins resolved parts, a literal is itself. An output
// built any other way is left out rather than guessed.
func (e *Engine) Outputs(ctx context.Context, stack string) (map[string]string, error) {
	st, err := e.Stacks.Describe(ctx, stack)
	if err != nil {
		return nil, err
	}
	if len(st.Outputs) > 0 {
		return st.Outputs, nil
	}
	body, err := e.Stacks.Template(ctx, stack)
	if err != nil {
		return nil, err
	}
	var tmpl struct {
		Outputs map[string]struct {
			Value any `yaml:"Value"`
		} `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal([]byte(body), &tmpl); err != nil {
		return nil, fmt.Errorf("read template of %s: %w", stack, err)
	}
	if len(tmpl.Outputs) == 0 {
		return st.Outputs, nil
	}
	resources, err := e.Stacks.Resources(ctx, stack)
	if err != nil {
		return nil, err
	}
	refs := map[string]string{}
	for k, v := range st.Parameters {
		refs[k] = v
	}
	for _, r := range resources {
		if r.PhysicalID != "" {
			refs[r.LogicalID] = r.PhysicalID
		}
	}
	out := map[string]string{}
	for key, o := range tmpl.Outputs {
		if v, ok := resolve(o.Value, refs); ok {
			out[key] = v
		}
	}
	return out, nil
}

// resolve evaluates the intrinsic functions Outputs uses: literals, Ref and
// Fn::Join.
func resolve(v any, refs map[string]string) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int, float64, bool:
		return fmt.Sprint(v), true
	case map[string]any:
		if len(v) != 1 {
			return "", false
		}
		if name, ok := v["Ref"].(string); ok {
			id, ok := refs[name]
			return id, ok
		}
		if args, ok := v["Fn::Join"].([]any); ok && len(args) == 2 {
			sep, ok := args[0].(string)
			items, ok2 := args[1].([]any)
			if !ok || !ok2 {
				return "", false
			}
			parts := make([]string, len(items))
			for i, item := range items {
				s, ok := resolve(item, refs)
				if !ok {
					return "", false
				}
				parts[i] = s
			}
			return strings.Join(parts, sep), true
		}
	}
	return "", false
}
