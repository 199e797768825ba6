package release

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/elevatorhq/elevator"
	aas "github.com/elevatorhq/elevator/internal/aws/applicationautoscaling"
)

// An ECS service's placement names, besides the resources collect lists,
// what ECS runs its tasks with: the cluster, the task role, the task
// execution role, the log group and the container image. The deployer may
// pass any role under the orbit's IAM path, so a release of one app could
// otherwise run as another app's task role, or read its secrets through
// its execution role; and the image checked in the repository must be
// the one that runs. These need no call to AWS: the names say it all.

// roleARN matches an IAM role's ARN: group 1 is its path and name.
var roleARN = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role(/.*)$`)

// ecrImage matches an image in a region's ECR registry: group 1 is the
// region, group 2 the repository and tag.
var ecrImage = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$`)

// authorizeECS returns what is wrong with what the ECS services of doc
// run with in region, one line per problem: the cluster must be the
// orbit's (elevator.ECSClusterName), both roles under the service's IAM
// path (elevator.IAMPath), the log group under the app's
// (elevator.AppPath), and, for a service that runs from its own
// repository, the image <registry of the region>/<repository>:<version>,
// the one ValidateResources checks.
func authorizeECS(doc *elevator.Release, region string) []string {
	var problems []string
	for _, s := range doc.Services {
		pl := s.Placement(region)
		if s.ECS == nil || pl == nil {
			continue
		}
		bad := func(format string, args ...any) {
			problems = append(problems, fmt.Sprintf("service %s: ", s.Name)+fmt.Sprintf(format, args...))
		}
		if want := elevator.ECSClusterName(doc.Orbit); pl.Cluster != want {
			bad("cluster %q is not authorized: want the orbit's, %s", pl.Cluster, want)
		}
		path := elevator.IAMPath(doc.Orbit, doc.App, s.Name)
		for _, role := range []struct{ what, arn string }{{"task role", pl.TaskRole}, {"execution role", pl.ExecutionRole}} {
			m := roleARN.FindStringSubmatch(role.arn)
			if m == nil || !strings.HasPrefix(m[1], path) || strings.Contains(strings.TrimPrefix(m[1], path), "/") || m[1] == path {
				bad("%s %q is not authorized: want a role on path %s (arn:<partition>:iam::<account>:role%s<name>)", role.what, role.arn, path, path)
			}
		}
		if prefix := elevator.AppPath(doc.Orbit, doc.App); !strings.HasPrefix(pl.LogGroup, prefix) || pl.LogGroup == prefix {
			bad("log group %q is not authorized: want one under %s", pl.LogGroup, prefix)
		}
		if pl.Repository != "" {
			want := elevator.ContainerImage(pl.Repository, doc.Version)
			if m := ecrImage.FindStringSubmatch(pl.Image); m == nil || m[1] != region || m[2] != want {
				bad("image %q is not authorized: want %s in the ECR registry of %s (<account>.dkr.ecr.%s.amazonaws.com/%s), the image checked", pl.Image, want, region, region, want)
			}
		}
	}
	return problems
}

// releaseVars are the variables of the release every container of an
// ECS service gets, over its own environment (as user data has them, see
// elevator.UserDataVars).
func releaseVars(doc *elevator.Release, service, region string) map[string]string {
	return map[string]string{"ELEVATOR_RELEASE_ID": doc.ID, "ELEVATOR_APP": doc.App, "ELEVATOR_ORBIT": doc.Orbit,
		"ELEVATOR_SERVICE": service, "ELEVATOR_REGION": region, "ELEVATOR_VERSION": doc.Version}
}

// checkECS returns what ECS would refuse in doc only once the release
// has run for a while, one line per problem, for Validate to refuse it
// before anything is locked or made: a secret named as an environment
// variable of its container (ECS refuses the task definition at Deploy).
// (An ssm test of an ECS service, which could fail only after the whole
// rollout, is refused by the document's own check, which Validate runs.)
func checkECS(doc *elevator.Release) []string {
	var problems []string
	for _, s := range doc.Services {
		if s.ECS == nil {
			continue
		}
		// Application Auto Scaling's cron cannot restrict both day
		// fields: refused here, before anything changes, not when the
		// service is already live.
		for _, sc := range s.Schedule {
			if _, err := aas.Cron(sc.Cron); err != nil {
				problems = append(problems, fmt.Sprintf("service %s: schedule %q: %v", s.Name, sc.Cron, err))
			}
		}
		for _, pl := range s.Placements {
			env := map[string]bool{}
			for _, m := range []map[string]string{s.ECS.Env, pl.Env, releaseVars(doc, s.Name, pl.Region)} {
				for k := range m {
					env[k] = true
				}
			}
			for _, sec := range pl.Secrets {
				if env[sec.Name] {
					problems = append(problems, fmt.Sprintf("service %s in %s: %s is both a secret and an environment variable; ECS refuses a name used for both", s.Name, pl.Region, sec.Name))
				}
			}
		}
	}
	return problems
}
