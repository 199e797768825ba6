package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageAllowOfAMixedAppAllowsTheMachineImageOfItsInstancesOnly: an ECS
// service selects no machine image (its tasks run a container image), so
// `image allow -f` of an app with one allows the image of its Docker
// service's instances in each region, and looks up none for the ECS one
// (it once looked up an image named "" and failed with exit 5).
func TestImageAllowOfAMixedAppAllowsTheMachineImageOfItsInstancesOnly(t *testing.T) {
	inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: single}\necs: {}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(mixedApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	r := elevator(t, "", "image", "allow", "-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile)
	mustSucceed(t, r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "us-east-1  ami-") || !strings.HasPrefix(lines[1], "eu-west-1  ami-") {
		t.Errorf("image allow of a mixed app: want the worker's machine image allowed once in each region:\n%s", r.stdout)
	}
}
