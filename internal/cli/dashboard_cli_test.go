package cli_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/cli"
)

// TestTheDashboardRefusesWhatItCannotServeSafely: the local single-user
// mode listens on a loopback address only and has no sign-in; anywhere
// else sign-in is required, over https. Each is refused before any call,
// with exit 2.
func TestTheDashboardRefusesWhatItCannotServeSafely(t *testing.T) {
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\n")
	oidc := []string{"--oidc-issuer", "https://idp.example.com", "--oidc-client-id", "elevator"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"local on every address", []string{"dashboard", "--local", "-f", orbitFile, "--listen", "0.0.0.0:8080"}, "loopback address only"},
		{"local with sign-in", append([]string{"dashboard", "--local", "-f", orbitFile, "--dashboard-url", "http://127.0.0.1:8080"}, oidc...), "drop the --oidc-* and --dashboard-url flags"},
		{"a bad local role", []string{"dashboard", "--local", "-f", orbitFile, "--local-role", "owner"}, `--local-role "owner"`},
		{"no sign-in against AWS", []string{"dashboard", "-f", orbitFile}, "give --oidc-issuer, --oidc-client-id and --dashboard-url"},
		{"sign-in half given", []string{"dashboard", "-f", orbitFile, "--oidc-issuer", "https://idp.example.com"}, "--oidc-issuer, --oidc-client-id and --dashboard-url together"},
		{"plain http on a network", append([]string{"dashboard", "-f", orbitFile, "--dashboard-url", "http://dash.example.com"}, oidc...), "want https"},
		{"a dashboard URL with a path", append([]string{"dashboard", "-f", orbitFile, "--dashboard-url", "https://dash.example.com/x"}, oidc...), "the site's root URL"},
		{"an issuer over plain http", []string{"dashboard", "-f", orbitFile, "--dashboard-url", "https://dash.example.com", "--oidc-client-id", "e", "--oidc-issuer", "http://idp.example.com"}, "--oidc-issuer"},
		{"a refresh too often", []string{"dashboard", "--local", "-f", orbitFile, "--refresh", "100ms"}, "--refresh 100ms: want at least 1s"},
		{"a deployer's refresh too often", []string{"deployer", "--orbit", name, "--orbit-file", orbitFile, "--refresh", "0s"}, "--refresh 0s: want at least 1s"},
		{"a deployer's dashboard without --listen", append([]string{"deployer", "--orbit", name, "--orbit-file", orbitFile, "--dashboard-url", "https://dash.example.com"}, oidc...), "give --listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, want 2 with %q\n%s", code, tt.want, stderr.String())
			}
		})
	}
}
