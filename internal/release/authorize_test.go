package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

func TestEachKindOfResourceHasItsRule(t *testing.T) {
	web := scope{orbit: "prod", app: "shop", service: "web", tier: elevator.TierPrivate}
	tags := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		kind ResourceKind
		x    Resource
		want string // "" when authorized
	}{
		{"an image the orbit's allow list has for the app", KindImage, Resource{Allows: []string{"shop"}}, ""},
		{"an image the orbit's allow list has for another app", KindImage, Resource{Allows: []string{"blog"}}, imageListRule(web)},
		{"an image the orbit allows for the app", KindImage, Resource{Tags: tags(elevator.TagAllow+"prod", "blog, shop")}, ""},
		{"an image the orbit allows for every app", KindImage, Resource{Tags: tags(elevator.TagAllow+"prod", "*")}, ""},
		{"an image tagged with the app and the orbit", KindImage, Resource{Tags: tags(elevator.TagApp, "shop", elevator.TagOrbit, "prod")}, ""},
		{"an image another orbit allows for the app", KindImage, Resource{Tags: tags(elevator.TagAllow+"staging", "shop")}, imageListRule(web)},
		{"an image tagged with the app but another orbit", KindImage, Resource{Tags: tags(elevator.TagApp, "shop", elevator.TagOrbit, "staging")}, imageListRule(web)},
		{"a private subnet of the orbit", KindSubnet, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagTier, "private")}, ""},
		{"a public subnet of the orbit", KindSubnet, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagTier, "public")}, tagRule(elevator.TagOrbit, "prod", elevator.TagTier, "private")},
		{"a private subnet of another orbit", KindSubnet, Resource{Tags: tags(elevator.TagOrbit, "staging", elevator.TagTier, "private")}, tagRule(elevator.TagOrbit, "prod", elevator.TagTier, "private")},
		{"a security group of the service", KindSecurityGroup, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "web")}, ""},
		{"a security group shared by the app's services", KindSecurityGroup, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "api,web")}, ""},
		{"a security group of another service", KindSecurityGroup, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "api")},
			tagRule(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "web")},
		{"a target group of any app in the orbit", KindTargetGroup, Resource{Tags: tags(elevator.TagOrbit, "prod", elevator.TagApp, "*", elevator.TagService, "*")}, ""},
		{"an untagged target group", KindTargetGroup, Resource{}, tagRule(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "web")},
		{"an instance profile on the service's path", KindInstanceProfile, Resource{Path: elevator.IAMPath("prod", "shop", "web")}, ""},
		{"an instance profile of another service", KindInstanceProfile, Resource{Path: elevator.IAMPath("prod", "shop", "api")}, "path " + elevator.IAMPath("prod", "shop", "web")},
		{"an instance profile tagged but on the root path", KindInstanceProfile, Resource{Path: "/", Tags: tags(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "web")}, "path " + elevator.IAMPath("prod", "shop", "web")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rules[tt.kind](tt.x, web); got != tt.want {
				t.Errorf("rule of %s = %q, want %q", tt.kind, got, tt.want)
			}
		})
	}
	for _, k := range kinds {
		if rules[k] == nil {
			t.Errorf("no rule for %s", k)
		}
	}
}

func TestCollectListsWhatEachServiceUsesInTheRegion(t *testing.T) {
	doc := &elevator.Release{App: "shop", Orbit: "prod", Services: []elevator.ReleaseService{
		{Name: "web", Placements: []elevator.ReleasePlacement{
			{Region: "eu-west-1", Image: "ami-eu"},
			{Region: "us-east-1", Image: "ami-1", Subnets: []string{"subnet-a", "subnet-b"}, SecurityGroups: []string{"sg-web"},
				TargetGroups: []string{"arn:tg"}, InstanceProfile: "web"},
		}},
		{Name: "worker", Placements: []elevator.ReleasePlacement{
			{Region: "us-east-1", Image: "ami-1", Subnets: []string{"subnet-c"}, Tier: "batch"},
		}},
	}}
	web := scope{orbit: "prod", app: "shop", service: "web", tier: elevator.TierPrivate}
	worker := scope{orbit: "prod", app: "shop", service: "worker", tier: "batch"}
	want := []use{
		{KindImage, "ami-1", "web", web},
		{KindSubnet, "subnet-a", "web", web},
		{KindSubnet, "subnet-b", "web", web},
		{KindSecurityGroup, "sg-web", "web", web},
		{KindTargetGroup, "arn:tg", "web", web},
		{KindInstanceProfile, "web", "web", web},
		{KindImage, "ami-1", "worker", worker},
		{KindSubnet, "subnet-c", "worker", worker},
	}
	if got := collect(doc, "us-east-1", time.Time{}); !slices.Equal(got, want) {
		t.Errorf("collect = %+v\nwant %+v", got, want)
	}
}

