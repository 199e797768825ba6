package bake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// builderTags are the tags of a bake's builder, which find it again when
// the process that launched it died before storing its id.
func builderTags(r *Record) map[string]string {
	return map[string]string{elevator.TagBakeBuilder: r.ID}
}

// gone reports whether an instance state means the builder is no more.
func gone(state string) bool { return state == "shutting-down" || state == "terminated" }

// launch starts the builder, or adopts the one an earlier run of this
// step started: the bake's tag finds it (and the client token makes
// EC2 return it rather than launch a second).
func (e *Engine) launch(ctx context.Context, r *Record) (Outcome, error) {
	found, err := e.Cloud.InstancesTagged(ctx, builderTags(r))
	if err != nil {
		return Outcome{}, err
	}
	for _, i := range found {
		if !gone(i.State) {
			r.InstanceID = i.ID
		}
	}
	if r.InstanceID == "" {
		tags := map[string]string{
			elevator.TagOrbit:       r.Orbit,
			elevator.TagBakeBuilder: r.ID,
			"Name":                  "elevator-bake-" + r.Line + "-" + r.Version,
		}
		b := r.Builder
		// Until EC2 answers, a builder may exist that no id names.
		r.LaunchUnsure = true
		id, err := e.Cloud.RunBuilder(ctx, ec2.BuilderInput{
			ImageID: b.BaseImage, InstanceType: b.InstanceType, SubnetID: b.SubnetID,
			SecurityGroupIDs: []string{b.SecurityGroupID}, InstanceProfile: b.InstanceProfile,
			UserData: []byte(b.UserData), RootDevice: b.RootDevice, VolumeSize: b.VolumeSize, Tags: tags,
			// One builder per bake, however often this step runs.
			ClientToken: "elevator-bake-" + r.ID,
		})
		if code := elevator.ErrorCode(err); err == nil || code == elevator.ENOTFOUND || code == elevator.EINVALID {
			r.LaunchUnsure = false // an id, or a refusal: nothing launched unseen
		}
		if err != nil {
			return Outcome{}, err
		}
		r.InstanceID = id
	}
	r.Deadline = e.Now().UTC().Add(r.Timeout)
	return Outcome{Next: StateProvisioning}, nil
}

// provision waits for the builder's result, the builder's end, or the
// deadline.
func (e *Engine) provision(ctx context.Context, r *Record) (Outcome, error) {
	body, err := e.Cloud.GetObject(ctx, elevator.BakeResultKey(r.ID))
	switch {
	case err == nil:
		var res elevator.BakeResult
		if err := json.Unmarshal(body, &res); err != nil {
			return Outcome{}, fail(ReasonScript, "the builder's result is not valid JSON: %v", err)
		}
		if len(res.Output) > elevator.MaxBakeOutput {
			res.Output = res.Output[len(res.Output)-elevator.MaxBakeOutput:]
		}
		r.Result = &res
		if !res.OK {
			return Outcome{}, fail(ReasonScript, "script %s exited %d", res.Script, res.ExitCode)
		}
		return Outcome{Next: StateStopping}, nil
	case elevator.ErrorCode(err) != elevator.ENOTFOUND:
		return Outcome{}, err
	}
	if err := e.builderAlive(ctx, r, "stopped", "stopping"); err != nil {
		return Outcome{}, err
	}
	if !e.Now().Before(r.Deadline) {
		return Outcome{}, fail(ReasonTimeout, "the builder %s did not report within %s", r.InstanceID, r.Timeout)
	}
	return Outcome{After: e.Poll}, nil
}

// builderAlive fails the bake when the builder is gone, or in one of the
// states bad.
func (e *Engine) builderAlive(ctx context.Context, r *Record, bad ...string) error {
	found, err := e.Cloud.Instances(ctx, []string{r.InstanceID})
	if err != nil {
		return err
	}
	if len(found) == 0 || gone(found[0].State) {
		return fail(ReasonBuilderGone, "the builder %s was terminated by someone else", r.InstanceID)
	}
	for _, s := range bad {
		if found[0].State == s {
			return fail(ReasonBuilderGone, "the builder %s is %s before it reported", r.InstanceID, s)
		}
	}
	return nil
}

