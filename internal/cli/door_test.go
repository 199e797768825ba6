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
	keyFile := filepath.Join(dir, "alice.pub")
	if err := os.WriteFile(keyFile, []byte("ssh-ed25519 AAAA!!!! alice@laptop\n"), 0o644); err != nil {
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
		{"image allow of a container image in a region outside the orbit", []string{"image", "allow", "123456789012.dkr.ecr.ap-south-1.amazonaws.com/door/shop/web:1.0.0", "--app", "shop", "--orbit", "door", "--orbit-file", orbitFile}, "is in ap-south-1; orbit door is in us-east-1, eu-west-1"},
		{"image allow of a container image in another region than --region", []string{"image", "allow", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/door/shop/web:1.0.0", "--app", "shop", "--region", "us-east-1", "--orbit", "door", "--orbit-file", orbitFile}, "is in eu-west-1; orbit door is in us-east-1"},
		{"image allow of an image with --version", []string{"image", "allow", "ami-0abcdef1234567890", "--version", "1", "--app", "shop", "--region", "us-east-1", "--orbit", "door", "--orbit-file", orbitFile}, "--version goes with -f"},
		{"image allow -f with a version no release could have", []string{"image", "allow", "-f", appFile, "--version", "-x", "--orbit", "door", "--orbit-file", orbitFile}, `version "-x": want an OCI image tag`},
		{"orbit up polling every nanosecond", []string{"orbit", "up", "-f", orbitFile, "--poll-interval", "1ns"}, "--poll-interval 1ns"},
		{"orbit plan polling at a negative interval", []string{"orbit", "plan", "-f", orbitFile, "--poll-interval", "-1s"}, "--poll-interval -1s"},
		{"orbit up in a region not in the orbit", []string{"orbit", "up", "-f", orbitFile, "--region", "ap-south-1"}, "orbit door is not in that region"},
		{"app plan polling at no interval", []string{"app", "plan", "-f", appFile, "--orbit", "door", "--orbit-file", orbitFile, "--poll-interval", "0"}, "--poll-interval 0s"},
		{"app up with no time to settle", []string{"app", "up", "-f", appFile, "--orbit", "door", "--orbit-file", orbitFile, "--timeout", "0"}, "--timeout 0s"},
		{"access grant to a user name with capitals", cmd("access", "grant", "--user", "Alice"), `--user: user name "Alice": want a Linux user name`},
		{"access grant to a user name of 33 characters", cmd("access", "grant", "--user", strings.Repeat("a", 33)), "1 to 32 lower-case letters"},
		{"access grant without a user", cmd("access", "grant"), "--user is required"},
		{"access grant of a key that is no key", cmd("access", "grant", "--user", "alice", "--key", keyFile), "not an OpenSSH public key"},
		{"access grant of a key file that is not there", cmd("access", "grant", "--user", "alice", "--key", filepath.Join(dir, "none.pub")), "none.pub"},
		{"access grant of a service without an app", cmd("access", "grant", "--user", "alice", "--service", "web"), "--service web needs --app"},
		{"access grant of an app that is no name", cmd("access", "grant", "--user", "alice", "--app", "../shop"), `--app "../shop"`},
		{"access revoke of everything and a key", cmd("access", "revoke", "--user", "alice", "--all", "--key", keyFile), "--all takes every key and scope away"},
		{"access list of a user name with a space", cmd("access", "list", "--user", "a b"), "want a Linux user name"},
		{"ssh without a service", cmd("ssh", "--app", "shop", "--user", "alice"), "--service is required"},
		{"ssh without an app", cmd("ssh", "--service", "web", "--user", "alice"), "--app is required"},
		{"ssh to an instance that is no instance id", cmd("ssh", "--app", "shop", "--service", "web", "--user", "alice", "--instance", "web-1"), `--instance "web-1": want an EC2 instance id`},
		{"ssh as a user name with a slash", cmd("ssh", "--app", "shop", "--service", "web", "--user", "../root"), "--user: user name"},
		{"ssh in a region not in the orbit", cmd("ssh", "--app", "shop", "--service", "web", "--user", "alice", "--region", "ap-south-1"), "orbit door is not in that region"},
		{"logs of the future", cmd("logs", "--app", "shop", "--since", "-1h"), "--since -1h0m0s: want a positive duration"},
		{"logs without an app", cmd("logs"), "--app is required"},
		{"logs polling every nanosecond", cmd("logs", "--app", "shop", "--follow", "--poll-interval", "1ns"), "--poll-interval 1ns"},
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
