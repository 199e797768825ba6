package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// execReport is the part of `elevator exec -o json` the tests read.
type execReport struct {
	Release, Document, Command string
	Parameters                 map[string][]string
	Failed                     int
	Instances                  []struct {
		Region, Instance, AZ, Status string
		CommandID                    string `json:"command_id"`
		ExitCode                     int    `json:"exit_code"`
	}
}

// TestExecRunsOnTheCurrentReleasesInstancesOnMoto releases an app into
// an orbit of two regions on moto and runs a shell command and a document
// on its web instances: moto answers Run Command (every invocation ends
// at once, Success, exit 0, no output), so the test checks the results
// per instance, what moto was sent, --region and --instances, and the
// audit entries read back from the orbit's audit log.
func TestExecRunsOnTheCurrentReleasesInstancesOnMoto(t *testing.T) {
	acct, orbit, flags := releasable(t)
	// moto lacks DescribeInstanceInformation and ListCommandInvocations:
	// the proxy answers them, injecting no fault.
	plain := startFaultyRunCommand(t, &faultyRunCommand{})
	o := []string{"--orbit", orbit, "--orbit-file", flags[5], "--app", "shop", "--poll-interval", "100ms",
		"--endpoint-url", plain.url} // before the -- that ends the flags
	exec := func(args ...string) result {
		t.Helper()
		return elevator(t, "", append(append([]string{"exec"}, o...), args...)...)
	}
	if r := exec("--service", "web", "--", "uptime"); r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "app shop has no successful release in orbit "+orbit+": nothing of it runs to run a command on") {
		t.Errorf("exec before any release: exit %d\n%s", r.code, r.stderr)
	}
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...))
	started := time.Now().Add(-time.Minute)

	text := exec("--service", "web", "--", "uptime")
	mustSucceed(t, text)
	if n := strings.Count(text.stdout, ": Success, exit 0, "); n < 2 || !strings.Contains(text.stdout, "us-east-1 i-") || !strings.Contains(text.stdout, "eu-west-1 i-") ||
		!strings.Contains(text.stdout, "instances succeeded, 0 failed") {
		t.Errorf("exec text:\n%s", text.stdout)
	}

	js := exec("--service", "web", "-o", "json", "--", "uptime")
	mustSucceed(t, js)
	var rep execReport
	if err := json.Unmarshal([]byte(js.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, js.stdout)
	}
	regions := map[string][]string{}
	for _, i := range rep.Instances {
		if i.Status != "Success" || i.ExitCode != 0 || !strings.HasPrefix(i.Instance, "i-") || i.CommandID == "" {
			t.Errorf("instance result %+v", i)
		}
		regions[i.Region] = append(regions[i.Region], i.Instance)
	}
	if rep.Document != "AWS-RunShellScript" || rep.Command != "uptime" || rep.Failed != 0 || len(regions["us-east-1"]) == 0 || len(regions["eu-west-1"]) == 0 || rep.Release == "" {
		t.Fatalf("exec -o json: %+v", rep)
	}
	// What moto was sent in us-east-1: the shell line with its timeout,
	// to the instances reported there. (moto 5.2.5 adds every instance
	// of the region to a command sent without Targets, the worker's too,
	// so the web instances are checked to be among them.)
	sent, err := ssmsdk.NewFromConfig(acct.Config("us-east-1")).ListCommands(context.Background(), &ssmsdk.ListCommandsInput{CommandId: aws.String(rep.Instances[0].CommandID)})
	if err != nil || len(sent.Commands) != 1 {
		t.Fatalf("ListCommands: %v", err)
	}
	c := sent.Commands[0]
	if aws.ToString(c.DocumentName) != "AWS-RunShellScript" || !slices.Equal(c.Parameters["commands"], []string{"uptime"}) || !slices.Equal(c.Parameters["executionTimeout"], []string{"600"}) ||
		slices.ContainsFunc(regions["us-east-1"], func(id string) bool { return !slices.Contains(c.InstanceIds, id) }) {
		t.Errorf("moto was sent %s %v to %v, want the shell line to %v", aws.ToString(c.DocumentName), c.Parameters, c.InstanceIds, regions["us-east-1"])
	}

	one := exec("--service", "worker", "--region", "eu-west-1", "--instances", "1", "-o", "json", "--document", "AWS-RunShellScript", "--parameters", "commands=df -h /")
	mustSucceed(t, one)
	var rep1 execReport
	if err := json.Unmarshal([]byte(one.stdout), &rep1); err != nil {
		t.Fatalf("%v\n%s", err, one.stdout)
	}
	if len(rep1.Instances) != 1 || rep1.Instances[0].Region != "eu-west-1" || rep1.Document != "AWS-RunShellScript" || !slices.Equal(rep1.Parameters["commands"], []string{"df -h /"}) {
		t.Errorf("exec --region eu-west-1 --instances 1 --document: %+v", rep1)
	}

	// Through a fault-injecting proxy (moto cannot fail a command): the
	// eu-west-1 instance fails, the us-east-1 one runs for three looks.
	east, west := regions["us-east-1"][0], regions["eu-west-1"][0]
	proxy := startFaultyRunCommand(t, &faultyRunCommand{fail: west, slow: east, slowLooks: 3})
	failed := elevator(t, "", "exec", "--orbit", orbit, "--orbit-file", flags[5], "--app", "shop", "--poll-interval", "100ms",
		"--endpoint-url", proxy.url, "--service", "web", "--", "uptime")
	if failed.code != cli.ExitFailed || !strings.Contains(failed.stderr, "the command failed on 1 of "+strconv.Itoa(len(rep.Instances))+" instances: "+west+" (Failed, exit 1)") {
		t.Errorf("exec with a failing instance: exit %d, want %d\n%s", failed.code, cli.ExitFailed, failed.stderr)
	}
	fail, slow := strings.Index(failed.stdout, "eu-west-1 "+west+" (eu-west-1a): Failed, exit 1"), strings.Index(failed.stdout, "us-east-1 "+east+" (us-east-1a): Success, exit 0")
	if fail < 0 || slow < fail || !strings.Contains(failed.stdout, "  stderr: injected failure\n") {
		t.Errorf("exec with a failing instance and a slow one: want the failure (first to end) before the slow one, with its stderr:\n%s", failed.stdout)
	}
	if !strings.Contains(failed.stderr, "1 still running: "+east) {
		t.Errorf("no progress for the slow instance on stderr:\n%s", failed.stderr)
	}

	// Ctrl-C while the us-east-1 instance runs: the command is cancelled
	// where it still runs (us-east-1), the results so far printed, exit 130.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupt := startFaultyRunCommand(t, &faultyRunCommand{slow: east, slowLooks: 1000})
	interrupt.onSlow = func() {
		if interrupt.looks.Load() == 3 {
			cancel()
		}
	}
	var stdout, stderr bytes.Buffer
	code := cli.Run(ctx, []string{"exec", "--orbit", orbit, "--orbit-file", flags[5], "--app", "shop", "--poll-interval", "100ms",
		"--endpoint-url", interrupt.url, "--service", "web", "--", "sleep", "600"}, strings.NewReader(""), &stdout, &stderr)
	if code != cli.ExitInterrupted || interrupt.cancels.Load() != 1 || !strings.Contains(stdout.String(), east+" (us-east-1a): Cancelled, exit -1") ||
		!strings.Contains(stdout.String(), west+" (eu-west-1a): Success, exit 0") || !strings.Contains(stderr.String(), "interrupted; cancelled 1 commands") {
		t.Errorf("exec interrupted: exit %d (want %d), CancelCommand calls %d (want 1)\nstdout:\n%s\nstderr:\n%s", code, cli.ExitInterrupted, interrupt.cancels.Load(), stdout.String(), stderr.String())
	}

	// A service the release does not run is bad input, and sends nothing.
	if r := exec("--service", "api", "--", "uptime"); r.code != cli.ExitInvalid || !strings.Contains(r.stderr, "runs no such service (its services: ") {
		t.Errorf("exec --service api: exit %d\n%s", r.code, r.stderr)
	}

	backend, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{acct.Config("us-east-1")}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := backend.Store.AuditLog(context.Background(), started)
	if err != nil {
		t.Fatal(err)
	}
	var execs []domain.AuditEntry
	starts := 0
	for _, e := range entries {
		switch {
		case e.Action == domain.AuditExec && e.Outcome == "started":
			starts++
		case e.Action == domain.AuditExec:
			execs = append(execs, e)
		}
	}
	if len(execs) != 5 || starts != 5 {
		t.Fatalf("audit has %d exec outcomes and %d starts, want two per run (5 runs): %+v", len(execs), starts, execs)
	}
	if n := slices.IndexFunc(execs, func(e domain.AuditEntry) bool { return e.Outcome == "interrupted" }); n < 0 || !strings.Contains(execs[n].Detail, ": sleep 600") {
		t.Errorf("no audit entry of the interrupted run: %+v", execs)
	} else {
		execs = slices.Delete(execs, n, n+1)
	}
	if n := slices.IndexFunc(execs, func(e domain.AuditEntry) bool { return e.Outcome == "failed" }); n < 0 || !strings.Contains(execs[n].Detail, ", 1 failed: uptime") {
		t.Errorf("no audit entry of the failed run: %+v", execs)
	} else {
		execs = slices.Delete(execs, n, n+1)
	}
	for _, e := range execs {
		if e.App != "shop" || e.Orbit != orbit || e.ReleaseID != rep.Release || e.Outcome != "succeeded" || e.By == "" || !strings.Contains(e.Detail, ", 0 failed") {
			t.Errorf("audit entry %+v", e)
		}
	}
	if !slices.ContainsFunc(execs, func(e domain.AuditEntry) bool {
		return strings.HasSuffix(e.Detail, "AWS-RunShellScript on "+strconv.Itoa(len(rep.Instances))+" instances, 0 failed: uptime")
	}) ||
		!slices.ContainsFunc(execs, func(e domain.AuditEntry) bool {
			return strings.Contains(e.Detail, "service worker: AWS-RunShellScript on 1 instances")
		}) {
		t.Errorf("audit details: %+v", execs)
	}
}

