package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// forwarded are the signals exec passes on to the service.
var forwarded = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2}

// Exec runs argv as the service: with the environment of the service's
// file (AgentRunDir/<service>.env) added to the agent's, the signals the
// agent gets passed on, and each line the service writes to stdout or
// stderr copied to the agent's stdout or stderr (the journal) and to the
// service's log group in CloudWatch Logs (stream: the instance id), in
// batches that never block the service. It returns the service's exit
// status (128+n when signal n ended it) and a nil error, or an error when
// the service could not start.
func (a *Agent) Exec(ctx context.Context, service string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 2, elevator.Errorf(elevator.EINVALID, "exec: no command to run (elevator-agent exec --service S -- CMD ARGS...)")
	}
	if !validUnitPart(service) || service == "" {
		return 2, elevator.Errorf(elevator.EINVALID, "exec: --service %q is not a service name", service)
	}
	path := a.Paths.EnvFile(service)
	data, err := os.ReadFile(path)
	if err != nil {
		return 1, elevator.Errorf(elevator.ENOTFOUND, "exec: read the service's environment (elevator-agent boot writes it): %w", err)
	}
	env, err := ParseEnv(data)
	if err != nil {
		return 1, elevator.Errorf(elevator.EINVALID, "exec: %s: %w", path, err)
	}

	var ship *shipper
	if cfg, err := LoadConfig(a.Paths.Path(elevator.AgentConfigPath)); err != nil {
		a.Log.Warn("the service's output goes to the journal only: no agent configuration", "error", err.Error())
	} else if cfg.LogGroup == "" {
		a.Log.Info("the service's output goes to the journal only: the configuration names no log group")
	} else if ship, err = a.newExecShipper(ctx, cfg, env); err != nil {
		a.Log.Warn("the service's output goes to the journal only", "error", err.Error())
	}
	var shipCtx context.Context
	var stopShip context.CancelFunc
	if ship != nil {
		shipCtx, stopShip = context.WithCancel(context.WithoutCancel(ctx))
		defer stopShip()
		ship.start(shipCtx)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = envList(os.Environ(), env)
	cmd.Stdin = a.Stdin
	outR, outW, err := os.Pipe()
	if err != nil {
		return 1, elevator.Errorf(elevator.EINTERNAL, "exec: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 1, elevator.Errorf(elevator.EINTERNAL, "exec: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)

	startErr := cmd.Start()
	outW.Close()
	errW.Close()
	if startErr != nil {
		outR.Close()
		errR.Close()
		if ship != nil {
			ship.Close(context.Background())
		}
		return 127, elevator.Errorf(elevator.EINVALID, "exec: start %s: %w", argv[0], startErr)
	}
	a.Log.Info("started service", "service", service, "pid", cmd.Process.Pid)

	var copying sync.WaitGroup
	var mu sync.Mutex // one line at a time to the log stream, in order
	for _, p := range []struct {
		r *os.File
		w io.Writer
	}{{outR, a.Stdout}, {errR, a.Stderr}} {
		copying.Add(1)
		go func() {
			defer copying.Done()
			defer p.r.Close()
			copyLines(p.r, p.w, &mu, ship)
		}()
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var waitErr error
wait:
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case waitErr = <-waited:
			break wait
		}
	}
	// A process the service left behind may hold its output open: give
	// the copies a moment, then stop waiting for them.
	copied := make(chan struct{})
	go func() { copying.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	if ship != nil {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		ship.Close(flushCtx)
		cancel()
	}
	code := exitCode(cmd.ProcessState, waitErr)
	a.Log.Info("service ended", "service", service, "status", code)
	return code, nil
}

// exitCode is a finished process's exit status, 128+n for signal n.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 1
	}
	return ps.ExitCode()
}

// copyLines copies r to w line by line and hands each line to ship. A
// line longer than an event can be is handed on in pieces.
func copyLines(r io.Reader, w io.Writer, mu *sync.Mutex, ship *shipper) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	emit := func(end bool) {
		mu.Lock()
		defer mu.Unlock()
		out := line
		if end {
			out = append(out, '\n')
		}
		_, _ = w.Write(out)
		if ship != nil {
			ship.Add(string(line))
		}
		line = line[:0]
	}
	for {
		chunk, isPrefix, err := br.ReadLine()
		line = append(line, chunk...)
		switch {
		case err != nil:
			if len(line) > 0 {
				emit(false)
			}
			return
		case !isPrefix:
			emit(true)
		case len(line) >= maxEventBytes:
			emit(false)
		}
	}
}

// newExecShipper returns the shipper of the service's output: the stream
// is the instance id, which boot wrote into the environment file.
func (a *Agent) newExecShipper(ctx context.Context, cfg *elevator.AgentConfig, env map[string]string) (*shipper, error) {
	cl, err := a.Clients(ctx, cfg)
	if err != nil {
		return nil, err
	}
	stream := env["ELEVATOR_INSTANCE_ID"]
	if stream == "" {
		if stream, err = a.instanceID(ctx, cl); err != nil {
			return nil, err
		}
	}
	return newShipper(cl.Logs, cfg.LogGroup, stream, a.Log, a.now, a.FlushEvery), nil
}
