package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// acceptedWarnings are cfn-lint warnings the templates may have, each with
// the reason it is acceptable. There are none: zone names are parameters
// (not W3010 hard-coded zones), and every other rule passes as is.
var acceptedWarnings = map[string]string{}

// cfnLintMatch is one finding in cfn-lint's JSON output.
type cfnLintMatch struct {
	Filename string
	Level    string // Error, Warning or Informational
	Message  string
	Rule     struct{ Id string }
	Location struct {
		Start struct{ LineNumber, ColumnNumber int }
		Path  []any
	}
}

// TestGoldenTemplatesPassCfnLint runs AWS's linter over the body sent to
// CloudFormation for every golden case in one invocation (it takes seconds
// to start), validating each against every region the cases use. The bodies
// are JSON; each is the document its golden YAML file holds (checkGolden),
// so a finding names that file and the path in it. Errors and warnings fail
// the test; informational findings are logged.
func TestGoldenTemplatesPassCfnLint(t *testing.T) {
	t.Parallel()
	lint := cfnLintPath(t)
	dir := t.TempDir()
	golden := map[string]string{} // body file -> golden file
	regionSet := map[string]bool{}
	var files []string
	send := func(goldenFile string, s Stack) {
		f := filepath.Join(dir, strings.TrimSuffix(filepath.Base(goldenFile), ".golden.yml")+".json")
		if err := os.WriteFile(f, s.Body, 0o644); err != nil {
			t.Fatal(err)
		}
		golden[f] = goldenFile
		regionSet[s.Region] = true
		files = append(files, f)
	}
	for _, c := range goldenCases(t) {
		for _, s := range c.stacks {
			send(goldenPath(c.name, s.Region), s)
		}
	}
	for _, c := range compileAppCases(t) {
		for _, s := range c.stacks {
			send(appGoldenPath(c.name, s.Region), s)
		}
	}
	for _, c := range notifyCases(t) {
		send(goldenPath(c.name, c.stack.Region), c.stack)
	}
	for _, c := range ecsCases(t) {
		for _, s := range c.stacks {
			send(goldenPath(c.name, s.Region), s)
		}
	}
	goldenFiles, err := filepath.Glob(filepath.Join("testdata", "*.golden.yml"))
	if err != nil || len(goldenFiles) != len(files) {
		t.Fatalf("%d bodies for %d golden files: every golden case must be linted (%v)", len(files), len(goldenFiles), err)
	}
	var regions []string
	for r := range regionSet {
		regions = append(regions, r)
	}
	sort.Strings(regions)

	args := []string{"--format", "json", "--include-checks", "I", "--regions"}
	args = append(args, regions...)
	args = append(args, "--")
	args = append(args, files...)
	cmd := exec.Command(lint, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", lint, err)
	}
	// cfn-lint's exit code is a bit set: 1 it failed to run, 2 errors,
	// 4 warnings, 8 informational findings.
	if code&1 != 0 {
		t.Fatalf("cfn-lint failed (exit %d):\n%s\n%s", code, stderr.String(), stdout.String())
	}
	var matches []cfnLintMatch
	if err := json.Unmarshal(stdout.Bytes(), &matches); err != nil {
		t.Fatalf("read cfn-lint output: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var errorsFound, warnings int
	for _, m := range matches {
		where := golden[m.Filename]
		if where == "" {
			where = m.Filename
		}
		if p := jsonPath(m.Location.Path); p != "" {
			where += " at " + p
		}
		switch m.Level {
		case "Error":
			errorsFound++
			t.Errorf("%s: %s %s", where, m.Rule.Id, m.Message)
		case "Warning":
			warnings++
			if reason, ok := acceptedWarnings[m.Rule.Id]; ok {
				t.Logf("%s: %s %s (accepted: %s)", where, m.Rule.Id, m.Message, reason)
				continue
			}
			t.Errorf("%s: %s %s", where, m.Rule.Id, m.Message)
		default:
			t.Logf("%s: %s %s", where, m.Rule.Id, m.Message)
		}
	}
	if code&2 != 0 && errorsFound == 0 {
		t.Errorf("cfn-lint exited %d (errors) but reported none:\n%s", code, stdout.String())
	}
	t.Logf("cfn-lint on the %d bodies sent, in %s: %d errors, %d warnings, %d findings in all",
		len(files), strings.Join(regions, ", "), errorsFound, warnings, len(matches))
}

// jsonPath writes a location in a template the way people read it:
// Resources.Vpc.Properties.Tags[0].
func jsonPath(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch p := p.(type) {
		case float64:
			fmt.Fprintf(&b, "[%d]", int(p))
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, p)
		}
	}
	return b.String()
}

// cfnLintPath finds .venv/bin/cfn-lint at the root of the repository, walking
// up from the package directory. A missing linter fails the test: every
// template must pass it, so it is never skipped.
func cfnLintPath(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (go.mod) above the package directory")
		}
		dir = parent
	}
	lint := filepath.Join(dir, ".venv", "bin", "cfn-lint")
	if _, err := os.Stat(lint); err != nil {
		t.Fatalf("cfn-lint is not installed at %s: run scripts/setup to install it", lint)
	}
	return lint
}
