package image

// This file and cleanup.go are `elevator image list` and `elevator image
// cleanup`: an inventory of an orbit's regions, read in bulk (the
// account's images of every line with their regional copies, and what
// uses them), a pure plan of what a cleanup keeps and why, and the
// removal of every copy of an image with its snapshots.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
)

// RegionImages reads, in bulk, the images of one region and what uses
// them (the EC2 adapter).
type RegionImages interface {
	OwnImagesTagged(ctx context.Context, key string) ([]ec2.ImageDetail, error)
	UsableTemplateImages(ctx context.Context) ([]ec2.TemplateImage, error)
	TemplateVersionImages(ctx context.Context, idOrName string, versions []string) ([]ec2.TemplateImage, error)
	LiveInstanceImages(ctx context.Context) ([]ec2.InstanceImage, error)
}

// RegionGroups reads, in bulk, what one region's Auto Scaling groups
// launch (the Auto Scaling adapter).
type RegionGroups interface {
	GroupLaunches(ctx context.Context) ([]autoscaling.GroupLaunch, error)
	LaunchConfigurations(ctx context.Context) ([]autoscaling.LaunchConfiguration, error)
}

// RegionParameters reads the image parameters of one region (the SSM
// adapter).
type RegionParameters interface {
	ParametersUnder(ctx context.Context, path string) ([]ssm.NamedValue, error)
}

// Region is where an inventory looks: one region of an orbit and its
// adapters.
type Region struct {
	Name       string
	Images     RegionImages
	Groups     RegionGroups
	Parameters RegionParameters
}

// Copy is one regional copy of an image: the image a bake made, or a
// copy of it in another region (elevator:copied-from).
type Copy struct {
	Region, ID, Name string
	State            string // available, pending, failed, ...
	Snapshots        []string
	CopiedFrom       string // "<region>/<image id>" of the image it was copied from; "" for the original
	Created          time.Time
	Tags             map[string]string
}

// Ref is "<region>/<image id>", the form of elevator:copied-from.
func (c Copy) Ref() string { return c.Region + "/" + c.ID }

// Image is one image of a line with every regional copy of it: a copy
// has the same elevator:image and elevator:bake tags as the image it was
// copied from, or names it in elevator:copied-from. Its fields come from
// the original's tags (the first copy when the original is not found).
type Image struct {
	Line, Stage, Version, Phase string
	App, Service                string
	BakeID                      string
	// Orbit is the orbit whose bake made it (elevator:orbit).
	Orbit string
	// Shared is who the image is shared with (elevator:shared on any
	// copy); "" when it is not.
	Shared string
	// Revoked is the reason the image was revoked; "" when it was not.
	Revoked string
	// Built is elevator:built, or the original's creation time when the
	// tag is missing or not RFC 3339.
	Built time.Time
	// Copies has the original first, then the copies by region.
	Copies []Copy
}

// ID is the original's "<region>/<image id>".
func (i Image) ID() string { return i.Copies[0].Ref() }

// Regions are the regions the image has a copy in.
func (i Image) Regions() []string {
	var rs []string
	for _, c := range i.Copies {
		if !slices.Contains(rs, c.Region) {
			rs = append(rs, c.Region)
		}
	}
	return rs
}

// The kinds of Use.
const (
	UseGroup               = "group"
	UseLaunchTemplate      = "launch template"
	UseLaunchConfiguration = "launch configuration"
	UseInstance            = "instance"
	UseParameter           = "SSM parameter"
)

// Use is one thing that uses an image copy: an Auto Scaling group (Via
// says through which template version or launch configuration), a launch
// template version a launch may use ($Latest or $Default), a launch
// configuration, an instance that has not terminated, or a parameter
// under elevator.ImageParameterPrefix (a manifest may name the image
// through it: the next release would need it).
type Use struct {
	Region, ImageID string
	Kind, Name      string
	Version         int64  // of a launch template
	Via             string // of a group: "launch template NAME version N" or "launch configuration NAME"
}

func (u Use) String() string {
	s := u.Kind + " " + u.Name
	if u.Kind == UseLaunchTemplate {
		s += " version " + strconv.FormatInt(u.Version, 10)
	}
	if u.Via != "" {
		s += " (" + u.Via + ")"
	}
	return s + " in " + u.Region
}

// Inventory is what an inventory found: the images of every line, each
// with its copies, and every use of an image copy.
type Inventory struct {
	Images []Image
	Uses   []Use
	// byCopy indexes Uses by "<region>/<image id>" (see indexed).
	byCopy map[string][]Use
}

