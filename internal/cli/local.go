package cli

import (
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator"
	"github.com/spf13/cobra"
)

func newLocalCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run the local AWS emulator (moto) that --local talks to",
	}
	cmd.AddCommand(
		&cobra.Command{Use: "up", Short: "Start the emulator on 127.0.0.1, or report the one already running", Args: noArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return (&localOpts{globals: g}).up(cmd) }},
		&cobra.Command{Use: "down", Short: "Stop the emulator started by 'local up'", Args: noArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return (&localOpts{globals: g}).down(cmd) }},
		&cobra.Command{Use: "status", Short: "Say whether the emulator is running, and where", Args: noArgs,
			RunE: func(cmd *cobra.Command, args []string) error { return (&localOpts{globals: g}).status(cmd) }},
	)
	return cmd
}

type localOpts struct{ *globals }

type localStatus struct {
	Running   bool      `json:"running"`
	Endpoint  string    `json:"endpoint,omitempty"`
	PID       int       `json:"pid,omitempty"`
	LogFile   string    `json:"log_file,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
}

func (o *localOpts) print(s localStatus, verb string) error {
	if o.json() {
		return o.printJSON(s)
	}
	if !s.Running {
		fmt.Fprintln(o.stdout, "the local emulator is not running; start it with: elevator local up")
		return nil
	}
	fmt.Fprintf(o.stdout, "local emulator %s at %s (pid %d, log %s)\n", verb, s.Endpoint, s.PID, s.LogFile)
	return nil
}

func (o *localOpts) up(cmd *cobra.Command) error {
	ctx := cmd.Context()
	if st, err := emulator.LoadState(); err == nil {
		switch err := emulator.Check(ctx, st); elevator.ErrorCode(err) {
		case "":
			return o.print(localStatus{true, st.Endpoint, st.PID, st.LogFile, st.StartedAt}, "already running")
		case elevator.EAWS:
			return err // one that runs but does not answer is not replaced behind its back
		}
	}
	path, err := emulator.FindMotoServer()
	if err != nil {
		return err
	}
	logFile, err := emulator.DefaultLogFile()
	if err != nil {
		return err
	}
	srv, err := emulator.Start(ctx, emulator.Options{Path: path, LogFile: logFile, Detach: true})
	if err != nil {
		return err
	}
	st := srv.State()
	if err := emulator.SaveState(st); err != nil {
		_ = srv.Stop(ctx)
		return err
	}
	return o.print(localStatus{true, st.Endpoint, st.PID, st.LogFile, st.StartedAt}, "started")
}

func (o *localOpts) down(cmd *cobra.Command) error {
	ctx := cmd.Context()
	st, err := emulator.LoadState()
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return o.print(localStatus{}, "")
	}
	if err != nil {
		return err
	}
	if err := emulator.StopByState(ctx, st); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
		return err
	}
	if err := emulator.ClearState(); err != nil {
		return err
	}
	if o.json() {
		return o.printJSON(map[string]any{"stopped": true, "pid": st.PID})
	}
	fmt.Fprintf(o.stdout, "local emulator stopped (pid %d)\n", st.PID)
	return nil
}

func (o *localOpts) status(cmd *cobra.Command) error {
	st, err := emulator.LoadState()
	if err != nil {
		return o.print(localStatus{}, "")
	}
	switch err := emulator.Check(cmd.Context(), st); elevator.ErrorCode(err) {
	case elevator.EAWS:
		return err
	case elevator.ENOTFOUND:
		return o.print(localStatus{}, "")
	}
	return o.print(localStatus{true, st.Endpoint, st.PID, st.LogFile, st.StartedAt}, "running")
}
