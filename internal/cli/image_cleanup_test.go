package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/cli"
)

// TestImageCleanupAndListRefuseBadFlagsBeforeCallingAWS: each bad flag
// exits 2 with a message naming it, and no call reaches AWS (offline
// fails the test on any).
func TestImageCleanupAndListRefuseBadFlagsBeforeCallingAWS(t *testing.T) {
	endpoint := offline(t)
	orbitFile := filepath.Join(t.TempDir(), "orbit.yml")
	if err := os.WriteFile(orbitFile, []byte("name: door\nregions:\n  us-east-1: {}\n  eu-west-1: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cleanup := func(args ...string) []string {
		return append([]string{"image", "cleanup", "--orbit", "door", "--orbit-file", orbitFile, "--dry-run"}, args...)
	}
	list := func(args ...string) []string {
		return append([]string{"image", "list", "--orbit", "door", "--orbit-file", orbitFile}, args...)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a stage the orbit does not have", cleanup("--stage", "production"), "--stage production: orbit door has stages untested, tested"},
		{"a negative keep", cleanup("--keep", "-1"), "--keep -1: want 0 or more"},
		{"an age in weeks", cleanup("--age", "2w"), `--age: age "2w": want a number of days such as 14d`},
		{"a negative age", cleanup("--age", "-3d"), `age "-3d"`},
		{"a fractional number of days", cleanup("--age", "1.5d"), `age "1.5d"`},
		{"no orbit", []string{"image", "cleanup", "--dry-run"}, "--orbit is required"},
		{"an orbit its manifest does not describe", []string{"image", "cleanup", "--orbit", "other", "--orbit-file", orbitFile}, "--orbit other, but"},
		{"a service without its app", cleanup("--service", "web"), `--service "web": want APP/SERVICE`},
		{"a service whose app is no name", cleanup("--service", "../shop/web"), `--service "../shop/web"`},
		{"both an image line and a service", cleanup("--image", "base", "--service", "shop/web"), "--image and --service both say which images"},
		{"an image line with a space", cleanup("--image", "base line"), `--image "base line": want an image line`},
		{"one region only", cleanup("--region", "us-east-1"), "cleanup looks in every region of the orbit"},
		{"a list in a region the orbit is not in", list("--region", "ap-south-1"), "orbit door is not in that region"},
		{"a list of a service without its app", list("--service", "web"), `--service "web": want APP/SERVICE`},
		{"a list with an image line in capitals", list("--image", "Base"), `--image "Base"`},
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
