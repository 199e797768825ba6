package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/image/bakebundle"
)

// fakeObjects is an in-memory state bucket: what Put stores, Get reads.
// putFailures makes that many Puts fail first, as S3 may.
type fakeObjects struct {
	mu          sync.Mutex
	objects     map[string][]byte // bucket/key -> body
	putFailures int
	puts        int
}

func (f *fakeObjects) Get(_ context.Context, bucket, key string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[bucket+"/"+key]
	if !ok {
		return nil, "", elevator.Errorf(elevator.ENOTFOUND, "get s3://%s/%s: %w", bucket, key, s3.ErrNotFound)
	}
	return b, `"etag"`, nil
}

func (f *fakeObjects) Put(_ context.Context, bucket, key, _ string, body []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if f.putFailures > 0 {
		f.putFailures--
		return "", elevator.Errorf(elevator.EAWS, "put s3://%s/%s: slow down", bucket, key)
	}
	f.objects[bucket+"/"+key] = bytes.Clone(body)
	return `"etag"`, nil
}

const (
	bakeAccount = "123456789012"
	bakeID      = "20261130-011500-ab12"
)

var bakeBucket = elevator.StateBucketName(bakeAccount, testRegion, "prod")

// bakeWorld is a builder under test: an agent rooted in a temporary
// directory with a passwd and group file, the state bucket faked, and
// the bake's configuration.
type bakeWorld struct {
	a       *Agent
	run     *fakeRunner
	objects *fakeObjects
	cfg     *elevator.AgentConfig
	stderr  *bytes.Buffer
	// appUID and appGID are the ids of user app and group web: 4321 and
	// 4322 when the test runs as root, else the test's own (only root
	// may give a file away).
	appUID, appGID int
}

func newBakeWorld(t *testing.T) *bakeWorld {
	t.Helper()
	w := &bakeWorld{objects: &fakeObjects{objects: map[string][]byte{}}, stderr: &bytes.Buffer{}}
	cl := &Clients{Objects: w.objects, AccountID: func(context.Context) (string, error) { return bakeAccount, nil }}
	w.a, w.run, _ = testAgent(t, cl)
	w.a.Stderr = w.stderr
	w.a.BakeRetry = time.Millisecond
	w.a.Now = func() time.Time { return time.Date(2026, 11, 30, 1, 20, 0, 0, time.FixedZone("CET", 3600)) }
	w.appUID, w.appGID = 4321, 4322
	if os.Geteuid() != 0 {
		w.appUID, w.appGID = os.Getuid(), os.Getgid()
	}
	writeFile(t, w.a, "/etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\napp:x:%d:%d::/home/app:/bin/sh\n", w.appUID, w.appUID))
	writeFile(t, w.a, "/etc/group", fmt.Sprintf("root:x:0:\nweb:x:%d:\n", w.appGID))
	w.cfg = &elevator.AgentConfig{Mode: elevator.AgentModeBake, Orbit: "prod", Region: testRegion, BakeID: bakeID,
		UsersTable: elevator.UsersTableName("prod"), ServicesTable: elevator.ServicesTableName("prod")}
	return w
}

// bundle writes an image manifest's files into a directory, bundles them
// as `image bake` does and puts the bundle where the builder reads it.
func (w *bakeWorld) bundle(t *testing.T, files map[string]string, m *elevator.ImageManifest) {
	t.Helper()
	m.Dir = t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(m.Dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := bakebundle.Write(&b, m); err != nil {
		t.Fatal(err)
	}
	w.objects.objects[bakeBucket+"/"+elevator.BakeBundleKey(bakeID)] = b.Bytes()
}

// result reads the result the builder uploaded.
func (w *bakeWorld) result(t *testing.T) elevator.BakeResult {
	t.Helper()
	body, ok := w.objects.objects[bakeBucket+"/"+elevator.BakeResultKey(bakeID)]
	if !ok {
		t.Fatalf("no result at s3://%s/%s; the bucket holds %d objects", bakeBucket, elevator.BakeResultKey(bakeID), len(w.objects.objects))
	}
	var res elevator.BakeResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("result %s: %v", body, err)
	}
	return res
}

