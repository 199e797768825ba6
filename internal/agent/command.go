package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
)

// Run runs the agent's command line args (without the program's name) as
// program, the name its help and messages use, and returns the exit code:
// 0, 1 when the command failed (a line on stderr says why), 2 for bad
// usage, and for exec the service's own status.
func Run(ctx context.Context, program string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	code := 0
	cmd := NewCommand(program, stdin, stdout, stderr, &code)
	if parent, name, ok := strings.Cut(program, " "); ok {
		// `elevator agent`: help and usage name the whole path.
		cmd.Use = name
		p := &cobra.Command{Use: parent, SilenceUsage: true, SilenceErrors: true}
		p.CompletionOptions.DisableDefaultCmd = true
		p.SetOut(stdout)
		p.SetErr(stderr)
		p.AddCommand(cmd)
		args = append([]string{name}, args...)
		cmd = p
	}
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", program, err)
		var u usageError
		if errors.As(err, &u) || elevator.ErrorCode(err) == elevator.EINVALID && code == 0 {
			return 2
		}
		if code == 0 {
			code = 1
		}
	}
	return code
}

type usageError struct{ error }

// options are the agent's hidden flags, for tests and emulators.
type options struct {
	root           string
	recordCommands string
	instanceID     string
}

func (o *options) agent(stdin io.Reader, stdout, stderr io.Writer) *Agent {
	a := &Agent{
		Paths:      Paths{Root: o.root},
		Runner:     SystemRunner{Output: stderr},
		Log:        slog.New(slog.NewTextHandler(stderr, nil)),
		Stdout:     stdout,
		Stderr:     stderr,
		Stdin:      stdin,
		InstanceID: o.instanceID,
		Clients:    AWSClients,
	}
	if o.recordCommands != "" {
		a.Runner = &RecordingRunner{Path: o.recordCommands}
	}
	return a
}

// withClients makes the agent, reads its configuration and makes its AWS
// clients: what the commands that read AWS start with.
func (o *options) withClients(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) (*Agent, *elevator.AgentConfig, *Clients, error) {
	a := o.agent(stdin, stdout, stderr)
	cfg, err := a.config()
	if err != nil {
		return nil, nil, nil, err
	}
	cl, err := a.Clients(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, cfg, cl, nil
}

// config loads the AWS environment file, then the agent's configuration.
func (a *Agent) config() (*elevator.AgentConfig, error) {
	if names, err := LoadAWSEnv(a.Paths.Path(elevator.AgentAWSEnvPath)); err != nil {
		return nil, err
	} else if len(names) > 0 {
		a.Log.Debug("loaded AWS environment", "names", names)
	}
	return LoadConfig(a.Paths.Path(elevator.AgentConfigPath))
}

// NewCommand returns the agent's command tree, called program. exec
// stores the service's exit status in *code.
func NewCommand(program string, stdin io.Reader, stdout, stderr io.Writer, code *int) *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:   program,
		Short: "The Elevator agent: prepares an instance, runs its service and serves SSH access",
		Long: `The Elevator agent runs on every instance Elevator launches. User data's
bootstrap script runs 'boot'; the service's unit runs the service through
'exec'; sshd asks 'authorized-keys' for a user's keys; a timer runs
'sync-users' every minute. Each reads ` + elevator.AgentConfigPath + `.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&o.root, "root", "/", "take every path under this directory (tests)")
	pf.StringVar(&o.recordCommands, "record-commands", "", "run no system command (systemctl, useradd, dnf, docker): append each to this file instead (tests)")
	pf.StringVar(&o.instanceID, "instance-id", "", "the instance id, instead of asking the instance metadata service (tests)")
	for _, n := range []string{"root", "record-commands", "instance-id"} {
		_ = pf.MarkHidden(n)
	}

	var again bool
	boot := &cobra.Command{
		Use:   "boot",
		Short: "Prepare this instance and start its service, or run its bake on a builder (user data runs it)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a := o.agent(stdin, stdout, stderr)
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.Boot(cmd.Context(), cfg, again)
		},
	}
	boot.Flags().BoolVar(&again, "again", false, "a later boot of the instance: read the environment and SSH access again, start nothing (the units wait for it)")
	var service string
	execCmd := &cobra.Command{
		Use:   "exec --service S -- CMD [ARGS...]",
		Short: "Run the service with its environment, shipping its output to CloudWatch Logs",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return usageError{errors.New("exec: put the command after --: exec --service S -- CMD ARGS...")}
			}
			a := o.agent(stdin, stdout, stderr)
			if _, err := LoadAWSEnv(a.Paths.Path(elevator.AgentAWSEnvPath)); err != nil {
				return err
			}
			c, err := a.Exec(cmd.Context(), service, args)
			*code = c
			return err
		},
	}
	execCmd.Flags().StringVar(&service, "service", "", "the service, whose environment is "+elevator.AgentRunDir+"/<service>.env")
	_ = execCmd.MarkFlagRequired("service")

	const authorizedKeysTimeout = 10 * time.Second
	keys := &cobra.Command{
		Use:   "authorized-keys USER",
		Short: "Print the SSH keys USER may log in here with (sshd's AuthorizedKeysCommand)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("authorized-keys takes one user name, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			_, cfg, cl, err := o.withClients(cmd.Context(), stdin, stdout, stderr)
			if err != nil {
				return err
			}
			// sshd waits for the answer: a login never hangs on AWS.
			ctx, cancel := context.WithTimeout(cmd.Context(), authorizedKeysTimeout)
			defer cancel()
			ks, err := AuthorizedKeys(ctx, cfg, cl.Tables, args[0])
			if err != nil {
				return err
			}
			for _, k := range ks {
				fmt.Fprintln(stdout, k)
			}
			return nil
		},
	}
	sync := &cobra.Command{
		Use:   "sync-users",
		Short: "Make the accounts of the users granted SSH access here, and lock the ones no longer granted",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, cfg, cl, err := o.withClients(cmd.Context(), stdin, stdout, stderr)
			if err != nil {
				return err
			}
			return a.SyncUsers(cmd.Context(), cfg, cl.Tables)
		},
	}
	root.AddCommand(boot, execCmd, keys, sync)
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// Main is the agent executable's main: it runs os.Args and exits.
func Main() {
	os.Exit(Run(context.Background(), "elevator-agent", os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
