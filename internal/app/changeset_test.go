package app

// Reviewed change sets on moto. moto describes a change set's changes
// without Replacement, leaves a change set AVAILABLE after its stack was
// updated by another one, and would execute it: the staleness checks here
// are Elevator's own (apply.Engine.CheckKept), tested on the emulator as
// they run on AWS.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/progress"
)

// callCounter counts the AWS calls made through a config, by operation.
type callCounter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *callCounter) add(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.ops[awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	return cfg
}

// take returns the calls counted since the last take, and how many were
// CloudFormation's.
func (c *callCounter) take() (all, cfn int, ops map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops = c.ops
	c.ops = map[string]int{}
	for op, n := range ops {
		all += n
		if strings.HasPrefix(op, "CloudFormation.") {
			cfn += n
		}
	}
	return all, cfn, ops
}

func TestAReviewedChangeSetOnMoto(t *testing.T) {
	w := newWorld(t, "name: test\nregions:\n  us-east-2: {}\nnetwork: {nat: none}\nbastion: {allowed_cidrs: [203.0.113.0/24]}\n")
	ctx := context.Background()
	a := w.app(t, shop)
	if _, err := w.apps.Up(ctx, a, w.orbit); err != nil {
		t.Fatal(err)
	}
	calls := &callCounter{ops: map[string]int{}}
	svc := &Service{
		Clients: func(region string) (Clients, error) {
			c := calls.add(w.cfg(region))
			return Clients{Stacks: cloudformation.New(c), Network: ec2.New(c), LoadBalancing: elbv2.New(c)}, nil
		},
		Identity: sts.New(calls.add(w.cfg("us-east-2"))), Progress: progress.Discard(),
		Poller: apply.Poller{Clock: elevator.SystemClock{}, Interval: 100 * time.Millisecond, Timeout: time.Minute},
	}
	owner := elevator.ReviewOwner("20261129-120000-000-00000001", "test")
	review := func(src string, prev *elevator.ChangeSetRef) (elevator.ChangeSetRef, apply.Target) {
		t.Helper()
		targets, err := svc.Targets(ctx, w.app(t, src), w.orbit)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := svc.Review(ctx, "test", owner, targets[0], prev)
		if err != nil {
			t.Fatal(err)
		}
		return ref, targets[0]
	}
	figure := func(what string, start time.Time) {
		all, cfn, ops := calls.take()
		t.Logf("figure: %s: %d AWS calls (%d CloudFormation), %s; %v", what, all, cfn, time.Since(start).Round(time.Millisecond), ops)
	}

	calls.take()
	start := time.Now()
	none, _ := review(shop, nil)
	figure("a review without changes", start)
	if none.ChangeSetID != "" || none.TemplateHash == "" || len(none.Changes) != 0 {
		t.Fatalf("review of the app as it is: %+v, want no change set", none)
	}

	withOrders := shop + "    orders: {hash_key: {name: id, type: S}}\n"
	start = time.Now()
	ref, target := review(withOrders, nil)
	figure("a review with a change (a change set made)", start)
	if !strings.HasPrefix(ref.ChangeSetID, "arn:aws:cloudformation:us-east-2:") || ref.Stack != a.StackName("test") || ref.TemplateHash == none.TemplateHash {
		t.Fatalf("review of a new table: %+v", ref)
	}
	if ref.Created.IsZero() || ref.Created.After(time.Now().Add(time.Minute)) {
		t.Errorf("review made at %v: want when the change set was made", ref.Created)
	}
	var added *elevator.ResourceChange
	for i, c := range ref.Changes {
		if c.Action == "Add" && c.Type == "AWS::DynamoDB::Table" {
			added = &ref.Changes[i]
		}
	}
	if added == nil || !added.Stateful || added.Destructive() {
		t.Fatalf("changes %+v: want the table added, stateful, not destructive", ref.Changes)
	}

	// Reviewing again with nothing changed keeps the change set.
	start = time.Now()
	again, _ := review(withOrders, &ref)
	figure("a review again, nothing changed (the change set kept)", start)
	if !again.SameChangeSet(ref) {
		t.Fatalf("second review %+v, want %+v kept", again, ref)
	}

	// Someone updates the stack by hand: the change set went stale, though
	// moto still calls it AVAILABLE.
	time.Sleep(10 * time.Millisecond)
	withMisc := shop + "    misc: {hash_key: {name: id, type: S}}\n"
	if _, err := svc.Up(ctx, w.app(t, withMisc), w.orbit); err != nil {
		t.Fatal(err)
	}
	_, err := target.Engine.CheckKept(ctx, ref.ChangeSetID, ref.Stack)
	if !errors.Is(err, elevator.ErrStaleChangeSet) || elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "after the change set was made") {
		t.Fatalf("check of a change set older than the stack's last update: %v", err)
	}
	if _, err := svc.ExecuteKept(ctx, target, ref.ChangeSetID, ref.Created); !errors.Is(err, elevator.ErrStaleChangeSet) {
		t.Fatalf("executing the stale change set: %v", err)
	}
	// The next review makes a new change set and deletes the stale one.
	fresh, target := review(withOrders, &ref)
	if fresh.ChangeSetID == "" || fresh.ChangeSetID == ref.ChangeSetID {
		t.Fatalf("review after the stack changed: %+v", fresh)
	}
	if _, err := target.Engine.CheckKept(ctx, ref.ChangeSetID, ref.Stack); !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("the superseded change set: %v, want it deleted", err)
	}
	if _, err := target.Engine.CheckKept(ctx, fresh.ChangeSetID, "elevator-app-test-other"); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "is of stack "+ref.Stack) {
		t.Errorf("a change set checked against another stack: %v", err)
	}

	// The app compiles to another template now (a commit after the
	// review): the reviewed change set is refused.
	others, err := svc.Targets(ctx, w.app(t, withMisc), w.orbit)
	if err != nil {
		t.Fatal(err)
	}
	other := others[0]
	if _, err := svc.ExecuteReviewed(ctx, other, fresh); !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "not the reviewed "+fresh.TemplateHash) {
		t.Fatalf("executing a change set the app no longer compiles to: %v", err)
	}

	// A review whose record was never written (the process died, or
	// another region failed): the next review makes a new change set,
	// not knowing of that one, and deletes it, as the same owner's. A
	// change set someone else made stays.
	lost, _ := review(withOrders+"    lost: {hash_key: {name: id, type: S}}\n", &fresh)
	if lost.ChangeSetID == fresh.ChangeSetID {
		t.Fatalf("a review of another template kept %s", fresh.ChangeSetID)
	}
	mine, err := target.Engine.Plan(ctx, target.Spec)
	if err != nil || mine.Kept() == "" {
		t.Fatalf("a change set of someone else: %+v, %v", mine, err)
	}
	fresh, target = review(withOrders, nil)
	if _, err := target.Engine.CheckKept(ctx, lost.ChangeSetID, lost.Stack); !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "no longer exists") {
		t.Errorf("the unrecorded change set of the same owner: %v, want it deleted", err)
	}
	if _, err := target.Engine.CheckKept(ctx, mine.Kept(), mine.Stack); err != nil {
		t.Errorf("someone else's change set: %v, want it kept", err)
	}

	// The reviewed change set is what runs; run again (a resume), it is
	// followed, not executed a second time.
	calls.take()
	res, err := svc.ExecuteReviewed(ctx, target, fresh)
	if err != nil || res.Status != "UPDATE_COMPLETE" {
		t.Fatalf("execute: %+v, %v", res, err)
	}
	if _, err := dynamodb.NewFromConfig(w.cfg("us-east-2")).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-orders-test")}); err != nil {
		t.Errorf("the reviewed table is not there: %v", err)
	}
	if _, err := svc.ExecuteReviewed(ctx, target, fresh); err != nil {
		t.Fatalf("execute again: %v", err)
	}
	if _, _, ops := calls.take(); ops["CloudFormation.ExecuteChangeSet"] != 1 {
		t.Errorf("ExecuteChangeSet called %d times, want once: %v", ops["CloudFormation.ExecuteChangeSet"], ops)
	}
	cs, err := target.Engine.CheckKept(ctx, fresh.ChangeSetID, fresh.Stack)
	if err != nil || !cs.Executed() {
		t.Errorf("after the execution: %+v, %v", cs, err)
	}
}