// indexed returns inv with its uses indexed, so that UsesOf costs a map
// look-up per copy rather than a pass over every use.
func (inv Inventory) indexed() Inventory {
	if inv.byCopy != nil {
		return inv
	}
	inv.byCopy = make(map[string][]Use, len(inv.Uses))
	for _, u := range inv.Uses {
		k := u.Region + "/" + u.ImageID
		inv.byCopy[k] = append(inv.byCopy[k], u)
	}
	return inv
}

// UsesOf returns the uses of any copy of img.
func (inv Inventory) UsesOf(img Image) []Use {
	var out []Use
	for _, c := range img.Copies {
		if inv.byCopy != nil {
			out = append(out, inv.byCopy[c.Ref()]...)
			continue
		}
		for _, u := range inv.Uses {
			if u.Region == c.Region && u.ImageID == c.ID {
				out = append(out, u)
			}
		}
	}
	return out
}

// Take reads the images and uses of every region, the regions at once.
// Per region it makes a fixed number of paginated calls whatever the
// number of images: DescribeImages (own, tagged elevator:image),
// DescribeLaunchTemplateVersions ($Latest and $Default of every template),
// DescribeAutoScalingGroups, DescribeLaunchConfigurations and
// DescribeInstances, and GetParametersByPath under
// elevator.ImageParameterPrefix; plus one DescribeLaunchTemplateVersions per template
// that a group names by a version number other than its $Latest or
// $Default. note, when not nil, is told what each region found. Errors
// are the adapters'; the first one is returned.
func Take(ctx context.Context, regions []Region, note func(region, msg string)) (Inventory, error) {
	type found struct {
		copies []Copy
		uses   []Use
		err    error
	}
	results := make([]found, len(regions))
	var wg sync.WaitGroup
	for i, r := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := &results[i]
			f.copies, f.uses, f.err = takeRegion(ctx, r)
			if f.err == nil && note != nil {
				note(r.Name, fmt.Sprintf("%d images tagged %s; %d uses by groups, launch templates, launch configurations, instances and image parameters", len(f.copies), elevator.TagImage, len(f.uses)))
			}
		}()
	}
	wg.Wait()
	var inv Inventory
	var copies []Copy
	for _, f := range results {
		if f.err != nil {
			return Inventory{}, f.err
		}
		copies = append(copies, f.copies...)
		inv.Uses = append(inv.Uses, f.uses...)
	}
	inv.Images = Group(copies)
	return inv.indexed(), nil
}

