package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/spf13/cobra"
)

// imageLinePattern is the form of an image line (the value of
// elevator:image) that --image accepts: image.yml's name, as
// schemas/image.schema.json says (a test holds them equal).
var imageLinePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// imageInventory is what `image list` and `image cleanup` share: the
// orbit whose regions they look in, and which images they consider.
type imageInventory struct {
	*globals
	orbitName, orbitFile string
	line, service        string // --image, --service APP/SVC
	app, svc             string // --service, split
	orbit                *elevator.Orbit
	configs              *awsConfigs
	progress             *progress.Printer
}

func (o *imageInventory) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&o.orbitName, "orbit", "", "the orbit whose regions to look in (required)")
	c.Flags().StringVar(&o.orbitFile, "orbit-file", "", "the orbit's manifest (default: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
	c.Flags().StringVar(&o.line, "image", "", "only the images of this line (their "+elevator.TagImage+" tag)")
	c.Flags().StringVar(&o.service, "service", "", "only the images made for this service, as APP/SERVICE")
}

// validate checks the flags and reads the orbit's manifest; it calls
// nothing. allRegions refuses --region.
func (o *imageInventory) validate(allRegions bool) error {
	if o.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	if o.line != "" && !imageLinePattern.MatchString(o.line) {
		return elevator.Errorf(elevator.EINVALID, "--image %q: want an image line (the %s tag of its images): 1 to 40 lowercase letters, digits or '-', starting with a letter, such as base or shop-web", o.line, elevator.TagImage)
	}
	if o.service != "" {
		if o.line != "" {
			return elevator.Errorf(elevator.EINVALID, "--image and --service both say which images; give one")
		}
		app, svc, ok := strings.Cut(o.service, "/")
		if !ok {
			return elevator.Errorf(elevator.EINVALID, "--service %q: want APP/SERVICE, such as shop/web", o.service)
		}
		if err := checkAppService(app, svc, true); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--service %q: %w", o.service, err)
		}
		o.app, o.svc = app, svc
	}
	if allRegions && o.region != "" {
		return elevator.Errorf(elevator.EINVALID, "--region %s: cleanup looks in every region of the orbit, because a copy of an image in another region may be in use", o.region)
	}
	path, err := findOrbitFile(o.orbitName, o.orbitFile)
	if err != nil {
		return err
	}
	if o.orbit, err = readOrbit(path, o.region); err != nil {
		return err
	}
	if o.orbit.Name != o.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", o.orbitName, path, o.orbit.Name)
	}
	o.configs = orbitConfigs(o.globals, o.orbit)
	o.progress = progress.New(o.stderr)
	return nil
}

// regions returns the adapters of every region of the orbit.
func (o *imageInventory) regions(ctx context.Context) ([]image.Region, map[string]image.Remover, error) {
	var regions []image.Region
	removers := map[string]image.Remover{}
	for _, r := range o.orbit.Regions {
		cfg, err := o.configs.For(ctx, r.Name)
		if err != nil {
			return nil, nil, err
		}
		e := ec2.New(cfg)
		regions = append(regions, image.Region{Name: r.Name, Images: e, Groups: autoscaling.New(cfg), Parameters: ssm.New(cfg)})
		removers[r.Name] = e
	}
	return regions, removers, nil
}

func (o *imageInventory) note(region, msg string) { o.progress.Note(region, msg) }