// stop stops the builder and waits until it has.
func (e *Engine) stop(ctx context.Context, r *Record) (Outcome, error) {
	found, err := e.Cloud.Instances(ctx, []string{r.InstanceID})
	if err != nil {
		return Outcome{}, err
	}
	if len(found) == 0 || gone(found[0].State) {
		return Outcome{}, fail(ReasonBuilderGone, "the builder %s was terminated by someone else", r.InstanceID)
	}
	switch found[0].State {
	case "stopped":
		return Outcome{Next: StateImaging}, nil
	case "stopping":
	default:
		if err := e.Cloud.StopInstance(ctx, r.InstanceID); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{After: e.Poll}, nil
}

// makeImage creates the image of the stopped builder, or finds the one an
// earlier run of this step created (image names are unique in an
// account's region), and waits until it is available.
func (e *Engine) makeImage(ctx context.Context, r *Record) (Outcome, error) {
	if r.ImageID == "" {
		found, err := e.Cloud.OwnImages(ctx, r.ImageName, nil)
		if err != nil {
			return Outcome{}, err
		}
		for _, img := range found {
			if img.Tags[elevator.TagImageBakeID] != r.ID {
				return Outcome{}, fail(ReasonImage, "an image named %s exists already (%s), made by another bake", r.ImageName, img.ID)
			}
			r.ImageID = img.ID
		}
	}
	if r.ImageID == "" {
		// Only the bake's id at first: the image has all its tags, its
		// stage among them, once it is available (Tagging).
		id, err := e.Cloud.CreateImage(ctx, r.InstanceID, r.ImageName, fmt.Sprintf("elevator image %s %s, bake %s", r.Line, r.Version, r.ID),
			map[string]string{elevator.TagImageBakeID: r.ID})
		if err != nil {
			return Outcome{}, err
		}
		r.ImageID = id
		// Store the id before anything else can fail.
		if err := e.save(ctx, r); err != nil {
			return Outcome{}, err
		}
	}
	img, err := e.Cloud.ImageDetail(ctx, r.ImageID)
	if err != nil {
		return Outcome{}, err
	}
	r.Snapshots = img.Snapshots
	switch img.State {
	case "available":
		return Outcome{Next: StateTagging}, nil
	case "pending":
		return Outcome{After: e.Poll}, nil
	default:
		return Outcome{}, fail(ReasonImage, "image %s is %s", r.ImageID, img.State)
	}
}

// tag puts the image's tags on it and its snapshots.
func (e *Engine) tag(ctx context.Context, r *Record) (Outcome, error) {
	for _, id := range append([]string{r.ImageID}, r.Snapshots...) {
		if err := e.Cloud.Tag(ctx, id, r.ImageTags); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Next: StateTerminating}, nil
}

// terminate terminates the builder of a bake that made its image.
func (e *Engine) terminate(ctx context.Context, r *Record) (Outcome, error) {
	if err := e.Cloud.TerminateInstance(ctx, r.InstanceID); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
		return Outcome{}, err
	}
	return Outcome{Next: StateSucceeded}, nil
}

// builderSearch is how long a cleanup that knows no builder looks for one
// by the bake's tag: a lookup by tag can miss an instance for seconds
// after its launch (EC2 is eventually consistent), and a launch whose
// answer was lost leaves the bake without the builder's id.
const builderSearch = time.Minute

// cleanUp removes what a failed bake made: its builder (unless
// KeepBuilder), the one whose id it stored and any its tag finds, among
// them one launched by a process that died before storing its id, and
// its image and the image's snapshots. A bake whose launch got no answer
// and that knows no builder looks for one by tag for builderSearch.
func (e *Engine) cleanUp(ctx context.Context, r *Record) (Outcome, error) {
	found, err := e.Cloud.InstancesTagged(ctx, builderTags(r))
	if err != nil {
		return Outcome{}, err
	}
	ids := []string{}
	if r.InstanceID != "" {
		ids = append(ids, r.InstanceID)
	}
	for _, i := range found {
		if !gone(i.State) && !slices.Contains(ids, i.ID) {
			ids = append(ids, i.ID)
		}
	}
	if len(ids) == 0 && r.LaunchUnsure {
		// The tag may not find a builder launched moments ago: look
		// again, for a while.
		now := e.Now().UTC()
		if r.BuilderSearchUntil.IsZero() {
			r.BuilderSearchUntil = now.Add(builderSearch)
		}
		if now.Before(r.BuilderSearchUntil) {
			return Outcome{After: e.Poll}, nil
		}
	}
	var kept []string
	for _, id := range ids {
		if r.KeepBuilder {
			if r.InstanceID == "" {
				r.InstanceID = id
			}
			kept = append(kept, "instance "+id)
			continue
		}
		if err := e.Cloud.TerminateInstance(ctx, id); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
			return Outcome{}, err
		}
	}
	images, err := e.Cloud.OwnImages(ctx, r.ImageName, map[string]string{elevator.TagImageBakeID: r.ID})
	if err != nil {
		return Outcome{}, err
	}
	if r.ImageID != "" && !slices.ContainsFunc(images, func(i ec2.ImageDetail) bool { return i.ID == r.ImageID }) {
		img, err := e.Cloud.ImageDetail(ctx, r.ImageID)
		if err == nil {
			images = append(images, img)
		} else if !errors.Is(err, ec2.ErrNotFound) && elevator.ErrorCode(err) != elevator.ENOTFOUND {
			return Outcome{}, err
		}
	}
	for _, img := range images {
		if err := e.Cloud.DeregisterImage(ctx, img.ID); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
			return Outcome{}, err
		}
		for _, s := range append(img.Snapshots, r.Snapshots...) {
			if err := e.Cloud.DeleteSnapshot(ctx, s); err != nil && elevator.ErrorCode(err) != elevator.ENOTFOUND {
				return Outcome{}, err
			}
		}
	}
	r.Leftovers = kept
	return Outcome{Next: StateFailed}, nil
}
