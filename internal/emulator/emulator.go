// Package emulator runs moto, the AWS emulator, in server mode: in the
// background for the `elevator local up|down|status` commands, and once per
// test package for the adapter and end-to-end tests (see emulatortest).
//
// Everything talks to moto over HTTP; this package imports no AWS SDK.
package emulator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elevatorhq/elevator"
)

const (
	// DefaultHost is the address moto listens on when Options.Host is empty.
	DefaultHost = "127.0.0.1"

	// DefaultStartTimeout bounds Start when Options.Timeout is zero.
	DefaultStartTimeout = 30 * time.Second

	// HealthPath is what Start and Running poll to learn that moto answers.
	// A GET returns moto's small, constant user config as JSON (status 201)
	// without walking any service state, unlike /moto-api/data.json, which
	// serialises every model, or /moto-api/, which renders the dashboard.
	HealthPath = "/moto-api/config"

	stopGrace     = 5 * time.Second // SIGTERM to SIGKILL
	portAttempts  = 4               // launches when we pick the port ourselves
	tailSize      = 2048            // bytes of log kept for error messages
	setupHint     = "run scripts/setup to install it into .venv, or set ELEVATOR_MOTO_SERVER"
	motoServerBin = "moto_server"
)

// FindMotoServer returns the path of the moto_server executable: the value of
// $ELEVATOR_MOTO_SERVER if set; else .venv/bin/moto_server in the current
// directory or any ancestor; else .venv/bin/moto_server in the directory above
// the one holding the running executable (the binary lives in
// <repo>/bin/elevator); else moto_server on PATH. It returns an ENOTFOUND error
// that says to run scripts/setup when there is none.
func FindMotoServer() (string, error) {
	wd, _ := os.Getwd()
	exe, err := os.Executable()
	if err == nil {
		exe, _ = filepath.EvalSymlinks(exe)
	}
	return findMotoServer(os.Getenv("ELEVATOR_MOTO_SERVER"), wd, exe)
}

