package release

import (
	"strings"
	"testing"
	"time"

	"github.com/elevatorhq/elevator"
)

// TestAReleaseRunsOnlyATagItsRepositoryHasAndTheOrbitAllows releases web
// from its own repository (in the fake cloud): the release's version must
// be a tag of the repository in every region, and the orbit's image allow
// list must have <repository>:<version> for the app there; otherwise the
// release fails clean at ValidateResources, saying which repository and
// tag and what to run.
func TestAReleaseRunsOnlyATagItsRepositoryHasAndTheOrbitAllows(t *testing.T) {
	runtimes(t, func(t *testing.T, r rt) {
		regions := []string{"us-east-1", "eu-west-1"}
		repo := elevator.AppRepositoryName(orbit, app, "web")
		image := repo + ":1.4.2"
		onRepository := func(r *elevator.Release) {
			for i := range r.Services[0].Placements {
				pl := &r.Services[0].Placements[i]
				pl.Repository = repo
				if r.Services[0].ECS != nil {
					pl.Image = ecrRegistry(pl.Region) + "/" + image
				}
			}
		}
		push := func(c *fakeCloud, id string) { c.addResource(Resource{Kind: KindContainerImage, ID: id}) }
		tests := []struct {
			name  string
			setup func(c *fakeCloud)
			want  []string // nil for Success, else what the refusal says
		}{
			{"the tag is pushed and allowed in every region", func(c *fakeCloud) {
				push(c, image)
				c.allowImage(orbit, app, image)
			}, nil},
			{"the tag is not pushed", func(c *fakeCloud) {
				push(c, repo+":1.4.1")
				c.allowImage(orbit, app, image)
			}, []string{"us-east-1: service web: container image " + image + " does not exist: repository " + repo + " has no image tagged 1.4.2",
				"docker push <registry>/" + image, "elevator image allow --orbit prod --app shop"}},
			{"the tag is pushed but not allowed", func(c *fakeCloud) {
				push(c, image)
				c.allowImage(orbit, app, repo+":1.4.1")
				c.allowImage("test", app, image)
				c.allowImage(orbit, "blog", image)
			}, []string{"us-east-1: service web: container image " + image + " is not authorized: want an entry for shop in " + elevator.ImagesTableName(orbit),
				"`elevator image allow <registry>/" + image + " --orbit prod --app shop`"}},
			{"the tag is pushed and allowed in one region only", func(c *fakeCloud) {
				push(c, image)
				if c.region == "us-east-1" {
					c.allowImage(orbit, app, image)
				}
			}, []string{"eu-west-1: service web: container image " + image + " is not authorized"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w := newWorldOn(t, r, regions...)
				for _, c := range w.clouds {
					tt.setup(c)
				}
				rec := w.run(w.engine("engine-1"), w.release(onRepository))
				if tt.want == nil {
					if rec.State != elevator.StateSuccess {
						t.Errorf("release of a pushed, allowed tag: %s (%s)", rec.State, rec.Error)
					}
					return
				}
				assertPath(t, rec, path(V, L, VR, U, FC))
				assertFailure(t, rec, elevator.FailureUnusableResources)
				for _, want := range tt.want {
					if !strings.Contains(rec.Error, want) {
						t.Errorf("error %q, want it to say %q", rec.Error, want)
					}
				}
				if tt.name == "the tag is pushed and allowed in one region only" && strings.Contains(rec.Error, "us-east-1:") {
					t.Errorf("error %q names us-east-1, where the list has the tag", rec.Error)
				}
			})
		}
	})
}

// TestAServiceWithoutARepositoryChecksNoContainerImage: a service whose
// image is elsewhere (no Repository in its placements) costs no container
// image look-up, and a document naming another service's repository is
// refused before anything is looked up.
func TestAServiceWithoutARepositoryChecksNoContainerImage(t *testing.T) {
	doc := &elevator.Release{App: app, Orbit: orbit, Version: "1.4.2", Services: []elevator.ReleaseService{{Name: "web", Placements: []elevator.ReleasePlacement{
		{Region: "us-east-1", Image: "ami-1"},
	}}}}
	for _, u := range collect(doc, "us-east-1", time.Time{}) {
		if u.kind == KindContainerImage {
			t.Errorf("collect lists %+v for a service without a repository", u)
		}
	}
	doc.Services[0].Placements[0].Repository = elevator.AppRepositoryName(orbit, app, "web")
	us := collect(doc, "us-east-1", time.Time{})
	if last := us[len(us)-1]; last.kind != KindContainerImage || last.id != "prod/shop/web:1.4.2" {
		t.Errorf("collect's last use is %+v, want the container image prod/shop/web:1.4.2", last)
	}

	doc.ID, doc.CreatedBy, doc.Regions = "20261123-115900-a0000001", "arn:aws:iam::123456789012:user/alice", []string{"us-east-1"}
	doc.Services[0].Placements[0].Repository = elevator.AppRepositoryName(orbit, app, "worker")
	if err := doc.Check(); err == nil || !strings.Contains(err.Error(), `repository "prod/shop/worker": a service runs only from its own repository, prod/shop/web`) {
		t.Errorf("a release of web from worker's repository: %v", err)
	}
}
