package dashboard

import (
	"context"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Source is what the dashboard reads and asks of an orbit. Errors are
// *elevator.Error values (or wrap them): ENOTFOUND and EINVALID become a
// 404 and a 400 page, ECONFLICT a 409; anything else a 500 page whose
// detail is only logged.
type Source interface {
	// Groups returns the Auto Scaling groups of the orbit's apps in
	// every region of the orbit, serving or not, with their instances'
	// health: one listing per region, whatever the release history.
	Groups(ctx context.Context) ([]Group, error)
	// Page returns at most limit of an app's releases, newest first,
	// whose ids sort before before ("" for the newest), reading only
	// that page; next is the id to pass as before for the page after, ""
	// after the last.
	Page(ctx context.Context, app string, limit int, before string) (recs []*elevator.ReleaseRecord, next string, err error)
	// Record returns a release's record, or ENOTFOUND.
	Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error)
	// Release returns a release's document (its version, who made it),
	// or ENOTFOUND. Documents never change.
	Release(ctx context.Context, id string) (*elevator.Release, error)
	// Halt asks a release to stop (audited with by and reason);
	// ECONFLICT for a release that has ended.
	Halt(ctx context.Context, id, by, reason string) error
	// Rollback submits a release of app with the content of the
	// successful release before the current one (audited with by and
	// reason) and returns it; ENOTFOUND when there is none.
	Rollback(ctx context.Context, app, by, reason string) (*elevator.Release, error)
	// Unlock breaks the release lock of app (audited with by and
	// reason); ENOTFOUND when there is none.
	Unlock(ctx context.Context, app, by, reason string) error
	// AuditLog returns the orbit's audit entries since a time, oldest
	// first.
	AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error)
	// Audit appends an entry to the orbit's audit log.
	Audit(ctx context.Context, e elevator.AuditEntry) error
}

// Group is an Auto Scaling group, or an ECS service, of an app's service
// in one region.
type Group struct {
	Region, App, Service string
	ReleaseID            string // the release that made it
	Name                 string
	// Cluster is the ECS cluster of an ECS service, whose Instances are
	// its tasks; "" for an Auto Scaling Group.
	Cluster  string
	Desired  int
	Deleting bool
	// Serving says whether the group is attached to its service's
	// target groups (or the service has none).
	Serving   bool
	Instances []Instance
	// Stopped counts an ECS service's stopped tasks, which ECS lists for
	// about an hour and Instances leaves out.
	Stopped int
}

// Instance is an instance of a group, or a task of an ECS service, and
// its health.
type Instance struct {
	ID        string
	Lifecycle string // Pending, InService, Terminating, ...
	Healthy   bool   // the group's health check, or the task's container health (not UNHEALTHY)
	// Health is a task's container health status as ECS reports it
	// (UNKNOWN, HEALTHY, UNHEALTHY); "" for an instance.
	Health string
	// Targets is the instance's health in each target group of its
	// group (healthy, initial, unhealthy, draining, ...), by ARN.
	Targets map[string]string
}

// Ready reports whether the instance is in service, healthy in its group,
// and healthy in every target group.
func (i Instance) Ready() bool {
	if i.Lifecycle != "InService" || !i.Healthy {
		return false
	}
	for _, s := range i.Targets {
		if s != "healthy" {
			return false
		}
	}
	return true
}

// ReadyCount is how many of the group's instances are Ready.
func (g Group) ReadyCount() int {
	n := 0
	for _, i := range g.Instances {
		if i.Ready() {
			n++
		}
	}
	return n
}
