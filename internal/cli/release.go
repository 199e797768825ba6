package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/deploy"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
	"github.com/spf13/cobra"
)

// releaseEnv is what every release command needs: the orbit, AWS, and the
// release engine on the orbit's state bucket and tables.
type releaseEnv struct {
	*globals
	orbitName, orbitFile string
	pollInterval         time.Duration
	lease                time.Duration

	orbit   *elevator.Orbit
	configs *awsConfigs
	backend *awsrelease.Backend
	engine  *release.Engine
	caller  string
	last    elevator.ReleaseState // the state Observe printed last
}

func (e *releaseEnv) addFlags(c *cobra.Command) {
	c.Flags().StringVar(&e.orbitName, "orbit", "", "the orbit (required)")
	c.Flags().StringVar(&e.orbitFile, "orbit-file", "", "the orbit's manifest (default: orbits/NAME.yml, NAME.orbit.yml or orbit.yml)")
	c.Flags().DurationVar(&e.pollInterval, "poll-interval", 0, "time between two looks at AWS while waiting (default 5s, 100ms with --local)")
	c.Flags().DurationVar(&e.lease, "lease", release.DefaultLease, "how long the release lock outlives this process if it dies; it is renewed while it runs")
}

// open reads the orbit and wires the release engine to it.
func (e *releaseEnv) open(ctx context.Context) error {
	if e.orbitName == "" {
		return elevator.Errorf(elevator.EINVALID, "--orbit is required")
	}
	if e.region != "" {
		return elevator.Errorf(elevator.EINVALID, "--region: a release covers every region of its orbit; use --regions-in-sequence to go one region at a time")
	}
	file, err := findOrbitFile(e.orbitName, e.orbitFile)
	if err != nil {
		return err
	}
	if e.orbit, err = readOrbit(file, ""); err != nil {
		return err
	}
	if e.orbit.Name != e.orbitName {
		return elevator.Errorf(elevator.EINVALID, "--orbit %s, but %s describes orbit %s", e.orbitName, file, e.orbit.Name)
	}
	e.configs = newAWSConfigs(e.globals)
	var cfgs []aws.Config
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, cfg)
	}
	id, err := sts.New(cfgs[0]).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	e.caller = id.ARN
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfgs[0])}).OrbitOutputs(ctx, e.orbit)
	if err != nil {
		return err
	}
	if e.backend, err = awsrelease.New(awsrelease.Config{Orbit: e.orbit.Name, AWS: cfgs, Bucket: outputs["StateBucket"]}); err != nil {
		return err
	}
	cfg := e.backend.EngineConfig(owner())
	cfg.Poll = e.pollInterval
	if cfg.Poll == 0 && e.configs.emulated() {
		cfg.Poll = 100 * time.Millisecond
	}
	cfg.Lease = e.lease
	cfg.Observe = e.observe
	e.engine, err = release.New(cfg)
	return err
}

