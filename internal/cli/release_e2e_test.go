package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

const releaseApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 2}
    alarms: [{metric: cpu, threshold: 85, severity: critical}]
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
`

// releasable brings up an orbit over two regions and the app, allows its
// images, and returns the flags that name them.
func releasable(t *testing.T) (orbitName string, flags []string) {
	t.Helper()
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(releaseApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags = []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	return name, flags
}

// groups returns the app's Auto Scaling Groups in an orbit and region, by
// name, found by tag as the engine finds them.
func groups(t *testing.T, region, orbit string) []string {
	t.Helper()
	out, err := autoscaling.NewFromConfig(emulatortest.SharedConfig(t, region)).DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:elevator:orbit"), Values: []string{orbit}}, {Name: aws.String("tag:elevator:app"), Values: []string{"shop"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range out.AutoScalingGroups {
		names = append(names, aws.ToString(g.AutoScalingGroupName))
	}
	sort.Strings(names)
	return names
}

func lockIsFree(t *testing.T, orbit string, flags []string) {
	t.Helper()
	r := elevator(t, "", "unlock", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "test")
	if r.code != cli.ExitNotFound {
		t.Errorf("the lock is held: unlock exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

var releaseID = regexp.MustCompile(`release ([0-9]{8}-[0-9]{6}-[0-9a-f]{8})`)

func TestASecondReleaseReplacesTheFirst(t *testing.T) {
	orbit, flags := releasable(t)
	first := elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...)
	mustSucceed(t, first)
	second := elevator(t, "", append([]string{"deploy", "--version", "1.0.1", "-o", "json"}, flags...)...)
	mustSucceed(t, second)
	firstID := releaseID.FindStringSubmatch(first.stdout)[1]
	secondID := releaseID.FindStringSubmatch(second.stderr)[1]
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		got := strings.Join(groups(t, region, orbit), " ")
		want := "shop-" + orbit + "-web-" + secondID[16:] + " shop-" + orbit + "-worker-" + secondID[16:]
		if got != want {
			t.Errorf("%s groups: %s, want %s (the first release's gone)", region, got, want)
		}
	}
	if !strings.Contains(second.stdout, `"state": "Success"`) || !strings.Contains(second.stdout, firstID[16:]) {
		t.Errorf("second record (json) does not say Success replacing %s:\n%s", firstID, second.stdout)
	}
	// The web service's CPU alarm watches the new group only, and pages
	// the region's critical topic.
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		cw := cloudwatch.New(emulatortest.SharedConfig(t, region))
		for id, want := range map[string]int{firstID: 0, secondID: 1} {
			alarms, err := cw.Alarms(context.Background(), "shop-"+orbit+"-web-"+id[16:])
			if err != nil {
				t.Fatal(err)
			}
			if len(alarms) != want {
				t.Errorf("%s: %d alarms on web of release %s, want %d", region, len(alarms), id, want)
			}
			for _, a := range alarms {
				if a.Threshold != 85 || len(a.Actions) != 1 || !strings.HasSuffix(a.Actions[0], ":"+orbit+"-critical") {
					t.Errorf("%s: alarm %+v", region, a)
				}
			}
		}
	}
	lockIsFree(t, orbit, flags)
	audit := elevator(t, "", "release", "audit", "--orbit", orbit, "--orbit-file", flags[5])
	mustSucceed(t, audit)
	for _, want := range []string{"submit", "release", firstID, secondID, "Success", "by arn:"} {
		if !strings.Contains(audit.stdout, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit.stdout)
		}
	}
	list := elevator(t, "", "release", "list", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5])
	mustSucceed(t, list)
	if lines := strings.Split(strings.TrimSpace(list.stdout), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], secondID) {
		t.Errorf("release list:\n%s", list.stdout)
	}
}

func TestAHaltDuringCheckHealthyEndsFailureClean(t *testing.T) {
	orbit, flags := releasable(t)
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...))
	before := groups(t, "us-east-1", orbit)

	// The second release polls health every 2 s: time enough to halt it
	// while it waits in CheckHealthy.
	done := make(chan result, 1)
	go func() {
		done <- elevator(t, "", append([]string{"deploy", "--version", "2.0.0", "--poll-interval", "2s", "-o", "json"}, flags...)...)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := elevator(t, "", "halt", "--app", "shop", "--orbit", orbit, "--orbit-file", flags[5], "--reason", "bad canary")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no release to halt: %s", r.stderr)
		}
		time.Sleep(50 * time.Millisecond) // waiting for the other goroutine's release to take its lock
	}
	r := <-done
	var rec struct {
		State   string `json:"state"`
		Error   string `json:"error"`
		Failure string `json:"failure"`
	}
	// With --output json, stdout is the record alone: one JSON document.
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || r.code != cli.ExitFailed || rec.State != "FailureClean" || rec.Failure != "halted" || !strings.Contains(rec.Error, "bad canary") {
		t.Fatalf("halted release: exit %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	if after := groups(t, "us-east-1", orbit); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("groups after the halt %v, want the first release's %v still serving", after, before)
	}
	lockIsFree(t, orbit, flags)
}

// TestADeployKilledMidReleaseIsResumed kills the elevator process with
// SIGKILL while it waits in CheckHealthy, then resumes the release from
// another process, which waits for the dead engine's 4 s lease to end.
func TestADeployKilledMidReleaseIsResumed(t *testing.T) {
	orbit, flags := releasable(t)
	bin := filepath.Join(t.TempDir(), "elevator")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/elevator").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"deploy", "--version", "1.0.0", "--poll-interval", "2s", "--lease", "4s", "--endpoint-url", emulatortest.Endpoint()}, flags...)...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing", "CI=true")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var id string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := releaseID.FindStringSubmatch(lines.Text()); m != nil {
			id = m[1]
		}
		if strings.Contains(lines.Text(), "CheckHealthy") {
			break // the engine has stored CheckHealthy and waits for health
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if id == "" {
		t.Fatal("never saw the release id")
	}
	if status := elevator(t, "", "release", "status", id, "--orbit", orbit, "--orbit-file", flags[5]); !strings.Contains(status.stdout, "CheckHealthy") {
		t.Fatalf("the killed release is not in CheckHealthy:\n%s", status.stdout)
	}

	resumed := elevator(t, "", "release", "resume", id, "--orbit", orbit, "--orbit-file", flags[5], "--poll-interval", "50ms")
	if resumed.code != 0 && resumed.code != cli.ExitFailed {
		t.Fatalf("resume: exit %d\n%s\n%s", resumed.code, resumed.stdout, resumed.stderr)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		got := groups(t, region, orbit)
		switch {
		case resumed.code == 0 && len(got) != 2:
			t.Errorf("%s: Success with groups %v, want web and worker of %s", region, got, id)
		case resumed.code == cli.ExitFailed && len(got) != 0:
			t.Errorf("%s: FailureClean left groups %v", region, got)
		}
	}
	lockIsFree(t, orbit, flags)
}
