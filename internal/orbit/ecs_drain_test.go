package orbit

// The drain of the EC2 capacity against a fault-injecting fake:
// faultyCapacity stands in for ECS and Auto Scaling the way AWS behaves
// and moto does not (moto registers no container instance, and deletes a
// protected group's instances and a cluster with instances alike). Its
// instances are protected from scale-in and registered with the cluster
// until the group is at 0 and their protection is lifted; and it injects
// the faults AWS answers with: CloudFormation refuses (faultyStacks) to
// delete the ECS stack, or to update it, while container instances are
// still registered, as the cluster's delete fails with
// ClusterContainsContainerInstancesException and the group's delete
// hangs. The stacks themselves are moto's.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
)

type faultyCapacity struct {
	mu        sync.Mutex
	group     string // the group's name, once Group was asked
	desired   int
	instances map[string]bool // id -> protected from scale-in
	// stuck keeps the instances registered whatever happens, as an agent
	// that never deregisters would.
	stuck bool
	calls []string
}

func newFaultyCapacity(n int) *faultyCapacity {
	f := &faultyCapacity{desired: n, instances: map[string]bool{}}
	for i := range n {
		f.instances[fmt.Sprintf("i-%017d", i)] = true
	}
	return f
}

func (f *faultyCapacity) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

// settle terminates what the group would: at 0, its unprotected
// instances.
func (f *faultyCapacity) settle() {
	if f.desired > 0 || f.stuck {
		return
	}
	for id, protected := range f.instances {
		if !protected {
			delete(f.instances, id)
		}
	}
}

func (f *faultyCapacity) registered() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.instances)
}

func (f *faultyCapacity) Group(_ context.Context, name string) (autoscaling.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	f.group = name
	g := autoscaling.Group{Name: name, Max: max(f.desired, 3), Desired: f.desired}
	for id, protected := range f.instances {
		g.Instances = append(g.Instances, autoscaling.Instance{ID: id, LifecycleState: autoscaling.InService, HealthStatus: autoscaling.Healthy, ProtectedFromScaleIn: protected})
	}
	return g, nil
}

func (f *faultyCapacity) SetCapacity(_ context.Context, name string, c autoscaling.Capacity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("SetCapacity %d/%d/%d", c.Min, c.Max, c.Desired)
	f.desired = c.Desired
	return nil
}

func (f *faultyCapacity) SetInstanceProtection(_ context.Context, group string, ids []string, protected bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log("SetInstanceProtection %d %v", len(ids), protected)
	for _, id := range ids {
		if _, ok := f.instances[id]; ok {
			f.instances[id] = protected
		}
	}
	return nil
}

func (f *faultyCapacity) Cluster(_ context.Context, name string) (ecs.ClusterSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.settle()
	return ecs.ClusterSummary{Name: name, Status: "ACTIVE", RegisteredInstances: len(f.instances)}, nil
}

func (f *faultyCapacity) ClusterServices(context.Context, string) ([]ecs.Service, error) {
	return []ecs.Service{}, nil
}

// faultyStacks is moto's CloudFormation with the faults AWS gives an ECS
// stack whose container instances are still registered.
type faultyStacks struct {
	apply.Stacks
	ecsStack string
	capacity *faultyCapacity
}

func (s faultyStacks) DeleteStack(ctx context.Context, name, token string) error {
	if name == s.ecsStack {
		if n := s.capacity.registered(); n > 0 {
			return elevator.Errorf(elevator.EAWS, "delete %s: ClusterContainsContainerInstancesException: the cluster has %d container instance(s) registered", name, n)
		}
		s.capacity.mu.Lock()
		s.capacity.log("DeleteStack %s", name)
		s.capacity.mu.Unlock()
	}
	return s.Stacks.DeleteStack(ctx, name, token)
}

// ExecuteChangeSet refuses any change set while instances are
// registered: the only one these tests make is the ECS stack's dropping
// the EC2 capacity.
func (s faultyStacks) ExecuteChangeSet(ctx context.Context, id, token string) error {
	if n := s.capacity.registered(); n > 0 {
		return elevator.Errorf(elevator.EAWS, "execute %s: the group's %d protected instance(s) keep its delete from ending", id, n)
	}
	s.capacity.mu.Lock()
	s.capacity.log("ExecuteChangeSet")
	s.capacity.mu.Unlock()
	return s.Stacks.ExecuteChangeSet(ctx, id, token)
}

