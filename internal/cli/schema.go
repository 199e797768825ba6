package cli

import (
	"fmt"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/schemas"
	"github.com/spf13/cobra"
)

func newSchemaCmd(g *globals) *cobra.Command {
	all := map[string][]byte{"orbit": schemas.Orbit, "app": schemas.App, "image": schemas.Image, "iam": schemas.IAM}
	return &cobra.Command{
		Use:       "schema NAME",
		Short:     "Print the JSON Schema of a manifest (orbit, app, image or iam)",
		Long:      "Print the JSON Schema of a manifest. Editors with yaml-language-server use it\nto complete and check manifests; the same files are in schemas/.",
		ValidArgs: []string{"orbit", "app", "image", "iam"},
		Args:      exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ok := all[args[0]]
			if !ok {
				return elevator.Errorf(elevator.EINVALID, "no schema %q; want orbit, app, image or iam", args[0])
			}
			_, err := fmt.Fprint(g.stdout, string(s))
			return err
		},
	}
}