func newImageCleanupCmd(g *globals) *cobra.Command {
	o := &imageInventory{globals: g}
	var stage, age string
	var keep int
	var dryRun, includeShared bool
	c := &cobra.Command{
		Use:   "cleanup",
		Short: "Deregister old images of an orbit's regions and delete their snapshots, never one in use",
		Long: `Look, in every region of the orbit, at the images the account owns that carry
an ` + elevator.TagImage + ` tag and were baked in the orbit (` + elevator.TagOrbit + `; an image and
its copies in other regions are one image), and remove those that are, in their line and stage, older than --age, not
among the newest --keep, and not in use: deregister every copy and delete
its snapshots. An image is in use when any copy, in any region of the orbit,
is launched by an Auto Scaling group (its launch template version or launch
configuration), named by a launch template's $Latest or $Default version or
by a launch configuration, or run by an instance that has not terminated,
whoever owns them, or named by an image parameter under ` + elevator.ImageParameterPrefix + `.
An image shared with other accounts (` + elevator.TagImageShared + `) stays unless
--include-shared: its uses there cannot be seen. A revoked image does not count toward --keep. --stage,
--image and --service narrow which images are considered. --dry-run prints
what would go and why each other image stays, and changes nothing; without
--yes, cleanup prints the same and asks first. Removals are audited.`,
		Args: noArgs,
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if err := o.validate(true); err != nil {
			return err
		}
		policy := image.Policy{Stage: stage, Keep: keep, Line: o.line, App: o.app, Service: o.svc, Orbit: o.orbit.Name, IncludeShared: includeShared}
		if stage != "" && o.orbit.ImageStageIndex(stage) < 0 {
			return elevator.Errorf(elevator.EINVALID, "--stage %s: orbit %s has stages %s", stage, o.orbit.Name, strings.Join(o.orbit.ImageStages(), ", "))
		}
		if keep < 0 {
			return elevator.Errorf(elevator.EINVALID, "--keep %d: want 0 or more images to keep", keep)
		}
		var err error
		if policy.Age, err = image.ParseAge(age); err != nil {
			return elevator.Errorf(elevator.EINVALID, "--age: %w", err)
		}
		regions, removers, err := o.regions(ctx)
		if err != nil {
			return err
		}
		in := image.CleanupInput{Orbit: o.orbit.Name, Regions: regions, Removers: removers, Policy: policy, DryRun: true, Progress: o.note}
		if !dryRun {
			// Where the audit goes, found before anything changes.
			home := regions[0].Name
			cfg, err := o.configs.For(ctx, home)
			if err != nil {
				return err
			}
			id, err := sts.New(cfg).CallerIdentity(ctx)
			if err != nil {
				return err
			}
			backend, err := homeBackend(ctx, cfg, o.orbit)
			if err != nil {
				return err
			}
			in.By, in.Audit = id.ARN, backend.Store.Audit
		}
		in.Now = time.Now()
		plan, err := image.Cleanup(ctx, in)
		if err != nil {
			return err
		}
		o.progress.Done()
		if dryRun {
			return o.printCleanup(policy, plan)
		}
		among := map[string]bool{}
		for _, d := range plan.Decisions {
			if d.Remove {
				among[d.Image.ID()] = true
			}
		}
		if len(among) == 0 {
			plan.DryRun = false // nothing to remove: the plan is the outcome
			return o.printCleanup(policy, plan)
		}
		if !g.yes {
			var b strings.Builder
			printDecisions(&b, plan.Decisions, true)
			if err := confirm(g, fmt.Sprintf("This deregisters %d images of orbit %s's regions, every copy, and deletes their snapshots:\n%s",
				len(among), o.orbit.Name, strings.TrimRight(b.String(), "\n")), o.orbit.Name, "orbit"); err != nil {
				return err
			}
		}
		// Only what was planned (and shown): the inventory is taken again,
		// and an image used since stays.
		in.DryRun, in.Among, in.Now = false, among, time.Now()
		done, err := image.Cleanup(ctx, in)
		o.progress.Done()
		if err != nil {
			return err
		}
		if perr := o.printCleanup(policy, done); perr != nil {
			return perr
		}
		if msg := failedRemovals(done.Removals); msg != "" {
			return reported{elevator.Errorf(elevator.EAWS, "%s", msg)}
		}
		return nil
	}
	c.Flags().StringVar(&stage, "stage", "", "only the images at this stage of the orbit")
	c.Flags().IntVar(&keep, "keep", image.DefaultKeep, "how many of the newest images of each line and stage to keep, whatever their age")
	c.Flags().StringVar(&age, "age", "14d", "keep every image younger than this: days (14d) or a duration (36h)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would be removed and why the rest stays; remove nothing")
	c.Flags().BoolVar(&includeShared, "include-shared", false, "also remove images shared with other accounts ("+elevator.TagImageShared+"), whose uses there cannot be seen")
	o.addFlags(c)
	return c
}

// cleanupJSON is what `image cleanup -o json` prints.
type cleanupJSON struct {
	Orbit     string          `json:"orbit"`
	DryRun    bool            `json:"dry_run"`
	Policy    policyJSON      `json:"policy"`
	Decisions []imageJSON     `json:"decisions"`
	Removals  []image.Removal `json:"removals"`
}

type policyJSON struct {
	Stage   string `json:"stage,omitempty"`
	Keep    int    `json:"keep"`
	Age     string `json:"age"`
	Line    string `json:"image,omitempty"`
	Service string `json:"service,omitempty"`
}

