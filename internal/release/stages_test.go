package release

import (
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

func TestAnImageMustBeUnrevokedAndAtTheOrbitsStage(t *testing.T) {
	three := &elevator.ReleaseImages{Stages: []string{"untested", "tested", "released"}, MinStage: "tested"}
	allowed := func(kv ...string) map[string]string {
		m := map[string]string{elevator.AllowTag("prod"): "shop"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	promote := "(`elevator image promote --image ami-1 --stage tested --orbit prod` promotes it)"
	want := "an image at stage tested or later (of untested, tested, released); "
	checkedAt := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		images *elevator.ReleaseImages
		x      Resource
		want   string // "" when authorized
	}{
		{"any stage, when the orbit sets no min_stage", nil, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "untested")}, ""},
		{"no stage tag, when the orbit sets no min_stage", nil, Resource{ID: "ami-1", Tags: allowed()}, ""},
		{"a revoked image, even when the orbit sets no min_stage", nil, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageRevoked, "CVE-2026-1234")},
			"an image that is not revoked (it was revoked: CVE-2026-1234)"},
		{"a revoked image at the last stage", three, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "released", elevator.TagImageRevoked, "leaks keys")},
			"an image that is not revoked (it was revoked: leaks keys)"},
		{"an image at the min_stage", three, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "tested")}, ""},
		{"an image past the min_stage", three, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "released")}, ""},
		{"an image before the min_stage", three, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "untested")}, want + "it is at stage untested " + promote},
		{"an image without a stage tag", three, Resource{ID: "ami-1", Tags: allowed()}, want + "it has no " + elevator.TagImageStage + " tag " + promote},
		{"an image at a stage the orbit does not have", three, Resource{ID: "ami-1", Tags: allowed(elevator.TagImageStage, "qa")},
			want + `it is at stage "qa", which the orbit does not have ` + promote},
		{"another account's image shared with this one counts as at the last stage", three, Resource{ID: "ami-1", Foreign: true, Allows: []string{"shop"}}, ""},
		{"another account's public image is refused", three, Resource{ID: "ami-1", Foreign: true, Public: true, Allows: []string{"shop"}},
			want + "it is another account's public image, whose stage this account cannot see: bake an image from it, or copy it into this account"},
		// A revocation deprecates the image, which, unlike its tags, the
		// accounts it is shared with see.
		{"another account's image its owner deprecated is refused, even without a min_stage", nil,
			Resource{ID: "ami-1", Foreign: true, Allows: []string{"shop"}, Deprecated: checkedAt.Add(-time.Minute)},
			"an image that is not deprecated (deprecated by its owner at 2026-11-30T02:59:00Z: revoked?)"},
		{"another account's image deprecated at the last stage is refused", three,
			Resource{ID: "ami-1", Foreign: true, Allows: []string{"shop"}, Deprecated: checkedAt},
			"an image that is not deprecated (deprecated by its owner at 2026-11-30T03:00:00Z: revoked?)"},
		{"another account's public image AWS deprecated (two years after it was made) is not taken for revoked", nil,
			Resource{ID: "ami-1", Foreign: true, Public: true, Allows: []string{"shop"}, Deprecated: checkedAt.Add(-time.Minute)}, ""},
		{"another account's image to be deprecated later is taken", three,
			Resource{ID: "ami-1", Foreign: true, Allows: []string{"shop"}, Deprecated: checkedAt.Add(time.Hour)}, ""},
		{"this account's public image counts by its tag", three, Resource{ID: "ami-1", Public: true, Tags: allowed(elevator.TagImageStage, "released")}, ""},
		{"an image at the stage but not allowed is still refused", three, Resource{ID: "ami-1", Tags: map[string]string{elevator.TagImageStage: "tested"}},
			imageListRule(scope{orbit: "prod", app: "shop"})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := scope{orbit: "prod", app: "shop", service: "web", tier: elevator.TierPrivate, images: tt.images, now: checkedAt}
			if got := rules[KindImage](tt.x, s); got != tt.want {
				t.Errorf("rule = %q\nwant  %q", got, tt.want)
			}
		})
	}
}

