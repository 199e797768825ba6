package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elevatorhq/elevator"
)

// Authorizing the resources a release uses is three steps, run per region
// by ValidateResources: collect what each service uses, describe it all
// (one call per kind), then authorize each use by its kind's rule.

// use is one resource a service of the release uses in a region.
type use struct {
	kind    ResourceKind
	id      string
	service string
	scope   scope
}

// scope is what a release asks to use a resource for: the tag values (or
// IAM path) that must allow it.
type scope struct {
	orbit, app, service string
	tier                string // the subnet tier of the service's placement
	// images is the stage the orbit needs images at; nil for any.
	images *elevator.ReleaseImages
	// now is when the resources are checked.
	now time.Time
}

// collect lists the resources the services of doc use in region, service
// by service, in the order their placements name them. An ECS service
// uses no machine image and no instance profile (its roles are the app
// stack's); like a Docker service, it uses the container image of its own
// repository when it runs from one. A public image (no repository) is
// not checked, as for Docker.
func collect(doc *elevator.Release, region string, now time.Time) []use {
	var us []use
	for _, s := range doc.Services {
		pl := s.Placement(region)
		if pl == nil {
			continue
		}
		sc := scope{orbit: doc.Orbit, app: doc.App, service: s.Name, tier: elevator.TierPrivate, images: doc.Images, now: now}
		if pl.Tier != "" {
			sc.tier = pl.Tier
		}
		add := func(k ResourceKind, ids ...string) {
			for _, id := range ids {
				us = append(us, use{kind: k, id: id, service: s.Name, scope: sc})
			}
		}
		if s.ECS == nil {
			// An ECS service's placement names a container image, and
			// no machine image: its tasks run on Fargate or on the
			// orbit's capacity, whose image the orbit chose.
			add(KindImage, pl.Image)
		}
		add(KindSubnet, pl.Subnets...)
		add(KindSecurityGroup, pl.SecurityGroups...)
		add(KindTargetGroup, pl.TargetGroups...)
		if pl.InstanceProfile != "" && s.ECS == nil {
			add(KindInstanceProfile, pl.InstanceProfile)
		}
		if pl.Repository != "" {
			add(KindContainerImage, elevator.ContainerImage(pl.Repository, doc.Version))
		}
	}
	return us
}

// kinds is the order in which describe asks for each kind.
var kinds = []ResourceKind{KindImage, KindSubnet, KindSecurityGroup, KindTargetGroup, KindInstanceProfile, KindContainerImage}

// described holds what describe found, by kind and id.
type described map[ResourceKind]map[string]Resource

// describe looks up every resource in us, one call per kind that has any,
// each id once; then it asks the orbit's image allow list about the images
// their tags do not allow (see askAllowList).
func describe(ctx context.Context, cl Cloud, us []use) (described, error) {
	ids := map[ResourceKind][]string{}
	for _, u := range us {
		if !slices.Contains(ids[u.kind], u.id) {
			ids[u.kind] = append(ids[u.kind], u.id)
		}
	}
	found := described{}
	for _, k := range kinds {
		if len(ids[k]) == 0 {
			continue
		}
		res, err := cl.Describe(ctx, k, ids[k])
		if err != nil {
			return nil, fmt.Errorf("describe %ss: %w", k, err)
		}
		found[k] = map[string]Resource{}
		for _, x := range res {
			found[k][x.ID] = x
		}
	}
	return found, askAllowList(ctx, cl, us, found)
}

// askAllowList asks the orbit's image allow list, in one call, about the
// machine images found that no tag of an older Elevator allows for their
// use and about every container image found, and records in each one's
// Allows whether the list has the release's app. A machine image's tags
// are looked at first only to spare the read: it is allowed when either
// allows it.
func askAllowList(ctx context.Context, cl Cloud, us []use, found described) error {
	var ask []use
	for _, u := range us {
		x, ok := found[u.kind][u.id]
		if !ok || (u.kind != KindImage && u.kind != KindContainerImage) || (u.kind == KindImage && tagsAllowImage(x, u.scope)) ||
			slices.ContainsFunc(ask, func(a use) bool { return a.kind == u.kind && a.id == u.id }) {
			continue
		}
		ask = append(ask, u)
	}
	if len(ask) == 0 {
		return nil
	}
	sc := ask[0].scope // one orbit and one app per release
	ids := make([]string, len(ask))
	for i, u := range ask {
		ids[i] = u.id
	}
	allowed, err := cl.AllowedImages(ctx, sc.orbit, sc.app, ids)
	if err != nil {
		return fmt.Errorf("read the image allow list of %s: %w", sc.orbit, err)
	}
	for _, u := range ask {
		if x := found[u.kind][u.id]; slices.Contains(allowed, u.id) {
			x.Allows = append(x.Allows, sc.app)
			found[u.kind][u.id] = x
		}
	}
	return nil
}

