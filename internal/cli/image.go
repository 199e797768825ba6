package cli

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/spf13/cobra"
)

// imageIDPattern is the form of an AMI id, as the app schema's ami.id.
var imageIDPattern = regexp.MustCompile(`^ami-[0-9a-f]{8,17}$`)

func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Bake, promote, share, allow and clean up machine images"}
	var app, file, orbitName, orbitFile, caller, version string
	var o *elevator.Orbit
	var a *elevator.App
	var container *containerRef // IMAGE is a container image in ECR
	// validate checks everything allow was given and reads the manifests;
	// it calls nothing.
	validate := func(args []string) error {
		if orbitName == "" {
			return elevator.Errorf(elevator.EINVALID, "--orbit is required")
		}
		path, err := findOrbitFile(orbitName, orbitFile)
		if err != nil {
			return err
		}
		if o, err = readOrbit(path, g.region); err != nil {
			return err
		}
		if o.Name != orbitName {
			return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", orbitName, path, o.Name)
		}
		if len(args) == 0 {
			if a, err = readApp(file, o.Name); err != nil {
				return err
			}
			app = a.Name
			if version != "" {
				return elevator.CheckVersion(version)
			}
			return nil
		}
		if version != "" {
			return elevator.Errorf(elevator.EINVALID, "--version goes with -f: an IMAGE names its own tag")
		}
		if ref, ok := parseContainerRef(args[0]); ok {
			container = &ref
			if err := checkContainerRef(ref, o, g.region); err != nil {
				return err
			}
			return checkApp(app)
		}
		if !imageIDPattern.MatchString(args[0]) {
			return elevator.Errorf(elevator.EINVALID, "image %q: want an AMI id such as ami-0abcdef1234567890, or a tag of an app's own ECR repository such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/<orbit>/<app>/<service>:1.4.2", args[0])
		}
		if g.region == "" && len(o.Regions) > 1 {
			return elevator.Errorf(elevator.EINVALID, "an image id belongs to one region: pass --region (orbit %s is in %s)", o.Name, strings.Join(regionNames(o), ", "))
		}
		return checkApp(app)
	}
	allow := &cobra.Command{
		Use:   "allow [IMAGE]",
		Short: "Allow releases of an app into an orbit to use an image",
		Long: `Releases use only images the orbit's image allow list has for their app: the
table ` + elevator.ImagesTableName("<orbit>") + ` in each region, one item per app and image
(images tagged ` + elevator.AllowTag("<orbit>") + `=<app>, or ` + elevator.TagApp + ` and ` + elevator.TagOrbit + `, by
older Elevators stay allowed). This adds IMAGE (in --region), or, without IMAGE,
the images the app manifest's services select (-f), in every region of the
orbit unless --region names one. The images themselves are not changed.
Allowing needs dynamodb:PutItem on the table; releasing only reads it.

A Docker service without an image runs from its own ECR repository,
<orbit>/<app>/<service>, which the app stack makes in each region. IMAGE may
be a tag there, <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>,
allowed in its region once it is pushed; -f with --version allows that tag
of each such service's repository in every region of the orbit (with the
machine images the manifest selects).`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := validate(args); err != nil {
				return err
			}
			configs := orbitConfigs(g, o)
			var allowed []map[string]string
			for i, r := range o.Regions {
				if container != nil && r.Name != container.Region {
					continue
				}
				cfg, err := configs.For(ctx, r.Name)
				if err != nil {
					return err
				}
				if caller == "" {
					id, err := sts.New(cfg).CallerIdentity(ctx)
					if err != nil {
						return err
					}
					caller = id.ARN
					if container != nil && container.Account != id.Account {
						return elevator.Errorf(elevator.EINVALID, "image %s:%s is in account %s; the orbit's allow list is in %s, whose own repositories releases run from", container.Repository, container.Tag, container.Account, id.Account)
					}
				}
				list := image.AllowList{Orbit: o.Name, Items: dynamodb.New(cfg)}
				var repos []string
				tag := version
				switch {
				case container != nil:
					repos, tag = []string{container.Repository}, container.Tag
				case a != nil && version != "":
					repos = ownRepositories(a, o.Name)
				case a != nil && len(ownRepositories(a, o.Name)) > 0 && i == 0:
					fmt.Fprintf(g.stderr, "note: the services %s run from their own repositories: pass --version to allow their tag too\n", strings.Join(ownRepositories(a, o.Name), ", "))
				}
				tagged, err := allowContainers(ctx, ecr.New(cfg), list, repos, tag, app, caller)
				if err != nil {
					return err
				}
				for _, al := range tagged {
					allowed = append(allowed, map[string]string{"region": r.Name, "image": al.Image, "app": al.App, "orbit": al.Orbit})
					if !g.json() {
						fmt.Fprintf(g.stdout, "%s  %s  allowed for %s in %s\n", r.Name, al.Image, app, o.Name)
					}
				}
				if container != nil {
					continue
				}
				ids := args
				if a != nil {
					ids = nil
					for _, svc := range a.Services {
						if svc.Runtime.ECS != nil {
							continue // its tasks run a container image: no machine image to allow
						}
						id, err := svc.AMI.Resolve(ctx, elevator.ImageSources{Images: ec2.New(cfg), Parameters: ssm.New(cfg)})
						if err != nil {
							return err
						}
						if !slices.Contains(ids, id) {
							ids = append(ids, id)
						}
					}
				}
				for _, id := range ids {
					al, err := image.AllowImage(ctx, ec2.New(cfg), list, id, app, caller, time.Now())
					if err != nil {
						return err
					}
					allowed = append(allowed, map[string]string{"region": r.Name, "image": al.Image, "app": al.App, "orbit": al.Orbit})
					if !g.json() {
						fmt.Fprintf(g.stdout, "%s  %s  allowed for %s in %s\n", r.Name, id, app, o.Name)
					}
				}
			}
			if g.json() {
				return g.printJSON(allowed)
			}
			return nil
		},
	}
	allow.Flags().StringVarP(&file, "file", "f", "app.yml", "the app manifest whose images to allow, when no IMAGE is given")
	allow.Flags().StringVar(&app, "app", "", "the app (default: the manifest's)")
	allow.Flags().StringVar(&orbitName, "orbit", "", "the orbit (required)")
	allow.Flags().StringVar(&orbitFile, "orbit-file", "", "the orbit's manifest")
	allow.Flags().StringVar(&version, "version", "", "with -f: also allow this tag of each service's own ECR repository")
	cmd.AddCommand(allow)
	cmd.AddCommand(newImageBakeCmd(g))
	cmd.AddCommand(newImageCleanupCmd(g))
	cmd.AddCommand(newImageListCmd(g))
	cmd.AddCommand(newImagePromoteCmd(g))
	cmd.AddCommand(newImageRevokeCmd(g))
	return cmd
}