// TestExecBadInputIsRefusedBeforeAnyCall runs exec with bad flags against
// an endpoint that counts the requests it gets: each is exit 2 with a
// clear message, and none reaches AWS.
func TestExecBadInputIsRefusedBeforeAnyCall(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); w.WriteHeader(500) }))
	defer srv.Close()
	file, name := manifest(t, "regions:\n  us-east-1: {}\n")
	base := []string{"exec", "--orbit", name, "--orbit-file", file, "--app", "shop", "--service", "web", "--endpoint-url", srv.URL}
	for _, tc := range []struct {
		name    string
		args    []string
		message string
	}{
		{"no command and no document", nil, "nothing to run: give a command after --"},
		{"both a command and a document", []string{"--document", "AWS-RunShellScript", "--", "uptime"}, "both say what to run; give one"},
		{"a parameter without =", []string{"--document", "AWS-RunPatchBaseline", "--parameters", "Operation"}, `--parameters "Operation": want NAME=VALUE`},
		{"parameters without a document", []string{"--parameters", "a=b", "--", "uptime"}, "--parameters are a document's"},
		{"zero instances", []string{"--instances", "0", "--", "uptime"}, `--instances "0": want all, or how many`},
		{"negative instances", []string{"--instances", "-1", "--", "uptime"}, `--instances "-1"`},
		{"garbage instances", []string{"--instances", "some", "--", "uptime"}, `--instances "some"`},
		{"a zero timeout", []string{"--timeout", "0s", "--", "uptime"}, "--timeout 0s: want 1s to 48h"},
		{"a timeout past Run Command's longest", []string{"--timeout", "49h", "--", "uptime"}, "--timeout 49h0m0s: want 1s to 48h"},
		{"a timeout that would overflow", []string{"--timeout", "2000000h", "--", "uptime"}, "want 1s to 48h"},
		{"a bad output cap", []string{"--max-output", "4k", "--", "uptime"}, `--max-output "4k": want a size in bytes`},
		{"a bad document name", []string{"--document", "a b"}, `--document "a b": want an SSM document's name`},
		{"a region outside the orbit", []string{"--region", "eu-west-1", "--", "uptime"}, "--region eu-west-1: orbit " + name + " is not in that region"},
		{"a command without --", []string{"uptime"}, "give the command to run after --"},
		{"a bad app name", []string{"--app", "Shop!", "--", "uptime"}, "--app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, srv.URL, "", append(slices.Clone(base), tc.args...)...)
			if r.code != cli.ExitInvalid || !strings.Contains(r.stderr, tc.message) {
				t.Errorf("exit %d, want %d with %q:\n%s", r.code, cli.ExitInvalid, tc.message, r.stderr)
			}
		})
	}
	noService := run(t, srv.URL, "", "exec", "--orbit", name, "--orbit-file", file, "--app", "shop", "--endpoint-url", srv.URL, "--", "uptime")
	if noService.code != cli.ExitInvalid || !strings.Contains(noService.stderr, "--service is required") {
		t.Errorf("no --service: exit %d\n%s", noService.code, noService.stderr)
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Run(context.Background(), []string{"exec", "--orbit", name, "--orbit-file", file, "--app", "shop", "--service", "web", "--local", "--", "uptime"}, strings.NewReader(""), &stdout, &stderr); code != cli.ExitInvalid || !strings.Contains(stderr.String(), "the local emulator does not have") {
		t.Errorf("--local: exit %d, want %d saying the emulator has no Run Command:\n%s", code, cli.ExitInvalid, stderr.String())
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("bad input made %d calls to AWS, want none", n)
	}
}

