package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/progress"
)

// watchOptions are the flags of `pipeline watch` (and `pipeline start
// --watch`).
type watchOptions struct {
	cmd   *cobra.Command
	every time.Duration
}

func (w *watchOptions) addFlags(c *cobra.Command) {
	w.cmd = c
	c.Flags().DurationVar(&w.every, "watch-interval", 2*time.Second, fmt.Sprintf("time between two reads of the execution while following it, at least %s", minPollInterval))
}

func (w *watchOptions) validate() error {
	if w.every < minPollInterval {
		return elevator.Errorf(elevator.EINVALID, "--watch-interval %s: want at least %s", w.every, minPollInterval)
	}
	return nil
}

func newPipelineWatchCmd(g *globals) *cobra.Command {
	p := &pipelineEnv{globals: g}
	var w watchOptions
	c := &cobra.Command{Use: "watch EXEC", Short: "Follow an execution until it ends or waits for a person (an approval, an unpin, a promotion)", Args: exactArgs(1)}
	c.RunE = p.command(func([]string) error { return w.validate() }, func(ctx context.Context, args []string) error {
		return w.run(ctx, p, args[0])
	})
	w.addFlags(c)
	p.addFlags(c)
	return c
}

// pipelineChange is one change of an execution as `pipeline watch
// --output json` prints it, one object a line: a stage that moved (Stage,
// From, To), or the execution that ended (State).
type pipelineChange struct {
	At         time.Time         `json:"at"`
	Pipeline   string            `json:"pipeline"`
	Stage      string            `json:"stage,omitempty"`
	From       string            `json:"from,omitempty"`
	To         string            `json:"to,omitempty"`
	WaitingFor []string          `json:"waiting_for,omitempty"`
	Until      time.Time         `json:"until,omitzero"`
	Releases   map[string]string `json:"releases,omitempty"`
	Error      string            `json:"error,omitempty"`
	State      string            `json:"state"` // the execution's
}

// run reads the execution every w.every and prints each change until it
// ends or waits for a person; it exits as `pipeline status` does (0
// succeeded or waiting, 6 failed).
func (w *watchOptions) run(ctx context.Context, p *pipelineEnv, id string) error {
	out := progress.New(p.stdout)
	defer out.Done()
	var last *elevator.PipelineExecution
	lines := json.NewEncoder(p.stdout) // one object a line
	for {
		e, err := p.store.Get(ctx, p.app.Name, id)
		if err != nil {
			return err
		}
		for _, c := range changes(last, e, time.Now().UTC()) {
			if p.json() {
				if err := lines.Encode(c); err != nil {
					return err
				}
				continue
			}
			out.Note("stage "+c.Stage, watchLine(c))
		}
		last = e
		if who := waitsForPerson(e); e.State.Done() || who != "" {
			if !p.json() {
				out.Done()
				if who != "" {
					fmt.Fprintf(p.stdout, "pipeline %s waits for %s\n", e.ID, who)
				}
				fmt.Fprintf(p.stdout, "pipeline %s %s\n", e.ID, e.State)
			}
			return p.endError(e)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.every):
		}
	}
}

// changes lists what moved from was to now: every stage whose state or
// wait changed, then the end of the execution. was nil lists every stage
// that has left Pending or waits.
func changes(was, now *elevator.PipelineExecution, at time.Time) []pipelineChange {
	var out []pipelineChange
	for i, s := range now.Stages {
		from := ""
		if was != nil && i < len(was.Stages) {
			b := was.Stages[i]
			if b.State == s.State && slices.Equal(b.WaitingFor, s.WaitingFor) && b.Until.Equal(s.Until) && len(b.Releases) == len(s.Releases) {
				continue
			}
			from = string(b.State)
		} else if s.State == elevator.StagePending && len(s.WaitingFor) == 0 {
			continue
		}
		out = append(out, pipelineChange{At: at, Pipeline: now.ID, Stage: s.Name, From: from, To: string(s.State), WaitingFor: s.WaitingFor,
			Until: s.Until, Releases: s.Releases, Error: s.Error, State: string(now.State)})
	}
	if now.State.Done() && (was == nil || !was.State.Done()) {
		out = append(out, pipelineChange{At: at, Pipeline: now.ID, State: string(now.State)})
	}
	return out
}

func watchLine(c pipelineChange) string {
	if c.Stage == "" {
		return "pipeline " + c.State
	}
	line := c.To
	if c.From != "" && c.From != c.To {
		line = c.From + " > " + c.To
	}
	if len(c.WaitingFor) > 0 {
		line += "  waiting for " + strings.Join(c.WaitingFor, ", ")
	}
	if !c.Until.IsZero() {
		line += " until " + c.Until.Format(time.RFC3339)
	}
	for _, o := range sortedKeys(c.Releases) {
		line += "  " + o + ": release " + c.Releases[o]
	}
	if c.Error != "" {
		line += "  " + c.Error
	}
	return line
}

// waitsForPerson says what person the execution waits for ("" when it
// waits for no one): an approval not given yet, a promotion, an unpin, or
// a driver with access to an orbit. A wait whose decision was made (the
// driver has not run since) is no longer a person's.
func waitsForPerson(e *elevator.PipelineExecution) string {
	if e.State.Done() {
		return ""
	}
	for _, s := range e.Stages {
		for _, w := range s.WaitingFor {
			switch {
			case w == elevator.WaitApproval && s.Approval == nil && s.Rejection == nil:
				return "an approval of stage " + s.Name
			case w == elevator.WaitPromote && s.Promoted == nil:
				return "stage " + s.Name + " to be promoted (pipeline resume --stage " + s.Name + ")"
			case w == elevator.WaitUnpin && s.Unpinned == nil:
				return "stage " + s.Name + " to be unpinned"
			case strings.HasPrefix(w, elevator.WaitAccess+":"):
				return "`pipeline resume` from a machine with access (" + w + ")"
			}
		}
	}
	return ""
}
