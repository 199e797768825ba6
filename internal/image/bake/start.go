package bake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/image/bakebundle"
)

// Request is a bake to start.
type Request struct {
	Manifest *elevator.ImageManifest
	Orbit    *elevator.Orbit
	Region   string // one of the orbit's
	Version  string
	ID       string // from NewID
	By       string // the caller's ARN
	Commit   string // the git commit of the manifest's directory, or ""
	// Agent names the agent's builds in the state bucket, for the
	// builder's user data.
	Agent       map[string]elevator.AgentBuild
	KeepBuilder bool
}

// Lookup is what Start reads before anything is launched: images and
// parameters for the base, the orbit's network, and its bake security
// group and instance profile.
type Lookup interface {
	elevator.ImageLookup
	VPCs(ctx context.Context, tag, value string) ([]ec2.VPC, error)
	Subnets(ctx context.Context, vpcID string) ([]ec2.Subnet, error)
	SecurityGroupNamed(ctx context.Context, vpcID, name string) (ec2.SecurityGroup, error)
	// InstanceProfileExists returns an ENOTFOUND error when there is no
	// instance profile called name.
	InstanceProfileExists(ctx context.Context, name string) error
}

// NewID returns a new bake id, of the form of release ids (it sorts by
// time): "20261130-013000123-9f86d081".
func NewID(now time.Time) (string, error) { return elevator.NewReleaseID(now, nil) }

// DefaultVersion is a bake's version when none is given: the UTC time to
// the minute, such as 20261130-0130.
func DefaultVersion(now time.Time) string { return now.UTC().Format("20060102-1504") }

// shutdownMargin is how long past a bake's timeout its builder runs
// before it shuts itself down: by then the bake has stopped it to make
// its image, or failed and terminated it, unless the bake was abandoned.
const shutdownMargin = 15 * time.Minute

// ShutdownMinutes is when a builder of a bake with timeout shuts itself
// down, in minutes from its agent's start: a backstop against a builder
// left running by a bake that died and is never resumed. The builder
// stops (its instance-initiated shutdown behaviour is stop); a bake's
// own stop before imaging goes through the API. A bake with
// --keep-builder schedules none.
func ShutdownMinutes(timeout time.Duration) int {
	return int((timeout + shutdownMargin + time.Minute - 1) / time.Minute)
}

// ImageName is the name of the image of line at version.
func ImageName(line, version string) string { return line + "-" + version }

// Start checks everything a bake needs and prepares it, launching
// nothing: it resolves the base image, refuses an image of the line at
// the version that exists already (ECONFLICT), finds the tier's subnet,
// the orbit's bake security group and instance profile (ENOTFOUND saying
// to run `elevator orbit up` when one is missing), uploads the bundle of
// files and scripts, and stores the record. Run then drives it. An
// unknown base is an ENOTFOUND error naming the manifest's position.
func (e *Engine) Start(ctx context.Context, req Request, l Lookup) (*Record, error) {
	m, o := req.Manifest, req.Orbit
	base, err := e.resolveBase(ctx, m, o, l)
	if err != nil {
		return nil, err
	}
	name := ImageName(m.Name, req.Version)
	for _, q := range []struct {
		name string
		tags map[string]string
	}{{name, nil}, {"", map[string]string{elevator.TagImage: m.Name, elevator.TagImageVersion: req.Version}}} {
		found, err := e.Cloud.OwnImages(ctx, q.name, q.tags)
		if err != nil {
			return nil, err
		}
		if len(found) > 0 {
			return nil, elevator.Errorf(elevator.ECONFLICT, "image %s of line %s at version %s exists already in %s (%s); give another --version", name, m.Name, req.Version, req.Region, found[0].ID)
		}
	}
	detail, err := e.Cloud.ImageDetail(ctx, base)
	if err != nil {
		return nil, err
	}
	vpcs, err := l.VPCs(ctx, elevator.TagOrbit, o.Name)
	if err != nil {
		return nil, err
	}
	if len(vpcs) != 1 {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "orbit %s is not up in %s (%d VPCs tagged %s=%s): run `elevator orbit up`", o.Name, req.Region, len(vpcs), elevator.TagOrbit, o.Name)
	}
	subnets, err := l.Subnets(ctx, vpcs[0].ID)
	if err != nil {
		return nil, err
	}
	var subnet string
	for _, s := range subnets {
		if s.Tags[elevator.TagTier] == m.Tier {
			subnet = s.ID
			break
		}
	}
	if subnet == "" {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "%v", m.Source.Errorf("tier", m.Tier, "orbit %s has no subnet of tier %s in %s: run `elevator orbit up`", o.Name, m.Tier, req.Region))
	}
	sg, err := l.SecurityGroupNamed(ctx, vpcs[0].ID, elevator.BakeSecurityGroupName(o.Name))
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no bake security group %s in %s: run `elevator orbit up` with this Elevator", o.Name, elevator.BakeSecurityGroupName(o.Name), req.Region)
	}
	if err != nil {
		return nil, err
	}
	profile := elevator.BakeInstanceProfileName(o.Name)
	if err := l.InstanceProfileExists(ctx, profile); elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "orbit %s has no bake instance profile %s: run `elevator orbit up` with this Elevator", o.Name, profile)
	} else if err != nil {
		return nil, err
	}
	shutdown := 0
	if !req.KeepBuilder {
		shutdown = ShutdownMinutes(m.Timeout)
	}
	userData, err := compile.BakeUserData(o.Name, req.Region, req.ID, shutdown, req.Agent)
	if err != nil {
		return nil, err
	}
	now := e.Now().UTC()
	tags := map[string]string{
		elevator.TagImage:        m.Name,
		elevator.TagImagePhase:   m.Phase,
		elevator.TagImageSource:  base,
		elevator.TagImageVersion: req.Version,
		elevator.TagImageStage:   o.ImageStages()[0],
		elevator.TagImageBuilt:   now.Format(time.RFC3339),
		elevator.TagImageBakeID:  req.ID,
		elevator.TagOrbit:        o.Name,
		"Name":                   name,
	}
	if req.Commit != "" {
		tags[elevator.TagImageCommit] = req.Commit
	}
	if m.Phase == elevator.ImagePhaseService {
		tags[elevator.TagApp], tags[elevator.TagService] = m.App, m.Service
	}
	var bundle bytes.Buffer
	if _, err := bakebundle.Write(&bundle, m); err != nil {
		return nil, err
	}
	if err := e.Cloud.PutObject(ctx, elevator.BakeBundleKey(req.ID), bundle.Bytes()); err != nil {
		return nil, fmt.Errorf("store bake bundle: %w", err)
	}
	r := &Record{
		ID: req.ID, Orbit: o.Name, Region: req.Region, Line: m.Name, Version: req.Version,
		Builder: Builder{
			BaseImage: base, RootDevice: detail.RootDevice, InstanceType: m.InstanceType, VolumeSize: m.VolumeSize,
			Tier: m.Tier, SubnetID: subnet, SecurityGroupID: sg.ID, InstanceProfile: profile, UserData: userData,
		},
		ImageName: name, ImageTags: tags, Timeout: m.Timeout, KeepBuilder: req.KeepBuilder,
		CreatedBy: req.By, CreatedAt: now,
	}
	if err := e.enter(ctx, r, StateLaunching); err != nil {
		return nil, err
	}
	return r, nil
}

