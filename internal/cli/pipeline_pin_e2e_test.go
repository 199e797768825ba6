package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	domain "github.com/elevatorhq/elevator"
)

// TestARollbackDuringTheBakePinsTheOrbitAgainstAPipeline: `elevator
// rollback` while a release bakes halts it (an instant rollback: no new
// release is made); that too pins the orbit, so a pipeline started after
// it waits to be unpinned instead of shipping into it.
func TestARollbackDuringTheBakePinsTheOrbitAgainstAPipeline(t *testing.T) {
	inAccount(t)
	orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	dir := t.TempDir()
	pipeline := "pipeline:\n  stages:\n    - orbit: " + name + "\n"
	plainFile, bakedFile := filepath.Join(dir, "app.yml"), filepath.Join(dir, "baked.yml")
	if err := os.WriteFile(plainFile, []byte(releaseApp+pipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bakedFile, []byte(releaseApp+"tests:\n  bake: 10m\n"+pipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", plainFile, "--orbit", name, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "--poll-interval", "100ms"}, flags...)...))

	baked := make(chan result, 1)
	go func() {
		baked <- elevator(t, "", "deploy", "--version", "2.0.0", "--poll-interval", "100ms", "-f", bakedFile, "--orbit", name, "--orbit-file", orbitFile)
	}()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		r := elevator(t, "", "release", "list", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--output", "json")
		if strings.Contains(r.stdout, `"state": "Bake"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the release of 2.0.0 never baked:\n%s", r.stdout)
		}
	}
	rb := elevator(t, "", "rollback", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--poll-interval", "100ms")
	mustSucceed(t, rb)
	if !strings.Contains(rb.stdout, "was at its gates: halted") {
		t.Fatalf("the rollback did not halt the baking release:\n%s", rb.stdout)
	}
	if r := <-baked; !strings.Contains(r.stdout+r.stderr, "FailureClean") {
		t.Fatalf("the baking release: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	e := execution(t, elevator(t, "", "pipeline", "start", "--version", "2.0.0", "-f", plainFile, "--orbit-file", orbitFile, "--poll-interval", "100ms", "--output", "json"))
	if st := e.Stages[0]; e.State != "Running" || st.State != "Waiting" || len(st.WaitingFor) != 1 || st.WaitingFor[0] != domain.WaitUnpin || len(st.Releases) != 0 {
		t.Fatalf("a pipeline after a rollback during the bake: %s %+v", e.states(), st)
	}
	status := elevator(t, "", "pipeline", "status", e.ID, "-f", plainFile, "--orbit-file", orbitFile)
	mustSucceed(t, status)
	if !strings.Contains(status.stdout, "was rolled back at its gates by") {
		t.Errorf("status does not say why the stage waits:\n%s", status.stdout)
	}
}