// imageJSON is one image in `image list` and `image cleanup` output.
type imageJSON struct {
	ID      string     `json:"id"` // the original's <region>/<image id>
	Line    string     `json:"line"`
	Stage   string     `json:"stage,omitempty"`
	Version string     `json:"version,omitempty"`
	Phase   string     `json:"phase,omitempty"`
	App     string     `json:"app,omitempty"`
	Service string     `json:"service,omitempty"`
	Built   time.Time  `json:"built"`
	Age     string     `json:"age"`
	Revoked string     `json:"revoked,omitempty"`
	Copies  []copyJSON `json:"copies"`
	UsedBy  []string   `json:"used_by"`
	Remove  *bool      `json:"remove,omitempty"`
	Why     string     `json:"why,omitempty"`
}

type copyJSON struct {
	Region    string   `json:"region"`
	ID        string   `json:"id"`
	State     string   `json:"state"`
	Snapshots []string `json:"snapshots"`
}

func toImageJSON(img image.Image, uses []image.Use, now time.Time) imageJSON {
	j := imageJSON{ID: img.ID(), Line: img.Line, Stage: img.Stage, Version: img.Version, Phase: img.Phase, App: img.App, Service: img.Service,
		Built: img.Built, Age: image.Age(now.Sub(img.Built)), Revoked: img.Revoked, UsedBy: []string{}}
	for _, c := range img.Copies {
		snaps := c.Snapshots
		if snaps == nil {
			snaps = []string{}
		}
		j.Copies = append(j.Copies, copyJSON{Region: c.Region, ID: c.ID, State: c.State, Snapshots: snaps})
	}
	for _, u := range uses {
		j.UsedBy = append(j.UsedBy, u.String())
	}
	return j
}

func (o *imageInventory) printCleanup(p image.Policy, rep image.Report) error {
	now := time.Now()
	if o.json() {
		out := cleanupJSON{Orbit: o.orbit.Name, DryRun: rep.DryRun, Decisions: []imageJSON{}, Removals: rep.Removals,
			Policy: policyJSON{Stage: p.Stage, Keep: p.Keep, Age: image.Age(p.Age), Line: p.Line, Service: o.service}}
		if out.Removals == nil {
			out.Removals = []image.Removal{}
		}
		for _, d := range rep.Decisions {
			j := toImageJSON(d.Image, d.UsedBy, now)
			remove := d.Remove
			j.Remove, j.Why = &remove, d.Why
			out.Decisions = append(out.Decisions, j)
		}
		return o.printJSON(out)
	}
	if len(rep.Decisions) == 0 {
		fmt.Fprintf(o.stdout, "no images tagged %s to consider in orbit %s's regions\n", elevator.TagImage, o.orbit.Name)
		return nil
	}
	if rep.DryRun {
		printDecisions(o.stdout, rep.Decisions, false)
		fmt.Fprintln(o.stdout, "dry run: nothing was removed")
		return nil
	}
	for _, d := range rep.Decisions {
		if !d.Remove {
			fmt.Fprintf(o.stdout, "keep          %s\n", describeImage(d.Image, d.Why))
		}
	}
	if len(rep.Removals) == 0 {
		fmt.Fprintf(o.stdout, "nothing to remove in orbit %s's regions\n", o.orbit.Name)
	}
	for _, r := range rep.Removals {
		switch {
		case !r.Deregistered:
			fmt.Fprintf(o.stdout, "not removed   %s  %s/%s: %s\n", r.Line, r.Region, r.ImageID, r.Error)
		case len(r.SnapshotErrors) > 0:
			fmt.Fprintf(o.stdout, "deregistered  %s  %s/%s; snapshots deleted %s; not deleted: %s\n", r.Line, r.Region, r.ImageID,
				strings.Join(r.Snapshots, ", "), joinErrors(r.SnapshotErrors))
		default:
			fmt.Fprintf(o.stdout, "removed       %s  %s/%s with snapshots %s\n", r.Line, r.Region, r.ImageID, strings.Join(r.Snapshots, ", "))
		}
	}
	return nil
}