// resolveBase finds the base image's id: the selector's, or the newest
// available, unrevoked image of the base line at its stage or past it.
// It returns an ENOTFOUND error at the manifest's base when there is none.
func (e *Engine) resolveBase(ctx context.Context, m *elevator.ImageManifest, o *elevator.Orbit, l Lookup) (string, error) {
	if m.BaseLine == "" {
		id, err := m.Base.Resolve(ctx, l)
		if elevator.ErrorCode(err) == elevator.ENOTFOUND {
			return "", elevator.Errorf(elevator.ENOTFOUND, "%v", m.Source.Errorf("base", nil, "no such base image: %v", err))
		}
		return id, err
	}
	found, err := e.Cloud.OwnImages(ctx, "", map[string]string{elevator.TagImage: m.BaseLine})
	if err != nil {
		return "", err
	}
	least := 0
	if m.BaseStage != "" {
		least = o.ImageStageIndex(m.BaseStage)
	}
	var best *ec2.ImageDetail
	for i, img := range found {
		if img.State != "available" || img.Tags[elevator.TagImageRevoked] != "" || o.ImageStageIndex(img.Tags[elevator.TagImageStage]) < least {
			continue
		}
		if best == nil || img.Created.After(best.Created) {
			best = &found[i]
		}
	}
	if best == nil {
		stage := ""
		if m.BaseStage != "" {
			stage = " at stage " + m.BaseStage + " or past it"
		}
		return "", elevator.Errorf(elevator.ENOTFOUND, "%v", m.Source.Errorf("base.image", m.BaseLine, "no available image of line %s%s in this account: bake one first", m.BaseLine, stage))
	}
	return best.ID, nil
}

// Load reads bake id's record. It returns an ENOTFOUND error when there
// is none.
func Load(ctx context.Context, c Cloud, id string) (*Record, error) {
	body, err := c.GetObject(ctx, elevator.BakeRecordKey(id))
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no bake %s in this region: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read bake record %s: %w", id, err)
	}
	return &r, nil
}

// Lister lists the keys of the state bucket under a prefix.
type Lister interface {
	ListKeys(ctx context.Context, prefix string) ([]string, error)
}

// ErrNoUnfinished is the cause of the ENOTFOUND error NewestUnfinished
// returns when every bake has ended.
var ErrNoUnfinished = errors.New("no unfinished bake")

// NewestUnfinished returns the record of the newest bake that has not
// ended, of line when line is not "".
func NewestUnfinished(ctx context.Context, c Cloud, l Lister, line string) (*Record, error) {
	keys, err := l.ListKeys(ctx, elevator.BakesPrefix)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k, elevator.BakesPrefix); ok && elevator.BakeRecordKey(strings.Split(rest, "/")[0]) == k {
			ids = append(ids, strings.Split(rest, "/")[0])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	for _, id := range ids {
		r, err := Load(ctx, c, id)
		if err != nil {
			return nil, err
		}
		if !r.State.Done() && (line == "" || r.Line == line) {
			return r, nil
		}
	}
	what := "no unfinished bake"
	if line != "" {
		what += " of line " + line
	}
	return nil, elevator.Errorf(elevator.ENOTFOUND, "%s in this region: %w", what, ErrNoUnfinished)
}
