package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/internal/progress"
)

func newImageRevokeCmd(g *globals) *cobra.Command {
	e := &imageStagesEnv{g: g}
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke --image ID --reason TEXT --orbit ORBIT",
		Short: "Stop releases from using an image and its copies",
		Long: `Tags the image, and each copy of it in the orbit's regions, with
` + elevator.TagImageRevoked + `=<reason> (and ` + elevator.TagImageRevokedBy + `, ` + elevator.TagImageRevokedAt + `):
releases refuse a revoked image at ValidateResources, saying why; groups
already running it are left alone. Given a copy, its source and all the
source's copies are revoked. Revoking again updates the reason. Every
revocation is written to the orbit's audit log.

The image is in --region, by default the orbit's first region.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.validate(); err != nil {
				return err
			}
			if err := image.CheckRevokeReason(reason); err != nil {
				return err
			}
			out := progress.New(g.stderr)
			defer out.Done()
			stages, err := e.connect(cmd.Context(), out)
			if err != nil {
				return err
			}
			rev, err := stages.Revoke(cmd.Context(), e.region, e.image, reason)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(rev)
			}
			for _, x := range rev.Images {
				fmt.Fprintf(g.stdout, "%s  %s  revoked: %s\n", x.Region, x.Image, rev.Reason)
			}
			return nil
		},
	}
	e.flags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why the image may no longer be released (required)")
	return cmd
}
