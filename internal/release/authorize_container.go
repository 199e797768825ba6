package release

import (
	"fmt"
	"slices"
	"strings"

	"github.com/elevatorhq/elevator"
)

// A Docker service that runs from its own ECR repository (a placement's
// Repository) uses one more resource: the container image its repository
// holds under the release's version, KindContainerImage with id
// <repository>:<version>. It must exist (pushed by the team's own `docker
// push`), and the orbit's image allow list must have it for the app
// (`elevator image allow`), as for machine images: a release never runs a
// tag nobody allowed into the orbit.

// containerRule is the rule of container images: the orbit's image allow
// list has <repository>:<tag> for the app. Images in ECR carry no tags
// Elevator writes, so the list is the only way to allow one.
func containerRule(x Resource, s scope) string {
	if slices.Contains(x.Allows, s.app) {
		return ""
	}
	tag := x.ID[strings.LastIndex(x.ID, ":")+1:]
	return fmt.Sprintf("an entry for %s in %s (`elevator image allow <registry>/%s --orbit %s --app %s`, or `elevator image allow -f app.yml --version %s --orbit %s`, adds it)",
		s.app, elevator.ImagesTableName(s.orbit), x.ID, s.orbit, s.app, tag, s.orbit)
}

// containerMissing says that a container image is not in its repository,
// and how to put it there.
func containerMissing(u use) string {
	repo, tag := u.id, ""
	if i := strings.LastIndex(u.id, ":"); i >= 0 {
		repo, tag = u.id[:i], u.id[i+1:]
	}
	return fmt.Sprintf("%s %s does not exist: repository %s has no image tagged %s (or is not there: `elevator app up` makes it); push it with `docker push <registry>/%s`, then allow it with `elevator image allow --orbit %s --app %s`",
		u.kind, u.id, repo, tag, u.id, u.scope.orbit, u.scope.app)
}
