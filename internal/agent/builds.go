package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sort"

	elevator "github.com/elevatorhq/elevator"
)

// BuildsDirEnv names the variable that points at the directory holding the
// agent's builds, elevator-agent-linux-<goarch> (scripts/setup builds them
// into bin/agent). When it is not set, the directory is agent/ beside the
// running elevator executable.
const BuildsDirEnv = "ELEVATOR_AGENT_DIR"

// BuildName is the file name of the agent's build for goarch.
func BuildName(goarch string) string { return "elevator-agent-linux-" + goarch }

// BuildsDir returns where the agent's builds are: $ELEVATOR_AGENT_DIR, or
// agent/ beside the running executable. It returns an EINTERNAL error when
// it cannot tell where the executable is.
func BuildsDir() (string, error) {
	if dir := os.Getenv(BuildsDirEnv); dir != "" {
		return dir, nil
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "find the agent's builds: cannot tell where elevator runs from: %w; set %s", err, BuildsDirEnv)
	}
	return filepath.Join(filepath.Dir(exe), "agent"), nil
}

// machines are the ELF machines of the agent's Go architectures.
var machines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// Builds reads the agent's build for every architecture of
// elevator.AgentArches from dir and returns, by Go architecture, its
// SHA-256 and its key in the state bucket (elevator.AgentObjectKey). It
// returns an ENOTFOUND error saying to run scripts/setup when a build is
// missing, and EINVALID when a file is not a Linux executable for its
// architecture.
func Builds(dir string) (map[string]elevator.AgentBuild, error) {
	builds := map[string]elevator.AgentBuild{}
	for _, goarch := range goarches() {
		_, sum, err := readBuild(dir, goarch)
		if err != nil {
			return nil, err
		}
		builds[goarch] = elevator.AgentBuild{Key: elevator.AgentObjectKey(sum, goarch), SHA256: sum}
	}
	return builds, nil
}

func goarches() []string {
	var out []string
	for _, g := range elevator.AgentArches {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// readBuild reads and checks one build, and returns it with its hex SHA-256.
func readBuild(dir, goarch string) ([]byte, string, error) {
	path := filepath.Join(dir, BuildName(goarch))
	bin, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", elevator.Errorf(elevator.ENOTFOUND, "the Elevator agent is not built: no %s; run scripts/setup (or set %s to the directory holding %s)", path, BuildsDirEnv, BuildName(goarch))
	}
	if err != nil {
		return nil, "", elevator.Errorf(elevator.EINTERNAL, "read the agent: %w", err)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil || f.Machine != machines[goarch] || f.Type != elf.ET_EXEC {
		return nil, "", elevator.Errorf(elevator.EINVALID, "%s is not a static linux/%s executable; rebuild it with scripts/setup", path, goarch)
	}
	sum := sha256.Sum256(bin)
	return bin, hex.EncodeToString(sum[:]), nil
}

// Objects is what Publish needs of S3 (internal/aws/s3's Client has it).
type Objects interface {
	// Exists reports whether an object is stored under key (HeadObject).
	Exists(ctx context.Context, bucket, key string) (bool, error)
	// Put writes an object (PutObject) and returns its ETag.
	Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error)
}

// Publish makes sure every build of the agent in dir (see Builds) is in
// bucket, an orbit's state bucket in one region, under its key: it asks
// S3 for each key (HeadObject) and uploads only the missing ones. A key
// names its content (the SHA-256), so an object there is never replaced.
// `orbit up` and `deploy` call it for each region before user data names
// the builds. It returns Builds' errors and the errors of objects.
func Publish(ctx context.Context, objects Objects, bucket, dir string) error {
	for _, goarch := range goarches() {
		bin, sum, err := readBuild(dir, goarch)
		if err != nil {
			return err
		}
		key := elevator.AgentObjectKey(sum, goarch)
		ok, err := objects.Exists(ctx, bucket, key)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if _, err := objects.Put(ctx, bucket, key, "application/octet-stream", bin); err != nil {
			return err
		}
	}
	return nil
}
