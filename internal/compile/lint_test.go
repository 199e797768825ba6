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

// TestGoldenTemplatesPassCfnLint runs AWS's linter over every golden
// template in one invocation (it takes seconds to start), validating each
// against every region the golden files use. Errors and warnings fail the
// test; informational findings are logged.
func TestGoldenTemplatesPassCfnLint(t *testing.T) {
	t.Parallel()
	lint := cfnLintPath(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden templates in testdata: %v", err)
	}
	regionSet := map[string]bool{}
	for _, f := range files {
		// <case>.<region>.golden.yml
		parts := strings.Split(filepath.Base(f), ".")
		regionSet[parts[1]] = true
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
		where := fmt.Sprintf("%s:%d:%d", m.Filename, m.Location.Start.LineNumber, m.Location.Start.ColumnNumber)
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
	t.Logf("cfn-lint on %d templates in %s: %d errors, %d warnings, %d findings in all",
		len(files), strings.Join(regions, ", "), errorsFound, warnings, len(matches))
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