// faultyRunCommand is a fault-injecting proxy in front of moto 5.2.5,
// whose Run Command ends every invocation at once with Success and exit
// 0, and which answers DescribeInstanceInformation, ListCommandInvocations
// and CancelCommand with a 500. The proxy answers those itself: every
// instance asked about is an Online managed node; a command's invocations
// are moto's GetCommandInvocation for each instance the command was sent
// to (as the proxy saw it pass), as one step. It injects faults into
// both reads: instance fail Failed, exit 1, with a line on stderr;
// instance slow InProgress for its first slowLooks looks (calling onSlow
// at each). It counts CancelCommand calls, and passes everything else
// through.
type faultyRunCommand struct {
	url        string
	fail, slow string
	slowLooks  int32
	onSlow     func()
	looks      atomic.Int32
	cancels    atomic.Int32
	mu         sync.Mutex
	commands   map[string][]string // command id -> instances sent to
}

func startFaultyRunCommand(t *testing.T, f *faultyRunCommand) *faultyRunCommand {
	t.Helper()
	u, err := url.Parse(emulatortest.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	f.commands = map[string][]string{}
	rp := httputil.NewSingleHostReverseProxy(u)
	// call sends r to moto as op with body, and returns its answer.
	call := func(r *http.Request, op string, body []byte) (int, map[string]any) {
		req := r.Clone(r.Context())
		req.Header.Set("X-Amz-Target", "AmazonSSM."+op)
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, req)
		var out map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			return rec.Code, nil
		}
		return rec.Code, out
	}
	// inject changes an invocation of instance as the faults say.
	inject := func(instance string, out map[string]any) {
		switch {
		case instance == f.fail:
			out["Status"], out["StatusDetails"], out["ResponseCode"], out["StandardErrorContent"] = "Failed", "Failed", 1, "injected failure\n"
		case instance == f.slow && f.looks.Add(1) <= f.slowLooks:
			out["Status"], out["StatusDetails"] = "InProgress", "InProgress"
			if f.onSlow != nil {
				f.onSlow()
			}
		}
	}
	answer := func(w http.ResponseWriter, v any) {
		b, _ := json.Marshal(v)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(b)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var in struct {
			InstanceId, CommandId string
			InstanceIds           []string
			Filters               []struct {
				Key    string
				Values []string
			}
		}
		_ = json.Unmarshal(body, &in)
		switch {
		case strings.HasSuffix(target, ".CancelCommand"):
			f.cancels.Add(1)
			answer(w, map[string]any{})
		case strings.HasSuffix(target, ".DescribeInstanceInformation"):
			var list []map[string]any
			for _, fl := range in.Filters {
				for _, id := range fl.Values {
					list = append(list, map[string]any{"InstanceId": id, "PingStatus": "Online"})
				}
			}
			answer(w, map[string]any{"InstanceInformationList": list})
		case strings.HasSuffix(target, ".SendCommand"):
			code, out := call(r, "SendCommand", body)
			if out == nil {
				w.WriteHeader(code)
				return
			}
			if c, ok := out["Command"].(map[string]any); ok {
				f.mu.Lock()
				f.commands[c["CommandId"].(string)] = in.InstanceIds
				f.mu.Unlock()
			}
			answer(w, out)
		case strings.HasSuffix(target, ".ListCommandInvocations"):
			f.mu.Lock()
			instances := f.commands[in.CommandId]
			f.mu.Unlock()
			var list []map[string]any
			for _, id := range instances {
				b, _ := json.Marshal(map[string]string{"CommandId": in.CommandId, "InstanceId": id})
				code, out := call(r, "GetCommandInvocation", b)
				if out == nil {
					w.WriteHeader(code)
					return
				}
				inject(id, out)
				list = append(list, map[string]any{"CommandId": in.CommandId, "InstanceId": id, "Status": out["Status"], "StatusDetails": out["StatusDetails"],
					"CommandPlugins": []map[string]any{{"Name": out["PluginName"], "Status": out["Status"], "ResponseCode": out["ResponseCode"],
						"Output": fmt.Sprint(out["StandardOutputContent"], out["StandardErrorContent"])}}})
			}
			answer(w, map[string]any{"CommandInvocations": list})
		case strings.HasSuffix(target, ".GetCommandInvocation"):
			code, out := call(r, "GetCommandInvocation", body)
			if out == nil {
				w.WriteHeader(code)
				return
			}
			if in.InstanceId == f.fail {
				inject(in.InstanceId, out) // the step's full output; the slow one was counted in the list
			}
			answer(w, out)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}
