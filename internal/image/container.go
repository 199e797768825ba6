package image

import (
	"context"
	"errors"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
)

// Container images in a service's own ECR repository (an app's Docker
// service without image: elevator.AppRepositoryName) are allowed the same
// way as machine images: an item in the orbit's allow list of the
// repository's region, whose image is <repository>:<tag>. The release
// engine reads it before it runs a tag (internal/release).

// Registry looks images up in ECR in one region.
type Registry interface {
	Image(ctx context.Context, repository, tag string) (ecr.Image, error)
}

// AllowContainerImage adds the image tagged tag in repository, after
// checking it is there (ENOTFOUND, saying to push it, when it is not), to
// the allow list for app, and returns what it allowed. It returns an
// EINVALID error when repository is not one of app's own repositories in
// the list's orbit (<orbit>/<app>/<service>): releases check no other.
func AllowContainerImage(ctx context.Context, registry Registry, list AllowList, repository, tag, app, by string, now time.Time) (Allowance, error) {
	prefix := elevator.AppRepositoryName(list.Orbit, app, "")
	if svc, ok := strings.CutPrefix(repository, prefix); !ok || svc == "" || strings.Contains(svc, "/") {
		return Allowance{}, elevator.Errorf(elevator.EINVALID, "repository %s is not a repository of app %s in orbit %s (%s<service>); releases check only those", repository, app, list.Orbit, prefix)
	}
	if err := elevator.CheckVersion(tag); err != nil {
		return Allowance{}, err
	}
	if _, err := registry.Image(ctx, repository, tag); err != nil {
		if elevator.ErrorCode(err) == elevator.ENOTFOUND {
			return Allowance{}, elevator.Errorf(elevator.ENOTFOUND, "allow %s:%s for %s in orbit %s: the repository has no image tagged %s; push it first (docker push <registry>/%s:%s): %w",
				repository, tag, app, list.Orbit, tag, repository, tag, err)
		}
		return Allowance{}, err
	}
	id := elevator.ContainerImage(repository, tag)
	if err := list.Allow(ctx, app, id, by, now); err != nil {
		if errors.Is(err, dynamodb.ErrTableNotFound) {
			return Allowance{}, elevator.Errorf(elevator.ENOTFOUND, "allow image %s for %s in orbit %s: the orbit has no image allow list (%s) yet; run `elevator orbit up` first: %w",
				id, app, list.Orbit, list.table(), err)
		}
		return Allowance{}, err
	}
	return Allowance{Orbit: list.Orbit, App: app, Image: id, By: by, At: now.UTC()}, nil
}
