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

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	domain "github.com/elevatorhq/elevator"
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
	// The deployer's AWS calls go through a gate that holds the answer
	// to the first release's CheckHealthy record for 5s, half its 10s
	// lease: the engine then renews the lease before its next step, which
	// the metrics count.
	gate := newGate(t, enteringCheckHealthy)
	go func() {
		select {
		case <-gate.held:
			time.Sleep(5 * time.Second)
		case <-time.After(2 * time.Minute):
		}
		gate.open()
	}()
	r := in.start(t, gate.URL, "--listen", addr)
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

	// A release submitted through the bucket, as CI does, comes through
	// the queue: the deployer notes how long its message waited there.
	queued := in.release(t, "app00", "3.0.0")
	in.submit(t, queued)
	if rec := in.waitEnded(t, []string{queued.ID}, time.Minute, r)[queued.ID]; rec.State != domain.StateSuccess {
		t.Fatalf("release submitted through the bucket ended %s: %s", rec.State, rec.Error)
	}
	var families map[string]*dto.MetricFamily
	if err := pollUntil(30*time.Second, func() error {
		families = scrape(t, url)
		if _, ok := sample(families, "elevator_queue_lag_seconds", nil); !ok {
			return fmt.Errorf("no elevator_queue_lag_seconds yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if lag, _ := sample(families, "elevator_queue_lag_seconds", nil); lag <= 0 || lag > 120 {
		t.Errorf("elevator_queue_lag_seconds = %v, want the few seconds a message waited", lag)
	}
	// The AWS calls the release made were counted by the SDK middleware.
	for _, c := range []struct{ service, op string }{
		{"Auto Scaling", "CreateAutoScalingGroup"}, {"EC2", "CreateLaunchTemplate"},
		{"DynamoDB", "PutItem"}, {"SQS", "ReceiveMessage"}, {"S3", "GetObject"},
	} {
		if n, _ := sample(families, "elevator_aws_calls_total", map[string]string{"service": c.service, "operation": c.op}); n < 1 {
			t.Errorf("elevator_aws_calls_total{service=%q,operation=%q} = %v, want at least 1", c.service, c.op, n)
		}
	}
	// The lease was renewed once the held step had taken more than a
	// third of it, and never lost.
	if n, _ := sample(families, "elevator_lease_renewals_total", map[string]string{"outcome": "ok"}); n < 1 {
		t.Errorf("elevator_lease_renewals_total{outcome=ok} = %v, want at least 1", n)
	}
	if n, _ := sample(families, "elevator_lease_renewals_total", map[string]string{"outcome": "lost"}); n != 0 {
		t.Errorf("elevator_lease_renewals_total{outcome=lost} = %v, want 0", n)
	}
	// The deployer counted what its engine did: each release entered
	// Success once, and both are in Success now.
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
	if got := count("elevator_release_transitions_total", "Success"); got != 2 {
		t.Errorf("elevator_release_transitions_total{state=Success} = %v, want 2", got)
	}
	if got := count("elevator_releases", "Success"); got != 2 {
		t.Errorf("elevator_releases{state=Success} = %v, want 2", got)
	}
	if got := count("elevator_releases", "CheckHealthy"); got != 0 {
		t.Errorf("elevator_releases{state=CheckHealthy} = %v, want 0: the release has left it", got)
	}
	t.Logf("/metrics: %d families", len(families))
}

// scrape reads a deployer's /metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
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
		t.Fatal("/metrics holds no metric")
	}
	return families
}

// sample is the value of the metric of family with labels (among
// others), summed over the metrics that match; false when none does.
func sample(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	total, found := 0.0, false
	for _, m := range families[family].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			match = match && have[k] == v
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		}
	}
	return total, found
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
