package release

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// A command test cannot read the engine's AWS configuration: its home is
// its own and the AWS settings point at no credentials.
func TestACommandTestCannotReadTheEnginesAWSConfiguration(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte("[default]\naws_secret_access_key = engine-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	test := elevator.ReleaseTest{Kind: elevator.TestCommand, Command: []string{"sh", "-c",
		`cat "$HOME/.aws/credentials" 2>/dev/null; echo "home=$HOME files=$AWS_SHARED_CREDENTIALS_FILE,$AWS_CONFIG_FILE imds=$AWS_EC2_METADATA_DISABLED"`}}
	got := LocalTester{}.Test(context.Background(), test, TestEnv{})
	if !got.Passed || strings.Contains(got.Output, "engine-secret") || strings.Contains(got.Output, "home="+home+" ") ||
		!strings.Contains(got.Output, "files="+os.DevNull+","+os.DevNull+" imds=true") {
		t.Errorf("command test saw %+v", got)
	}
}

// A deployer refuses command tests (they would run with its role) and
// runs http ones.
func TestADeployerRunsNoCommandTests(t *testing.T) {
	got := DeployerTester{}.Test(context.Background(), elevator.ReleaseTest{Kind: elevator.TestCommand, Command: []string{"true"}}, TestEnv{})
	if got.Passed || !strings.Contains(got.Error, "use kind ssm") {
		t.Errorf("a deployer's command test: %+v", got)
	}
	got = DeployerTester{}.Test(context.Background(), elevator.ReleaseTest{Kind: elevator.TestHTTP, Path: "/"}, TestEnv{URL: "http://127.0.0.1:1"})
	if got.Passed || strings.Contains(got.Error, "use kind ssm") {
		t.Errorf("a deployer's http test against nothing: %+v, want it tried and failed", got)
	}
}
