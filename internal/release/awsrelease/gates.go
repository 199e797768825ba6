package awsrelease

import (
	"context"
	"errors"
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/release"
)

// The gates' operations: a release's test target group and the test
// listener that forwards to it (ELBv2), the watched alarms (CloudWatch),
// ssm tests (Run Command) and events (SNS).

type testGroupsAPI interface {
	TargetGroupNamed(ctx context.Context, name string) (elbv2.TargetGroup, error)
	CreateTargetGroupLike(ctx context.Context, name string, like elbv2.TargetGroup, tags map[string]string) (elbv2.TargetGroup, error)
	DeleteTargetGroup(ctx context.Context, arn string) error
	ForwardListener(ctx context.Context, listener, targetGroup string) error
}

type alarmStatesAPI interface {
	AlarmStates(ctx context.Context, names []string) ([]cloudwatch.AlarmState, error)
}

type commandsAPI interface {
	RunShell(ctx context.Context, instance string, lines []string, timeout, poll time.Duration) (ssm.CommandResult, error)
}

type topicsAPI interface {
	Publish(ctx context.Context, topic, subject, message string) (string, error)
}

// commandPoll is how often RunCommand looks whether an ssm test ended.
const commandPoll = 2 * time.Second

// CreateTestTargetGroup makes the test target group name like the target
// group like, or returns the one a crash left with the same release tag.
func (c *Cloud) CreateTestTargetGroup(ctx context.Context, name, like string, tags map[string]string) (string, error) {
	if have, err := c.testGroups.TargetGroupNamed(ctx, name); err == nil {
		if have.Tags[elevator.TagRelease] != tags[elevator.TagRelease] {
			return "", elevator.Errorf(elevator.EINVALID, "target group %s in %s belongs to release %q, not %s", name, c.region, have.Tags[elevator.TagRelease], tags[elevator.TagRelease])
		}
		return have.ARN, nil
	} else if !errors.Is(err, elbv2.ErrTargetGroupNotFound) {
		return "", err
	}
	tgs, err := c.lb.TargetGroups(ctx, []string{like})
	if err != nil {
		return "", err
	}
	if len(tgs) == 0 {
		return "", fmt.Errorf("target group %s in %s: %w", like, c.region, release.ErrNotFound)
	}
	tg, err := c.testGroups.CreateTargetGroupLike(ctx, name, tgs[0], tags)
	if err != nil {
		return "", err
	}
	return tg.ARN, nil
}

// DeleteTestTargetGroup deletes the target group called name; gone is nil.
func (c *Cloud) DeleteTestTargetGroup(ctx context.Context, name string) error {
	tg, err := c.testGroups.TargetGroupNamed(ctx, name)
	if errors.Is(err, elbv2.ErrTargetGroupNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.testGroups.DeleteTargetGroup(ctx, tg.ARN)
}

// ForwardListener points a listener at a target group, or at a fixed 503
// answer for "".
func (c *Cloud) ForwardListener(ctx context.Context, listener, targetGroup string) error {
	err := c.testGroups.ForwardListener(ctx, listener, targetGroup)
	if errors.Is(err, elbv2.ErrListenerNotFound) {
		return engineNotFound{err}
	}
	return err
}

// AlarmStates returns the states of the named alarms.
func (c *Cloud) AlarmStates(ctx context.Context, names []string) ([]release.AlarmState, error) {
	states, err := c.alarmStates.AlarmStates(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make([]release.AlarmState, 0, len(states))
	for _, s := range states {
		out = append(out, release.AlarmState{Name: s.Name, State: s.State, Reason: s.Reason})
	}
	return out, nil
}

// RunCommand runs shell lines on an instance through SSM Run Command.
func (c *Cloud) RunCommand(ctx context.Context, instance string, lines []string, timeout time.Duration) (release.CommandResult, error) {
	res, err := c.commands.RunShell(ctx, instance, lines, timeout, commandPoll)
	if err != nil {
		return release.CommandResult{}, err
	}
	return release.CommandResult{Stdout: res.Stdout, Stderr: res.Stderr, StdoutCut: res.StdoutCut, StderrCut: res.StderrCut, OK: res.OK, Status: res.Status}, nil
}

// Publish sends a message to an SNS topic.
func (c *Cloud) Publish(ctx context.Context, topic, subject, message string) error {
	_, err := c.topics.Publish(ctx, topic, subject, message)
	return err
}
