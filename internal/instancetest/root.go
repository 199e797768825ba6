// Package instancetest boots Elevator's instances for real, the way the
// instances issue asks: a Debian root made once with debootstrap and kept
// in a cache outside the repository, booted with systemd-nspawn and
// cloud-init's NoCloud seed. The container shares the host's network, so
// what runs inside reaches the test's moto server on 127.0.0.1; it stands
// in for an EC2 instance, with FakeIMDS standing in for the instance
// metadata service (moto serves none to a process outside it).
//
// Every boot is volatile (systemd-nspawn --volatile=overlay): the cached
// root is never written, and each instance starts from the same image.
package instancetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Suite is the Debian release the test root is made of.
const Suite = "bookworm"

// Packages are what the root holds beyond debootstrap's minbase: systemd
// to boot, cloud-init to read the seed, curl for the bootstrap script
// (Amazon Linux and Debian's cloud images have it), and OpenSSH's server,
// so the agent's sshd settings are read by a real sshd.
var Packages = []string{"systemd", "systemd-sysv", "dbus", "cloud-init", "python3-cffi-backend",
	"curl", "ca-certificates", "openssh-server"}

// Tools are the host's programs a boot needs, with the Debian package of
// each.
var Tools = map[string]string{
	"debootstrap":    "debootstrap",
	"systemd-nspawn": "systemd-container",
	"nsenter":        "util-linux",
}

// CacheEnv overrides where the root is kept (default ~/.cache/elevator).
const CacheEnv = "ELEVATOR_CACHE"

// Missing returns why this machine cannot boot a test instance: tools
// not installed or not running as root. Empty means it can.
func Missing() []string {
	var missing []string
	for tool, pkg := range Tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", tool, pkg))
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (debootstrap and systemd-nspawn need it)")
	}
	return missing
}

// Need skips the test when the machine cannot boot an instance, saying
// why, or fails it in CI (CI set), where a missing piece is a failure:
// scripts/test installs what is missing.
func Need(t testing.TB) {
	t.Helper()
	missing := Missing()
	if len(missing) == 0 {
		return
	}
	msg := "booting a test instance needs " + strings.Join(missing, ", ") + "; scripts/test installs them"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Root returns the Debian root to boot, building it on first use with
// debootstrap (about two minutes) into the cache. Concurrent callers wait
// for one build; a build that fails leaves nothing behind.
func Root(t testing.TB) string {
	t.Helper()
	Need(t)
	dir, err := root()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func root() (string, error) {
	cache := os.Getenv(CacheEnv)
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("instancetest: no cache directory: %w; set %s", err, CacheEnv)
		}
		cache = filepath.Join(home, ".cache", "elevator")
	}
	sum := sha256.Sum256([]byte(Suite + " " + strings.Join(Packages, ",") + " " + nocloudConfig))
	dir := filepath.Join(cache, "roots", Suite+"-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "etc", "cloud", "cloud.cfg.d", nocloudFile)); err == nil {
		return dir, nil
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	args := []string{"--variant=minbase", "--include=" + strings.Join(Packages, ","), Suite, tmp}
	cmd := exec.Command("debootstrap", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("instancetest: debootstrap %s: %v\n%s", strings.Join(args, " "), err, tail(out, 2000))
	}
	cfg := filepath.Join(tmp, "etc", "cloud", "cloud.cfg.d", nocloudFile)
	if err := os.WriteFile(cfg, []byte(nocloudConfig), 0o644); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	// Host keys are made at each boot (cloud-init's ssh module), not
	// shared by every instance booted from the cache.
	keys, _ := filepath.Glob(filepath.Join(tmp, "etc", "ssh", "ssh_host_*"))
	for _, k := range keys {
		os.Remove(k)
	}
	os.RemoveAll(filepath.Join(tmp, "var", "cache", "apt", "archives"))
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return dir, nil
}

// nocloudConfig makes cloud-init read only the NoCloud seed, as the
// issue's recipe says.
const (
	nocloudFile   = "90-elevator-nocloud.cfg"
	nocloudConfig = "datasource_list: [NoCloud, None]\n"
)

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
