package cli_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestDeployThroughADeployersAPI starts a deployer process serving its
// API, and deploys, lists and reads metrics through it with the CLI: the
// caller is authenticated by a signed sts:GetCallerIdentity (carried to
// the emulator's STS) and authorized by the orbit manifest's access
// section; the release is submitted through the state bucket and driven
// by the deployer to Success.
func TestDeployThroughADeployersAPI(t *testing.T) {
	in := newIntake(t, 1)
	caller := "arn:aws:iam::" + in.acct.ID + ":user/elevator-test"
	f, err := os.OpenFile(in.orbitFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "access:\n  - {role: deployer, principals: [%q], apps: [app00]}\n", caller)
	f.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := in.start(t, emulatortest.Endpoint(), "--listen", addr)
	url := "http://" + addr
	if err := pollUntil(time.Minute, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		r.alive(t)
		t.Fatal(err)
	}

	flags := append([]string{"--deployer", url}, in.flags["app00"]...)
	dep := elevator(t, "", append([]string{"deploy", "--version", "2.0.0", "--wait"}, flags...)...)
	mustSucceed(t, dep)
	if !strings.Contains(dep.stdout+dep.stderr, "Success") {
		t.Errorf("deploy through the deployer did not end in Success:\n%s%s", dep.stdout, dep.stderr)
	}
	list := elevator(t, "", "release", "list", "--app", "app00", "--orbit", in.orbit, "--orbit-file", in.orbitFile, "--deployer", url, "-o", "json")
	mustSucceed(t, list)
	var recs []domain.ReleaseRecord
	if err := json.Unmarshal([]byte(list.stdout), &recs); err != nil || len(recs) != 1 || recs[0].State != domain.StateSuccess {
		t.Fatalf("release list through the deployer: %v\n%s", err, list.stdout)
	}
	// The deployer wrote down who submitted it: the caller STS named.
	if doc, _, err := in.store.Release(t.Context(), recs[0].ID); err != nil || !strings.Contains(string(doc), caller) {
		t.Errorf("the release's document does not name its caller %s: %v\n%s", caller, err, doc)
	}
	// A deployer of app00 may not break its lock (approver).
	unlock := elevator(t, "", "unlock", "--app", "app00", "--reason", "test", "--orbit", in.orbit, "--orbit-file", in.orbitFile, "--deployer", url)
	if unlock.code == 0 || !strings.Contains(unlock.stderr, "approver") {
		t.Errorf("a deployer broke a lock: exit %d\n%s", unlock.code, unlock.stderr)
	}

	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	if len(families) == 0 {
		t.Error("/metrics holds no metric")
	}
	// The deployer counted what its engine did: the release entered
	// Success once, and is the one release in Success now.
	count := func(family, state string) float64 {
		for _, m := range families[family].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "state" && l.GetValue() == state {
					if c := m.GetCounter(); c != nil {
						return c.GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
		return 0
	}
	if got := count("elevator_release_transitions_total", "Success"); got != 1 {
		t.Errorf("elevator_release_transitions_total{state=Success} = %v, want 1", got)
	}
	if got := count("elevator_releases", "Success"); got != 1 {
		t.Errorf("elevator_releases{state=Success} = %v, want 1", got)
	}
	if got := count("elevator_releases", "CheckHealthy"); got != 0 {
		t.Errorf("elevator_releases{state=CheckHealthy} = %v, want 0: the release has left it", got)
	}
	t.Logf("/metrics: %d families", len(families))
}

func pollUntil(within time.Duration, check func() error) error {
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
