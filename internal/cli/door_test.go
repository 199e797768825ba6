package cli_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/cli"
)

// offline points the command line at a server that fails the test on any
// request, with credentials that need no call to find: whatever a command
// is refused for, it must be refused before it calls AWS.
func offline(t *testing.T) (endpoint string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a call reached AWS: %s %s (%s)", r.Method, r.URL, r.Header.Get("X-Amz-Target"))
		http.Error(w, "no calls expected", http.StatusTeapot)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAOFFLINE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "offline")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("ELEVATOR_ORBIT_FILE", "")
	return srv.URL
}

func TestEveryCommandChecksItsInputBeforeCallingAWS(t *testing.T) {
	endpoint := offline(t)
	dir := t.TempDir()
	orbitFile := filepath.Join(dir, "orbit.yml")
	appFile := filepath.Join(dir, "app.yml")
	if err := os.WriteFile(orbitFile, []byte("name: door\nregions:\n  us-east-1: {}\n  eu-west-1: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(appFile, []byte(releaseApp), 0o644); err != nil {
		t.Fatal(err)
	}
	orbit := []string{"--orbit", "door", "--orbit-file", orbitFile}
	deploy := func(args ...string) []string {
		return append(append([]string{"deploy", "-f", appFile}, orbit...), args...)
	}
	cmd := func(args ...string) []string { return append(args, orbit...) }
	tests := []struct {
		name string
		args []string
		want string // in the error message
	}{
		{"deploy without a version", deploy(), `--version: version ""`},
		{"deploy of a version with a space", deploy("--version", "1.0 0"), "want an OCI image tag"},
		{"deploy of a version with a newline", deploy("--version", "1.0\n"), "want an OCI image tag"},
		{"deploy of a version with a systemd specifier and a shell expansion", deploy("--version", `1.0%H${HOME}"x`), "want an OCI image tag"},
		{"deploy of a version of 129 characters", deploy("--version", strings.Repeat("1", 129)), "want an OCI image tag"},
		{"deploy of a version starting with a dash", deploy("--version=-1"), "want an OCI image tag"},
		{"a dry run of a version with a space", deploy("--version", "1.0 0", "--dry-run"), "want an OCI image tag"},
		{"deploy with a lease of a nanosecond", deploy("--version", "1.0.0", "--lease", "1ns"), "--lease 1ns: want 10s to 24h0m0s"},
		{"deploy with no lease", deploy("--version", "1.0.0", "--lease", "0"), "--lease 0s"},
		{"deploy with a negative lease", deploy("--version", "1.0.0", "--lease", "-5s"), "--lease -5s"},
		{"deploy with a lease just short of the minimum", deploy("--version", "1.0.0", "--lease", "9s"), "--lease 9s"},
		{"deploy with a lease over a day", deploy("--version", "1.0.0", "--lease", "25h"), "--lease 25h0m0s"},
		{"deploy polling every nanosecond", deploy("--version", "1.0.0", "--poll-interval", "1ns"), "--poll-interval 1ns: want at least 100ms"},
		{"deploy polling at a negative interval", deploy("--version", "1.0.0", "--poll-interval", "-1s"), "--poll-interval -1s"},
		{"deploy polling at no interval", deploy("--version", "1.0.0", "--poll-interval", "0"), "--poll-interval 0s"},
		{"deploy with --region", append(deploy("--version", "1.0.0"), "--region", "us-east-1"), "a release covers every region"},
		{"release list of no releases", cmd("release", "list", "--app", "shop", "--limit", "0"), "--limit 0: want 1 or more"},
		{"release list of a negative number", cmd("release", "list", "--app", "shop", "--limit", "-1"), "--limit -1"},
		{"release list without an app", cmd("release", "list"), "--app is required"},
		{"release audit of the future", cmd("release", "audit", "--since", "-100h"), "--since -100h0m0s: want a positive duration"},
		{"release audit of no time", cmd("release", "audit", "--since", "0"), "--since 0s"},
		{"release status of a path", cmd("release", "status", "../../x"), `release id "../../x"`},
		{"release status of an id in capitals", cmd("release", "status", "20261123-120000-9F86D081"), "want the form"},
		{"release watch of a path", cmd("release", "watch", "../../x"), `release id "../../x"`},
		{"release resume of a path", cmd("release", "resume", "../../x"), `release id "../../x"`},
		{"release resume with a short lease", cmd("release", "resume", "20261123-120000-9f86d081", "--lease", "1s"), "--lease 1s"},
		{"rollback to a path", cmd("rollback", "--app", "shop", "--to", "../../x"), `--to: release id "../../x"`},
		{"rollback without an app", cmd("rollback"), "--app is required"},
		{"halt without a reason", cmd("halt", "--app", "shop"), "--reason is required"},
		{"halt with a blank reason", cmd("halt", "--app", "shop", "--reason", "  "), "--reason is required"},
		{"unlock without a reason", cmd("unlock", "--app", "shop"), "--reason is required"},
		{"unlock without an app", cmd("unlock", "--reason", "stuck"), "--app is required"},
		{"image allow of something that is no image id", []string{"image", "allow", "../x", "--app", "shop", "--region", "us-east-1", "--orbit", "door", "--orbit-file", orbitFile}, `image "../x": want an AMI id`},
		{"image allow of an image without a region", []string{"image", "allow", "ami-0abcdef1234567890", "--app", "shop", "--orbit", "door", "--orbit-file", orbitFile}, "pass --region"},
		{"image allow of an image without an app", []string{"image", "allow", "ami-0abcdef1234567890", "--region", "us-east-1", "--orbit", "door", "--orbit-file", orbitFile}, "--app is required"},
		{"orbit up polling every nanosecond", []string{"orbit", "up", "-f", orbitFile, "--poll-interval", "1ns"}, "--poll-interval 1ns"},
		{"orbit plan polling at a negative interval", []string{"orbit", "plan", "-f", orbitFile, "--poll-interval", "-1s"}, "--poll-interval -1s"},
		{"orbit up in a region not in the orbit", []string{"orbit", "up", "-f", orbitFile, "--region", "ap-south-1"}, "orbit door is not in that region"},
		{"app plan polling at no interval", []string{"app", "plan", "-f", appFile, "--orbit", "door", "--orbit-file", orbitFile, "--poll-interval", "0"}, "--poll-interval 0s"},
		{"app up with no time to settle", []string{"app", "up", "-f", appFile, "--orbit", "door", "--orbit-file", orbitFile, "--timeout", "0"}, "--timeout 0s"},
		{"an endpoint that is no URL", []string{"orbit", "plan", "-f", orbitFile, "--endpoint-url", "localhost:4566"}, `--endpoint-url "localhost:4566": want an http or https URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, endpoint, "", append(tt.args, "-o", "json")...)
			var doc struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("exit %d, stdout is no JSON error (%v):\n%s\n%s", r.code, err, r.stdout, r.stderr)
			}
			if r.code != cli.ExitInvalid || doc.Error.Code != "invalid" || !strings.Contains(doc.Error.Message, tt.want) {
				t.Errorf("exit %d, error %+v; want exit %d, code invalid, a message that says %q", r.code, doc.Error, cli.ExitInvalid, tt.want)
			}
		})
	}
}
