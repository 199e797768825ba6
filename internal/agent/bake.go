package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/image/bakebundle"
)

// NoScriptExitCode is the exit code of a BakeResult that failed before a
// script ran (no bundle, a bad bundle, a file that could not be placed),
// or whose script could not be started or was killed by a signal.
const NoScriptExitCode = -1

// BakeDir is where the builder extracts its bundle, in a root-only
// directory of its own that it removes when the scripts are done, so
// that the image keeps none of it.
const BakeDir = elevator.AgentStateDir + "/bake"

// Bake runs a bake on its builder, as `elevator-agent boot` does in bake
// mode: it downloads the bake's bundle (elevator.BakeBundleKey of
// cfg.BakeID) from the orbit's state bucket in the builder's region,
// extracts it into a root-only directory, copies each file of its plan to
// its destination (parent directories made, mode and owner set), then
// runs each script in order, as root, from the bundle's directory, with
// ELEVATOR_BAKE_ID, ELEVATOR_ORBIT and ELEVATOR_REGION in its
// environment (and HOME=/root when the agent has no HOME); the scripts' output goes to the agent's stderr (the
// console). The first script that fails stops the bake. It then uploads
// the elevator.BakeResult (elevator.BakeResultKey): OK, or the failed
// script's bundle name (scripts/<i>/<name>: the manifest's scripts[i]),
// its exit code and the last elevator.MaxBakeOutput bytes of its output.
// Anything that fails before the scripts (no bundle, a bad bundle, a file
// that cannot be placed) uploads a failed result that says what, with
// NoScriptExitCode.
//
// It starts no service and installs no unit: the builder becomes an
// image, not a host. It returns an EAWS error when the result cannot be
// uploaded, and an EFAILED error saying why when the bake failed (the
// result, uploaded, says the same).
func (a *Agent) Bake(ctx context.Context, cfg *elevator.AgentConfig, cl *Clients) error {
	if cl.AccountID == nil || cl.Objects == nil {
		return elevator.Errorf(elevator.EINTERNAL, "bake %s: the agent has no S3 client or no way to learn its account", cfg.BakeID)
	}
	account, err := a.accountID(ctx, cl)
	if err != nil {
		return err
	}
	bucket := elevator.StateBucketName(account, cfg.Region, cfg.Orbit)
	a.Log.Info("baking", "bake", cfg.BakeID, "orbit", cfg.Orbit, "bucket", bucket)
	a.scheduleShutdown(ctx, cfg)
	res := a.runBake(ctx, cfg, cl, bucket)
	res.At = a.now().UTC()
	body, err := json.Marshal(res)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode the bake's result: %w", err)
	}
	key := elevator.BakeResultKey(cfg.BakeID)
	if err := a.putResult(ctx, cl.Objects, bucket, key, body); err != nil {
		return err
	}
	a.Log.Info("uploaded the bake's result", "bake", cfg.BakeID, "ok", res.OK, "script", res.Script, "exit_code", res.ExitCode, "key", key)
	if !res.OK {
		if res.Script != "" {
			return elevator.Errorf(elevator.EFAILED, "bake %s: script %s failed with exit code %d", cfg.BakeID, res.Script, res.ExitCode)
		}
		return elevator.Errorf(elevator.EFAILED, "bake %s: %s", cfg.BakeID, res.Output)
	}
	return nil
}

// scheduleShutdown schedules the builder's shutdown cfg.BakeShutdownMinutes
// from now, when that is not 0: should the bake that launched the builder
// die and never be resumed, the builder stops rather than runs on. The
// bake stops it itself to image it long before, and the schedule lives in
// /run, which no image keeps. A failure to schedule is logged: the bake
// goes on.
func (a *Agent) scheduleShutdown(ctx context.Context, cfg *elevator.AgentConfig) {
	if cfg.BakeShutdownMinutes <= 0 {
		return
	}
	c := Command{Name: "shutdown", Args: []string{"-h", "+" + strconv.Itoa(cfg.BakeShutdownMinutes), "elevator: bake " + cfg.BakeID + " ran past its timeout"}}
	if err := a.Runner.Run(ctx, c); err != nil {
		a.Log.Warn("could not schedule the builder's shutdown", "bake", cfg.BakeID, "command", c.String(), "error", err.Error())
		return
	}
	a.Log.Info("scheduled the builder's shutdown", "bake", cfg.BakeID, "minutes", cfg.BakeShutdownMinutes)
}

