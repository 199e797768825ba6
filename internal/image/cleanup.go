package image

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// Cleanup defaults, as Asiaq's: keep the newest 3 images of each line
// and stage, and every image younger than 14 days.
const (
	DefaultKeep = 3
	DefaultAge  = 14 * 24 * time.Hour
)

// Policy says which images a cleanup may remove. Line, App/Service and
// Stage narrow the images it considers (all when empty); Keep and Age
// protect some of those.
type Policy struct {
	// Stage, when set, considers only images at that stage.
	Stage string
	// Keep is how many of the newest images of each line and stage stay,
	// whatever their age. Revoked images do not count: they can no
	// longer be released, so they are no fallback.
	Keep int
	// Age is how young an image must be to stay whatever Keep says.
	Age time.Duration
	// Line, when set, considers only the images of that line.
	Line string
	// App and Service, when set, consider only the images made for that
	// app (and service).
	App, Service string
	// Orbit, when set, considers only the images its bakes made (their
	// elevator:orbit tag): other orbits' images in the same regions are
	// neither removed nor counted toward Keep. Uses count whoever's they
	// are.
	Orbit string
	// IncludeShared lets a cleanup remove an image shared with other
	// accounts (elevator:shared). Without it such an image stays: uses in
	// other accounts cannot be seen.
	IncludeShared bool
}

// Decision is what a cleanup does with one image: remove it (with every
// copy and their snapshots) or keep it, and why. UsedBy lists what uses
// any of its copies.
type Decision struct {
	Image  Image
	Remove bool
	Why    string
	UsedBy []Use
}

// in reports whether the policy considers img.
func (p Policy) in(img Image) bool {
	return (p.Orbit == "" || img.Orbit == p.Orbit) &&
		(p.Line == "" || img.Line == p.Line) &&
		(p.App == "" || img.App == p.App) &&
		(p.Service == "" || img.Service == p.Service) &&
		(p.Stage == "" || img.Stage == p.Stage)
}

// Plan decides, for each image the policy considers, whether a cleanup
// at now removes it. An image stays when any of its copies in any region
// is used (by a group, a launch template's $Latest or $Default version, a
// launch configuration, an instance or an image parameter), when it is
// shared with other accounts (unless IncludeShared), when a copy is still being made
// (not available and not failed), when it is among the newest Keep
// unrevoked images of its line and stage (by Built), or when it is
// younger than Age or of unknown age; every reason that holds is given. Any other image is
// removed, revoked or not. Plan is pure: it calls nothing.
func Plan(inv Inventory, p Policy, now time.Time) []Decision {
	inv = inv.indexed()
	type lineStage struct{ line, stage string }
	groups := map[lineStage][]Image{}
	var keys []lineStage
	for _, img := range inv.Images {
		if !p.in(img) {
			continue
		}
		k := lineStage{img.Line, img.Stage}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], img)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].line != keys[j].line {
			return keys[i].line < keys[j].line
		}
		return keys[i].stage < keys[j].stage
	})
	var out []Decision
	for _, k := range keys {
		imgs := groups[k]
		sortImages(imgs)
		rank := 0
		for _, img := range imgs {
			d := Decision{Image: img, UsedBy: inv.UsesOf(img)}
			var keep []string
			if len(d.UsedBy) > 0 {
				keep = append(keep, "in use by "+listUses(d.UsedBy))
			}
			for _, c := range img.Copies {
				if c.State != "available" && c.State != "failed" {
					keep = append(keep, fmt.Sprintf("%s in %s is %s", c.ID, c.Region, orUnknown(c.State)))
				}
			}
			if img.Shared != "" && !p.IncludeShared {
				keep = append(keep, "shared with "+img.Shared+"; uses there cannot be seen (--include-shared removes it)")
			}
			if img.Revoked == "" {
				rank++
				if rank <= p.Keep {
					keep = append(keep, fmt.Sprintf("newest %d of line %s at stage %s (#%d)", p.Keep, k.line, orNone(k.stage), rank))
				}
			}
			age := now.Sub(img.Built)
			if img.Built.IsZero() {
				keep = append(keep, "age unknown (no "+elevator.TagImageBuilt+" tag nor creation date)")
			} else if age < p.Age {
				keep = append(keep, fmt.Sprintf("younger than %s (built %s ago)", Age(p.Age), Age(age)))
			}
			if len(keep) > 0 {
				d.Why = "kept: " + strings.Join(keep, "; ")
			} else {
				d.Remove = true
				why := fmt.Sprintf("older than %s (built %s ago), not among the newest %d of line %s at stage %s, not in use", Age(p.Age), Age(age), p.Keep, k.line, orNone(k.stage))
				if img.Revoked != "" {
					why = "revoked (" + img.Revoked + "), " + why
				}
				d.Why = why
			}
			out = append(out, d)
		}
	}
	return out
}