func findMotoServer(env, wd, exe string) (string, error) {
	if env != "" {
		p, err := exec.LookPath(env)
		if err != nil {
			return "", elevator.Errorf(elevator.ENOTFOUND, "ELEVATOR_MOTO_SERVER=%s is not an executable moto_server: %s", env, setupHint)
		}
		return p, nil
	}
	venv := filepath.Join(".venv", "bin", motoServerBin)
	for dir := wd; dir != ""; {
		if p := filepath.Join(dir, venv); isExecutable(p) {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if exe != "" {
		if p := filepath.Join(filepath.Dir(filepath.Dir(exe)), venv); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(motoServerBin); err == nil {
		return p, nil
	}
	return "", elevator.Errorf(elevator.ENOTFOUND, "moto_server not found: %s", setupHint)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Options says how to start moto.
type Options struct {
	Path    string        // moto_server executable; "" = FindMotoServer()
	Host    string        // address to listen on; "" = DefaultHost
	Port    int           // 0 = pick a free one (retried if another process takes it first)
	LogFile string        // appended with moto's stdout and stderr; "" = discard
	Detach  bool          // start in its own session so it outlives the caller
	Timeout time.Duration // how long to wait for it to answer; 0 = DefaultStartTimeout
}

// Server is a running moto server.
type Server struct {
	Endpoint string // base URL, e.g. http://127.0.0.1:5000
	PID      int
	Port     int
	LogFile  string // "" when the output is discarded

	startedAt time.Time
	detached  bool
	logOffset int64       // size of LogFile before this run
	tail      *tailBuffer // the output, when there is no LogFile and we are attached
	done      chan struct{}
	waitErr   error // how the process exited; set before done is closed
}

// Start starts moto_server and returns once it answers HTTP at its endpoint.
// It returns an ENOTFOUND error when there is no moto_server, ECONFLICT when
// the port asked for is taken, EINTERRUPTED when ctx ends first, and EINTERNAL
// (with the tail of moto's log) when moto exits early or does not answer in
// time. On error no process is left running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	return start(ctx, opts, freePort)
}

func start(ctx context.Context, opts Options, pick func(host string) (int, error)) (*Server, error) {
	if opts.Path == "" {
		p, err := FindMotoServer()
		if err != nil {
			return nil, err
		}
		opts.Path = p
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			p, err := pick(opts.Host)
			if err != nil {
				return nil, elevator.Errorf(elevator.EINTERNAL, "pick a free port on %s: %w", opts.Host, err)
			}
			port = p
		}
		s, err := launch(opts, port)
		if err != nil {
			return nil, err
		}
		err = s.awaitReady(waitCtx)
		if err == nil {
			return s, nil
		}
		s.kill()
		var inUse portInUseError
		switch {
		case errors.As(err, &inUse) && opts.Port == 0 && attempt < portAttempts:
			continue // another process took the port we picked; pick again
		case errors.As(err, &inUse):
			return nil, elevator.Errorf(elevator.ECONFLICT, "start moto_server: port %d on %s is already in use", port, opts.Host)
		case ctx.Err() != nil:
			return nil, elevator.Errorf(elevator.EINTERRUPTED, "start moto_server: %w", ctx.Err())
		case waitCtx.Err() != nil:
			return nil, elevator.Errorf(elevator.EINTERNAL, "moto_server did not answer at %s within %s%s", s.Endpoint, timeout, s.logTailSuffix())
		default:
			return nil, err
		}
	}
}

// launch starts the process without waiting for it to answer.
func launch(opts Options, port int) (*Server, error) {
	cmd := exec.Command(opts.Path, "-H", opts.Host, "-p", strconv.Itoa(port))
	cmd.Env = childEnv(port)
	cmd.SysProcAttr = sysProcAttr(opts.Detach)
	s := &Server{
		Endpoint: endpointURL(opts.Host, port),
		Port:     port,
		LogFile:  opts.LogFile,
		detached: opts.Detach,
		done:     make(chan struct{}),
	}
	var logf *os.File
	switch {
	case opts.LogFile != "":
		if err := os.MkdirAll(filepath.Dir(opts.LogFile), 0o755); err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "create log directory: %w", err)
		}
		f, err := os.OpenFile(opts.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "open moto log: %w", err)
		}
		if fi, err := f.Stat(); err == nil {
			s.logOffset = fi.Size()
		}
		cmd.Stdout, cmd.Stderr = f, f
		logf = f
	case !opts.Detach:
		// Keep the tail in memory so errors can show it. A detached
		// process must not write to a pipe that dies with us.
		s.tail = &tailBuffer{}
		cmd.Stdout, cmd.Stderr = s.tail, s.tail
		cmd.WaitDelay = time.Second
	}
	err := cmd.Start()
	if logf != nil {
		logf.Close() // the child has its own descriptor
	}
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "start %s: %w: %s", opts.Path, err, setupHint)
	}
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "start %s: %w", opts.Path, err)
	}
	s.PID = cmd.Process.Pid
	s.startedAt = time.Now()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.done)
	}()
	return s, nil
}

// childEnv is our environment with moto's own settings pinned: MOTO_PORT
// must match -p (moto builds callback URLs from it), and MOTO_ACCOUNT_ID
// would override the per-request account emulatortest relies on.
func childEnv(port int) []string {
	env := make([]string, 0, len(os.Environ())+2)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MOTO_PORT=") || strings.HasPrefix(kv, "MOTO_ACCOUNT_ID=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "MOTO_PORT="+strconv.Itoa(port), "PYTHONUNBUFFERED=1")
}

