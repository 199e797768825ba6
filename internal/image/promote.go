package image

// This file moves images through an orbit's stages (`elevator image
// promote`) and revokes them (`elevator image revoke`). An image's stage
// is its elevator:stage tag; reaching the orbit's last stage shares the
// image and its snapshots with the accounts, organizations and
// organizational units the orbit names, and copies it to the orbit's
// other regions, where each copy is tagged as its source and shared the
// same way. Each step looks first at what is there, so promoting again
// completes what a crash or a timeout left undone and never copies twice.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// Regional is EC2 in one region as promotion and revocation use it.
type Regional interface {
	Image(ctx context.Context, id string) (ec2.Image, error)
	OwnImagesWithTags(ctx context.Context, tags map[string]string) ([]ec2.Image, error)
	Tag(ctx context.Context, id string, tags map[string]string) error
	ShareImage(ctx context.Context, id string, s ec2.Share) error
	ShareSnapshot(ctx context.Context, id string, accounts []string) error
	CopyImage(ctx context.Context, in ec2.CopyImageInput) (string, error)
	DeprecateImage(ctx context.Context, id string, at time.Time) error
}

// Auditor appends entries to an orbit's audit log.
type Auditor interface {
	Audit(ctx context.Context, e elevator.AuditEntry) error
}

// Defaults of Stages.
const (
	DefaultCopyPoll    = 15 * time.Second
	DefaultCopyTimeout = 45 * time.Minute
)

// Stages promotes and revokes the images of one orbit.
type Stages struct {
	Orbit *elevator.Orbit
	// EC2 has a client for each region of the orbit.
	EC2   map[string]Regional
	Audit Auditor
	By    string // the caller, such as an IAM ARN, for tags and the audit
	// Note reports progress in a region; nil reports nothing.
	Note func(region, message string)
	Now  func() time.Time
	// Sleep waits between looks at pending copies; nil sleeps for real
	// (and stops when ctx ends).
	Sleep func(ctx context.Context, d time.Duration) error
	// CopyPoll is how often pending copies are looked at, CopyTimeout how
	// long they may take (DefaultCopyPoll, DefaultCopyTimeout when 0).
	CopyPoll, CopyTimeout time.Duration
}

