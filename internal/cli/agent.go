package cli

import (
	"fmt"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/agent"
	"github.com/spf13/cobra"
)

// newAgentCmd runs the Elevator agent's commands (boot, exec,
// authorized-keys, sync-users) as `elevator agent ...`, the same code as
// the elevator-agent executable instances fetch. Its flags are the
// agent's own, so it parses none itself.
func newAgentCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:                "agent",
		Short:              "Run the Elevator agent, the instance side of Elevator (see 'elevator agent --help')",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The agent says why on stderr itself. Its usage errors exit
			// 2, as elevator's do; anything else exits 1 (exec's status
			// is exact only from elevator-agent).
			switch code := agent.Run(cmd.Context(), "elevator agent", args, g.stdin, g.stdout, g.stderr); code {
			case 0:
				return nil
			case 2:
				return reported{elevator.Errorf(elevator.EINVALID, "elevator agent: bad usage")}
			default:
				return reported{fmt.Errorf("elevator agent exited with status %d", code)}
			}
		},
	}
}
