// Package cli is Elevator's command line: the `elevator <noun> <verb>`
// command tree, global flags, output formats and exit codes. Each command is
// an options struct run as validate, then execute; all wiring of AWS
// clients happens here.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/spf13/cobra"
)

// Exit codes, documented in docs/exit-codes.md.
const (
	ExitOK          = 0
	ExitInternal    = 1   // a bug or an unexpected condition
	ExitInvalid     = 2   // bad input: manifest, flags, arguments
	ExitConflict    = 3   // a lock is held, a stack is busy, an orbit is protected
	ExitAWS         = 4   // AWS (or the emulator) refused or failed a call
	ExitNotFound    = 5   // the thing asked for does not exist
	ExitFailed      = 6   // a release ended FailureClean
	ExitDirty       = 7   // a release ended FailureDirty
	ExitInterrupted = 130 // stopped by a signal or not confirmed
)

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	switch elevator.ErrorCode(err) {
	case "":
		return ExitOK
	case elevator.EINVALID:
		return ExitInvalid
	case elevator.ECONFLICT:
		return ExitConflict
	case elevator.EAWS:
		return ExitAWS
	case elevator.ENOTFOUND:
		return ExitNotFound
	case elevator.EINTERRUPTED:
		return ExitInterrupted
	case elevator.EFAILED:
		return ExitFailed
	case elevator.EDIRTY:
		return ExitDirty
	default:
		if errors.Is(err, context.Canceled) {
			return ExitInterrupted
		}
		return ExitInternal
	}
}

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// globals are the flags every command takes.
type globals struct {
	region   string
	profile  string
	endpoint string
	output   string
	yes      bool
	local    bool
	verbose  bool
	// deployer is --deployer; deployerEnv is $ELEVATOR_DEPLOYER (see
	// elevator.Deployer for which one wins).
	deployer, deployerEnv string
	// noPriceLookup is --no-price-lookup of the commands that estimate (cost_pricelist.go).
	noPriceLookup bool

	stdin          io.Reader
	stdout, stderr io.Writer

	callers callerCredentials // the caller's own credentials (aws_account.go)
}

func (g *globals) validate() error {
	if g.output != "text" && g.output != "json" {
		return elevator.Errorf(elevator.EINVALID, "--output %q: want text or json", g.output)
	}
	if g.local && g.endpoint != "" {
		return elevator.Errorf(elevator.EINVALID, "--local and --endpoint-url both say where AWS is; give one")
	}
	if g.endpoint != "" {
		u, err := url.Parse(g.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return elevator.Errorf(elevator.EINVALID, "--endpoint-url %q: want an http or https URL, such as http://127.0.0.1:5000", g.endpoint)
		}
	}
	if g.deployer != "" {
		if err := elevator.CheckDeployerURL(g.deployer); err != nil {
			return fmt.Errorf("--deployer: %w", err)
		}
	}
	return nil
}

