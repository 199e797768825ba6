package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// imageStagesEnv is what `image promote` and `image revoke` share: the
// orbit, the image and its region, checked before any call, and then the
// orbit's EC2 clients and audit log.
type imageStagesEnv struct {
	g                    *globals
	orbitName, orbitFile string
	image, region        string
	orbit                *elevator.Orbit
}

func (e *imageStagesEnv) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&e.image, "image", "", "the image's AMI id (required)")
	cmd.Flags().StringVar(&e.orbitName, "orbit", "", "the orbit whose stages and regions apply (required)")
	cmd.Flags().StringVar(&e.orbitFile, "orbit-file", "", "the orbit's manifest")
}

// validate reads the orbit's manifest and checks the image id and its
// region (--region, default the orbit's first); it calls nothing.
func (e *imageStagesEnv) validate() error {
	if e.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	if e.image == "" {
		return elevator.Errorf(elevator.EINVALID, "--image is required: an AMI id such as ami-0abcdef1234567890")
	}
	if !imageIDPattern.MatchString(e.image) {
		return elevator.Errorf(elevator.EINVALID, "--image %q: want an AMI id such as ami-0abcdef1234567890", e.image)
	}
	path, err := findOrbitFile(e.orbitName, e.orbitFile)
	if err != nil {
		return err
	}
	if e.orbit, err = readOrbit(path, ""); err != nil {
		return err
	}
	if e.orbit.Name != e.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", e.orbitName, path, e.orbit.Name)
	}
	e.region = e.g.region
	if e.region == "" {
		e.region = e.orbit.Regions[0].Name
	}
	if e.orbit.Region(e.region) == nil {
		return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is not in that region; its regions are %s", e.region, e.orbit.Name, strings.Join(regionNames(e.orbit), ", "))
	}
	return nil
}

// connect asks who the caller is and where the orbit keeps its audit log,
// and returns the orbit's image stages on its EC2 clients.
func (e *imageStagesEnv) connect(ctx context.Context, out *progress.Printer) (*image.Stages, error) {
	configs := orbitConfigs(e.g, e.orbit)
	var cfgs []aws.Config
	clients := map[string]image.Regional{}
	for _, r := range e.orbit.Regions {
		cfg, err := configs.For(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		cfgs = append(cfgs, cfg)
		clients[r.Name] = ec2.New(cfg)
	}
	id, err := sts.New(cfgs[0]).CallerIdentity(ctx)
	if err != nil {
		return nil, err
	}
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfgs[0])}).OrbitOutputs(ctx, e.orbit)
	if err != nil {
		return nil, err
	}
	backend, err := awsrelease.New(awsrelease.Config{Orbit: e.orbit.Name, AWS: cfgs, Bucket: outputs[compile.StateBucketOutput], ECS: e.orbit.ECS != nil})
	if err != nil {
		return nil, err
	}
	s := &image.Stages{Orbit: e.orbit, EC2: clients, Audit: backend.Store, By: id.ARN, Note: out.Note}
	if configs.emulated() {
		s.CopyPoll = pollOnEmulator
	}
	return s, nil
}

// pollOnEmulator is how often promotion looks at pending copies on the
// local emulator, where they are available at once.
const pollOnEmulator = 100 * time.Millisecond

func newImagePromoteCmd(g *globals) *cobra.Command {
	e := &imageStagesEnv{g: g}
	var stage string
	var force bool
	cmd := &cobra.Command{
		Use:   "promote --image ID --stage STAGE --orbit ORBIT",
		Short: "Move an image to another of its orbit's stages; the last shares and copies it",
		Long: `Sets the image's ` + elevator.TagImageStage + ` tag to STAGE, one of the orbit's image stages
(images.stages in its manifest; default ` + strings.Join(elevator.DefaultImageStages, ", ") + `). The image
must carry ` + elevator.TagImage + ` and a stage of the orbit. Moving back to an earlier
stage needs --force and changes only the stage tags: shares and copies stay.

Reaching the last stage shares the image with the accounts, organizations
and organizational units in images.share (launch permission) and its
snapshots with the accounts (create volume permission), copies it to each
other region of the orbit (encrypted with images.kms_key when set), waits
for each copy to be available, tags it as the image plus
` + elevator.TagImageCopiedFrom + `=<region>/<image>, and shares it the same way.
Promoting again finds the copies already made and completes what is
missing. Every promotion is written to the orbit's audit log.

The image is in --region, by default the orbit's first region.`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.validate(); err != nil {
				return err
			}
			if stage == "" {
				return elevator.Errorf(elevator.EINVALID, "--stage is required: one of %s", strings.Join(e.orbit.ImageStages(), ", "))
			}
			if err := image.CheckStage(e.orbit, stage); err != nil {
				return err
			}
			out := progress.New(g.stderr)
			defer out.Done()
			stages, err := e.connect(cmd.Context(), out)
			if err != nil {
				return err
			}
			p, err := stages.Promote(cmd.Context(), e.region, e.image, stage, force)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(p)
			}
			fmt.Fprintf(g.stdout, "%s  %s  %s -> %s\n", p.Region, p.Image, p.From, p.To)
			for _, c := range p.Copies {
				how := "found"
				if c.Made {
					how = "copied"
				}
				fmt.Fprintf(g.stdout, "%s  %s  %s, at %s\n", c.Region, c.Image, how, p.To)
			}
			return nil
		},
	}
	e.flags(cmd)
	cmd.Flags().StringVar(&stage, "stage", "", "the stage to move the image to (required)")
	cmd.Flags().BoolVar(&force, "force", false, "allow moving the image back to an earlier stage")
	return cmd
}

// cliImages promotes the images of a pipeline stage's releases in this
// process, with the caller's credentials, as `image promote` does.
type cliImages struct{ p *pipelineEnv }

// Promote promotes the images release id used in orbit to stage (see
// image.Stages.PromoteUsed).
func (c cliImages) Promote(ctx context.Context, orbitName, id, stage string) ([]string, error) {
	e, err := c.p.release(ctx, orbitName)
	if err != nil {
		return nil, err
	}
	doc, _, err := e.backend.Store.Release(ctx, id)
	if err != nil {
		return nil, err
	}
	rel, err := elevator.ParseRelease(doc)
	if err != nil {
		return nil, err
	}
	clients := map[string]image.Regional{}
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		clients[r.Name] = ec2.New(cfg)
	}
	out := progress.New(c.p.stderr)
	defer out.Done()
	s := &image.Stages{Orbit: e.orbit, EC2: clients, Audit: e.backend.Store, By: c.p.caller, Note: out.Note}
	if e.configs.emulated() {
		s.CopyPoll = pollOnEmulator
	}
	done, notes, err := s.PromoteUsed(ctx, image.ReleaseImages(rel), stage)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, p := range done {
		line := fmt.Sprintf("%s/%s %s -> %s", p.Region, p.Image, p.From, p.To)
		for _, cp := range p.Copies {
			line += ", copy " + cp.Region + "/" + cp.Image
		}
		lines = append(lines, line)
	}
	return append(lines, notes...), nil
}