func (a *Agent) accountID(ctx context.Context, cl *Clients) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	id, err := cl.AccountID(ctx)
	if err != nil || id == "" {
		return "", elevator.Errorf(elevator.EAWS, "read the account from the instance's identity document: %v", err)
	}
	return id, nil
}

// bakeUploadTries is how many times a builder tries to upload its result
// before it gives up: without it, the bake waits until its timeout.
const bakeUploadTries = 5

// putResult uploads the result, trying again after a transient failure.
func (a *Agent) putResult(ctx context.Context, objects Objects, bucket, key string, body []byte) error {
	var err error
	for try := 1; try <= bakeUploadTries; try++ {
		if _, err = objects.Put(ctx, bucket, key, "application/json", body); err == nil {
			return nil
		}
		a.Log.Warn("could not upload the bake's result", "try", try, "error", err.Error())
		if try < bakeUploadTries {
			select {
			case <-ctx.Done():
				return elevator.Errorf(elevator.EINTERRUPTED, "upload s3://%s/%s: %w", bucket, key, ctx.Err())
			case <-time.After(time.Duration(try) * a.bakeRetry()):
			}
		}
	}
	return elevator.Errorf(elevator.EAWS, "upload the bake's result to s3://%s/%s: %w", bucket, key, err)
}

func (a *Agent) bakeRetry() time.Duration {
	if a.BakeRetry > 0 {
		return a.BakeRetry
	}
	return 2 * time.Second
}

// failed is the result of a bake that failed before any script ran.
func failed(format string, args ...any) elevator.BakeResult {
	return elevator.BakeResult{ExitCode: NoScriptExitCode, Output: tailString(fmt.Sprintf(format, args...), elevator.MaxBakeOutput)}
}

// runBake does the bake's work and says how it went.
func (a *Agent) runBake(ctx context.Context, cfg *elevator.AgentConfig, cl *Clients, bucket string) elevator.BakeResult {
	key := elevator.BakeBundleKey(cfg.BakeID)
	bundle, _, err := cl.Objects.Get(ctx, bucket, key)
	if err != nil {
		return failed("download the bundle s3://%s/%s: %v", bucket, key, err)
	}
	base := a.Paths.Path(BakeDir)
	if err := os.MkdirAll(base, 0o700); err != nil {
		return failed("make %s: %v", base, err)
	}
	defer os.Remove(base) // after the bundle's directory, below
	dir, err := os.MkdirTemp(base, cfg.BakeID+"-")
	if err != nil {
		return failed("make a directory for the bundle: %v", err)
	}
	defer os.RemoveAll(dir)
	plan, err := bakebundle.Extract(bytes.NewReader(bundle), dir)
	if err != nil {
		return failed("extract the bundle s3://%s/%s: %v", bucket, key, err)
	}
	a.Log.Info("extracted the bundle", "files", len(plan.Files), "scripts", len(plan.Scripts), "dir", dir)
	for _, f := range plan.Files {
		if err := a.placeFile(dir, f); err != nil {
			return failed("file %s to %s: %v", f.Name, f.Dest, err)
		}
		a.Log.Info("placed file", "dest", f.Dest, "mode", fmt.Sprintf("%04o", f.Mode), "owner", f.Owner)
	}
	env := append(os.Environ(), "ELEVATOR_BAKE_ID="+cfg.BakeID, "ELEVATOR_ORBIT="+cfg.Orbit, "ELEVATOR_REGION="+cfg.Region)
	if os.Getenv("HOME") == "" {
		// cloud-init runs user data as a system service, with no HOME;
		// git, pip and many installers want one.
		env = append(env, "HOME=/root")
	}
	for _, s := range plan.Scripts {
		code, output, err := a.runScript(ctx, dir, s, env)
		if err == nil {
			a.Log.Info("script succeeded", "script", s)
			continue
		}
		a.Log.Error("script failed", "script", s, "exit_code", code, "error", err.Error())
		return elevator.BakeResult{Script: s, ExitCode: code, Output: output}
	}
	return elevator.BakeResult{OK: true}
}