// stepClock is a clock whose waits return at once and move it on, so a
// bounded wait runs out without taking its time.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// withFaultyCapacity makes up o on moto, then puts f in place of ECS and
// Auto Scaling and faultyStacks in place of CloudFormation.
func withFaultyCapacity(t *testing.T, o *elevator.Orbit, f *faultyCapacity) *Service {
	t.Helper()
	svc, _ := ecsService(t)
	if _, err := svc.Up(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	clients := svc.Clients
	svc.Clients = func(region string) (Clients, error) {
		c, err := clients(region)
		c.Stacks = faultyStacks{Stacks: c.Stacks, ecsStack: o.ECSStackName(), capacity: f}
		c.Clusters, c.Groups = f, f
		return c, err
	}
	svc.Poller = apply.Poller{Clock: &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, Interval: 10 * time.Second}
	return svc
}

func TestDownDrainsTheEC2CapacityBeforeDeletingTheECSStack(t *testing.T) {
	o := withECS(t, "{ec2: {instance_type: t4g.small, min: 2, max: 4}}")
	f := newFaultyCapacity(3)
	svc := withFaultyCapacity(t, o, f)
	ctx := context.Background()

	// The fault fires: the stack cannot go while instances are there.
	c, _ := svc.Clients("eu-west-1")
	if err := c.Stacks.DeleteStack(ctx, o.ECSStackName(), "t"); err == nil || !strings.Contains(err.Error(), "ClusterContainsContainerInstancesException") {
		t.Fatalf("the fake deleted the ECS stack with instances registered: %v", err)
	}

	results, err := svc.Down(ctx, o)
	if err != nil && !strings.Contains(err.Error(), "DependencyViolation") { // moto's route tables (see the test above)
		t.Fatal(err)
	}
	if len(results) != 2 || results[1] == nil || results[1].Status != "DELETE_COMPLETE" {
		t.Errorf("down did %s, want the ECS stack deleted", toJSON(t, results))
	}
	want := []string{"SetCapacity 0/0/0", "SetInstanceProtection 3 false", "DeleteStack " + o.ECSStackName()}
	if fmt.Sprint(f.calls) != fmt.Sprint(want) {
		t.Errorf("calls %q, want %q: the group to 0, its instances unprotected, and only then the stack deleted", f.calls, want)
	}
}

func TestADrainThatTimesOutLeavesTheStackAndResumes(t *testing.T) {
	o := withECS(t, "{ec2: {instance_type: t4g.small, max: 4}}")
	f := newFaultyCapacity(2)
	f.stuck = true
	svc := withFaultyCapacity(t, o, f)
	ctx := context.Background()

	_, err := svc.Down(ctx, o)
	if elevator.ErrorCode(err) != elevator.EAWS || !strings.Contains(err.Error(), "2 still registered after 20m0s") || !strings.Contains(err.Error(), "run the command again to resume") {
		t.Fatalf("got %v, want EAWS saying the wait ran out and how to resume", err)
	}
	c, _ := svc.Clients("eu-west-1")
	if _, err := c.Stacks.Describe(ctx, o.ECSStackName()); err != nil {
		t.Fatalf("the ECS stack: %v; it must be left as it is", err)
	}
	for _, call := range f.calls {
		if strings.HasPrefix(call, "DeleteStack") {
			t.Errorf("the stack was deleted with instances registered: %q", f.calls)
		}
	}

	// Once the instances go, the same command finishes the job.
	f.mu.Lock()
	f.stuck, f.calls = false, nil
	f.mu.Unlock()
	results, err := svc.Down(ctx, o)
	if err != nil && !strings.Contains(err.Error(), "DependencyViolation") {
		t.Fatal(err)
	}
	if len(results) != 2 || results[1] == nil || results[1].Status != "DELETE_COMPLETE" {
		t.Errorf("down again did %s, want the ECS stack deleted", toJSON(t, results))
	}
	if n := f.registered(); n != 0 {
		t.Errorf("%d instances left", n)
	}
}

func TestUpDroppingEC2DrainsBeforeTheUpdate(t *testing.T) {
	o := withECS(t, "{ec2: {instance_type: t4g.small, max: 4}}")
	f := newFaultyCapacity(2)
	svc := withFaultyCapacity(t, o, f)
	// moto fails the update itself (see
	// TestRemovingTheEC2CapacityIsRefusedWhileAServiceRunsOnIt); what is
	// checked is that the change set ran only once the cluster was empty.
	_, err := svc.Up(context.Background(), withECS(t, "{}"))
	t.Logf("up: %v", err)
	if len(f.calls) < 3 || f.calls[0] != "SetCapacity 0/0/0" || f.calls[1] != "SetInstanceProtection 2 false" || f.calls[len(f.calls)-1] != "ExecuteChangeSet" {
		t.Errorf("calls %q, want the drain then the change set", f.calls)
	}
}