// TestAReleaseTakesOnlyImagesAtTheOrbitsStage: the engine refuses, at
// ValidateResources and before it creates anything, an image before the
// orbit's min_stage or revoked, and releases one at it.
func TestAReleaseTakesOnlyImagesAtTheOrbitsStage(t *testing.T) {
	stages := &elevator.ReleaseImages{Stages: []string{"untested", "tested"}, MinStage: "tested"}
	images := []Resource{
		{Kind: KindImage, ID: "ami-untested", Tags: map[string]string{elevator.AllowTag(orbit): app, elevator.TagImageStage: "untested"}},
		{Kind: KindImage, ID: "ami-tested", Tags: map[string]string{elevator.AllowTag(orbit): app, elevator.TagImageStage: "tested"}},
		{Kind: KindImage, ID: "ami-revoked", Tags: map[string]string{elevator.AllowTag(orbit): app, elevator.TagImageStage: "tested", elevator.TagImageRevoked: "CVE-2026-1234"}},
		{Kind: KindImage, ID: "ami-shared", Foreign: true, Tags: map[string]string{}},
	}
	for _, tt := range []struct {
		name, image string
		images      *elevator.ReleaseImages
		want        string // "" for Success
	}{
		{"an image at the min_stage", "ami-tested", stages, ""},
		{"an image shared by another account", "ami-shared", stages, ""},
		{"an image before the min_stage", "ami-untested", stages,
			"us-east-1: service web: image ami-untested is not authorized: want an image at stage tested or later (of untested, tested); it is at stage untested (`elevator image promote --image ami-untested --stage tested --orbit prod` promotes it)"},
		{"an image before the stage, in an orbit without min_stage", "ami-untested", nil, ""},
		{"a revoked image", "ami-revoked", nil, "image ami-revoked is not authorized: want an image that is not revoked (it was revoked: CVE-2026-1234)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			for _, x := range images {
				w.clouds["us-east-1"].addResource(x)
			}
			w.clouds["us-east-1"].allowImage(orbit, app, "ami-shared")
			rec := w.run(w.engine("engine-1"), w.release(func(r *elevator.Release) {
				r.Images = tt.images
				r.Services[0].Placements[0].Image = tt.image
			}))
			if tt.want == "" {
				if rec.State != elevator.StateSuccess {
					t.Errorf("%s (%s), want Success", rec.State, rec.Error)
				}
				return
			}
			assertPath(t, rec, path(V, L, VR, U, FC))
			assertFailure(t, rec, elevator.FailureUnusableResources)
			if !strings.Contains(rec.Error, tt.want) {
				t.Errorf("error %q\nwant it to say %q", rec.Error, tt.want)
			}
			if n := w.clouds["us-east-1"].count("CreateGroup"); n != 0 {
				t.Errorf("%d groups created", n)
			}
		})
	}
}

func TestAReleaseDocumentsImagesMustNameOneOfItsStages(t *testing.T) {
	for _, tt := range []struct {
		name   string
		images *elevator.ReleaseImages
		want   string
	}{
		{"a min_stage not among the stages", &elevator.ReleaseImages{Stages: []string{"untested", "tested"}, MinStage: "prod"}, `images.min_stage "prod": not one of images.stages`},
		{"no stages", &elevator.ReleaseImages{MinStage: "tested"}, "images.stages: want at least one"},
		{"a stage twice", &elevator.ReleaseImages{Stages: []string{"a", "a"}, MinStage: "a"}, `images.stages[1] "a": empty or listed twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			rel := w.release(func(r *elevator.Release) { r.Images = tt.images })
			err := rel.Check()
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want EINVALID saying %q", err, tt.want)
			}
		})
	}
}