// rule says whether a resource of one kind may be used for a scope: ""
// when it may, else what it lacks, such as "tags elevator:orbit=prod".
type rule func(x Resource, s scope) (want string)

// rules has the rule of every kind of resource a release uses.
//
// A tag allows a value when it is the value, "*", or a comma-separated
// list that has it.
var rules = map[ResourceKind]rule{
	// An image: the orbit's image allow list has it for the app (see
	// internal/image for why a list, and who may write it); or, on images
	// older Elevators tagged, elevator:allow:<orbit> allows the app, or
	// elevator:app and elevator:orbit allow the app and the orbit. First,
	// it must be neither revoked nor before the orbit's min_stage
	// (imageStageRule).
	KindImage: func(x Resource, s scope) string {
		if want := imageStageRule(x, s); want != "" {
			return want
		}
		if slices.Contains(x.Allows, s.app) || tagsAllowImage(x, s) {
			return ""
		}
		return imageListRule(s)
	},
	// A subnet: elevator:orbit is the orbit and elevator:tier the tier of
	// the placement (private unless it names another).
	KindSubnet: func(x Resource, s scope) string {
		return wantTags(x, elevator.TagOrbit, s.orbit, elevator.TagTier, s.tier)
	},
	KindSecurityGroup: serviceTags,
	KindTargetGroup:   serviceTags,
	// An instance profile: its IAM path is /elevator/<orbit>/<app>/<service>/.
	KindInstanceProfile: func(x Resource, s scope) string {
		if path := elevator.IAMPath(s.orbit, s.app, s.service); x.Path != path {
			return "path " + path
		}
		return ""
	},
	// A container image in a service's own repository: see containerRule.
	KindContainerImage: containerRule,
}

// imageListRule is what an image lacks: an entry in the orbit's allow
// list.
func imageListRule(s scope) string {
	return "an entry for " + s.app + " in " + elevator.ImagesTableName(s.orbit) + " (`elevator image allow --orbit " + s.orbit + " --app " + s.app + "` adds it)"
}

// tagsAllowImage reports whether an image's tags, as older Elevators
// wrote them, allow the scope's app in its orbit: elevator:allow:<orbit>
// lists the app, or elevator:app and elevator:orbit allow the app and the
// orbit.
func tagsAllowImage(x Resource, s scope) bool {
	return authorized(x.Tags, elevator.AllowTag(s.orbit), s.app) ||
		wantTags(x, elevator.TagApp, s.app, elevator.TagOrbit, s.orbit) == ""
}

// serviceTags is the rule of security groups and target groups:
// elevator:orbit, elevator:app and elevator:service allow the orbit, the
// app and the service.
func serviceTags(x Resource, s scope) string {
	return wantTags(x, elevator.TagOrbit, s.orbit, elevator.TagApp, s.app, elevator.TagService, s.service)
}

// authorized reports whether a tag value allows want: the value itself,
// "*", or a comma-separated list that has it.
func authorized(tags map[string]string, key, want string) bool {
	v, ok := tags[key]
	if !ok {
		return false
	}
	for _, part := range strings.Split(v, ",") {
		if p := strings.TrimSpace(part); p == want || p == "*" {
			return true
		}
	}
	return false
}

// wantTags returns "" when x's tags allow every value of keyValues (key,
// value, key, value...), else the tags it wants, such as
// "tags elevator:orbit=prod, elevator:tier=private".
func wantTags(x Resource, keyValues ...string) string {
	ok := true
	var want []string
	for i := 0; i+1 < len(keyValues); i += 2 {
		k, v := keyValues[i], keyValues[i+1]
		ok = ok && authorized(x.Tags, k, v)
		want = append(want, k+"="+v)
	}
	if ok {
		return ""
	}
	return "tags " + strings.Join(want, ", ")
}

// doesNotExist says that a resource a release uses does not exist.
func doesNotExist(u use) string {
	if u.kind == KindContainerImage {
		return containerMissing(u)
	}
	return fmt.Sprintf("%s %s does not exist", u.kind, u.id)
}

// authorize checks every use against the rule of its kind, and returns
// what is wrong, one line per use: a resource that does not exist, or one
// its tags (or path) do not allow.
func authorize(us []use, found described) []string {
	var problems []string
	for _, u := range us {
		x, ok := found[u.kind][u.id]
		if !ok {
			problems = append(problems, fmt.Sprintf("service %s: %s", u.service, doesNotExist(u)))
			continue
		}
		if want := rules[u.kind](x, u.scope); want != "" {
			problems = append(problems, fmt.Sprintf("service %s: %s %s is not authorized: want %s", u.service, u.kind, u.id, want))
		}
	}
	return problems
}