// runScript runs the bundle's script s, whose output goes to the agent's
// stderr and, its last elevator.MaxBakeOutput bytes, to output. err is
// nil when it exits 0.
func (a *Agent) runScript(ctx context.Context, dir, s string, env []string) (code int, output string, err error) {
	path := filepath.Join(dir, filepath.FromSlash(s))
	if err := os.Chmod(path, 0o700); err != nil {
		return NoScriptExitCode, err.Error(), err
	}
	fmt.Fprintf(a.Stderr, "elevator-agent: bake: running %s\n", s)
	tail := &tailBuffer{max: elevator.MaxBakeOutput}
	cmd := exec.CommandContext(ctx, path)
	cmd.Dir, cmd.Env = dir, env
	w := io.MultiWriter(tail, a.Stderr)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, tail.String(), nil
	case errors.As(err, &exit) && exit.ExitCode() >= 0:
		fmt.Fprintf(a.Stderr, "elevator-agent: bake: %s exited %d\n", s, exit.ExitCode())
		return exit.ExitCode(), tail.String(), err
	default:
		// Killed by a signal, or never started (no #! line, say).
		msg := fmt.Sprintf("elevator-agent: bake: %s: %v", s, err)
		if errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "exec format error") {
			msg += " (a script starts with a #! line naming its interpreter)"
		}
		fmt.Fprintln(a.Stderr, msg)
		tail.Write([]byte(msg + "\n"))
		return NoScriptExitCode, tail.String(), err
	}
}

// placeFile copies the bundle's file f to its destination under the
// agent's root, with its mode and owner; its parent directories are made
// (0755, root's) when missing.
func (a *Agent) placeFile(dir string, f elevator.BakePlanFile) error {
	uid, gid, err := a.lookupOwner(f.Owner)
	if err != nil {
		return err
	}
	dest := a.Paths.Path(f.Dest)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Name)))
	if err != nil {
		return err
	}
	// Written root-only first, then given away, then opened up: the file
	// is never readable by others with content it should not show them.
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".*")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Chown(uid, gid); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(os.FileMode(f.Mode) & os.ModePerm); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// lookupOwner turns user[:group] into ids, by name (or number) from the
// builder's /etc/passwd and /etc/group; "" is root:root, and a user
// alone is the user and its primary group.
func (a *Agent) lookupOwner(owner string) (uid, gid int, err error) {
	if owner == "" {
		return 0, 0, nil
	}
	user, group, hasGroup := strings.Cut(owner, ":")
	uid, gid, err = a.lookupID("/etc/passwd", user)
	if err != nil {
		return 0, 0, err
	}
	if hasGroup {
		if gid, _, err = a.lookupID("/etc/group", group); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

// lookupID finds name (or a number) in an /etc/passwd or /etc/group file
// and returns its id and, for passwd, its primary group.
func (a *Agent) lookupID(file, name string) (id, primary int, err error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, n, nil
	}
	kind := "user"
	if file == "/etc/group" {
		kind = "group"
	}
	f, err := os.Open(a.Paths.Path(file))
	if err != nil {
		return 0, 0, fmt.Errorf("look up %s %s: %w", kind, name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 || fields[0] != name {
			continue
		}
		id, err1 := strconv.Atoi(fields[2])
		primary, err2 := strconv.Atoi(fields[3])
		if err1 != nil || (kind == "user" && err2 != nil) {
			return 0, 0, fmt.Errorf("%s %s: a bad line in %s", kind, name, file)
		}
		return id, primary, nil
	}
	return 0, 0, fmt.Errorf("no %s %s on the builder (%s); a script cannot make it first: files are copied before scripts run", kind, name, file)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// tailString is the last max bytes of s.
func tailString(s string, max int) string {
	if len(s) > max {
		return s[len(s)-max:]
	}
	return s
}
