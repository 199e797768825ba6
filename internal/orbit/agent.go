package orbit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	elevator "github.com/elevatorhq/elevator"
)

// The Elevator agent runs on every instance Elevator launches (see
// internal/agent): the user data fetches its build, named by its hash, from
// the orbit's state bucket. `orbit up` stores the builds in each region's
// bucket, and so does `deploy` before each release; a build that is there
// already is left alone, and none is ever overwritten, so an instance of an
// old release still finds the agent it was released with.

// AgentDirEnv names the variable that points at the directory holding the
// agent's builds, elevator-agent-linux-<goarch> for each architecture of
// elevator.AgentArches (scripts/setup builds them into bin/agent). When it
// is not set, the directory is agent/ beside the running elevator binary.
const AgentDirEnv = "ELEVATOR_AGENT_DIR"

// AgentFiles are the agent's builds as read from disk.
type AgentFiles struct {
	// Builds name each build in the bucket, by Go architecture: what user
	// data names.
	Builds map[string]elevator.AgentBuild
	// Bodies are the executables, by Go architecture.
	Bodies map[string][]byte
}

// ReadAgent reads and hashes the agent's builds. It returns an ENOTFOUND
// error, saying to run scripts/setup, when one is not built.
func ReadAgent() (*AgentFiles, error) {
	dir := os.Getenv(AgentDirEnv)
	if dir == "" {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "find the Elevator agent: cannot tell where elevator runs from: %w; set %s", err, AgentDirEnv)
		}
		dir = filepath.Join(filepath.Dir(exe), "agent")
	}
	files := &AgentFiles{Builds: map[string]elevator.AgentBuild{}, Bodies: map[string][]byte{}}
	for _, goarch := range slices.Sorted(maps.Values(elevator.AgentArches)) {
		path := filepath.Join(dir, "elevator-agent-linux-"+goarch)
		body, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, elevator.Errorf(elevator.ENOTFOUND, "the Elevator agent, which runs on every instance, is not built: no %s; run scripts/setup (or set %s to the directory holding elevator-agent-linux-amd64 and -arm64)", path, AgentDirEnv)
		}
		if err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "read the Elevator agent: %w", err)
		}
		sum := sha256.Sum256(body)
		sha := hex.EncodeToString(sum[:])
		files.Builds[goarch] = elevator.AgentBuild{Key: elevator.AgentObjectKey(sha, goarch), SHA256: sha}
		files.Bodies[goarch] = body
	}
	return files, nil
}

// AgentStore is what storing the agent's builds needs of S3 in a region.
type AgentStore interface {
	// Exists reports whether an object is there; false for a missing
	// bucket too.
	Exists(ctx context.Context, bucket, key string) (bool, error)
	// PutIfAbsent writes an object unless one is there, and reports
	// whether it did.
	PutIfAbsent(ctx context.Context, bucket, key, contentType string, body []byte) (bool, error)
}

// PublishAgent makes sure each of the agent's builds is in bucket: it
// asks whether each is there (HEAD), which is all a deploy does once they
// are, and stores those that are not. It returns the keys it stored, and
// the store's errors (ENOTFOUND for a missing bucket).
func PublishAgent(ctx context.Context, store AgentStore, bucket string, files *AgentFiles) ([]string, error) {
	var stored []string
	for _, goarch := range slices.Sorted(maps.Keys(files.Builds)) {
		key := files.Builds[goarch].Key
		there, err := store.Exists(ctx, bucket, key)
		if err != nil {
			return stored, err
		}
		if there {
			continue
		}
		// The key names the content: a build another process stored in
		// between is this very build.
		put, err := store.PutIfAbsent(ctx, bucket, key, "application/octet-stream", files.Bodies[goarch])
		if err != nil {
			return stored, fmt.Errorf("store the Elevator agent: %w", err)
		}
		if put {
			stored = append(stored, key)
		}
	}
	return stored, nil
}

// needsAgent reports whether compiling o needs the agent's builds: when a
// region has a bastion, whose user data names them.
func needsAgent(o *elevator.Orbit) bool {
	for _, r := range o.Regions {
		if r.Bastion != nil && r.Bastion.Count > 0 {
			return true
		}
	}
	return false
}

// orbitAgent reads the agent's builds for `orbit up` and `plan`: an orbit
// with a bastion needs them (ENOTFOUND when they are not built); for
// another, up stores them when they are built, and nil means they are not.
func orbitAgent(o *elevator.Orbit) (*AgentFiles, error) {
	files, err := ReadAgent()
	if err != nil && !needsAgent(o) && elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, nil
	}
	return files, err
}