func endpointURL(host string, port int) string {
	switch host {
	case "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type portInUseError struct{}

func (portInUseError) Error() string { return "port in use" }

// awaitReady polls the endpoint until it answers, the process exits, or ctx
// ends.
func (s *Server) awaitReady(ctx context.Context) error {
	delay := 20 * time.Millisecond
	for {
		if answers(ctx, s.Endpoint) && !s.exited() {
			return nil
		}
		select {
		case <-s.done:
			tail := s.logTail()
			if strings.Contains(tail, "Address already in use") || strings.Contains(tail, "in use by another program") {
				return portInUseError{}
			}
			return elevator.Errorf(elevator.EINTERNAL, "moto_server exited before answering at %s (%v)%s", s.Endpoint, s.waitErr, s.logTailSuffix())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(elevator.Jitter(delay, nil)):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// State returns what `elevator local` saves to find this server again.
func (s *Server) State() State {
	return State{Endpoint: s.Endpoint, PID: s.PID, Port: s.Port, LogFile: s.LogFile, StartedAt: s.startedAt}
}

// Stop sends SIGTERM to the server (to its process group when detached),
// waits for it to exit, and sends SIGKILL if it is still there after a few
// seconds. Stopping a stopped server does nothing. It returns EINTERRUPTED
// when ctx ends first (after a SIGKILL) and EINTERNAL when the process
// cannot be signalled or outlives SIGKILL.
func (s *Server) Stop(ctx context.Context) error {
	target := s.PID
	if s.detached {
		target = -s.PID
	}
	return terminate(ctx, s.PID, func(sig syscall.Signal) error { return syscall.Kill(target, sig) }, s.exited)
}

// kill stops a server that failed to start, without waiting for long.
func (s *Server) kill() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*stopGrace)
	defer cancel()
	_ = s.Stop(ctx)
}

// terminate sends SIGTERM, waits until gone, then SIGKILL.
func terminate(ctx context.Context, pid int, signal func(syscall.Signal) error, gone func() bool) error {
	if gone() {
		return nil
	}
	if err := signal(syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return elevator.Errorf(elevator.EINTERNAL, "stop moto_server (pid %d): %w", pid, err)
	}
	if waitGone(ctx, gone, stopGrace) {
		return nil
	}
	_ = signal(syscall.SIGKILL)
	if ctx.Err() != nil {
		return elevator.Errorf(elevator.EINTERRUPTED, "stop moto_server (pid %d): %w", pid, ctx.Err())
	}
	if waitGone(ctx, gone, stopGrace) {
		return nil
	}
	return elevator.Errorf(elevator.EINTERNAL, "moto_server (pid %d) is still running after SIGKILL", pid)
}

// waitGone polls gone until it reports true, d passes, or ctx ends.
func waitGone(ctx context.Context, gone func() bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	delay := 10 * time.Millisecond
	for !gone() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return gone()
		case <-time.After(elevator.Jitter(delay, nil)):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
	return true
}

// client talks to the emulator directly: never through a proxy.
var client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// answers reports whether GET endpoint+HealthPath succeeds.
func answers(ctx context.Context, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+HealthPath, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// Reset asks the moto server at endpoint to forget all its state (every
// account and region). It returns an EAWS error when moto cannot be reached or
// refuses.
func Reset(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(endpoint, "/")+"/moto-api/reset", nil)
	if err != nil {
		return elevator.Errorf(elevator.EINVALID, "reset emulator: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return elevator.Errorf(elevator.EAWS, "reset emulator at %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return elevator.Errorf(elevator.EAWS, "reset emulator at %s: %s: %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// logTail returns the last lines moto wrote during this run, without colour
// codes, or "" when its output was discarded.
func (s *Server) logTail() string {
	var b []byte
	switch {
	case s.tail != nil:
		b = s.tail.Bytes()
	case s.LogFile != "":
		f, err := os.Open(s.LogFile)
		if err != nil {
			return ""
		}
		defer f.Close()
		from := s.logOffset
		if fi, err := f.Stat(); err == nil && fi.Size()-from > tailSize {
			from = fi.Size() - tailSize
		}
		if _, err := f.Seek(from, io.SeekStart); err != nil {
			return ""
		}
		b, _ = io.ReadAll(io.LimitReader(f, tailSize))
	}
	return strings.TrimSpace(ansi.ReplaceAllString(string(b), ""))
}

func (s *Server) logTailSuffix() string {
	if t := s.logTail(); t != "" {
		return "; its log ends:\n" + t
	}
	if s.LogFile == "" {
		return "; its output was discarded (set a log file to see it)"
	}
	return "; its log " + s.LogFile + " is empty"
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// tailBuffer keeps the last tailSize bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*tailSize {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > tailSize {
		b = b[len(b)-tailSize:]
	}
	return append([]byte(nil), b...)
}