// Promotion is what Promote did.
type Promotion struct {
	Image  string `json:"image"`
	Region string `json:"region"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Shared is whom the image and its copies are shared with (at the last
	// stage only).
	Shared *ec2.Share     `json:"shared,omitempty"`
	Copies []PromotedCopy `json:"copies,omitempty"`
}

// PromotedCopy is an image's copy in another region of the orbit, as a promotion found or made it.
type PromotedCopy struct {
	Region string `json:"region"`
	Image  string `json:"image"`
	// Made says whether this promotion made it (else it was found).
	Made  bool   `json:"made"`
	stage string // its stage tag when found
}

// MaxRevokeReason is the longest reason a revocation takes: an EC2 tag
// value holds 256 characters.
const MaxRevokeReason = 256

func (s *Stages) note(region, format string, args ...any) {
	if s.Note != nil {
		s.Note(region, fmt.Sprintf(format, args...))
	}
}

func (s *Stages) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Stages) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return elevator.Errorf(elevator.EINTERRUPTED, "wait for image copies: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

func (s *Stages) client(region string) (Regional, error) {
	c, ok := s.EC2[region]
	if !ok || s.Orbit.Region(region) == nil {
		return nil, elevator.Errorf(elevator.EINVALID, "region %s is not a region of orbit %s (%s)", region, s.Orbit.Name, strings.Join(s.regions(), ", "))
	}
	return c, nil
}

func (s *Stages) regions() []string {
	var out []string
	for _, r := range s.Orbit.Regions {
		out = append(out, r.Name)
	}
	return out
}

// CheckStage returns an EINVALID error unless stage is one of the orbit's
// image stages.
func CheckStage(o *elevator.Orbit, stage string) error {
	if o.ImageStageIndex(stage) < 0 {
		return elevator.Errorf(elevator.EINVALID, "stage %q is not a stage of orbit %s; its stages are %s", stage, o.Name, strings.Join(o.ImageStages(), ", "))
	}
	return nil
}

// Promote sets the stage of image id (in region) to stage. Moving back to
// an earlier stage needs force; it changes only the stage tags, never
// takes back a share or deletes a copy. At the orbit's last stage it
// shares the image and its snapshots, copies it to each other region of
// the orbit (or finds the copy an earlier promotion made), waits for each
// copy to be available and shares it likewise. Copies carry the source's
// stage, so the stage tag is set on them too. The promotion is audited.
//
// It returns an EINVALID error when stage is not one of the orbit's, the
// image does not carry elevator:image and an elevator:stage of the orbit's
// stages, is a copy (promote its source), is revoked, or would move back
// without force; ENOTFOUND when there is no such image; EFAILED when a
// copy failed or was not available in CopyTimeout (promoting again
// resumes); and the adapters' errors.
func (s *Stages) Promote(ctx context.Context, region, id, stage string, force bool) (*Promotion, error) {
	if err := CheckStage(s.Orbit, stage); err != nil {
		return nil, err
	}
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	img, err := c.Image(ctx, id)
	if err != nil {
		return nil, err
	}
	from, err := s.stageOf(img, region)
	if err != nil {
		return nil, err
	}
	stages := s.Orbit.ImageStages()
	fromIdx, toIdx := s.Orbit.ImageStageIndex(from), s.Orbit.ImageStageIndex(stage)
	if toIdx < fromIdx && !force {
		return nil, elevator.Errorf(elevator.EINVALID, "image %s is at stage %s, past %s: moving it back needs --force (shares and copies stay)", id, from, stage)
	}
	p := &Promotion{Image: id, Region: region, From: from, To: stage}
	if from != stage {
		if err := c.Tag(ctx, id, map[string]string{elevator.TagImageStage: stage}); err != nil {
			return nil, err
		}
		s.note(region, "%s: stage %s -> %s", id, from, stage)
	}
	last := toIdx == len(stages)-1
	if last {
		share := s.share()
		p.Shared = &share
		if err := s.shareImage(ctx, c, region, img, share); err != nil {
			return nil, err
		}
	}
	// The copies an earlier promotion made follow their source's stage.
	copies, dead, err := s.copies(ctx, region, id)
	if err != nil {
		return nil, err
	}
	if last {
		if copies, err = s.copyAll(ctx, region, img, stage, copies, dead); err != nil {
			return nil, err
		}
	}
	for _, cp := range copies {
		if !cp.Made && cp.stage != stage {
			if err := s.EC2[cp.Region].Tag(ctx, cp.Image, map[string]string{elevator.TagImageStage: stage}); err != nil {
				return nil, err
			}
		}
	}
	p.Copies = copies
	detail := fmt.Sprintf("image %s/%s (%s) from stage %s to %s", region, id, img.Tags[elevator.TagImage], from, stage)
	if len(copies) > 0 {
		var cs []string
		for _, cp := range copies {
			cs = append(cs, cp.Region+"/"+cp.Image)
		}
		detail += "; copies " + strings.Join(cs, ", ")
	}
	if err := s.audit(ctx, elevator.AuditImagePromote, img, "promoted", detail); err != nil {
		return p, err
	}
	return p, nil
}

// stageOf returns the stage img is at, or why it cannot be promoted.
func (s *Stages) stageOf(img ec2.Image, region string) (string, error) {
	if img.Tags[elevator.TagImage] == "" {
		return "", elevator.Errorf(elevator.EINVALID, "image %s in %s has no %s tag: only images Elevator baked (or tagged as such) move through stages", img.ID, region, elevator.TagImage)
	}
	if src := img.Tags[elevator.TagImageCopiedFrom]; src != "" {
		return "", elevator.Errorf(elevator.EINVALID, "image %s in %s is a copy of %s: promote that image, and its copies follow", img.ID, region, src)
	}
	if reason, ok := img.Tags[elevator.TagImageRevoked]; ok {
		return "", elevator.Errorf(elevator.EINVALID, "image %s in %s is revoked (%s): a revoked image is not promoted", img.ID, region, reason)
	}
	from := img.Tags[elevator.TagImageStage]
	if s.Orbit.ImageStageIndex(from) < 0 {
		return "", elevator.Errorf(elevator.EINVALID, "image %s in %s is at stage %q, which is not a stage of orbit %s (%s)", img.ID, region, from, s.Orbit.Name, strings.Join(s.Orbit.ImageStages(), ", "))
	}
	return from, nil
}

func (s *Stages) share() ec2.Share {
	im := s.Orbit.Images
	return ec2.Share{Accounts: im.ShareAccounts, Organizations: im.ShareOrganizations, OUs: im.ShareOUs}
}

// sharedWith is the value of an image's elevator.TagImageShared: the
// accounts, organizations and units shared with (the last part of each
// ARN), comma-separated, cut to a tag value's 256 characters.
func sharedWith(s ec2.Share) string {
	var parts []string
	for _, list := range [][]string{s.Accounts, s.Organizations, s.OUs} {
		for _, p := range list {
			parts = append(parts, p[strings.LastIndex(p, "/")+1:])
		}
	}
	v := strings.Join(parts, ",")
	if len(v) > 256 {
		v = v[:256]
	}
	return v
}

// shareImage grants launch permission on img and, to the accounts, volume
// permission on its snapshots.
func (s *Stages) shareImage(ctx context.Context, c Regional, region string, img ec2.Image, share ec2.Share) error {
	if share.Empty() {
		return nil
	}
	if err := c.ShareImage(ctx, img.ID, share); err != nil {
		return err
	}
	for _, snap := range img.Snapshots {
		if err := c.ShareSnapshot(ctx, snap, share.Accounts); err != nil {
			return err
		}
	}
	// Uses in the accounts shared with cannot be seen from here: the tag
	// tells cleanup to keep the image (elevator.TagImageShared).
	if with := sharedWith(share); img.Tags[elevator.TagImageShared] != with {
		if err := c.Tag(ctx, img.ID, map[string]string{elevator.TagImageShared: with}); err != nil {
			return err
		}
	}
	s.note(region, "%s: shared with %d accounts, %d organizations, %d organizational units (%d snapshots)",
		img.ID, len(share.Accounts), len(share.Organizations), len(share.OUs), len(img.Snapshots))
	return nil
}

// copies finds the live copies (pending or available) of region/id in the
// orbit's other regions, and counts by region the dead ones: failed, or
// deregistered but still listed, as AWS lists them for a while.
func (s *Stages) copies(ctx context.Context, region, id string) ([]PromotedCopy, map[string]int, error) {
	var out []PromotedCopy
	dead := map[string]int{}
	for _, r := range s.regions() {
		if r == region {
			continue
		}
		found, err := s.EC2[r].OwnImagesWithTags(ctx, map[string]string{elevator.TagImageCopiedFrom: region + "/" + id})
		if err != nil {
			return nil, nil, err
		}
		for _, x := range found {
			if !liveImage(x.State) {
				dead[r]++
				continue
			}
			out = append(out, PromotedCopy{Region: r, Image: x.ID, stage: x.Tags[elevator.TagImageStage]})
		}
	}
	return out, dead, nil
}

// liveImage says whether an image in state may still be (or become)
// available: pending or available ("" when the state is not known).
func liveImage(state string) bool {
	return state == "available" || state == "pending" || state == ""
}

// copyAll makes sure each other region of the orbit has a copy of img,
// tagged as img (at stage) plus elevator:copied-from, available and
// shared; found are the live copies already there, dead the number of
// failed or deregistered ones by region.
func (s *Stages) copyAll(ctx context.Context, region string, img ec2.Image, stage string, found []PromotedCopy, dead map[string]int) ([]PromotedCopy, error) {
	tags := map[string]string{}
	for _, k := range copiedTags {
		if v, ok := img.Tags[k]; ok {
			tags[k] = v
		}
	}
	tags[elevator.TagImageStage] = stage
	tags[elevator.TagImageCopiedFrom] = region + "/" + img.ID
	copies := found
	for _, r := range s.regions() {
		if r == region || hasCopyIn(found, r) {
			continue
		}
		c := s.EC2[r]
		// The token makes a retried call (by the SDK, or by promoting
		// again before the copy was tagged) return the same copy: one
		// source image has one live copy per region. It counts the dead
		// copies, so that a copy made after one failed or was deregistered
		// is a new one and not the dead copy handed back.
		token := "elevator-copy-" + img.ID
		if n := dead[r]; n > 0 {
			token += fmt.Sprintf("-%d", n+1)
		}
		id, err := c.CopyImage(ctx, ec2.CopyImageInput{SourceRegion: region, SourceImage: img.ID, Name: img.Name,
			Description: "copy of " + region + "/" + img.ID, KMSKey: s.Orbit.Images.KMSKeyIn(r), Token: token})
		if err != nil {
			return nil, err
		}
		if err := c.Tag(ctx, id, tags); err != nil {
			return nil, err
		}
		s.note(r, "%s: copying %s/%s", id, region, img.ID)
		copies = append(copies, PromotedCopy{Region: r, Image: id, Made: true})
	}
	share := s.share()
	ready, err := s.waitAvailable(ctx, copies)
	if err != nil {
		return nil, err
	}
	for _, cp := range copies {
		if err := s.shareImage(ctx, s.EC2[cp.Region], cp.Region, ready[cp.Region+"/"+cp.Image], share); err != nil {
			return nil, err
		}
	}
	return copies, nil
}

// copiedTags are the tags a copy carries as its source does (with
// elevator:stage and elevator:copied-from).
var copiedTags = []string{elevator.TagImage, elevator.TagImagePhase, elevator.TagImageSource, elevator.TagImageVersion,
	elevator.TagImageBuilt, elevator.TagImageCommit, elevator.TagImageBakeID, elevator.TagApp, elevator.TagService}

func hasCopyIn(copies []PromotedCopy, region string) bool {
	for _, c := range copies {
		if c.Region == region {
			return true
		}
	}
	return false
}

// waitAvailable looks at the copies until each is available, CopyTimeout
// at most, and returns them by region/id.
func (s *Stages) waitAvailable(ctx context.Context, copies []PromotedCopy) (map[string]ec2.Image, error) {
	poll, timeout := s.CopyPoll, s.CopyTimeout
	if poll <= 0 {
		poll = DefaultCopyPoll
	}
	if timeout <= 0 {
		timeout = DefaultCopyTimeout
	}
	deadline := s.now().Add(timeout)
	ready := map[string]ec2.Image{}
	for {
		var pending []string
		for _, cp := range copies {
			key := cp.Region + "/" + cp.Image
			if _, ok := ready[key]; ok {
				continue
			}
			img, err := s.EC2[cp.Region].Image(ctx, cp.Image)
			if err != nil {
				return nil, err
			}
			switch img.State {
			case "available":
				ready[key] = img
				s.note(cp.Region, "%s: available", cp.Image)
			case "pending", "":
				pending = append(pending, key)
			default:
				return nil, elevator.Errorf(elevator.EFAILED, "copy %s is %s: deregister it and promote again to copy anew", key, img.State)
			}
		}
		if len(pending) == 0 {
			return ready, nil
		}
		if !s.now().Before(deadline) {
			return nil, elevator.Errorf(elevator.EFAILED, "copies %s were not available after %s: promote again to wait for them and share them", strings.Join(pending, ", "), timeout)
		}
		for _, key := range pending {
			region, id, _ := strings.Cut(key, "/")
			s.note(region, "%s: pending", id)
		}
		if err := s.sleep(ctx, poll); err != nil {
			return nil, err
		}
	}
}

// Revocation is what Revoke did: the images it tagged as revoked.
type Revocation struct {
	Reason string `json:"reason"`
	// Images are the source first (unless it is gone), then its copies
	// (Made is false).
	Images []PromotedCopy `json:"images"`
}

// CheckRevokeReason returns an EINVALID error unless reason is text of
// 1 to MaxRevokeReason characters without control characters.
func CheckRevokeReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return elevator.Errorf(elevator.EINVALID, "--reason is required: say why the image may no longer be released")
	}
	if n := len([]rune(reason)); n > MaxRevokeReason {
		return elevator.Errorf(elevator.EINVALID, "--reason is %d characters; an image's tag holds %d", n, MaxRevokeReason)
	}
	if strings.IndexFunc(reason, unicode.IsControl) >= 0 {
		return elevator.Errorf(elevator.EINVALID, "--reason: one line of text without control characters")
	}
	return nil
}

// Revoke tags image id (in region), and every copy of it in the orbit's
// other regions, as revoked for reason, by whom and when, and deprecates
// each from the next minute on (which the accounts they are shared with
// see, where tags do not reach): releases refuse them from then on;
// groups already running them are left alone. Given a
// copy, it revokes its source when the source still exists in a region of
// the orbit, and every copy of that source, found by their
// elevator:copied-from tag (so a source deregistered or outside the orbit
// still has all its copies revoked). Dead copies (failed, deregistered)
// are left alone. Revoking again updates the reason. The revocation is
// audited.
//
// It returns an EINVALID error for a bad reason or a region not of the
// orbit, ENOTFOUND when there is no such image, and the adapters' errors
// (looking the source of a copy up included: only its absence is taken as
// an answer).
func (s *Stages) Revoke(ctx context.Context, region, id, reason string) (*Revocation, error) {
	if err := CheckRevokeReason(reason); err != nil {
		return nil, err
	}
	c, err := s.client(region)
	if err != nil {
		return nil, err
	}
	img, err := c.Image(ctx, id)
	if err != nil {
		return nil, err
	}
	tags := map[string]string{
		elevator.TagImageRevoked:   reason,
		elevator.TagImageRevokedBy: s.By,
		elevator.TagImageRevokedAt: s.now().UTC().Format(time.RFC3339),
	}
	if s.By == "" {
		delete(tags, elevator.TagImageRevokedBy)
	}
	// Tags do not cross accounts; a deprecation time does, and releases
	// refuse another account's image once it has passed. AWS takes only a
	// time in the future, to the minute: the next minute.
	deprecateAt := s.now().UTC().Truncate(time.Minute).Add(time.Minute)
	revoke := func(region, id string) error {
		if err := s.EC2[region].Tag(ctx, id, tags); err != nil {
			return err
		}
		return s.EC2[region].DeprecateImage(ctx, id, deprecateAt)
	}
	// The source: the image itself, or the one it was copied from.
	srcRegion, srcID := region, id
	var source *ec2.Image
	if src := img.Tags[elevator.TagImageCopiedFrom]; src != "" {
		srcRegion, srcID, _ = strings.Cut(src, "/")
		if sc, ok := s.EC2[srcRegion]; ok && s.Orbit.Region(srcRegion) != nil {
			found, err := sc.Image(ctx, srcID)
			switch {
			case err == nil:
				source = &found
			case !errors.Is(err, ec2.ErrNotFound):
				return nil, fmt.Errorf("look up %s/%s, the source of copy %s/%s: %w", srcRegion, srcID, region, id, err)
			}
		}
	} else {
		source = &img
	}
	rev := &Revocation{Reason: reason}
	if source != nil {
		if err := revoke(srcRegion, srcID); err != nil {
			return nil, err
		}
		s.note(srcRegion, "%s: revoked", srcID)
		rev.Images = append(rev.Images, PromotedCopy{Region: srcRegion, Image: srcID})
	} else {
		s.note(region, "%s: its source %s/%s is gone or outside orbit %s: revoking its copies", id, srcRegion, srcID, s.Orbit.Name)
	}
	copies, _, err := s.copies(ctx, srcRegion, srcID)
	if err != nil {
		return nil, err
	}
	if srcRegion != region || srcID != id {
		// The copy revoke was given, should a listing not show it yet.
		if !slices.ContainsFunc(copies, func(cp PromotedCopy) bool { return cp.Region == region && cp.Image == id }) && liveImage(img.State) {
			copies = append(copies, PromotedCopy{Region: region, Image: id})
		}
	}
	var names []string
	for _, cp := range copies {
		if err := revoke(cp.Region, cp.Image); err != nil {
			return nil, err
		}
		s.note(cp.Region, "%s: revoked (a copy of %s/%s)", cp.Image, srcRegion, srcID)
		rev.Images = append(rev.Images, cp)
		names = append(names, cp.Region+"/"+cp.Image)
	}
	detail := fmt.Sprintf("image %s/%s revoked: %s", srcRegion, srcID, reason)
	if source == nil {
		detail = fmt.Sprintf("copies of image %s/%s (not found in orbit %s) revoked: %s", srcRegion, srcID, s.Orbit.Name, reason)
	}
	if len(names) > 0 {
		detail += "; copies " + strings.Join(names, ", ")
	}
	audited := img
	if source != nil {
		audited = *source
	}
	if err := s.audit(ctx, elevator.AuditImageRevoke, audited, "revoked", detail); err != nil {
		return rev, err
	}
	return rev, nil
}

func (s *Stages) audit(ctx context.Context, action string, img ec2.Image, outcome, detail string) error {
	if s.Audit == nil {
		return nil
	}
	err := s.Audit.Audit(ctx, elevator.AuditEntry{At: s.now().UTC(), By: s.By, Action: action, App: img.Tags[elevator.TagApp],
		Orbit: s.Orbit.Name, Outcome: outcome, Detail: detail})
	if err != nil {
		return fmt.Errorf("audit %s of %s: %w", action, img.ID, err)
	}
	return nil
}

// Used is an image a release used in a region.
type Used struct{ Region, Image string }

// ReleaseImages lists the images the release document uses, each once,
// by region.
func ReleaseImages(doc *elevator.Release) []Used {
	var out []Used
	seen := map[Used]bool{}
	for _, s := range doc.Services {
		for _, p := range s.Placements {
			u := Used{Region: p.Region, Image: p.Image}
			if p.Image != "" && !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// PromoteUsed promotes images a release used to stage, as a pipeline
// stage does once it succeeded: a copy stands for its source, each image
// is promoted once, and an image is left where it is, with a note saying
// why, when it is not Elevator's (no elevator:image tag: another
// account's or a third party's), is revoked, has no stage or one that is
// not the orbit's, or is already past stage.
// It returns the promotions made and the notes, and Promote's errors.
func (s *Stages) PromoteUsed(ctx context.Context, used []Used, stage string) ([]*Promotion, []string, error) {
	if err := CheckStage(s.Orbit, stage); err != nil {
		return nil, nil, err
	}
	var done []*Promotion
	var notes []string
	seen := map[Used]bool{}
	for _, u := range used {
		c, err := s.client(u.Region)
		if err != nil {
			return nil, nil, err
		}
		img, err := c.Image(ctx, u.Image)
		if err != nil {
			return nil, nil, err
		}
		if src := img.Tags[elevator.TagImageCopiedFrom]; src != "" {
			region, id, _ := strings.Cut(src, "/")
			sc, ok := s.EC2[region]
			if !ok {
				notes = append(notes, fmt.Sprintf("%s/%s: a copy of %s, outside orbit %s: left at its stage", u.Region, u.Image, src, s.Orbit.Name))
				continue
			}
			if img, err = sc.Image(ctx, id); err != nil {
				return nil, nil, err
			}
			u = Used{Region: region, Image: id}
		}
		if seen[u] {
			continue
		}
		seen[u] = true
		at := img.Tags[elevator.TagImageStage]
		switch {
		case img.Tags[elevator.TagImage] == "":
			notes = append(notes, fmt.Sprintf("%s/%s: not an image Elevator baked in this account (no %s tag): not promoted", u.Region, u.Image, elevator.TagImage))
			continue
		case img.Tags[elevator.TagImageRevoked] != "":
			notes = append(notes, fmt.Sprintf("%s/%s: revoked (%s): not promoted", u.Region, u.Image, img.Tags[elevator.TagImageRevoked]))
			continue
		case s.Orbit.ImageStageIndex(at) < 0:
			// Promote would refuse it, and the pipeline stage that asked
			// would fail again on every resume.
			notes = append(notes, fmt.Sprintf("%s/%s: at stage %q, which is not a stage of orbit %s (%s): not promoted", u.Region, u.Image, at, s.Orbit.Name, strings.Join(s.Orbit.ImageStages(), ", ")))
			continue
		case s.Orbit.ImageStageIndex(at) > s.Orbit.ImageStageIndex(stage):
			notes = append(notes, fmt.Sprintf("%s/%s: at stage %s already, past %s", u.Region, u.Image, at, stage))
			continue
		}
		p, err := s.Promote(ctx, u.Region, u.Image, stage, false)
		if err != nil {
			return done, notes, err
		}
		done = append(done, p)
	}
	return done, notes, nil
}
