package compile

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
	yaml "go.yaml.in/yaml/v4"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yml from what the compiler returns")

// loadOrbit builds a golden case's orbit from its manifest. It is the one
// place that knows how: the rest of the harness only sees the Orbit.
func loadOrbit(file string, data []byte) (*elevator.Orbit, error) {
	return manifest.ParseOrbit(file, data)
}

// orbitCase is one <dir>/<name>.orbit.yml of testdata, loaded.
type orbitCase struct {
	file, name string
	orbit      *elevator.Orbit
}

// orbitCases loads every testdata/<dir>/*.orbit.yml ("" for testdata
// itself), failing t when there is none or one does not load.
func orbitCases(t testing.TB, dir string) []orbitCase {
	t.Helper()
	pattern := filepath.Join("testdata", dir, "*.orbit.yml")
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s: %v", pattern, err)
	}
	var cases []orbitCase
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		o, err := loadOrbit(file, data)
		if err != nil {
			t.Fatalf("load %s:\n%v", file, err)
		}
		cases = append(cases, orbitCase{file: file, name: strings.TrimSuffix(filepath.Base(file), ".orbit.yml"), orbit: o})
	}
	return cases
}

// checkStale reports as stale, or removes with -update, each
// testdata/<prefix>*.golden.yml that is not in want and whose name starts
// with none of others (the prefixes of other tests' golden files). what
// names the cases in the message.
func checkStale(t *testing.T, prefix string, want map[string]bool, what string, others ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("testdata", prefix+"*.golden.yml"))
	for _, f := range files {
		base := filepath.Base(f)
		if want[f] || slices.ContainsFunc(others, func(p string) bool { return strings.HasPrefix(base, p) }) {
			continue
		}
		if *update {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s is stale: no %s compiles to it (run with -update to remove it)", f, what)
	}
}

// goldenFacts are the facts "looked up in AWS" for each golden case, by case
// and region; other regions get three zones and nothing else in the way.
var goldenFacts = map[string]map[string]RegionFacts{
	"multi-region": {
		"us-east-1":      {AZs: zones("us-east-1", 6), OtherVPCs: prefixes("172.31.0.0/16")},
		"eu-west-1":      {AZs: zones("eu-west-1", 3), OtherVPCs: prefixes("10.0.0.0/16", "10.1.128.0/20", "172.31.0.0/16")},
		"ap-southeast-2": {AZs: zones("ap-southeast-2", 3), CurrentCIDR: netipPrefix("10.7.0.0/16")},
	},
}

func factsFor(name string, o *elevator.Orbit) map[string]RegionFacts {
	facts := map[string]RegionFacts{}
	for _, r := range o.Regions {
		f, ok := goldenFacts[name][r.Name]
		if !ok {
			f = RegionFacts{AZs: zones(r.Name, 3)}
		}
		f.BastionAMI = "ami-0123456789abcdef0"
		f.HostedZoneID = "Z0123456789ABCDEFGHIJ"
		f.Agent = fakeAgentBuilds()
		facts[r.Name] = f
	}
	return facts
}

// goldenCase is one testdata/<name>.orbit.yml and what it compiles to.
type goldenCase struct {
	name   string
	orbit  *elevator.Orbit
	facts  map[string]RegionFacts
	stacks []Stack
}

func goldenCases(t testing.TB) []goldenCase {
	t.Helper()
	var cases []goldenCase
	for _, oc := range orbitCases(t, "") {
		c := goldenCase{name: oc.name, orbit: oc.orbit, facts: factsFor(oc.name, oc.orbit)}
		var err error
		c.stacks, err = OrbitStacks(oc.orbit, c.facts)
		if err != nil {
			t.Fatalf("compile %s:\n%v", oc.file, err)
		}
		cases = append(cases, c)
	}
	return cases
}

func goldenPath(name, region string) string {
	return filepath.Join("testdata", name+"."+region+".golden.yml")
}

// checkParameters checks that a stack passes a value for every template
// parameter, and none for a parameter the template does not declare.
func checkParameters(t *testing.T, s Stack) {
	t.Helper()
	for name := range s.Template.Parameters {
		if s.Parameters[name] == "" {
			t.Errorf("%s: template parameter %s has no value", s.Region, name)
		}
	}
	for name := range s.Parameters {
		if _, ok := s.Template.Parameters[name]; !ok {
			t.Errorf("%s: value for %s, which the template does not declare", s.Region, name)
		}
	}
}

