package cli_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/cli"
)

func TestElevatorAgentRunsTheAgentsCommands(t *testing.T) {
	t.Parallel()
	agent := func(args ...string) (string, string, int) {
		var stdout, stderr bytes.Buffer
		code := cli.Run(context.Background(), append([]string{"agent"}, args...), strings.NewReader(""), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
	out, _, code := agent("--help")
	if code != 0 || !strings.Contains(out, "authorized-keys") || !strings.Contains(out, "boot") || !strings.Contains(out, "elevator agent [command]") {
		t.Errorf("elevator agent --help: status %d\n%s", code, out)
	}
	_, stderr, code := agent("authorized-keys")
	if code != cli.ExitInvalid || !strings.Contains(stderr, "elevator agent: authorized-keys takes one user name") {
		t.Errorf("authorized-keys without a user: status %d, stderr %q; want %d and why", code, stderr, cli.ExitInvalid)
	}
	root := t.TempDir()
	_, stderr, code = agent("--root", root, "authorized-keys", "alice")
	if code != cli.ExitInternal || !strings.Contains(stderr, "no agent configuration at "+filepath.Join(root, "etc/elevator/agent.json")) {
		t.Errorf("no configuration: status %d, stderr %q", code, stderr)
	}
}