func TestABakePlacesItsFilesRunsItsScriptsInOrderAndReportsSuccess(t *testing.T) {
	w := newBakeWorld(t)
	trace := filepath.Join(t.TempDir(), "trace")
	w.bundle(t, map[string]string{
		"app.conf": "listen 8080\n",
		"first.sh": "#!/bin/sh\nset -e\necho \"first $ELEVATOR_BAKE_ID $ELEVATOR_ORBIT $ELEVATOR_REGION\" >> " + trace + "\n" +
			"test -f plan.json && echo 'first ran from the bundle' >> " + trace + "\necho to the console\n",
		"second.py": "#!/usr/bin/env python3\nopen(" + strconv.Quote(trace) + ", 'a').write('second\\n')\n",
	}, &elevator.ImageManifest{
		Files: []elevator.ImageFile{{Source: "app.conf", Dest: "/opt/shop/etc/app.conf", Mode: 0o640, Owner: "app:web", Path: "files[0]"}},
		Scripts: []elevator.ImageScript{
			{Source: "first.sh", Path: "scripts[0]"},
			{Source: "second.py", Path: "scripts[1]"},
		},
	})

	if err := w.a.Boot(context.Background(), w.cfg, false); err != nil {
		t.Fatal(err)
	}

	res := w.result(t)
	want := elevator.BakeResult{OK: true, At: time.Date(2026, 11, 30, 0, 20, 0, 0, time.UTC)}
	if res != want {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	got, err := os.ReadFile(trace)
	if wantTrace := "first " + bakeID + " prod " + testRegion + "\nfirst ran from the bundle\nsecond\n"; err != nil || string(got) != wantTrace {
		t.Errorf("the scripts left %q (%v), want %q: both, in order, from the bundle's directory, with the bake's environment", got, err, wantTrace)
	}
	dest := w.a.Paths.Path("/opt/shop/etc/app.conf")
	content, err := os.ReadFile(dest)
	if err != nil || string(content) != "listen 8080\n" {
		t.Errorf("the file at its destination: %q, %v", content, err)
	}
	fi, err := os.Stat(dest)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o640 || int(st.Uid) != w.appUID || int(st.Gid) != w.appGID {
		t.Errorf("the file is %04o %d:%d, want 0640 %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, w.appUID, w.appGID)
	}
	if !strings.Contains(w.stderr.String(), "to the console") || !strings.Contains(w.stderr.String(), "running scripts/1/second.py") {
		t.Errorf("the scripts' output did not reach the console:\n%s", w.stderr.String())
	}
	if _, err := os.Stat(w.a.Paths.Path(BakeDir)); !os.IsNotExist(err) {
		t.Errorf("%s is left on the builder, and would be in the image: %v", BakeDir, err)
	}
	if got := w.run.lines(); len(got) != 0 {
		t.Errorf("a builder ran %q; it must start no unit and set up no SSH access", got)
	}
	if _, err := os.Stat(w.a.Paths.Path(systemdDir + "/" + bootUnit + ".service")); err == nil {
		t.Error("a builder installed the boot unit, which would run in every instance of its image")
	}
}

func TestAFailingScriptStopsTheBakeAndReportsItsOutput(t *testing.T) {
	w := newBakeWorld(t)
	trace := filepath.Join(t.TempDir(), "trace")
	w.bundle(t, map[string]string{
		"ok.sh":    "#!/bin/sh\necho ok >> " + trace + "\n",
		"fail.sh":  "#!/bin/sh\necho 'installing nginx'\necho 'E: Unable to locate package nginx' >&2\nexit 3\n",
		"after.sh": "#!/bin/sh\necho after >> " + trace + "\n",
	}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "ok.sh"}, {Source: "fail.sh"}, {Source: "after.sh"}}})

	err := w.a.Boot(context.Background(), w.cfg, false)
	if elevator.ErrorCode(err) != elevator.EFAILED || !strings.Contains(fmt.Sprint(err), "scripts/1/fail.sh failed with exit code 3") {
		t.Errorf("boot = %v, want the failed script and its exit code", err)
	}
	res := w.result(t)
	if res.OK || res.Script != "scripts/1/fail.sh" || res.ExitCode != 3 ||
		res.Output != "installing nginx\nE: Unable to locate package nginx\n" {
		t.Errorf("result = %+v; want scripts/1/fail.sh, exit code 3 and its output, both streams", res)
	}
	if got, _ := os.ReadFile(trace); string(got) != "ok\n" {
		t.Errorf("the scripts left %q, want only the first's: the one after the failure must not run", got)
	}
}

