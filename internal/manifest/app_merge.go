package manifest

import (
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// overridable lists the top-level fields an orbit's override may change.
var overridable = []string{"env", "secrets", "services", "data", "release", "chaos"}

// mergeOverride merges the override of orbit (orbits.<orbit>) into the
// document's base value root, in place. Mappings merge field by field, the
// override's value winning; lists and scalars are replaced whole; choice
// says where an override's mapping replaces or trims the base's instead.
// An override for a service the base lacks is skipped (checkOverrides
// reports it). Afterwards the document's positions and key order describe
// the merged value: each field is where its winning value is written.
func mergeOverride(d *document, root map[string]any, orbit string) {
	over, _ := obj(root["orbits"])[orbit].(map[string]any)
	if over == nil {
		return
	}
	m := &merger{d: d, moved: map[string]string{}}
	top := map[string]any{}
	for _, k := range overridable {
		if v, ok := over[k]; ok {
			top[k] = v
		}
	}
	m.mapping(root, "", top, "orbits."+orbit)
	m.movePositions()
}

// merger merges one override into a document's base.
type merger struct {
	d *document
	// moved maps each base path whose value the override replaced to the
	// path of the override's value, or to "" when the field was dropped.
	moved map[string]string
}

// mapping merges the override's mapping over (at overPath) into the base's
// mapping base (at basePath).
func (m *merger) mapping(base map[string]any, basePath string, over map[string]any, overPath string) {
	for _, k := range m.d.keys[overPath] {
		ov, ok := over[k]
		if !ok {
			continue
		}
		bp, op := childPath(basePath, k), childPath(overPath, k)
		bv, exists := base[k]
		if basePath == "services" && !exists {
			continue // not a service of the app: reported by checkOverrides
		}
		bm, baseIsMap := bv.(map[string]any)
		om, overIsMap := ov.(map[string]any)
		if exists && baseIsMap && overIsMap {
			whole, drop := choice(basePath, k, om)
			if !whole {
				for _, f := range drop {
					if _, ok := bm[f]; ok {
						delete(bm, f)
						m.moved[childPath(bp, f)] = ""
						m.d.keys[bp] = slices.DeleteFunc(m.d.keys[bp], func(s string) bool { return s == f })
					}
				}
				m.mapping(bm, bp, om, op)
				continue
			}
		}
		base[k] = ov
		m.moved[bp] = op
		if !exists {
			m.d.keys[basePath] = append(m.d.keys[basePath], k)
		}
	}
}

// choice says how an override's mapping om for the field key of the
// mapping at parent combines with the base's mapping: whole reports that
// it replaces the base's; drop lists the base's fields that give way to
// the override's choice between alternatives.
func choice(parent, key string, om map[string]any) (whole bool, drop []string) {
	service := strings.HasPrefix(parent, "services.") && !strings.ContainsAny(parent[len("services."):], ".[")
	switch {
	case parent == "secrets":
		return true, nil // ssm or secretsmanager
	case service && key == "ami":
		return true, nil // id, ssm or name with owners
	case service && key == "load_balancer" && om["type"] == string(elevator.LoadBalancerNone):
		return true, nil // off: the base's listeners and routes go too
	case service && key == "runtime":
		for _, k := range []string{"docker", "units", "ecs"} {
			if _, ok := om[k]; ok {
				for _, other := range []string{"docker", "units", "ecs"} {
					if other != k {
						drop = append(drop, other)
					}
				}
			}
		}
		return false, drop
	case service && key == "release" && om["strategy"] != nil && om["strategy"] != elevator.StrategyPercent:
		return false, []string{"steps"} // only percent takes steps
	case parent == "data.tables" && om["billing"] == "on_demand":
		return false, []string{"read", "write"}
	}
	return false, nil
}

// movePositions rewrites the document's positions and key lists after a
// merge: the base's entries under a replaced or dropped field go, and the
// override's entries under its winning values are copied to the base path.
// The override's own entries stay, for messages about the override.
func (m *merger) movePositions() {
	replaced := map[string]bool{}
	from := map[string]string{} // override path -> base path
	for bp, op := range m.moved {
		replaced[bp] = true
		if op != "" {
			from[op] = bp
		}
	}
	positions := make(map[string]elevator.Pos, len(m.d.source.Positions))
	for p, pos := range m.d.source.Positions {
		if _, ok := under(replaced, p); !ok {
			positions[p] = pos
		}
	}
	for p, pos := range m.d.source.Positions {
		if op, ok := under(from, p); ok {
			positions[from[op]+p[len(op):]] = pos
		}
	}
	m.d.source.Positions = positions

	keys := make(map[string][]string, len(m.d.keys))
	for p, k := range m.d.keys {
		if _, ok := under(replaced, p); !ok {
			keys[p] = k
		}
	}
	for p, k := range m.d.keys {
		if op, ok := under(from, p); ok {
			keys[from[op]+p[len(op):]] = k
		}
	}
	m.d.keys = keys
}

// under returns the path in set that p is, or lies under, if any. A path
// ending in "#key" (the position of a mapping key) lies under its field.
func under[V any](set map[string]V, p string) (string, bool) {
	for q := strings.TrimSuffix(p, "#key"); ; {
		if _, ok := set[q]; ok {
			return q, true
		}
		i := strings.LastIndexAny(q, ".[")
		if i < 0 {
			return "", false
		}
		q = q[:i]
	}
}