// logger is where long-running parts (the release engine) log: nowhere,
// unless --verbose sends their records to stderr, as JSON lines with
// --output json. Stdout stays the command's answer either way.
func (g *globals) logger() *slog.Logger {
	if !g.verbose {
		return slog.New(slog.DiscardHandler)
	}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	if g.json() {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

func (g *globals) json() bool { return g.output == "json" }

// printJSON writes v as indented JSON to stdout.
func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Run runs the command line args (without the program name) and returns
// the exit code. Errors are printed to stderr, or as JSON on stdout with
// --output json.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, deployerEnv: os.Getenv(elevator.DeployerEnv)}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var status exitStatus
	if errors.As(err, &status) {
		return status.code // a program run in the foreground (ssh) said why
	}
	if ctx.Err() != nil && elevator.ErrorCode(err) != elevator.EINVALID {
		err = elevator.Errorf(elevator.EINTERRUPTED, "interrupted: %w", err)
	}
	if isUsageError(err) || strings.HasPrefix(err.Error(), "unknown command") {
		err = elevator.Errorf(elevator.EINVALID, "%v (see elevator --help)", err)
	}
	reportError(g, err)
	return ExitCode(err)
}

// reported is an error whose command already printed its JSON answer;
// only its exit code is left to give.
type reported struct{ error }

func (r reported) Unwrap() error { return r.error }

// reportError prints err for people, or as JSON for programs.
func reportError(g *globals, err error) {
	var done reported
	if errors.As(err, &done) {
		return
	}
	if g.json() {
		out := map[string]any{"error": map[string]any{"code": elevator.ErrorCode(err), "message": err.Error()}}
		var fe elevator.FieldErrors
		if errors.As(err, &fe) {
			fields := make([]map[string]any, len(fe))
			for i, e := range fe.Sorted() {
				fields[i] = map[string]any{"file": e.File, "line": e.Pos.Line, "column": e.Pos.Column, "path": e.Path, "value": e.Value, "message": e.Message}
			}
			out["error"].(map[string]any)["fields"] = fields
		}
		_ = g.printJSON(out)
		return
	}
	fmt.Fprintf(g.stderr, "elevator: %v\n", err)
}

// usageError marks errors cobra returns for bad flags or arguments.
type usageError struct{ error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "elevator",
		Short: "Launch applications into AWS: orbits, app infrastructure and blue/green releases",
		Long: `Elevator launches general-purpose applications into AWS.

An orbit is a tier of the deployment lifecycle (test, staging, production)
that spans AWS regions: one VPC per region over every availability zone.
Start the local emulator with 'elevator local up' and pass --local to any
command to try Elevator without an AWS account.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.validate()
		},
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	f := root.PersistentFlags()
	f.StringVar(&g.region, "region", "", "limit the command to this AWS region (default: every region of the orbit)")
	f.StringVar(&g.profile, "profile", os.Getenv("AWS_PROFILE"), "the AWS profile to use")
	f.StringVar(&g.endpoint, "endpoint-url", "", "send every AWS call to this URL (default: $AWS_ENDPOINT_URL, else AWS)")
	f.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	f.BoolVarP(&g.yes, "yes", "y", false, "do not ask before destructive changes")
	f.BoolVar(&g.local, "local", false, "use the local emulator started by 'elevator local up'")
	f.StringVar(&g.deployer, "deployer", "", "the URL of the orbit's deployer: deploy, release, halt, rollback and unlock go through its API instead of running here (default: $"+elevator.DeployerEnv+", else the orbit manifest's deployer)")
	f.BoolVar(&g.verbose, "verbose", false, "log what long-running parts do (release engine states, retries, lease renewals) to stderr")

	root.AddCommand(newVersionCmd(g), newLocalCmd(g), newOrbitCmd(g), newAppCmd(g), newSchemaCmd(g), newDeployerCmd(g), newDashboardCmd(g),
		newDeployCmd(g), newReleaseCmd(g), newPipelineCmd(g), newHaltCmd(g), newRollbackCmd(g), newUnlockCmd(g), newImageCmd(g), newGCCmd(g),
		newAccessCmd(g), newLogsCmd(g), newSSHCmd(g), newAgentCmd(g))
	root.AddCommand(newIAMCmd(g))
	root.AddCommand(newExecCmd(g))
	root.AddCommand(newChaosCmd(g))
	return root
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Elevator's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if g.json() {
				return g.printJSON(map[string]string{"version": Version})
			}
			fmt.Fprintf(g.stdout, "elevator %s\n", Version)
			return nil
		},
	}
}

// exactArgs and maxArgs check a command's arguments; a wrong count is
// invalid input (exit 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MaximumNArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// confirm shows what is about to be deleted and asks the user to type its
// name. It returns an EINTERRUPTED error when the answer is anything else.
func confirm(g *globals, what, name, noun string) error {
	fmt.Fprintf(g.stderr, "%s\nType the %s's name to confirm: ", what, noun)
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	answer := strings.TrimSpace(line)
	switch {
	case answer == name:
		return nil
	case err != nil && answer == "":
		return elevator.Errorf(elevator.EINTERRUPTED, "no answer: nothing was deleted (pass --yes to skip the question)")
	default:
		return elevator.Errorf(elevator.EINTERRUPTED, "not confirmed: nothing was deleted")
	}
}