func TestABakeResultKeepsTheEndOfALongOutput(t *testing.T) {
	w := newBakeWorld(t)
	// 40,000 numbered lines, then the failure: more than MaxBakeOutput.
	w.bundle(t, map[string]string{
		"loud.sh": "#!/bin/sh\ni=0\nwhile [ $i -lt 40000 ]; do echo \"line $i\"; i=$((i+1)); done\necho 'the last words'\nexit 1\n",
	}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "loud.sh"}}})
	if err := w.a.Boot(context.Background(), w.cfg, false); err == nil {
		t.Fatal("a failed bake returned no error")
	}
	res := w.result(t)
	if len(res.Output) != elevator.MaxBakeOutput || !strings.HasSuffix(res.Output, "line 39999\nthe last words\n") {
		t.Errorf("output of %d bytes ending %q; want the last %d bytes", len(res.Output), res.Output[max(0, len(res.Output)-40):], elevator.MaxBakeOutput)
	}
	if strings.Contains(res.Output, "line 0\n") {
		t.Error("the output kept its beginning")
	}
}

func TestWhatFailsBeforeTheScriptsIsReported(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, w *bakeWorld)
		output string // in the result's output
	}{
		{"no bundle", func(t *testing.T, w *bakeWorld) {}, "download the bundle s3://" + bakeBucket + "/" + elevator.BakeBundleKey(bakeID)},
		{"a bundle that is not a gzipped tar", func(t *testing.T, w *bakeWorld) {
			w.objects.objects[bakeBucket+"/"+elevator.BakeBundleKey(bakeID)] = []byte("<html>not a bundle</html>")
		}, "extract the bundle"},
		{"a file for a user the builder does not have", func(t *testing.T, w *bakeWorld) {
			w.bundle(t, map[string]string{"a": "x", "s.sh": "#!/bin/sh\ntouch /nonexistent/ran\n"}, &elevator.ImageManifest{
				Files:   []elevator.ImageFile{{Source: "a", Dest: "/etc/a", Mode: 0o644, Owner: "deploy"}},
				Scripts: []elevator.ImageScript{{Source: "s.sh"}}})
		}, "file files/0 to /etc/a: no user deploy on the builder"},
		{"a file for a group the builder does not have", func(t *testing.T, w *bakeWorld) {
			w.bundle(t, map[string]string{"a": "x"}, &elevator.ImageManifest{
				Files: []elevator.ImageFile{{Source: "a", Dest: "/etc/a", Mode: 0o644, Owner: "app:wheel"}}})
		}, "no group wheel on the builder"},
		{"a script with no #! line", func(t *testing.T, w *bakeWorld) {
			w.bundle(t, map[string]string{"plain": "\x7fELF not really"}, &elevator.ImageManifest{
				Scripts: []elevator.ImageScript{{Source: "plain"}}})
		}, "a script starts with a #! line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newBakeWorld(t)
			tt.setup(t, w)
			if err := w.a.Boot(context.Background(), w.cfg, false); elevator.ErrorCode(err) != elevator.EFAILED {
				t.Errorf("boot = %v, want a failed error", err)
			}
			res := w.result(t)
			if res.OK || res.ExitCode != NoScriptExitCode || !strings.Contains(res.Output, tt.output) {
				t.Errorf("result = %+v, want a failure with exit code %d saying %q", res, NoScriptExitCode, tt.output)
			}
		})
	}
}

func TestTheResultIsUploadedAgainAfterAFailedTry(t *testing.T) {
	w := newBakeWorld(t)
	w.bundle(t, map[string]string{"s.sh": "#!/bin/sh\ntrue\n"}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "s.sh"}}})
	w.objects.putFailures = 2
	if err := w.a.Boot(context.Background(), w.cfg, false); err != nil {
		t.Fatal(err)
	}
	if res := w.result(t); !res.OK || w.objects.puts != 3 {
		t.Errorf("result %+v after %d puts, want OK after 3", res, w.objects.puts)
	}

	w = newBakeWorld(t)
	w.bundle(t, map[string]string{"s.sh": "#!/bin/sh\ntrue\n"}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "s.sh"}}})
	w.objects.putFailures = 100
	err := w.a.Boot(context.Background(), w.cfg, false)
	if elevator.ErrorCode(err) != elevator.EAWS || w.objects.puts != bakeUploadTries {
		t.Errorf("boot = %v after %d puts, want an AWS error after %d", err, w.objects.puts, bakeUploadTries)
	}
}