// listUses names up to three uses and counts the rest.
func listUses(uses []Use) string {
	var names []string
	for i, u := range uses {
		if i == 3 {
			names = append(names, fmt.Sprintf("%d more", len(uses)-3))
			break
		}
		names = append(names, u.String())
	}
	return strings.Join(names, ", ")
}

func orNone(stage string) string {
	if stage == "" {
		return "(none)"
	}
	return stage
}

func orUnknown(state string) string {
	if state == "" {
		return "in an unknown state"
	}
	return state
}

// Age writes d in days when it is two days or more, else in hours, else
// in minutes: "14d", "36h", "5m".
func Age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	case d < 0:
		return "0m"
	}
	return fmt.Sprintf("%dm", int(d/time.Minute))
}

// maxAgeDays bounds an age in days (a hundred years), well within a
// time.Duration.
const maxAgeDays = 36500

// ParseAge reads an age: a number of days ("14d") or a Go duration
// ("36h", "90m"). It returns EINVALID for anything else, a negative age,
// or more than maxAgeDays days.
func ParseAge(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn") {
		var days int
		if _, err = fmt.Sscanf(n, "%d", &days); err == nil && fmt.Sprint(days) == n && days <= maxAgeDays {
			d = time.Duration(days) * 24 * time.Hour
		} else {
			err = fmt.Errorf("not a number of days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return 0, elevator.Errorf(elevator.EINVALID, "age %q: want a number of days such as 14d, or a duration such as 36h, at least 0", s)
	}
	return d, nil
}

// Remover removes images and snapshots in one region (the EC2 adapter).
type Remover interface {
	DeregisterImage(ctx context.Context, id string) error
	DeleteSnapshot(ctx context.Context, id string) error
}

// Removal is what became of one copy of a removed image: deregistered or
// not (Error says why), and which of its snapshots were deleted and
// which were not (SnapshotErrors, by snapshot).
type Removal struct {
	Line           string            `json:"line"`
	Region         string            `json:"region"`
	ImageID        string            `json:"image_id"`
	Deregistered   bool              `json:"deregistered"`
	Error          string            `json:"error,omitempty"`
	Snapshots      []string          `json:"snapshots_deleted,omitempty"`
	SnapshotErrors map[string]string `json:"snapshot_errors,omitempty"`
}

// OK reports whether the copy and all its snapshots went.
func (r Removal) OK() bool { return r.Deregistered && len(r.SnapshotErrors) == 0 }

// Remove deregisters every copy of every image decisions remove, in
// every region (removers by region), then deletes the snapshots of each
// copy it deregistered (those were read, with the image, before),
// trying a snapshot AWS still says is in use again for about a minute
// (snapshotWaits). The
// regions work at once, each copy after copy (AWS limits the rate of
// calls per region). A failure does not stop the others; a copy that
// could not be deregistered keeps its snapshots. A region with no
// remover fails its copies. progress, when not nil, is told of each
// copy. Removals come out in the order of decisions and copies.
func Remove(ctx context.Context, removers map[string]Remover, decisions []Decision, progress func(region, msg string)) []Removal {
	type job struct {
		at       int
		snapshot []string
	}
	var out []Removal
	byRegion := map[string][]job{}
	for _, d := range decisions {
		if !d.Remove {
			continue
		}
		for _, c := range d.Image.Copies {
			byRegion[c.Region] = append(byRegion[c.Region], job{at: len(out), snapshot: c.Snapshots})
			out = append(out, Removal{Line: d.Image.Line, Region: c.Region, ImageID: c.ID})
		}
	}
	var wg sync.WaitGroup
	for region, jobs := range byRegion {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rm, ok := removers[region]
			for _, j := range jobs {
				r := &out[j.at] // each region writes only its own removals
				var err error
				if !ok {
					err = fmt.Errorf("no access to region %s", region)
				} else {
					err = rm.DeregisterImage(ctx, r.ImageID)
				}
				if err != nil {
					r.Error = err.Error()
				} else {
					r.Deregistered = true
					for _, s := range j.snapshot {
						if err := deleteSnapshot(ctx, rm, s); err != nil {
							if r.SnapshotErrors == nil {
								r.SnapshotErrors = map[string]string{}
							}
							r.SnapshotErrors[s] = err.Error()
						} else {
							r.Snapshots = append(r.Snapshots, s)
						}
					}
				}
				if progress != nil {
					progress(region, describeRemoval(*r))
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// snapshotWaits are the pauses between tries of a snapshot AWS still
// says is in use (ec2.ErrSnapshotInUse): it may, for a while after its
// image was deregistered. About a minute in all.
var snapshotWaits = []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}

// deleteSnapshot deletes snapshot id, trying again after each of
// snapshotWaits while it is in use. It gives up early when ctx ends.
func deleteSnapshot(ctx context.Context, rm Remover, id string) error {
	err := rm.DeleteSnapshot(ctx, id)
	for _, wait := range snapshotWaits {
		if !errors.Is(err, ec2.ErrSnapshotInUse) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		err = rm.DeleteSnapshot(ctx, id)
	}
	return err
}

func describeRemoval(r Removal) string {
	if !r.Deregistered {
		return fmt.Sprintf("%s not deregistered: %s", r.ImageID, r.Error)
	}
	s := fmt.Sprintf("%s deregistered, %d snapshots deleted", r.ImageID, len(r.Snapshots))
	if len(r.SnapshotErrors) > 0 {
		s += fmt.Sprintf(", %d not", len(r.SnapshotErrors))
	}
	return s
}

// Report is what a cleanup decided and, unless it was a dry run, did.
type Report struct {
	DryRun    bool       `json:"dry_run"`
	Decisions []Decision `json:"-"`
	Removals  []Removal  `json:"removals"`
}

// Failed counts the copies that did not go entirely.
func (r Report) Failed() int {
	n := 0
	for _, x := range r.Removals {
		if !x.OK() {
			n++
		}
	}
	return n
}

// CleanupInput is what Cleanup needs.
type CleanupInput struct {
	Orbit   string
	Regions []Region
	// Removers remove images and snapshots, by region.
	Removers map[string]Remover
	Policy   Policy
	// Among, when not nil, limits removals to the images (by ID) it
	// holds: those a person was shown and agreed to. An image among them
	// that the plan now keeps (a use appeared since) stays.
	Among  map[string]bool
	DryRun bool
	Now    time.Time
	By     string // who asks, for the audit log
	// Audit appends an entry to the orbit's audit log; nil audits nothing.
	Audit func(ctx context.Context, e elevator.AuditEntry) error
	// Progress, when not nil, is told what each region found and did.
	Progress func(region, msg string)
}

// Cleanup takes an inventory of the regions, plans with the policy, and,
// unless it is a dry run, removes what the plan removes and audits it
// (elevator.AuditImageCleanup; Outcome "removed" or "partly removed", Detail the
// copies that went and those that did not). A dry run changes nothing and
// writes no audit entry. Errors are the inventory's and the audit's; a
// copy that could not be removed is in the report, not an error.
//
// Cleanup considers only the images of in.Orbit (Policy.Orbit is set
// to it).
func Cleanup(ctx context.Context, in CleanupInput) (Report, error) {
	in.Policy.Orbit = in.Orbit
	inv, err := Take(ctx, in.Regions, in.Progress)
	if err != nil {
		return Report{}, err
	}
	rep := Report{DryRun: in.DryRun, Decisions: Plan(inv, in.Policy, in.Now)}
	if in.DryRun {
		return rep, nil
	}
	agreed := rep.Decisions
	if in.Among != nil {
		agreed = nil
		for _, d := range rep.Decisions {
			if in.Among[d.Image.ID()] {
				agreed = append(agreed, d)
			}
		}
	}
	rep.Removals = Remove(ctx, in.Removers, agreed, in.Progress)
	if len(rep.Removals) == 0 || in.Audit == nil {
		return rep, nil
	}
	var gone, failed []string
	for _, r := range rep.Removals {
		if r.OK() {
			gone = append(gone, r.Region+"/"+r.ImageID)
		} else {
			failed = append(failed, r.Region+"/"+r.ImageID)
		}
	}
	e := elevator.AuditEntry{At: in.Now, By: in.By, Action: elevator.AuditImageCleanup, App: in.Policy.App, Orbit: in.Orbit,
		Outcome: "removed", Detail: "removed " + strings.Join(gone, ", ")}
	if len(gone) == 0 {
		e.Detail = "removed nothing"
	}
	if len(failed) > 0 {
		e.Outcome = "partly removed"
		e.Detail += "; not removed " + strings.Join(failed, ", ")
	}
	return rep, in.Audit(ctx, e)
}