func takeRegion(ctx context.Context, r Region) ([]Copy, []Use, error) {
	own, err := r.Images.OwnImagesTagged(ctx, elevator.TagImage)
	if err != nil {
		return nil, nil, err
	}
	var copies []Copy
	for _, o := range own {
		copies = append(copies, Copy{Region: r.Name, ID: o.ID, Name: o.Name, State: o.State, Snapshots: o.Snapshots,
			CopiedFrom: o.Tags[elevator.TagImageCopiedFrom], Created: o.Created, Tags: o.Tags})
	}
	var uses []Use
	use := func(u Use) {
		if strings.HasPrefix(u.ImageID, "ami-") {
			u.Region = r.Name
			uses = append(uses, u)
		}
	}

	versions, err := r.Images.UsableTemplateImages(ctx)
	if err != nil {
		return nil, nil, err
	}
	// A template is known by its id and its name: groups may name either.
	type tv struct {
		template string
		version  int64
	}
	byVersion := map[tv]ec2.TemplateImage{}
	latest, deflt := map[string]ec2.TemplateImage{}, map[string]ec2.TemplateImage{}
	remember := func(v ec2.TemplateImage) {
		for _, t := range []string{v.TemplateID, v.TemplateName} {
			byVersion[tv{t, v.Version}] = v
			if v.Default {
				deflt[t] = v
			}
			if l, ok := latest[t]; !ok || v.Version > l.Version {
				latest[t] = v
			}
		}
	}
	for _, v := range versions {
		remember(v)
		use(Use{ImageID: v.ImageID, Kind: UseLaunchTemplate, Name: v.TemplateName, Version: v.Version})
	}

	groups, err := r.Groups.GroupLaunches(ctx)
	if err != nil {
		return nil, nil, err
	}
	configs, err := r.Groups.LaunchConfigurations(ctx)
	if err != nil {
		return nil, nil, err
	}
	configImage := map[string]string{}
	for _, lc := range configs {
		configImage[lc.Name] = lc.ImageID
		use(Use{ImageID: lc.ImageID, Kind: UseLaunchConfiguration, Name: lc.Name})
	}
	for _, g := range groups {
		if g.LaunchConfiguration != "" {
			use(Use{ImageID: configImage[g.LaunchConfiguration], Kind: UseGroup, Name: g.Group, Via: UseLaunchConfiguration + " " + g.LaunchConfiguration})
		}
		for _, lt := range g.LaunchTemplates {
			name := lt.ID
			if name == "" {
				name = lt.Name
			}
			var v ec2.TemplateImage
			var ok bool
			switch lt.Version {
			case "", "$Default":
				v, ok = deflt[name]
			case "$Latest":
				v, ok = latest[name]
			default:
				n, perr := strconv.ParseInt(lt.Version, 10, 64)
				if v, ok = byVersion[tv{name, n}]; !ok && perr == nil {
					// A pinned version neither $Latest nor $Default: one
					// call for this template.
					more, err := r.Images.TemplateVersionImages(ctx, name, []string{lt.Version})
					if err != nil {
						return nil, nil, err
					}
					for _, m := range more {
						remember(m)
						v, ok = m, true
					}
				}
			}
			if ok {
				use(Use{ImageID: v.ImageID, Kind: UseGroup, Name: g.Group,
					Via: fmt.Sprintf("%s %s version %d", UseLaunchTemplate, v.TemplateName, v.Version)})
			}
		}
	}

	instances, err := r.Images.LiveInstanceImages(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range instances {
		use(Use{ImageID: i.ImageID, Kind: UseInstance, Name: i.InstanceID + " (" + i.State + ")"})
	}

	params, err := r.Parameters.ParametersUnder(ctx, elevator.ImageParameterPrefix)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range params {
		use(Use{ImageID: strings.TrimSpace(p.Value), Kind: UseParameter, Name: p.Name})
	}
	return copies, uses, nil
}

// Group gathers regional copies into images: copies with the same
// elevator:image and elevator:bake tags are one image, and so is a copy
// with the image its elevator:copied-from names (followed to the
// original). Images come out by line, then newest first.
func Group(copies []Copy) []Image {
	copies = slices.Clone(copies)
	byRef := map[string]Copy{}
	for i, c := range copies {
		if c.CopiedFrom == "" {
			copies[i].CopiedFrom = c.Tags[elevator.TagImageCopiedFrom]
		}
		byRef[c.Ref()] = copies[i]
	}
	root := func(c Copy) string {
		ref := c.Ref()
		for hops := 0; c.CopiedFrom != "" && hops < 10; hops++ {
			ref = c.CopiedFrom
			next, ok := byRef[ref]
			if !ok {
				break
			}
			c = next
		}
		return ref
	}
	// The bake id joins copies whatever copied-from says; otherwise the
	// original's ref does.
	keyOf := func(c Copy) string {
		if b := c.Tags[elevator.TagImageBakeID]; b != "" {
			return "bake\x00" + c.Tags[elevator.TagImage] + "\x00" + b
		}
		return "ref\x00" + root(c)
	}
	// A copy whose original carries a bake id joins the original's key.
	groups := map[string][]Copy{}
	var order []string
	for _, c := range copies {
		k := keyOf(c)
		if c.Tags[elevator.TagImageBakeID] == "" && c.CopiedFrom != "" {
			if o, ok := byRef[root(c)]; ok {
				k = keyOf(o)
			}
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	var images []Image
	for _, k := range order {
		cs := groups[k]
		sort.SliceStable(cs, func(i, j int) bool {
			if (cs[i].CopiedFrom == "") != (cs[j].CopiedFrom == "") {
				return cs[i].CopiedFrom == ""
			}
			return cs[i].Ref() < cs[j].Ref()
		})
		o := cs[0]
		img := Image{
			Line: o.Tags[elevator.TagImage], Stage: o.Tags[elevator.TagImageStage], Version: o.Tags[elevator.TagImageVersion],
			Phase: o.Tags[elevator.TagImagePhase], App: o.Tags[elevator.TagApp], Service: o.Tags[elevator.TagService],
			BakeID: o.Tags[elevator.TagImageBakeID], Orbit: o.Tags[elevator.TagOrbit], Revoked: o.Tags[elevator.TagImageRevoked], Built: o.Created, Copies: cs,
		}
		for _, c := range cs {
			if img.Revoked == "" {
				img.Revoked = c.Tags[elevator.TagImageRevoked]
			}
			if img.Shared == "" {
				img.Shared = c.Tags[elevator.TagImageShared]
			}
		}
		if t, err := time.Parse(time.RFC3339, o.Tags[elevator.TagImageBuilt]); err == nil {
			img.Built = t
		}
		images = append(images, img)
	}
	sortImages(images)
	return images
}

// sortImages orders images by line, then newest first, then by id.
func sortImages(images []Image) {
	sort.SliceStable(images, func(i, j int) bool {
		a, b := images[i], images[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if !a.Built.Equal(b.Built) {
			return a.Built.After(b.Built)
		}
		return a.ID() < b.ID()
	})
}
