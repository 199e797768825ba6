package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/image/bake"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
	"github.com/spf13/cobra"
)

// resumeNewest is --resume without an id: the newest unfinished bake.
const resumeNewest = "newest"

// maxBakeVersion bounds --version: an image's name is <line>-<version>,
// at most 128 characters, and a line at most 40.
const maxBakeVersion = 64

// imageBakeCmd is `elevator image bake`: Validate reads the manifests and
// checks the flags, calling nothing; connect finds the orbit's state
// bucket in the bake's region and the audit log; execute starts (or
// resumes) the bake and drives it to its end.
type imageBakeCmd struct {
	*globals
	cmd                *cobra.Command
	file, orbitName    string
	orbitFile, version string
	resume             string
	keepBuilder        bool
	pollInterval       time.Duration
	orbit              *elevator.Orbit
	manifest           *elevator.ImageManifest
	region             string
	agent              *orbit.AgentFiles
	configs            *awsConfigs
	cloud              *bake.AWS
	bucket, caller     string
	audit              *awsrelease.Store
	commit             string
	progress           *progress.Printer
	shown              string    // the bake and state observe showed last
	waited             time.Time // when wait last showed a bake waiting
}

func newImageBakeCmd(g *globals) *cobra.Command {
	b := &imageBakeCmd{globals: g}
	b.cmd = &cobra.Command{
		Use:   "bake",
		Short: "Bake a machine image from an image manifest on a builder in an orbit",
		Long: `Bake a machine image: launch a builder instance from the manifest's base image
in the orbit's tier (its bake security group and instance profile), copy the
manifest's files onto it and run its scripts as root (the Elevator agent does,
in bake mode), stop it, make the image, tag it (` + elevator.TagImage + `, ` + elevator.TagImagePhase + `,
` + elevator.TagImageSource + `, ` + elevator.TagImageVersion + `, ` + elevator.TagImageStage + ` = the orbit's first stage, ...)
and terminate the builder. A failed script, a timeout, Ctrl-C or an error
terminates the builder and removes a half-made image; --keep-builder keeps the
builder of a failed bake for debugging (reach it with Session Manager).

The bake keeps a record in the orbit's state bucket of its region, written
before each step: --resume ID (or --resume alone: the newest unfinished bake of
the manifest's line) finishes or cleans up a bake whose process died.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// --resume takes its id as --resume=ID or, since its value is
			// optional, as the argument after it.
			if len(args) == 1 {
				if b.resume != resumeNewest {
					return elevator.Errorf(elevator.EINVALID, "unexpected argument %q: image bake takes none (except a bake id after --resume)", args[0])
				}
				b.resume = args[0]
			}
			if err := b.validate(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := b.connect(ctx); err != nil {
				return err
			}
			return b.execute(ctx)
		},
	}
	f := b.cmd.Flags()
	f.StringVarP(&b.file, "file", "f", "image.yml", "the image manifest")
	f.StringVar(&b.orbitName, "orbit", "", "the orbit to bake in (required)")
	f.StringVar(&b.orbitFile, "orbit-file", "", "the orbit's manifest")
	f.StringVar(&b.version, "version", "", "the image's version (default: the time, such as 20261130-0130)")
	f.StringVar(&b.resume, "resume", "", "resume bake ID, or with no ID the newest unfinished bake of the manifest's line")
	f.Lookup("resume").NoOptDefVal = resumeNewest
	f.BoolVar(&b.keepBuilder, "keep-builder", false, "keep the builder of a failed or interrupted bake for debugging")
	f.DurationVar(&b.pollInterval, "poll-interval", 5*time.Second, "how often to look at the builder and the image")
	return b.cmd
}

// validate checks the flags and reads the manifests; it calls nothing.
func (b *imageBakeCmd) validate() error {
	if b.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	if err := checkPollInterval(b.cmd, b.pollInterval); err != nil {
		return err
	}
	path, err := findOrbitFile(b.orbitName, b.orbitFile)
	if err != nil {
		return err
	}
	if b.orbit, err = readOrbit(path, ""); err != nil {
		return err
	}
	if b.orbit.Name != b.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", b.orbitName, path, b.orbit.Name)
	}
	b.region = b.orbit.Regions[0].Name
	if b.globals.region != "" {
		if !slices.ContainsFunc(b.orbit.Regions, func(r elevator.Region) bool { return r.Name == b.globals.region }) {
			return elevator.Errorf(elevator.EINVALID, "--region %s: orbit %s is in %s", b.globals.region, b.orbit.Name, strings.Join(regionNames(b.orbit), ", "))
		}
		b.region = b.globals.region
	}
	if b.resume != "" {
		if b.cmd.Flags().Changed("version") {
			return elevator.Errorf(elevator.EINVALID, "--version goes with a new bake; a resumed bake keeps its own")
		}
		if b.resume != resumeNewest && elevator.CheckReleaseID(b.resume) != nil {
			return elevator.Errorf(elevator.EINVALID, "--resume %q: want a bake id such as 20261130-013000123-9f86d081", b.resume)
		}
		// The manifest, when there is one, names the line whose newest
		// bake to resume.
		if _, err := os.Stat(b.file); err == nil || b.cmd.Flags().Changed("file") {
			if b.manifest, err = readImage(b.file); err != nil {
				return err
			}
		}
		return nil
	}
	if b.version == "" {
		b.version = bake.DefaultVersion(time.Now())
	}
	if err := elevator.CheckVersion(b.version); err != nil || len(b.version) > maxBakeVersion {
		return elevator.Errorf(elevator.EINVALID, "--version %q: want 1 to %d letters, digits, '_', '.' or '-', not starting with '.' or '-'", b.version, maxBakeVersion)
	}
	if b.manifest, err = readImage(b.file); err != nil {
		return err
	}
	if err := manifest.CheckImageOrbit(b.manifest, b.orbit, b.region); err != nil {
		return err
	}
	// The builder's user data names the agent's builds.
	b.agent, err = orbit.ReadAgent()
	return err
}

// readImage reads and parses an image manifest.
func readImage(file string) (*elevator.ImageManifest, error) {
	data, err := manifest.ReadFile(file)
	if err != nil {
		if elevator.ErrorCode(err) == elevator.EINVALID {
			return nil, err
		}
		if os.IsNotExist(err) {
			return nil, elevator.Errorf(elevator.EINVALID, "image manifest %s not found; pass -f FILE", file)
		}
		return nil, elevator.Errorf(elevator.EINVALID, "read image manifest: %w", err)
	}
	return manifest.ParseImage(file, data)
}

// connect finds who calls, the orbit's state bucket in the bake's region
// and its audit log in the orbit's home region, and stores the agent's
// builds in the bucket for the builder.
func (b *imageBakeCmd) connect(ctx context.Context) error {
	b.configs = orbitConfigs(b.globals, b.orbit)
	cfg, err := b.configs.For(ctx, b.region)
	if err != nil {
		return err
	}
	id, err := sts.New(cfg).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	b.caller = id.ARN
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfg)}).OrbitOutputs(ctx, b.orbit)
	if err != nil {
		return err
	}
	if b.bucket = outputs[compile.StateBucketOutput]; b.bucket == "" {
		return elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no state bucket in %s; run `elevator orbit up`", b.orbit.Name, b.region)
	}
	b.cloud = bake.NewAWS(cfg, b.bucket)
	home, homeBucket := cfg, b.bucket
	if first := b.orbit.Regions[0].Name; first != b.region {
		if home, err = b.configs.For(ctx, first); err != nil {
			return err
		}
		out, err := (&apply.Engine{Stacks: cloudformation.New(home)}).OrbitOutputs(ctx, b.orbit)
		if err != nil {
			return err
		}
		homeBucket = out[compile.StateBucketOutput]
	}
	backend, err := awsrelease.New(awsrelease.Config{Orbit: b.orbit.Name, AWS: []aws.Config{home}, Bucket: homeBucket, ECS: b.orbit.ECS != nil})
	if err != nil {
		return err
	}
	b.audit = backend.Store
	if b.agent != nil {
		stored, err := orbit.PublishAgent(ctx, s3.New(cfg), b.bucket, b.agent)
		for _, key := range stored {
			fmt.Fprintf(b.stderr, "%s  stored the Elevator agent at s3://%s/%s\n", b.region, b.bucket, key)
		}
		if err != nil {
			return err
		}
	}
	if b.manifest != nil {
		b.commit = gitCommit(b.manifest.Dir)
	}
	return nil
}

// gitCommit is the commit checked out in dir, or "" when dir is not in a
// git checkout (or git is missing).
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (b *imageBakeCmd) execute(ctx context.Context) error {
	b.progress = progress.New(b.stderr)
	defer b.progress.Done()
	engine := bake.New(bake.Config{
		Cloud:   b.cloud,
		Poll:    b.pollInterval,
		Observe: b.observe,
		Wait:    b.wait,
		Audit:   b.auditBake,
		Log:     b.logger(),
	})
	var rec *bake.Record
	var err error
	if b.resume != "" {
		if rec, err = b.load(ctx); err != nil {
			return err
		}
		fmt.Fprintf(b.stderr, "resuming bake %s of %s %s in %s (%s)\n", rec.ID, rec.Line, rec.Version, rec.Region, rec.State)
		if b.keepBuilder {
			rec.KeepBuilder = true
		}
	} else {
		id, err := bake.NewID(time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(b.stderr, "bake %s of %s %s in orbit %s, %s (resume it with: elevator image bake --resume %s --orbit %s --region %s)\n",
			id, b.manifest.Name, b.version, b.orbit.Name, b.region, id, b.orbit.Name, b.region)
		rec, err = engine.Start(ctx, bake.Request{Manifest: b.manifest, Orbit: b.orbit, Region: b.region, Version: b.version, ID: id,
			By: b.caller, Commit: b.commit, Agent: b.agent.Builds, KeepBuilder: b.keepBuilder}, b.cloud)
		if err != nil {
			return err
		}
	}
	runErr := engine.Run(ctx, rec)
	b.progress.Done()
	if runErr != nil && rec.State != bake.StateSucceeded {
		if b.json() {
			if err := b.printJSON(bakeResult(rec)); err != nil {
				return err
			}
			return reported{runErr} // the record printed is the JSON answer
		}
		return runErr
	}
	if b.json() {
		return b.printJSON(bakeResult(rec))
	}
	fmt.Fprintf(b.stdout, "image %s (%s) baked in %s by bake %s\n", rec.ImageID, rec.ImageName, rec.Region, rec.ID)
	keys := make([]string, 0, len(rec.ImageTags))
	for k := range rec.ImageTags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b.stdout, "  %-22s %s\n", k, rec.ImageTags[k])
	}
	return nil
}

// load finds the bake to resume.
func (b *imageBakeCmd) load(ctx context.Context) (*bake.Record, error) {
	if b.resume != resumeNewest {
		return bake.Load(ctx, b.cloud, b.resume)
	}
	line := ""
	if b.manifest != nil {
		line = b.manifest.Name
	}
	r, err := bake.NewestUnfinished(ctx, b.cloud, b.cloud, line)
	if errors.Is(err, bake.ErrNoUnfinished) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "%v in %s of orbit %s; nothing to resume", err, b.region, b.orbit.Name)
	}
	return r, err
}

// observe shows each state a bake enters, once.
func (b *imageBakeCmd) observe(r *bake.Record) {
	if r.ID+string(r.State) == b.shown {
		return
	}
	b.shown = r.ID + string(r.State)
	b.waited = time.Time{}
	msg := "bake " + r.ID + ": " + string(r.State)
	switch r.State {
	case bake.StateLaunching:
		msg += " a " + r.Builder.InstanceType + " builder from " + r.Builder.BaseImage + " in " + r.Builder.SubnetID
	case bake.StateProvisioning:
		msg += fmt.Sprintf(": builder %s runs the scripts (until %s)", r.InstanceID, r.Deadline.Format(time.TimeOnly))
	case bake.StateImaging:
		msg += " " + r.ImageName
	case bake.StateTagging, bake.StateTerminating:
		msg += " " + r.ImageID
	case bake.StateCleaningUp:
		msg += ": " + r.Error
	}
	b.progress.Note(r.Region, msg)
}

// wait shows, at most once a minute, that a bake is still waiting.
func (b *imageBakeCmd) wait(r *bake.Record) {
	now := time.Now()
	if now.Sub(b.waited) < time.Minute {
		return
	}
	if b.waited.IsZero() {
		b.waited = now // the state's own line has just said so
		return
	}
	b.waited = now
	msg := "bake " + r.ID + ": still " + string(r.State)
	if r.State == bake.StateProvisioning {
		msg += fmt.Sprintf(", %s left", time.Until(r.Deadline).Round(time.Second))
	}
	b.progress.Note(r.Region, msg)
}

// auditBake writes the bake's entry in the orbit's audit log.
func (b *imageBakeCmd) auditBake(ctx context.Context, r *bake.Record) error {
	detail := fmt.Sprintf("bake %s of %s %s in %s", r.ID, r.Line, r.Version, r.Region)
	if r.ImageID != "" && r.State == bake.StateSucceeded {
		detail += ": image " + r.ImageID + " (" + r.ImageName + ")"
	} else if r.Error != "" {
		detail += ": " + r.Error
	}
	return b.audit.Audit(ctx, elevator.AuditEntry{By: b.caller, Action: elevator.AuditImageBake, App: r.ImageTags[elevator.TagApp],
		Orbit: r.Orbit, Outcome: string(r.State), Detail: detail})
}

// bakeOutput is what `image bake --output json` prints.
type bakeOutput struct {
	ID        string            `json:"id"`
	State     bake.State        `json:"state"`
	Image     string            `json:"image,omitempty"`
	Name      string            `json:"name"`
	Region    string            `json:"region"`
	Tags      map[string]string `json:"tags"`
	Error     string            `json:"error,omitempty"`
	Result    any               `json:"result,omitempty"`
	Leftovers []string          `json:"leftovers,omitempty"`
}

func bakeResult(r *bake.Record) bakeOutput {
	out := bakeOutput{ID: r.ID, State: r.State, Name: r.ImageName, Region: r.Region, Tags: r.ImageTags, Error: r.Error, Leftovers: r.Leftovers}
	if r.State == bake.StateSucceeded {
		out.Image = r.ImageID
	}
	if r.Result != nil {
		out.Result = r.Result
	}
	return out
}
