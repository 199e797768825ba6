// Package agent is the Elevator agent: the instance side of Elevator. The
// bootstrap script in an instance's user data fetches it from the orbit's
// state bucket and runs `elevator-agent boot`, which reads the AgentConfig
// at elevator.AgentConfigPath and, with the instance profile only:
//
//   - installs Docker when the runtime needs it and it is missing, and logs
//     in to ECR when the image is there;
//   - resolves the service's secrets (SSM SecureString, Secrets Manager)
//     and data stores (REDIS_URL, DATABASE_URL, TABLE_<NAME>) into a
//     root-only environment file on tmpfs, AgentRunDir/<service>.env;
//   - serves SSH access from the orbit's users and services tables
//     (`authorized-keys`, `sync-users`);
//   - starts the service's units, which run the service through
//     `elevator-agent exec`: it gives the child that environment and ships
//     its output to the service's CloudWatch log group.
//
// On an image builder (bake mode) boot does none of that: it runs the
// bake's bundle of files and scripts and uploads the result (see Bake).
//
// Every path the agent reads or writes is under Paths.Root ("/" on an
// instance) and every system command (systemctl, useradd, dnf, docker)
// goes through a Runner, so tests run it unprivileged.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Paths places the agent's files. Every absolute path the agent uses
// (elevator.AgentConfigPath, /etc/ssh/..., /etc/passwd, ...) is taken under
// Root, which is "/" on an instance and a temporary directory in tests.
type Paths struct {
	Root string
}

// Path returns the absolute path abs under the root.
func (p Paths) Path(abs string) string {
	if p.Root == "" || p.Root == "/" {
		return abs
	}
	return filepath.Join(p.Root, abs)
}

// EnvFile is the environment file of service.
func (p Paths) EnvFile(service string) string {
	return filepath.Join(p.Path(elevator.AgentRunDir), service+".env")
}

// Command is one system command the agent runs.
type Command struct {
	Name  string
	Args  []string
	Env   []string // added to the agent's environment
	Stdin []byte   // nil for none; may hold a secret (docker login): never log it
}

// String is the command line, for logs; it never shows Stdin.
func (c Command) String() string {
	return strings.Join(append(append(append([]string{}, c.Env...), c.Name), c.Args...), " ")
}

// Runner runs the system commands of the agent. Run returns an error
// when the command cannot start or exits non-zero; its output goes to the
// agent's stderr (the journal and the console).
type Runner interface {
	Run(ctx context.Context, c Command) error
	// LookPath reports where an executable is on PATH, or an error when
	// it is not there.
	LookPath(name string) (string, error)
}

// SystemRunner runs commands for real, their output to Output.
type SystemRunner struct{ Output io.Writer }

// Run runs c and waits for it.
func (r SystemRunner) Run(ctx context.Context, c Command) error {
	cmd := exec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Stdout, cmd.Stderr = r.Output, r.Output
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", c, err)
	}
	return nil
}

// LookPath is exec.LookPath.
func (SystemRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }

// RecordingRunner runs nothing: it appends each command line to the file
// at Path (stdin shown only as its length) and reports every executable
// present. It is what the hidden --record-commands flag selects, so a test
// can run the agent as a real process without root, systemd or a package
// manager, and read what it would have run.
type RecordingRunner struct {
	Path string
	mu   sync.Mutex
}

// Run appends c to the record.
func (r *RecordingRunner) Run(_ context.Context, c Command) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(r.Path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	line := c.String()
	if c.Stdin != nil {
		line += fmt.Sprintf(" <stdin %d bytes>", len(c.Stdin))
	}
	_, err = fmt.Fprintln(f, line)
	return errors.Join(err, f.Close())
}

// LookPath reports every executable present, under /usr/bin.
func (*RecordingRunner) LookPath(name string) (string, error) { return "/usr/bin/" + name, nil }

// Agent is the agent's dependencies: where its files are, how it runs
// commands, where it logs, and how it reaches AWS.
type Agent struct {
	Paths  Paths
	Runner Runner
	Log    *slog.Logger // the agent's own log lines: never a secret's value
	Stdout io.Writer    // a command's answer (authorized-keys) and a child's stdout
	Stderr io.Writer    // a child's stderr
	Stdin  io.Reader    // a child's stdin

	// InstanceID, when set, is used instead of asking IMDS (tests).
	InstanceID string
	// Clients returns the AWS clients for the agent's configuration.
	Clients func(ctx context.Context, cfg *elevator.AgentConfig) (*Clients, error)
	// Now and FlushEvery drive the log shipper; zero means time.Now and
	// DefaultFlushEvery.
	Now        func() time.Time
	FlushEvery time.Duration
	// BakeRetry is the wait before the second try to upload a bake's
	// result, growing by as much before each further try; zero means 2 s.
	BakeRetry time.Duration
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// instanceID returns the instance's id: the override, else IMDS's answer.
func (a *Agent) instanceID(ctx context.Context, cl *Clients) (string, error) {
	if a.InstanceID != "" {
		return a.InstanceID, nil
	}
	if cl.InstanceID == nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "no way to learn the instance id")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	id, err := cl.InstanceID(ctx)
	if err != nil {
		return "", elevator.Errorf(elevator.EAWS, "read the instance id from the instance metadata service: %w", err)
	}
	return id, nil
}
