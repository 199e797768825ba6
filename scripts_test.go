package elevator

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