// owner names this process in locks and records: host, pid and a random
// part, so that two engines never share a name.
func owner() string {
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// observe prints a line each time a release enters a state: the progress
// of `deploy`, `resume`, `rollback` and `watch`.
func (e *releaseEnv) observe(rec elevator.ReleaseRecord) {
	if rec.State == e.last {
		return
	}
	e.last = rec.State
	line := fmt.Sprintf("%s release %s  %s", time.Now().UTC().Format(time.RFC3339), rec.ID, rec.State)
	var health []string
	for _, r := range rec.Regions {
		for _, s := range r.Services {
			if s.Group != "" {
				health = append(health, fmt.Sprintf("%s/%s %d/%d healthy", r.Region, s.Service, s.Health.Healthy, s.Health.Needed))
			}
		}
	}
	if len(health) > 0 && (rec.State == elevator.StateCheckHealthy || rec.State == elevator.StateCutOver) {
		line += "  (" + strings.Join(health, ", ") + ")"
	}
	fmt.Fprintln(e.stderr, line)
}

// run writes a release down and drives it to an end state. The checksum
// passed to Run is the one of the document this process built, so a
// document changed in the bucket in between fails Validate.
func (e *releaseEnv) run(ctx context.Context, rel *elevator.Release) error {
	sum, err := rel.Checksum()
	if err != nil {
		return err
	}
	if _, err := e.engine.Submit(ctx, rel); err != nil {
		return err
	}
	rec, err := e.engine.Run(ctx, rel.ID, sum)
	if err != nil {
		return err
	}
	return e.finish(rec)
}

// finish prints a record and turns a failed release into its exit code.
func (e *releaseEnv) finish(rec *elevator.ReleaseRecord) error {
	if e.json() {
		if err := e.printJSON(rec); err != nil {
			return err
		}
	} else {
		printRecord(e.stdout, rec)
	}
	var err error
	switch rec.State {
	case elevator.StateFailureClean:
		err = elevator.Errorf(elevator.EFAILED, "release %s ended FailureClean: %s", rec.ID, rec.Error)
	case elevator.StateFailureDirty:
		err = elevator.Errorf(elevator.EDIRTY, "release %s ended FailureDirty: left behind %s", rec.ID, strings.Join(rec.Leftovers, ", "))
	}
	if err != nil && e.json() {
		return reported{err} // the record printed is the JSON answer
	}
	return err
}

func newDeployCmd(g *globals) *cobra.Command {
	e := &releaseEnv{globals: g}
	var file, version string
	var dryRun, sequential bool
	c := &cobra.Command{
		Use:   "deploy",
		Short: "Release a version of an app into an orbit: new Auto Scaling Groups, healthy, then the old ones retired",
		Long: `Build a release of the app (its manifest, the version, its infrastructure in
the orbit), write it down with its checksum, and drive it through the release
engine: lock, validate resources, deploy new Auto Scaling Groups, wait until
they are healthy behind their load balancers, cut over, retire the old
groups. Every release ends Success, FailureClean (exit 6) or FailureDirty
(exit 7). If this command dies, 'elevator release resume ID' continues.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			a, err := readApp(file, e.orbitName)
			if err != nil {
				return err
			}
			if err := e.open(ctx); err != nil {
				return err
			}
			facts, err := deploy.Facts(ctx, a, e.orbit, func(region string) (deploy.Clients, error) {
				cfg, err := e.configs.For(ctx, region)
				if err != nil {
					return deploy.Clients{}, err
				}
				return deploy.Clients{Stacks: cloudformation.New(cfg), Images: elevator.ImageSources{Images: ec2.New(cfg), Parameters: ssm.New(cfg)}}, nil
			})
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			id, err := elevator.NewReleaseID(now, nil)
			if err != nil {
				return err
			}
			rel, err := deploy.Build(deploy.Request{App: a, Orbit: e.orbit, Version: version, ID: id, CreatedAt: now, CreatedBy: e.caller, Sequential: sequential}, facts)
			if err != nil {
				return err
			}
			if dryRun {
				if e.json() {
					return e.printJSON(rel)
				}
				printRelease(e.stdout, rel)
				return nil
			}
			fmt.Fprintf(e.stderr, "release %s of %s %s into orbit %s (resume it with: elevator release resume %s --orbit %s)\n", rel.ID, a.Name, version, e.orbit.Name, rel.ID, e.orbit.Name)
			return e.run(ctx, rel)
		},
	}
	c.Flags().StringVarP(&file, "file", "f", "app.yml", "the app manifest")
	c.Flags().StringVar(&version, "version", "", "the version to release, such as a Docker tag (required)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print the release and the resources it resolved; change nothing")
	c.Flags().BoolVar(&sequential, "regions-in-sequence", false, "release one region at a time, in the orbit's order")
	e.addFlags(c)
	return c
}

func newReleaseCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "release", Short: "List, show, follow and resume releases, and read the audit log"}
	list := &releaseEnv{globals: g}
	var app string
	var limit int
	listCmd := &cobra.Command{
		Use: "list", Short: "List an app's releases in an orbit, newest first", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if app == "" {
				return elevator.Errorf(elevator.EINVALID, "--app is required")
			}
			if err := list.open(cmd.Context()); err != nil {
				return err
			}
			recs, err := list.backend.Store.Releases(cmd.Context(), app, limit)
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(recs)
			}
			for _, r := range recs {
				fmt.Fprintf(g.stdout, "%s  %-13s  %s  %s\n", r.ID, r.State, r.SubmittedAt.Format(time.RFC3339), strings.Join(statePath(r.Path), " > "))
			}
			return nil
		},
	}
	listCmd.Flags().StringVar(&app, "app", "", "the app (required)")
	listCmd.Flags().IntVar(&limit, "limit", 20, "how many releases at most")
	list.addFlags(listCmd)

	byID := func(use, short string, run func(e *releaseEnv, ctx context.Context, id string) error) *cobra.Command {
		e := &releaseEnv{globals: g}
		c := &cobra.Command{
			Use: use + " ID", Short: short, Args: exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := e.open(cmd.Context()); err != nil {
					return err
				}
				return run(e, cmd.Context(), args[0])
			},
		}
		e.addFlags(c)
		return c
	}
	status := byID("status", "Show a release's record: state, path, health per region and service", func(e *releaseEnv, ctx context.Context, id string) error {
		rec, err := e.engine.Status(ctx, id)
		if err != nil {
			return err
		}
		return e.finish(rec)
	})
	watch := byID("watch", "Follow a release until it ends", func(e *releaseEnv, ctx context.Context, id string) error {
		for {
			rec, err := e.engine.Status(ctx, id)
			if err != nil {
				return err
			}
			e.observe(*rec)
			if rec.State.Ended() {
				return e.finish(rec)
			}
			select {
			case <-ctx.Done():
				return elevator.Errorf(elevator.EINTERRUPTED, "stopped watching release %s (it goes on)", id)
			case <-time.After(max(e.pollInterval, time.Second)):
			}
		}
	})
	resume := byID("resume", "Continue a release whose engine stopped (safe to run twice: the lease decides)", func(e *releaseEnv, ctx context.Context, id string) error {
		for said := false; ; said = true {
			rec, err := e.engine.Resume(ctx, id, e.caller)
			if !errors.Is(err, release.ErrRunning) {
				if err != nil {
					return err
				}
				return e.finish(rec)
			}
			// Another engine holds the release: it may be alive and
			// about to finish, or dead, in which case its lease ends.
			if !said {
				fmt.Fprintf(e.stderr, "%v; waiting for it to end\n", err)
			}
			select {
			case <-ctx.Done():
				return elevator.Errorf(elevator.EINTERRUPTED, "stopped waiting to resume release %s", id)
			case <-time.After(time.Second):
			}
		}
	})
	audit := &releaseEnv{globals: g}
	var since time.Duration
	auditCmd := &cobra.Command{
		Use: "audit", Short: "Show who released, halted, resumed, unlocked or rolled back what, and how it ended", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := audit.open(cmd.Context()); err != nil {
				return err
			}
			entries, err := audit.backend.Store.AuditLog(cmd.Context(), time.Now().Add(-since))
			if err != nil {
				return err
			}
			if g.json() {
				return g.printJSON(entries)
			}
			for _, en := range entries {
				fmt.Fprintf(g.stdout, "%s  %-9s  %s/%s  %s  %s  by %s", en.At.Format(time.RFC3339), en.Action, en.App, en.Orbit, en.ReleaseID, en.Outcome, en.By)
				if en.Detail != "" {
					fmt.Fprintf(g.stdout, "  (%s)", en.Detail)
				}
				fmt.Fprintln(g.stdout)
			}
			return nil
		},
	}
	auditCmd.Flags().DurationVar(&since, "since", 7*24*time.Hour, "how far back")
	audit.addFlags(auditCmd)
	cmd.AddCommand(listCmd, status, watch, resume, auditCmd)
	return cmd
}

// appCommand makes a release command about an app in an orbit.
func appCommand(g *globals, use, short string, flags func(c *cobra.Command), run func(e *releaseEnv, ctx context.Context, app string) error) *cobra.Command {
	e := &releaseEnv{globals: g}
	var app string
	c := &cobra.Command{
		Use: use, Short: short, Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if app == "" {
				return elevator.Errorf(elevator.EINVALID, "--app is required")
			}
			if err := e.open(cmd.Context()); err != nil {
				return err
			}
			return run(e, cmd.Context(), app)
		},
	}
	c.Flags().StringVar(&app, "app", "", "the app (required)")
	e.addFlags(c)
	if flags != nil {
		flags(c)
	}
	return c
}

func newHaltCmd(g *globals) *cobra.Command {
	var reason string
	return appCommand(g, "halt", "Stop the release of an app under way in an orbit; it rolls back and ends FailureClean", func(c *cobra.Command) {
		c.Flags().StringVar(&reason, "reason", "", "why (required; it is audited)")
	}, func(e *releaseEnv, ctx context.Context, app string) error {
		if reason == "" {
			return elevator.Errorf(elevator.EINVALID, "--reason is required")
		}
		id, err := e.engine.HaltCurrent(ctx, app, e.orbit.Name, e.caller, reason)
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(map[string]string{"halted": id, "reason": reason})
		}
		fmt.Fprintf(e.stdout, "release %s of %s in orbit %s halted: %s\n", id, app, e.orbit.Name, reason)
		return nil
	})
}

func newUnlockCmd(g *globals) *cobra.Command {
	var reason string
	return appCommand(g, "unlock", "Break the release lock of an app in an orbit, whoever holds it (audited)", func(c *cobra.Command) {
		c.Flags().StringVar(&reason, "reason", "", "why (required; it is audited)")
	}, func(e *releaseEnv, ctx context.Context, app string) error {
		if reason == "" {
			return elevator.Errorf(elevator.EINVALID, "--reason is required")
		}
		lock, err := e.engine.Unlock(ctx, app, e.orbit.Name, e.caller, reason)
		if err != nil {
			return err
		}
		if e.json() {
			return e.printJSON(lock)
		}
		fmt.Fprintf(e.stdout, "lock of %s in orbit %s broken (it was held by release %s of %s since %s)\n", app, e.orbit.Name, lock.ReleaseID, lock.Holder, lock.Since.Format(time.RFC3339))
		return nil
	})
}

func newRollbackCmd(g *globals) *cobra.Command {
	var to string
	return appCommand(g, "rollback", "Release an earlier successful release's content again (default: the one before the current)", func(c *cobra.Command) {
		c.Flags().StringVar(&to, "to", "", "the release to go back to")
	}, func(e *releaseEnv, ctx context.Context, app string) error {
		if to == "" {
			recs, err := e.backend.Store.Releases(ctx, app, 50)
			if err != nil {
				return err
			}
			successes := 0
			for _, r := range recs {
				if r.State == elevator.StateSuccess {
					if successes++; successes == 2 {
						to = r.ID
						break
					}
				}
			}
			if to == "" {
				return elevator.Errorf(elevator.ENOTFOUND, "app %s has no earlier successful release in orbit %s to roll back to", app, e.orbit.Name)
			}
		}
		if target, err := e.engine.Status(ctx, to); err != nil {
			return err
		} else if target.App != app {
			return elevator.Errorf(elevator.EINVALID, "--to %s is a release of app %s, not of %s", to, target.App, app)
		}
		rel, err := e.engine.Rollback(ctx, to, e.caller)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "release %s rolls %s back to release %s\n", rel.ID, app, to)
		return e.run(ctx, rel)
	})
}

func newImageCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Authorize machine images for releases"}
	e := &releaseEnv{globals: g}
	var app string
	var file string
	allow := &cobra.Command{
		Use:   "allow [IMAGE]",
		Short: "Tag an image so that releases of an app into an orbit may use it",
		Long: `Releases use only images tagged for their app and orbit: elevator:allow:<orbit>
lists the apps an image may be released as in that orbit (or elevator:app and
elevator:orbit both allow them). This adds the app to that tag of IMAGE (in
--region), or, without IMAGE, of the images the app manifest's services
select (-f), in every region of the orbit unless --region names one.`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if e.orbitName == "" {
				return elevator.Errorf(elevator.EINVALID, "--orbit is required")
			}
			orbitFile, err := findOrbitFile(e.orbitName, e.orbitFile)
			if err != nil {
				return err
			}
			o, err := readOrbit(orbitFile, g.region)
			if err != nil {
				return err
			}
			if len(args) == 1 && g.region == "" && len(o.Regions) > 1 {
				return elevator.Errorf(elevator.EINVALID, "an image id belongs to one region: pass --region (orbit %s is in %s)", o.Name, strings.Join(regionNames(o), ", "))
			}
			var a *elevator.App
			if len(args) == 0 {
				if a, err = readApp(file, o.Name); err != nil {
					return err
				}
				app = a.Name
			}
			if app == "" {
				return elevator.Errorf(elevator.EINVALID, "--app is required with an IMAGE")
			}
			configs := newAWSConfigs(g)
			var allowed []map[string]string
			for _, r := range o.Regions {
				cfg, err := configs.For(ctx, r.Name)
				if err != nil {
					return err
				}
				ids := args
				if a != nil {
					ids = nil
					for _, svc := range a.Services {
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
					tags, err := deploy.AllowImage(ctx, ec2.New(cfg), id, app, o.Name)
					if err != nil {
						return err
					}
					key := release.TagAllow + o.Name
					allowed = append(allowed, map[string]string{"region": r.Name, "image": id, key: tags[key]})
					if !g.json() {
						fmt.Fprintf(g.stdout, "%s  %s  %s=%s\n", r.Name, id, key, tags[key])
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
	allow.Flags().StringVar(&e.orbitName, "orbit", "", "the orbit (required)")
	allow.Flags().StringVar(&e.orbitFile, "orbit-file", "", "the orbit's manifest")
	cmd.AddCommand(allow)
	return cmd
}

// readApp reads an app manifest merged for orbit.
func readApp(file, orbit string) (*elevator.App, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, elevator.Errorf(elevator.EINVALID, "app manifest %s not found; pass -f FILE", file)
		}
		return nil, elevator.Errorf(elevator.EINVALID, "read app manifest: %w", err)
	}
	return manifest.ParseApp(file, data, orbit)
}