// checkBody checks that a stack's body is what CloudFormation is sent for
// its template: under MaxBodyBytes, the bytes encoding/json writes for the
// template, and the same document as the template's YAML, which is what
// the golden files hold.
func checkBody(t *testing.T, s Stack) {
	t.Helper()
	if len(s.Body) > MaxBodyBytes {
		t.Errorf("%s: body is %d bytes, over %d", s.Region, len(s.Body), MaxBodyBytes)
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s.Template); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Body, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
		t.Errorf("%s: body is not the template as encoding/json writes it:\n got %.300s\nwant %.300s", s.Region, s.Body, want.Bytes())
	}
	yml, err := s.Template.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if diff := yamlDiff(s.Body, yml); diff != "" {
		t.Errorf("%s: body and the template's YAML differ:\n%s", s.Region, diff)
	}
}

// checkGolden compares a compiled stack with its golden file, or rewrites
// the file with -update. The golden file is YAML although the body sent is
// JSON, so that it reads and diffs well; they are compared as documents.
func checkGolden(t *testing.T, path string, s Stack) {
	t.Helper()
	if *update {
		data, err := s.Template.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/compile -update to write it)", err)
	}
	if diff := yamlDiff(s.Body, data); diff != "" {
		t.Errorf("%s differs from the compiled template (run go test ./internal/compile -update to accept):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	want := map[string]bool{}
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, s := range c.stacks {
				path := goldenPath(c.name, s.Region)
				want[path] = true
				checkGolden(t, path, s)
			}
		})
	}
	// A golden file no case writes any more is stale; app, notifications
	// and ECS golden files are their own tests'.
	checkStale(t, "", want, "golden case", appGoldenPrefix, notifyGoldenPrefix, ecsGoldenPrefix)
}

// yamlDiff compares two YAML (or JSON) documents by value, and describes
// the first few differences, or returns "".
func yamlDiff(got, want []byte) string {
	var g, w any
	if err := yaml.Unmarshal(got, &g); err != nil {
		return "compiled body does not parse: " + err.Error()
	}
	if err := yaml.Unmarshal(want, &w); err != nil {
		return "golden file does not parse: " + err.Error()
	}
	var diffs []string
	diffValues("", g, w, &diffs)
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
	}
	return strings.Join(diffs, "\n")
}

func diffValues(path string, got, want any, diffs *[]string) {
	switch g := got.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range g {
			keys[k] = true
		}
		for k := range w {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing, want %s", path, k, brief(wv)))
			case !wok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected %s", path, k, brief(gv)))
			default:
				diffValues(path+"."+k, gv, wv, diffs)
			}
		}
		return
	case []any:
		w, ok := want.([]any)
		if !ok || len(w) != len(g) {
			break
		}
		for i := range g {
			diffValues(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], diffs)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, brief(got), brief(want)))
	}
}

func brief(v any) string {
	data, _ := yaml.Marshal(v)
	s := strings.TrimSpace(string(data))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.ReplaceAll(s, "\n", " ")
}

// TestGoldenStacks checks what the golden templates do not show: the stack
// around each body.
func TestGoldenStacks(t *testing.T) {
	for _, c := range goldenCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if len(c.stacks) != len(c.orbit.Regions) {
				t.Fatalf("%d stacks for %d regions", len(c.stacks), len(c.orbit.Regions))
			}
			for i, s := range c.stacks {
				r := c.orbit.Regions[i]
				if s.Region != r.Name || s.Name != "elevator-orbit-"+c.orbit.Name {
					t.Errorf("stack %d is %s in %s, want %s in %s", i, s.Name, s.Region, "elevator-orbit-"+c.orbit.Name, r.Name)
				}
				wantTags := map[string]string{elevator.TagOrbit: c.orbit.Name, elevator.TagRegion: r.Name, elevator.TagManagedBy: elevator.ManagedBy}
				if !reflect.DeepEqual(s.Tags, wantTags) {
					t.Errorf("%s tags = %v, want %v", s.Region, s.Tags, wantTags)
				}
				checkParameters(t, s)
				checkBody(t, s)
			}
		})
	}
}