// failedRemovals says what did not go and what to do about it: a copy
// not deregistered is still registered, so cleanup finds it again; a
// snapshot not deleted belongs to no image any more, so cleanup does not
// see it again and it has to be deleted by hand. It is "" when
// everything went.
func failedRemovals(rs []image.Removal) string {
	var images int
	var snaps []string
	for _, r := range rs {
		if !r.Deregistered {
			images++
			continue
		}
		for _, s := range sortedKeys(r.SnapshotErrors) {
			snaps = append(snaps, r.Region+"/"+s)
		}
	}
	var parts []string
	if images > 0 {
		parts = append(parts, fmt.Sprintf("%d image copies were not deregistered; run cleanup again to retry them", images))
	}
	if len(snaps) > 0 {
		parts = append(parts, fmt.Sprintf("%d snapshots of deregistered images were not deleted (%s); their images are gone, so cleanup will not find them again: delete them with `aws ec2 delete-snapshot --region REGION --snapshot-id ID`",
			len(snaps), strings.Join(snaps, ", ")))
	}
	return strings.Join(parts, "; ")
}

func joinErrors(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+" ("+m[k]+")")
	}
	return strings.Join(parts, ", ")
}

// printDecisions writes a line per decision: what would go (only those,
// when removedOnly), and what stays and why.
func printDecisions(w io.Writer, ds []image.Decision, removedOnly bool) {
	for _, d := range ds {
		verb := "keep        "
		if d.Remove {
			verb = "would remove"
		} else if removedOnly {
			continue
		}
		fmt.Fprintf(w, "%s  %s\n", verb, describeImage(d.Image, d.Why))
	}
}

// describeImage is one line about an image: line, stage, version, every
// copy, when it was built, and why.
func describeImage(img image.Image, why string) string {
	var copies []string
	for _, c := range img.Copies {
		copies = append(copies, c.Region+"/"+c.ID)
	}
	version := img.Version
	if version == "" {
		version = "-"
	}
	stage := img.Stage
	if stage == "" {
		stage = "-"
	}
	return fmt.Sprintf("%s  %s  %s  %s  built %s  %s", img.Line, stage, version, strings.Join(copies, " "), img.Built.UTC().Format("2006-01-02"), why)
}

func newImageListCmd(g *globals) *cobra.Command {
	o := &imageInventory{globals: g}
	c := &cobra.Command{
		Use:   "list",
		Short: "List the images of an orbit's regions by line: stage, age, version, copies, where used, revoked",
		Long: `List the images the account owns that carry an ` + elevator.TagImage + ` tag, in every
region of the orbit (or --region), by line, newest first: stage, age,
version, the copies in each region, what uses them (Auto Scaling groups,
launch templates, launch configurations, instances, whoever owns them),
and whether they were revoked.`,
		Args: noArgs,
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		if err := o.validate(false); err != nil {
			return err
		}
		regions, _, err := o.regions(ctx)
		if err != nil {
			return err
		}
		inv, err := image.Take(ctx, regions, o.note)
		o.progress.Done()
		if err != nil {
			return err
		}
		policy := image.Policy{Line: o.line, App: o.app, Service: o.svc}
		now := time.Now()
		out := []imageJSON{}
		for _, img := range inv.Images {
			if (policy.Line == "" || img.Line == policy.Line) && (policy.App == "" || (img.App == policy.App && img.Service == policy.Service)) {
				out = append(out, toImageJSON(img, inv.UsesOf(img), now))
			}
		}
		if o.json() {
			return o.printJSON(out)
		}
		if len(out) == 0 {
			fmt.Fprintf(o.stdout, "no images tagged %s in orbit %s's regions\n", elevator.TagImage, o.orbit.Name)
			return nil
		}
		line := ""
		for _, j := range out {
			if j.Line != line {
				line = j.Line
				fmt.Fprintf(o.stdout, "%s\n", line)
			}
			var copies []string
			for _, c := range j.Copies {
				copies = append(copies, c.Region+"/"+c.ID)
			}
			stage, version := j.Stage, j.Version
			if stage == "" {
				stage = "-"
			}
			if version == "" {
				version = "-"
			}
			fmt.Fprintf(o.stdout, "  %s  %-10s %-12s %5s  %s\n", j.ID, stage, version, j.Age, strings.Join(copies[1:], " "))
			if j.Revoked != "" {
				fmt.Fprintf(o.stdout, "      revoked: %s\n", j.Revoked)
			}
			for _, u := range j.UsedBy {
				fmt.Fprintf(o.stdout, "      used by %s\n", u)
			}
		}
		return nil
	}
	o.addFlags(c)
	return c
}
