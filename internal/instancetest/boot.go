package instancetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Seed is what an instance boots with: its user data and meta-data, as
// EC2 would hand them over (cloud-init's NoCloud seed), and files the
// test puts in place of what EC2 itself provides (such as
// elevator.AgentAWSEnvPath, pointing the instance at moto and FakeIMDS).
type Seed struct {
	InstanceID string
	UserData   string
	// Files maps a path inside the instance to its content; each is
	// bind-mounted read-only.
	Files map[string]string
}

// Instance is a booted test instance.
type Instance struct {
	Name    string
	console *lockedBuffer
	cmd     *exec.Cmd
	done    chan struct{}
}

// Boot boots root with seed under systemd-nspawn and returns once the
// container's init runs. The instance is powered off, and killed by its
// PID if it does not stop, when the test ends; its console is logged if
// the test failed.
func Boot(t testing.TB, root string, seed Seed) *Instance {
	t.Helper()
	dir := t.TempDir()
	nocloud := filepath.Join(dir, "nocloud")
	if err := os.Mkdir(nocloud, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := fmt.Sprintf("instance-id: %s\nlocal-hostname: %s\n", seed.InstanceID, seed.InstanceID)
	for name, content := range map[string]string{"meta-data": meta, "user-data": seed.UserData} {
		if err := os.WriteFile(filepath.Join(nocloud, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	name := "elevator-" + seed.InstanceID
	args := []string{"-D", root, "--volatile=overlay", "--boot", "--register=no", "--keep-unit",
		"--machine=" + name, "--bind-ro=" + nocloud + ":/var/lib/cloud/seed/nocloud"}
	i := 0
	for path, content := range seed.Files {
		host := filepath.Join(dir, "file-"+strconv.Itoa(i))
		i++
		if err := os.WriteFile(host, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--bind-ro="+host+":"+path)
	}
	inst := &Instance{Name: name, console: &lockedBuffer{}, done: make(chan struct{})}
	inst.cmd = exec.Command("systemd-nspawn", args...)
	inst.cmd.Stdout, inst.cmd.Stderr = inst.console, inst.console
	inst.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := inst.cmd.Start(); err != nil {
		t.Fatalf("systemd-nspawn: %v", err)
	}
	go func() { inst.cmd.Wait(); close(inst.done) }()
	t.Cleanup(func() {
		inst.stop()
		if t.Failed() {
			t.Logf("console of %s:\n%s", name, tail([]byte(inst.Console()), 20000))
		}
	})
	if err := inst.waitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	return inst
}

// stop asks the container to power off (SIGTERM to systemd-nspawn makes
// it shut the container down), then kills its process group.
func (i *Instance) stop() {
	i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-time.After(15 * time.Second):
		syscall.Kill(-i.cmd.Process.Pid, syscall.SIGKILL)
		<-i.done
	}
}

// Console returns what the instance printed on its console so far.
func (i *Instance) Console() string { return i.console.String() }

// Leader returns the PID, in the host's view, of the container's init.
func (i *Instance) Leader() (int, error) {
	return findInit(i.cmd.Process.Pid, 3)
}

func (i *Instance) waitLeader(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := i.Leader(); err == nil {
			return nil
		}
		select {
		case <-i.done:
			return fmt.Errorf("systemd-nspawn exited before booting:\n%s", i.Console())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no init in %s after %s:\n%s", i.Name, timeout, i.Console())
		}
	}
}

// findInit finds the descendant of pid, at most depth levels down, that
// runs systemd.
func findInit(pid, depth int) (int, error) {
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, f := range strings.Fields(string(children)) {
		c, _ := strconv.Atoi(f)
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
		if strings.TrimSpace(string(comm)) == "systemd" {
			return c, nil
		}
		if depth > 1 {
			if p, err := findInit(c, depth-1); err == nil {
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("no systemd under process %d", pid)
}

// Path returns the host's path to a file inside the running instance.
func (i *Instance) Path(path string) (string, error) {
	leader, err := i.Leader()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/proc/%d/root%s", leader, path), nil
}

// ReadFile reads a file inside the running instance.
func (i *Instance) ReadFile(path string) ([]byte, error) {
	p, err := i.Path(path)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// Exec runs a command inside the instance (its mount, UTS, IPC and PID
// namespaces; the network is the host's anyway) with a clean environment,
// as sshd would start it, and returns its output.
func (i *Instance) Exec(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	leader, err := i.Leader()
	if err != nil {
		return "", "", err
	}
	nsargs := append([]string{"--target", strconv.Itoa(leader), "--mount", "--uts", "--ipc", "--pid", "--"}, args...)
	cmd := exec.CommandContext(ctx, "nsenter", nsargs...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Processes returns the host PIDs of the processes inside the instance
// whose command line contains marker.
func (i *Instance) Processes(marker string) []int {
	leader, err := i.Leader()
	if err != nil {
		return nil
	}
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", leader))
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if other, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); other != ns {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Environ returns the environment of a process, by its host PID.
func Environ(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// Wait calls check every half second until it returns nil, the instance
// stops, or timeout passes; it returns check's last error then.
func (i *Instance) Wait(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-i.done:
			return fmt.Errorf("the instance stopped: %w", err)
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