// describer is a Cloud that answers Describe from a list, and
// AllowedImages from an allow list of (orbit, app, image), counting calls.
type describer struct {
	Cloud
	have    []Resource
	listed  [][3]string
	calls   map[ResourceKind][]string
	allowed [][]string // the images of each AllowedImages call
}

func (d *describer) AllowedImages(_ context.Context, orbit, app string, images []string) ([]string, error) {
	d.allowed = append(d.allowed, images)
	var out []string
	for _, id := range images {
		if slices.Contains(d.listed, [3]string{orbit, app, id}) {
			out = append(out, id)
		}
	}
	return out, nil
}

func TestTheAllowListIsReadOnceForTheImagesTheirTagsDoNotAllow(t *testing.T) {
	web := scope{orbit: "prod", app: "shop", service: "web", tier: elevator.TierPrivate}
	api := scope{orbit: "prod", app: "shop", service: "api", tier: elevator.TierPrivate}
	us := []use{
		{KindImage, "ami-tagged", "web", web},
		{KindImage, "ami-listed", "web", web},
		{KindImage, "ami-listed", "api", api},
		{KindImage, "ami-blog", "api", api},
		{KindImage, "ami-gone", "api", api},
	}
	cl := &describer{calls: map[ResourceKind][]string{}, have: []Resource{
		{Kind: KindImage, ID: "ami-tagged", Tags: map[string]string{elevator.AllowTag("prod"): "shop"}},
		{Kind: KindImage, ID: "ami-listed"},
		{Kind: KindImage, ID: "ami-blog"},
	}, listed: [][3]string{{"prod", "shop", "ami-listed"}, {"prod", "blog", "ami-blog"}, {"test", "shop", "ami-blog"}}}
	found, err := describe(context.Background(), cl, us)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"ami-listed", "ami-blog"}}; fmt.Sprint(cl.allowed) != fmt.Sprint(want) {
		t.Errorf("asked the allow list about %v, want %v: once, for the images found that tags do not allow", cl.allowed, want)
	}
	got := authorize(us, found)
	want := []string{
		"service api: image ami-blog is not authorized: want " + imageListRule(api),
		"service api: image ami-gone does not exist",
	}
	if !slices.Equal(got, want) {
		t.Errorf("authorize = %q\nwant %q", got, want)
	}
}

func (d *describer) Describe(_ context.Context, k ResourceKind, ids []string) ([]Resource, error) {
	d.calls[k] = append(d.calls[k], ids...)
	var out []Resource
	for _, x := range d.have {
		if x.Kind == k && slices.Contains(ids, x.ID) {
			out = append(out, x)
		}
	}
	return out, nil
}

func TestDescribeAsksOncePerKindAndAuthorizeNamesEachProblem(t *testing.T) {
	web := scope{orbit: "prod", app: "shop", service: "web", tier: elevator.TierPrivate}
	api := scope{orbit: "prod", app: "shop", service: "api", tier: elevator.TierPrivate}
	us := []use{
		{KindImage, "ami-1", "web", web},
		{KindImage, "ami-1", "api", api},
		{KindSecurityGroup, "sg-web", "web", web},
		{KindSecurityGroup, "sg-web", "api", api},
		{KindSubnet, "subnet-gone", "web", web},
	}
	cl := &describer{calls: map[ResourceKind][]string{}, have: []Resource{
		{Kind: KindImage, ID: "ami-1", Tags: map[string]string{elevator.TagAllow + "prod": "shop"}},
		{Kind: KindSecurityGroup, ID: "sg-web", Tags: map[string]string{elevator.TagOrbit: "prod", elevator.TagApp: "shop", elevator.TagService: "web"}},
	}}
	found, err := describe(context.Background(), cl, us)
	if err != nil {
		t.Fatal(err)
	}
	wantCalls := map[ResourceKind][]string{KindImage: {"ami-1"}, KindSecurityGroup: {"sg-web"}, KindSubnet: {"subnet-gone"}}
	for k, ids := range wantCalls {
		if !slices.Equal(cl.calls[k], ids) {
			t.Errorf("described %ss %v, want %v once", k, cl.calls[k], ids)
		}
	}
	if len(cl.calls) != len(wantCalls) {
		t.Errorf("described kinds %v, want only the kinds used", cl.calls)
	}
	got := authorize(us, found)
	want := []string{
		"service api: security group sg-web is not authorized: want " + tagRule(elevator.TagOrbit, "prod", elevator.TagApp, "shop", elevator.TagService, "api"),
		"service web: subnet subnet-gone does not exist",
	}
	if !slices.Equal(got, want) {
		t.Errorf("authorize = %q\nwant %q", got, want)
	}
}

// tagRule is how authorize names the tags it wants, from the tag keys'
// own constants: "tags k1=v1, k2=v2".
func tagRule(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+"="+kv[i+1])
	}
	return "tags " + strings.Join(parts, ", ")
}
