// Package orbittest helps tests that bring orbits up or release apps:
// the Elevator agent's builds they store are fake files, since the
// emulator runs no instance.
package orbittest

import (
	"os"
	"path/filepath"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/orbit"
)

// FakeAgent points orbit.AgentDirEnv, for the rest of the test, at fake
// agent files named as scripts/setup names the builds, and returns their
// contents by Go architecture. Each call's files are new builds, with new
// hashes.
func FakeAgent(t testing.TB) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bodies := map[string]string{}
	for _, goarch := range elevator.AgentArches {
		bodies[goarch] = "fake elevator-agent for linux/" + goarch + " in " + dir
		if err := os.WriteFile(filepath.Join(dir, "elevator-agent-linux-"+goarch), []byte(bodies[goarch]), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(orbit.AgentDirEnv, dir)
	return bodies
}
