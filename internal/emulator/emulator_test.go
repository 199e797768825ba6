package emulator

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// motoPath returns the moto_server the tests run. A missing emulator is a
// failure, never a skip.
func motoPath(t *testing.T) string {
	t.Helper()
	p, err := FindMotoServer()
	if err != nil {
		t.Fatalf("these tests need moto: %v", err)
	}
	return p
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startMoto(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Path = motoPath(t)
	s, err := Start(testContext(t), opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := elevator.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestFindMotoServer(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	inRepo := writeScript(t, repo, ".venv/bin/moto_server", "exit 0")
	besideExe := writeScript(t, root, "install/.venv/bin/moto_server", "exit 0")
	onPath := writeScript(t, root, "path/moto_server", "exit 0")
	deep := filepath.Join(repo, "internal", "emulator")
	nowhere := filepath.Join(root, "nowhere")
	for _, d := range []string{deep, nowhere} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name, env, wd, exe, path string
		want                     string // "" = ENOTFOUND
	}{
		{name: "the environment variable wins", env: onPath, wd: deep, want: onPath},
		{name: "a .venv in an ancestor of the working directory is found", wd: deep, exe: "/nonexistent/bin/elevator", want: inRepo},
		{name: "a .venv beside the executable's directory is found", wd: nowhere, exe: filepath.Join(root, "install", "bin", "elevator"), want: besideExe},
		{name: "PATH is the last resort", wd: nowhere, path: filepath.Dir(onPath), want: onPath},
		{name: "nothing found says to run scripts/setup", wd: nowhere, path: nowhere},
		{name: "a bad environment variable is not ignored", env: filepath.Join(nowhere, "moto_server"), wd: deep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			got, err := findMotoServer(tt.env, tt.wd, tt.exe)
			if tt.want == "" {
				wantCode(t, err, elevator.ENOTFOUND)
				if !strings.Contains(err.Error(), "scripts/setup") {
					t.Errorf("error %q does not mention scripts/setup", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestStartAnswersResetsAndStops(t *testing.T) {
	t.Parallel()
	s := startMoto(t, Options{})
	ctx := testContext(t)

	if u, err := url.Parse(s.Endpoint); err != nil || u.Port() != strconv.Itoa(s.Port) {
		t.Fatalf("endpoint %q does not use port %d", s.Endpoint, s.Port)
	}
	if !answers(ctx, s.Endpoint) {
		t.Fatal("a started server does not answer")
	}
	if err := Reset(ctx, s.Endpoint); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if alive(s.PID) || answers(ctx, s.Endpoint) {
		t.Fatal("a stopped server is still there")
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("a second Stop: %v", err)
	}
	wantCode(t, Reset(ctx, s.Endpoint), elevator.EAWS)
}

func TestDetachedServerIsStoppedByItsState(t *testing.T) {
	t.Parallel()
	logFile := filepath.Join(t.TempDir(), "logs", "moto.log")
	s := startMoto(t, Options{Detach: true, LogFile: logFile})
	ctx := testContext(t)

	if pgid, err := syscall.Getpgid(s.PID); err != nil || pgid != s.PID {
		t.Errorf("a detached server is in process group %d (%v), want its own (%d)", pgid, err, s.PID)
	}
	st := s.State()
	if st.PID != s.PID || st.Endpoint != s.Endpoint || st.LogFile != logFile || st.StartedAt.IsZero() {
		t.Errorf("State() = %+v", st)
	}
	if !Running(ctx, st) {
		t.Fatal("Running is false for a started server")
	}
	if err := StopByState(ctx, st); err != nil {
		t.Fatalf("StopByState: %v", err)
	}
	if Running(ctx, st) {
		t.Fatal("Running is true after StopByState")
	}
	wantCode(t, StopByState(ctx, st), elevator.ENOTFOUND)
	if b, err := os.ReadFile(logFile); err != nil || len(b) == 0 {
		t.Errorf("log file: %d bytes, %v; want moto's output", len(b), err)
	}
}

func TestCheckTellsAPausedServerFromAStoppedOne(t *testing.T) {
	t.Parallel()
	s := startMoto(t, Options{Detach: true, LogFile: filepath.Join(t.TempDir(), "moto.log")})
	ctx := testContext(t)
	st := s.State()
	if err := Check(ctx, st); err != nil {
		t.Fatalf("Check of a running server: %v", err)
	}
	if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	err := Check(ctx, st)
	if err := syscall.Kill(s.PID, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	wantCode(t, err, elevator.EAWS)
	if err == nil || !strings.Contains(err.Error(), "does not answer at "+st.Endpoint) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", s.PID)) {
		t.Errorf("Check of a paused server: %v; want it to say it does not answer, where, and its pid", err)
	}
	if err := StopByState(ctx, st); err != nil {
		t.Fatalf("StopByState: %v", err)
	}
	wantCode(t, Check(ctx, st), elevator.ENOTFOUND)
}

func TestStopByStateLeavesOtherProgramsAlone(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	st := State{PID: cmd.Process.Pid, Endpoint: "http://127.0.0.1:1"}
	wantCode(t, StopByState(testContext(t), st), elevator.ENOTFOUND)
	if !alive(cmd.Process.Pid) {
		t.Fatal("StopByState killed a process that is not moto_server")
	}
	if Running(testContext(t), st) {
		t.Fatal("Running is true for a process that is not moto_server")
	}
}

func TestStartReportsWhyMotoExited(t *testing.T) {
	t.Parallel()
	script := writeScript(t, t.TempDir(), "moto_server", `echo "ModuleNotFoundError: No module named 'moto'" >&2; exit 3`)
	tests := []struct {
		name    string
		logFile string
	}{
		{name: "the tail comes from memory without a log file"},
		{name: "the tail comes from the log file", logFile: filepath.Join(t.TempDir(), "moto.log")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(testContext(t), Options{Path: script, LogFile: tt.logFile})
			wantCode(t, err, elevator.EINTERNAL)
			if !strings.Contains(err.Error(), "No module named 'moto'") {
				t.Errorf("error %q lacks the log tail", err)
			}
		})
	}
}

func TestStartWithMissingBinarySaysToRunSetup(t *testing.T) {
	t.Parallel()
	_, err := Start(testContext(t), Options{Path: filepath.Join(t.TempDir(), "moto_server")})
	wantCode(t, err, elevator.ENOTFOUND)
	if !strings.Contains(err.Error(), "scripts/setup") {
		t.Errorf("error %q does not mention scripts/setup", err)
	}
}

func TestStartRetriesWhenThePortIsTaken(t *testing.T) {
	t.Parallel()
	// Another program holds the port; it answers HTTP, but not as moto.
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	u, _ := url.Parse(other.URL)
	taken, _ := strconv.Atoi(u.Port())

	t.Run("a port Start picked is picked again", func(t *testing.T) {
		t.Parallel()
		picks := 0
		pick := func(host string) (int, error) {
			picks++
			if picks == 1 {
				return taken, nil
			}
			return freePort(host)
		}
		s, err := start(testContext(t), Options{Path: motoPath(t)}, pick)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		if picks != 2 || s.Port == taken {
			t.Errorf("picked %d times, port %d; want 2 picks and not port %d", picks, s.Port, taken)
		}
	})
	t.Run("a port the caller asked for is a conflict", func(t *testing.T) {
		t.Parallel()
		_, err := Start(testContext(t), Options{Path: motoPath(t), Port: taken})
		wantCode(t, err, elevator.ECONFLICT)
	})
}

func TestStatePathAndRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, stateDir, xdg, home, want string
	}{
		{name: "ELEVATOR_STATE_DIR wins", stateDir: "/s", xdg: "/x", home: "/h", want: "/s/local.json"},
		{name: "then XDG_STATE_HOME", xdg: "/x", home: "/h", want: "/x/elevator/local.json"},
		{name: "then the home directory", home: "/h", want: "/h/.local/state/elevator/local.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("ELEVATOR_STATE_DIR", tt.stateDir)
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			t.Setenv("HOME", tt.home)
			if got, err := StatePath(); err != nil || got != tt.want {
				t.Errorf("StatePath() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}

	t.Setenv("ELEVATOR_STATE_DIR", filepath.Join(dir, "state"))
	_, err := LoadState()
	wantCode(t, err, elevator.ENOTFOUND)
	if err := ClearState(); err != nil {
		t.Fatalf("ClearState with no state: %v", err)
	}
	want := State{Endpoint: "http://127.0.0.1:5000", PID: 42, Port: 5000, LogFile: "/tmp/moto.log", StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := SaveState(want); err != nil {
		t.Fatalf("SaveState: %v", err)
	}
	got, err := LoadState()
	if err != nil || got != want {
		t.Fatalf("LoadState() = %+v, %v; want %+v", got, err, want)
	}
	if lf, _ := DefaultLogFile(); lf != filepath.Join(dir, "state", "moto.log") {
		t.Errorf("DefaultLogFile() = %q", lf)
	}
	if err := ClearState(); err != nil {
		t.Fatalf("ClearState: %v", err)
	}
	_, err = LoadState()
	wantCode(t, err, elevator.ENOTFOUND)
}
