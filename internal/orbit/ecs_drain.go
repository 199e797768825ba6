package orbit

import (
	"context"
	"errors"
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/compile"
)

// Deleting the EC2 capacity (the ECS stack, or an update that drops
// ecs.ec2) needs a step CloudFormation does not take. The group's
// instances are protected from scale-in (managed termination protection),
// and once the capacity provider is gone nothing lifts that, so deleting
// the group hangs; and ECS refuses to delete a cluster while container
// instances are registered. So before the stack changes, the drain sets
// the group to 0, lifts the protection of its instances and waits until
// the cluster has no registered container instances. Each step is safe
// to repeat: a run that stops half way (a timeout, an interrupt) is
// resumed by running the command again.

// Groups is what an orbit needs of EC2 Auto Scaling in one region: to
// drain its ECS stack's container instances.
type Groups interface {
	Group(ctx context.Context, name string) (autoscaling.Group, error)
	SetCapacity(ctx context.Context, name string, capacity autoscaling.Capacity) error
	SetInstanceProtection(ctx context.Context, group string, ids []string, protected bool) error
}

// ecsDrainTimeout bounds the wait for the container instances to leave
// the cluster: ECS stops their tasks and EC2 terminates them in minutes.
const ecsDrainTimeout = 20 * time.Minute

// drainECSCapacity empties the EC2 capacity of one region's ECS stack:
// the group named by the stack's output goes to 0, its instances lose
// their scale-in protection, and it waits, bounded by ecsDrainTimeout and
// noting progress, until the orbit's cluster has no container instance
// registered. A region without the stack, or whose stack has no EC2
// capacity, has nothing to drain.
func (s *Service) drainECSCapacity(ctx context.Context, o *elevator.Orbit, r *elevator.Region, c Clients) error {
	name := o.ECSStackName()
	outputs, err := s.engine(c).Outputs(ctx, name)
	if errors.Is(err, cloudformation.ErrStackNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	group := outputs[compile.ECSGroupOutput]
	if group == "" {
		return nil
	}
	cluster := elevator.ECSClusterName(o.Name)
	if c.Groups == nil || c.Clusters == nil {
		return elevator.Errorf(elevator.EINTERNAL, "drain the container instances of ECS cluster %s in %s: no Auto Scaling or ECS client", cluster, r.Name)
	}
	g, err := c.Groups.Group(ctx, group)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil // drained and deleted by an earlier run
	}
	if err != nil {
		return err
	}
	s.Progress.Note(r.Name, fmt.Sprintf("%s: draining the container instances of ECS cluster %s (group %s) before its EC2 capacity is deleted", name, cluster, group))
	if g.Min != 0 || g.Max != 0 || g.Desired != 0 {
		if err := c.Groups.SetCapacity(ctx, group, autoscaling.Capacity{}); err != nil {
			return err
		}
	}
	clock := s.Poller.Clock
	if clock == nil {
		clock = elevator.SystemClock{}
	}
	deadline := clock.Now().Add(ecsDrainTimeout)
	for {
		if err := liftProtection(ctx, c.Groups, group); err != nil {
			return err
		}
		cl, err := c.Clusters.Cluster(ctx, cluster)
		if elevator.ErrorCode(err) == elevator.ENOTFOUND {
			return nil
		}
		if err != nil {
			return err
		}
		if cl.RegisteredInstances == 0 {
			s.Progress.Note(r.Name, fmt.Sprintf("%s: no container instance is registered with %s any more", name, cluster))
			return nil
		}
		if clock.Now().After(deadline) {
			return elevator.Errorf(elevator.EAWS, "drain the container instances of ECS cluster %s in %s: %d still registered after %s (group %s is at 0 and its instances unprotected); the stack is left as it is: run the command again to resume", cluster, r.Name, cl.RegisteredInstances, ecsDrainTimeout, group)
		}
		s.Progress.Note(r.Name, fmt.Sprintf("%s: %d container instance(s) still registered with %s; waiting", name, cl.RegisteredInstances, cluster))
		select {
		case <-ctx.Done():
			return elevator.Errorf(elevator.EINTERRUPTED, "drain the container instances of ECS cluster %s in %s: %v; run the command again to resume", cluster, r.Name, ctx.Err())
		case <-clock.After(elevator.Jitter(max(s.Poller.Interval, time.Millisecond), nil)):
		}
	}
}

// liftProtection lifts the scale-in protection of the group's instances
// that have it; a group already gone has none.
func liftProtection(ctx context.Context, groups Groups, group string) error {
	g, err := groups.Group(ctx, group)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	var ids []string
	for _, i := range g.Instances {
		if i.ProtectedFromScaleIn && !i.LifecycleState.Terminating() {
			ids = append(ids, i.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return groups.SetInstanceProtection(ctx, group, ids, false)
}