func TestABakeNeedsItsAccountToFindTheBucket(t *testing.T) {
	w := newBakeWorld(t)
	cl := &Clients{Objects: w.objects, AccountID: func(context.Context) (string, error) { return "", errors.New("no metadata service") }}
	if err := w.a.Bake(context.Background(), w.cfg, cl); elevator.ErrorCode(err) != elevator.EAWS || !strings.Contains(err.Error(), "identity document") {
		t.Errorf("bake = %v, want an AWS error about the identity document", err)
	}
}

func TestABakeConfigurationNeedsItsBakeID(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.json")
	for _, tt := range []struct {
		json, wantErr string
	}{
		{`{"mode":"bake","orbit":"prod","region":"eu-west-1","bake_id":"b-1","users_table":"u","services_table":"s"}`, ""},
		{`{"mode":"bake","orbit":"prod","region":"eu-west-1","users_table":"u","services_table":"s"}`, "missing bake_id"},
	} {
		if err := os.WriteFile(path, []byte(tt.json), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path)
		switch {
		case tt.wantErr == "" && (err != nil || cfg.BakeID != "b-1"):
			t.Errorf("%s: %+v, %v", tt.json, cfg, err)
		case tt.wantErr != "" && !strings.Contains(fmt.Sprint(err), tt.wantErr):
			t.Errorf("%s: error %v, want %q", tt.json, err, tt.wantErr)
		}
	}
}

func TestAFileOwnerIsLookedUpOnTheBuilder(t *testing.T) {
	w := newBakeWorld(t)
	tests := []struct {
		owner    string
		uid, gid int
		wantErr  string
	}{
		{"", 0, 0, ""},
		{"root", 0, 0, ""},
		{"app", w.appUID, w.appUID, ""}, // a user alone: its primary group
		{"app:web", w.appUID, w.appGID, ""},
		{"app:root", w.appUID, 0, ""},
		{"1000:1001", 1000, 1001, ""},
		{"deploy", 0, 0, "no user deploy on the builder (/etc/passwd)"},
		{"app:wheel", 0, 0, "no group wheel on the builder (/etc/group)"},
	}
	for _, tt := range tests {
		uid, gid, err := w.a.lookupOwner(tt.owner)
		switch {
		case tt.wantErr != "" && !strings.Contains(fmt.Sprint(err), tt.wantErr):
			t.Errorf("owner %q: error %v, want %q", tt.owner, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || uid != tt.uid || gid != tt.gid):
			t.Errorf("owner %q = %d:%d, %v; want %d:%d", tt.owner, uid, gid, err, tt.uid, tt.gid)
		}
	}
}

func TestABuilderSchedulesItsShutdownAsABackstop(t *testing.T) {
	for _, tc := range []struct {
		minutes int
		fail    error
		want    string
	}{
		{45, nil, "shutdown -h +45"},
		{45, errors.New("no systemd"), "shutdown -h +45"}, // logged; the bake goes on
		{0, nil, ""},
	} {
		w := newBakeWorld(t)
		w.cfg.BakeShutdownMinutes = tc.minutes
		w.run.fail = map[string]error{"shutdown": tc.fail}
		w.bundle(t, map[string]string{"ok.sh": "#!/bin/sh\nexit 0\n"}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "ok.sh"}}})
		if err := w.a.Boot(context.Background(), w.cfg, false); err != nil {
			t.Fatalf("minutes %d, failure %v: %v", tc.minutes, tc.fail, err)
		}
		var got []string
		for _, c := range w.run.commands {
			if c.Name == "shutdown" {
				got = append(got, c.Name+" "+strings.Join(c.Args[:2], " "))
			}
		}
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
			t.Errorf("minutes %d: shutdown commands %v, want %q", tc.minutes, got, tc.want)
		}
		if !w.result(t).OK {
			t.Errorf("minutes %d, failure %v: the bake did not succeed", tc.minutes, tc.fail)
		}
	}
}
