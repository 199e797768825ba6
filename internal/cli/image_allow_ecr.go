package cli

import (
	"context"
	"regexp"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/image"
)

// `elevator image allow` for container images in an app's own ECR
// repositories: `image allow URI:TAG` allows one tag, in the region the
// URI names; `image allow -f app.yml --version V` allows tag V of each of
// the manifest's own repositories, in every region of the orbit.

// containerRef is a container image named by its repository's URI and a
// tag: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>.
type containerRef struct {
	Account, Region, Repository, Tag string
}

// containerRefPattern matches an ECR image reference with a tag.
var containerRefPattern = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*:[^:/]+$`)

// parseContainerRef reads an ECR image reference with a tag; ok is false
// when s is not one (such as an AMI id).
func parseContainerRef(s string) (containerRef, bool) {
	if !containerRefPattern.MatchString(s) {
		return containerRef{}, false
	}
	i := strings.LastIndex(s, ":")
	repo, ok := compile.ParseECRImage(s[:i])
	if !ok {
		return containerRef{}, false
	}
	return containerRef{Account: repo.Account, Region: repo.Region, Repository: repo.Name, Tag: s[i+1:]}, true
}

// checkContainerRef checks a reference given to `image allow` against the
// orbit (its region is one of the orbit's, and the one --region names)
// and the caller's account.
func checkContainerRef(ref containerRef, o *elevator.Orbit, region string) error {
	if o.Region(ref.Region) == nil {
		return elevator.Errorf(elevator.EINVALID, "image %s:%s is in %s; orbit %s is in %s", ref.Repository, ref.Tag, ref.Region, o.Name, strings.Join(regionNames(o), ", "))
	}
	if region != "" && region != ref.Region {
		return elevator.Errorf(elevator.EINVALID, "--region %s, but the image's repository is in %s", region, ref.Region)
	}
	return elevator.CheckVersion(ref.Tag)
}

// ownRepositories are the repositories of the services of a, Docker or
// ECS, that run from their own (elevator.AppRepositoryName), in manifest
// order.
func ownRepositories(a *elevator.App, orbit string) []string {
	var repos []string
	for i := range a.Services {
		if s := &a.Services[i]; compile.OwnRepository(s) != nil {
			repos = append(repos, elevator.AppRepositoryName(orbit, a.Name, s.Name))
		}
	}
	return repos
}

// allowContainers allows tag of each repository in list's region.
func allowContainers(ctx context.Context, registry *ecr.Client, list image.AllowList, repos []string, tag, app, by string) ([]image.Allowance, error) {
	var out []image.Allowance
	for _, repo := range repos {
		al, err := image.AllowContainerImage(ctx, registry, list, repo, tag, app, by, time.Now())
		if err != nil {
			return nil, err
		}
		out = append(out, al)
	}
	return out, nil
}
