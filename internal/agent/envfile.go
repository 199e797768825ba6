package agent

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// envName is a name an environment file can carry.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxEnvLine is the longest NAME=value line an environment file holds:
// docker's --env-file reader (a bufio.Scanner) fails on a line of 64 KiB.
const maxEnvLine = 64*1024 - 1

// checkEnv reports why NAME=value cannot be written to an environment
// file that both `docker run --env-file` and `elevator-agent exec` read
// back exactly. Its error names the variable, never the value.
func checkEnv(name, value string) error {
	switch {
	case !envName.MatchString(name):
		return elevator.Errorf(elevator.EINVALID, "environment variable %q: a name is letters, digits and _, not starting with a digit", name)
	case strings.ContainsAny(value, "\n\r"):
		return elevator.Errorf(elevator.EINVALID, "environment variable %s: its value has a line break, which an env file cannot carry", name)
	case strings.ContainsRune(value, 0):
		return elevator.Errorf(elevator.EINVALID, "environment variable %s: its value has a NUL byte, which no environment can carry", name)
	case !utf8.ValidString(value):
		return elevator.Errorf(elevator.EINVALID, "environment variable %s: its value is not UTF-8, which docker's env file reader refuses", name)
	case len(name)+1+len(value) > maxEnvLine:
		return elevator.Errorf(elevator.EINVALID, "environment variable %s: its value is longer than an env file line can be (64 KiB)", name)
	}
	return nil
}

// FormatEnv returns env as an environment file: one NAME=value line per
// variable, in name order, values as they are (no quoting: docker's
// --env-file takes the rest of the line literally). It returns an EINVALID
// error naming the first variable that cannot be written (see checkEnv);
// the error never holds a value.
func FormatEnv(env map[string]string) ([]byte, error) {
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		if err := checkEnv(n, env[n]); err != nil {
			return nil, err
		}
		b.WriteString(n + "=" + env[n] + "\n")
	}
	return b.Bytes(), nil
}

// ParseEnv reads an environment file as docker's --env-file does: blank
// lines and lines starting with # are skipped (after leading white
// space), every other line is NAME=value. It returns an EINVALID error,
// naming the line but not its value, for a line it cannot read.
func ParseEnv(data []byte) (map[string]string, error) {
	env := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimLeft(line, " \t\v\f\r")
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(name) {
			return nil, elevator.Errorf(elevator.EINVALID, "env file line %d: want NAME=value", n+1)
		}
		env[name] = value
	}
	return env, nil
}

// WriteEnvFile writes env to path atomically (a temporary file, then a
// rename): the directory is made 0700 and the file 0600, both owned by
// whoever runs the agent (root on an instance). It returns an EINVALID
// error, naming the variable and never its value, for a variable an
// environment file cannot carry; nothing is written then.
func WriteEnvFile(path string, env map[string]string) error {
	data, err := FormatEnv(env)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "make %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "make %s root only: %w", dir, err)
	}
	return writeAtomic(path, data, 0o600)
}

// writeAtomic writes data to path through a temporary file in the same
// directory, renamed over path once it is complete and synced.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "make %s: %w", filepath.Dir(path), err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return elevator.Errorf(elevator.EINTERNAL, "write %s: %w", path, err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return elevator.Errorf(elevator.EINTERNAL, "write %s: %w", path, err)
	}
	return nil
}

// envList is env as NAME=value strings for exec, added to base: a name in
// env replaces the same name in base.
func envList(base []string, env map[string]string) []string {
	out := make([]string, 0, len(base)+len(env))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := env[name]; !ok {
			out = append(out, kv)
		}
	}
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, fmt.Sprintf("%s=%s", n, env[n]))
	}
	return out
}
