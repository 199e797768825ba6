package instancetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBootRunsUserDataOnAVolatileRoot boots the cached root with a
// cloud-config seed and shows the harness does what the boot tests rely
// on: cloud-init ran the user data, a seeded file is in place, a command
// runs inside, and the cached root was not written.
func TestBootRunsUserDataOnAVolatileRoot(t *testing.T) {
	root := Root(t)
	imds := StartIMDS(t, &FakeIMDS{InstanceID: "i-0harness", Region: "us-east-1", AccountID: "123456789012",
		Role: "harness", AccessKeyID: "AKIDHARNESS", SecretAccessKey: "secret"})
	inst := Boot(t, root, Seed{
		InstanceID: "i-0harness",
		UserData: `#cloud-config
runcmd:
  - [sh, -c, 'curl -fsS -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$(cat /etc/imds)/latest/api/token" > /run/harness-token']
`,
		Files: map[string]string{"/etc/imds": imds.URL},
	})
	if err := inst.Wait(90*time.Second, func() error {
		b, err := inst.ReadFile("/run/harness-token")
		if err != nil {
			return err
		}
		if string(b) != "fake-imds-token" {
			return fmt.Errorf("token %q", b)
		}
		return nil
	}); err != nil {
		t.Fatalf("the user data did not fetch an IMDS token from the host: %v", err)
	}
	// cloud-init names the host after the seed's local-hostname.
	out, _, err := inst.Exec(context.Background(), "hostname")
	if err != nil || strings.TrimSpace(out) != "i-0harness" {
		t.Errorf("hostname inside = %q, %v; want i-0harness, from the seed's meta-data", out, err)
	}
	if _, err := os.Stat(filepath.Join(root, "run", "harness-token")); err == nil {
		t.Error("the boot wrote into the cached root")
	}
	if got := imds.Requests(); len(got) == 0 || got[0] != "PUT /latest/api/token" {
		t.Errorf("FakeIMDS saw %v", got)
	}
}
