package elevator

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScriptsPassShellcheck checks the project's own scripts, which a new
// machine and CI run first. (The bootstrap script of user data is checked
// in internal/compile.)
func TestScriptsPassShellcheck(t *testing.T) {
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("shellcheck is not installed; scripts/test installs it")
		}
		t.Skip("shellcheck is not installed (scripts/test installs it)")
	}
	scripts, err := filepath.Glob("scripts/*")
	if err != nil {
		t.Fatal(err)
	}
	scripts = append(scripts, ".ci/run")
	if len(scripts) < 4 {
		t.Fatalf("found only %v", scripts)
	}
	for _, s := range scripts {
		if out, err := exec.Command(shellcheck, "--severity=style", s).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", s, err, out)
		}
	}
}

// TestTheDemoShipsAVersionThroughTheTwoOrbitPipeline runs scripts/demo as
// a newcomer would, against an emulator of its own (`elevator local up`
// with a state directory of the test's, stopped by its PID with `local
// down` when the test ends), and reads back from that emulator what the
// demo did: one pipeline execution of the shop, Succeeded, whose stages
// demo and production both succeeded with a release each, production
// approved by a different identity from the one that started it.
func TestTheDemoShipsAVersionThroughTheTwoOrbitPipeline(t *testing.T) {
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		// The demo uses the emulator's own identities, never the caller's.
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ELEVATOR_STATE_DIR=") && !strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	env = append(env, "ELEVATOR_STATE_DIR="+state, "TMPDIR="+t.TempDir())
	elevator := func(args ...string) ([]byte, error) {
		cmd := exec.Command(filepath.Join(root, "bin", "elevator"), args...)
		cmd.Dir, cmd.Env = root, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Logf("elevator %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out, err
	}
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(state, "local.json")); err == nil {
			if _, err := elevator("local", "down"); err != nil {
				t.Errorf("stop the demo's emulator: %v", err)
			}
		}
	})

	demo := exec.Command(filepath.Join(root, "scripts", "demo"))
	demo.Dir, demo.Env = root, env
	started := time.Now()
	out, err := demo.CombinedOutput()
	t.Logf("figure: scripts/demo ran in %s", time.Since(started).Round(100*time.Millisecond))
	if err != nil {
		t.Fatalf("scripts/demo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Succeeded: demo Succeeded, production Succeeded") {
		t.Errorf("the demo does not say the pipeline succeeded:\n%s", out)
	}

	list, err := elevator("pipeline", "list", "-f", "examples/app.yml", "--orbit-file", "examples/orbit.yml",
		"--orbit-file", "examples/production.yml", "--local", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var executions []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		StartedBy string `json:"started_by"`
		Stages    []struct {
			Name     string            `json:"name"`
			State    string            `json:"state"`
			Releases map[string]string `json:"releases"`
			Approval *struct {
				By string `json:"by"`
			} `json:"approval"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(list, &executions); err != nil {
		t.Fatalf("pipeline list: %v\n%s", err, list)
	}
	if len(executions) != 1 {
		t.Fatalf("%d pipeline executions, want 1:\n%s", len(executions), list)
	}
	e := executions[0]
	if e.State != "Succeeded" || len(e.Stages) != 2 {
		t.Fatalf("pipeline %s is %s with %d stages, want Succeeded with 2:\n%s", e.ID, e.State, len(e.Stages), list)
	}
	for i, want := range []string{"demo", "production"} {
		s := e.Stages[i]
		if s.Name != want || s.State != "Succeeded" || s.Releases[want] == "" {
			t.Errorf("stage %d: %s %s with releases %v, want %s Succeeded with a release there", i, s.Name, s.State, s.Releases, want)
		}
	}
	approval := e.Stages[1].Approval
	if approval == nil || approval.By != "arn:aws:iam::123456789012:user/demo-approver" || approval.By == e.StartedBy {
		t.Errorf("production approved by %+v, started by %s: want the demo's approver, someone else", approval, e.StartedBy)
	}
}
