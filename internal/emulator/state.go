package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elevatorhq/elevator"
)

// State is what `elevator local up` saves so that later commands can find
// the server it left running.
type State struct {
	Endpoint  string    `json:"endpoint"`
	PID       int       `json:"pid"`
	Port      int       `json:"port"`
	LogFile   string    `json:"logFile,omitempty"`
	StartedAt time.Time `json:"startedAt"`
}

// StatePath returns where the local emulator's state is kept:
// $ELEVATOR_STATE_DIR/local.json if that is set, else
// $XDG_STATE_HOME/elevator/local.json, else
// ~/.local/state/elevator/local.json. It returns an EINVALID error when none
// of these can be found.
func StatePath() (string, error) {
	if dir := os.Getenv("ELEVATOR_STATE_DIR"); dir != "" {
		return filepath.Join(dir, "local.json"), nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "elevator", "local.json"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", elevator.Errorf(elevator.EINVALID, "no directory for elevator's state: set ELEVATOR_STATE_DIR (%w)", err)
	}
	return filepath.Join(home, ".local", "state", "elevator", "local.json"), nil
}

// DefaultLogFile returns where `elevator local up` sends moto's output:
// moto.log beside the state file. It returns the errors of StatePath.
func DefaultLogFile() (string, error) {
	p, err := StatePath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "moto.log"), nil
}

// SaveState writes s to StatePath, replacing what was there. It returns the
// errors of StatePath, and EINTERNAL when the file cannot be written.
func SaveState(s State) error {
	p, err := StatePath()
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode emulator state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "save emulator state: %w", err)
	}
	// Write beside, then rename: a reader never sees half a file.
	tmp, err := os.CreateTemp(filepath.Dir(p), ".local-*.json")
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "save emulator state: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "save emulator state: %w", err)
	}
	return nil
}

// LoadState reads the state SaveState wrote. It returns an ENOTFOUND error
// when there is none, EINTERNAL when it cannot be read or parsed, and the
// errors of StatePath.
func LoadState() (State, error) {
	p, err := StatePath()
	if err != nil {
		return State{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, elevator.Errorf(elevator.ENOTFOUND, "no local emulator: run elevator local up")
	}
	if err != nil {
		return State{}, elevator.Errorf(elevator.EINTERNAL, "read emulator state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, elevator.Errorf(elevator.EINTERNAL, "read emulator state %s: %w", p, err)
	}
	return s, nil
}

// ClearState removes the state file; removing none is not an error. It
// returns EINTERNAL when the file cannot be removed, and the errors of
// StatePath.
func ClearState() error {
	p, err := StatePath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return elevator.Errorf(elevator.EINTERNAL, "clear emulator state: %w", err)
	}
	return nil
}

// StopByState stops the server s describes, as Server.Stop does, but only
// if its PID still belongs to a moto_server: a PID the system has since
// given to another program is never signalled. It returns an ENOTFOUND error
// when no moto_server runs with that PID, and the errors of Server.Stop.
func StopByState(ctx context.Context, s State) error {
	if !alive(s.PID) || !isMotoServer(s.PID) {
		return elevator.Errorf(elevator.ENOTFOUND, "no moto_server is running with pid %d", s.PID)
	}
	signal := func(sig syscall.Signal) error {
		if !isMotoServer(s.PID) { // check again: it may be gone and the PID reused
			return nil
		}
		return syscall.Kill(s.PID, sig)
	}
	// A zombie has an empty command line, so it counts as gone.
	gone := func() bool { return !alive(s.PID) || !isMotoServer(s.PID) }
	return terminate(ctx, s.PID, signal, gone)
}

// Running reports whether the server s describes is up: its PID is alive,
// belongs to a moto_server, and its endpoint answers.
func Running(ctx context.Context, s State) bool { return Check(ctx, s) == nil }

// Check says whether the server s describes is up. It returns nil when it
// is; an ENOTFOUND error when no moto_server runs with its PID (it was
// never started, or it stopped); and an EAWS error naming the endpoint and
// the PID when the server runs but does not answer within 2 seconds
// (stopped with SIGSTOP, or overloaded).
func Check(ctx context.Context, s State) error {
	if !alive(s.PID) || !isMotoServer(s.PID) {
		return elevator.Errorf(elevator.ENOTFOUND, "the local emulator is not running; start it with: elevator local up")
	}
	if !answers(ctx, s.Endpoint) {
		return elevator.Errorf(elevator.EAWS, "the local emulator (moto_server, pid %d) runs but does not answer at %s within 2s: "+
			"is it paused or overloaded? Its log is %s; restart it with: elevator local down && elevator local up", s.PID, s.Endpoint, s.LogFile)
	}
	return nil
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isMotoServer reports whether the program running as pid is moto_server:
// its executable, or the script its interpreter runs, is named moto_server.
func isMotoServer(pid int) bool {
	args := cmdline(pid)
	for i := 0; i < len(args) && i < 2; i++ {
		if filepath.Base(args[i]) == motoServerBin {
			return true
		}
	}
	return false
}

// cmdline returns pid's arguments from /proc, or from ps where there is no
// /proc (macOS); nil when the process is gone.
func cmdline(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil {
		return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	if _, serr := os.Stat("/proc/self"); serr == nil {
		return nil
	}
	out, err := exec.Command("ps", "-o", "command=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}
