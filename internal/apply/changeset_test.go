package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// These use the in-memory CloudFormation of fake_test.go, which fails
// and rolls back an update, keeps an executed change set (EXECUTE_COMPLETE
// or EXECUTE_FAILED) and deletes the stack's others,
// as AWS does and the emulator does not.

func TestAKeptChangeSetWhoseUpdateFailsSaysWhich(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(oneResource))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	f.failResource = "Subnet"
	p, err := e.Plan(ctx, spec(twoResources))
	if err != nil || p.Kept() == "" {
		t.Fatalf("plan: %+v, %v", p, err)
	}
	_, err = e.ExecuteKept(ctx, p.Kept(), p.Stack, p.ChangeSetCreated)
	if !errors.Is(err, elevator.ErrChangeSetFailed) || elevator.ErrorCode(err) != elevator.EAWS || !strings.Contains(err.Error(), "Subnet") {
		t.Fatalf("a failed update: %v", err)
	}
}

func TestAKeptChangeSetIsStaleOnceItsStackChanged(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(oneResource))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	reviewed, _ := e.Plan(ctx, spec(twoResources))
	if _, err := e.CheckKept(ctx, reviewed.Kept(), reviewed.Stack); err != nil {
		t.Fatalf("a fresh change set: %v", err)
	}
	if _, err := e.CheckKept(ctx, reviewed.Kept(), "elevator-orbit-other"); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "is of stack elevator-orbit-t") {
		t.Errorf("a change set checked against another stack: %v", err)
	}
	// Its stack changes (a tag, by another change set) after it was made;
	// the change set stays, as on the emulator (AWS deletes it).
	kept := f.changeSets[reviewed.Kept()]
	other := spec(oneResource)
	other.Tags = map[string]string{elevator.TagOrbit: "t", "team": "shop"}
	p, _ = e.Plan(ctx, other)
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	f.changeSets[reviewed.Kept()] = kept
	_, err := e.CheckKept(ctx, reviewed.Kept(), reviewed.Stack)
	if !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "after the change set was made") {
		t.Fatalf("a change set older than its stack's last change: %v", err)
	}
	if _, err := e.ExecuteKept(ctx, reviewed.Kept(), reviewed.Stack, reviewed.ChangeSetCreated); !errors.Is(err, elevator.ErrStaleChangeSet) || f.calls["ExecuteChangeSet"] != 2 {
		t.Fatalf("executing it: %v (%d executions)", err, f.calls["ExecuteChangeSet"])
	}
}

func TestAResumedExecutionOfAKeptChangeSetFollowsItsStack(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(oneResource))
	id := p.Kept()
	if res, err := e.ExecuteKept(ctx, id, p.Stack, p.ChangeSetCreated); err != nil || res.Status != "CREATE_COMPLETE" {
		t.Fatalf("execute: %+v, %v", res, err)
	}
	// The process died before it wrote that the change set ran; AWS
	// keeps it, EXECUTE_COMPLETE. The resume follows the stack.
	res, err := e.ExecuteKept(ctx, id, p.Stack, p.ChangeSetCreated)
	if err != nil || res.Status != "CREATE_COMPLETE" || f.calls["ExecuteChangeSet"] != 1 {
		t.Fatalf("resume: %+v, %v; %d executions", res, err, f.calls["ExecuteChangeSet"])
	}
	// Another change set's execution deletes it (and every other change
	// set of the stack): its token in the stack's events since it was
	// made says it ran, and the resume follows the stack.
	other, _ := e.Plan(ctx, spec(twoResources))
	third, _ := e.Plan(ctx, spec(twoResources+"  Gateway: {Type: AWS::EC2::InternetGateway}\n"))
	if _, err := e.ExecuteKept(ctx, third.Kept(), p.Stack, third.ChangeSetCreated); err != nil {
		t.Fatal(err)
	}
	f.eventsSince = nil
	if _, err := e.ExecuteKept(ctx, id, p.Stack, p.ChangeSetCreated); err != nil || f.calls["ExecuteChangeSet"] != 2 {
		t.Fatalf("a change set that ran, deleted by a later one: %v (%d executions)", err, f.calls["ExecuteChangeSet"])
	}
	// Only the events since the change set was made are read to find
	// its token, not the stack's whole history.
	if len(f.eventsSince) == 0 || !f.eventsSince[0].Equal(p.ChangeSetCreated) {
		t.Errorf("events read since %v, want since the change set was made at %v", f.eventsSince, p.ChangeSetCreated)
	}
	// A change set that is gone because another one ran first is stale:
	// no event of the stack carries its token.
	if _, err := e.ExecuteKept(ctx, other.Kept(), p.Stack, other.ChangeSetCreated); !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "no longer exists") || f.calls["ExecuteChangeSet"] != 2 {
		t.Fatalf("a change set another one's execution deleted: %v (%d executions)", err, f.calls["ExecuteChangeSet"])
	}
}

func TestAResumeAfterAFailedUpdateFailsAndDoesNotExecuteAgain(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(oneResource))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	f.failResource = "Subnet"
	p, _ = e.Plan(ctx, spec(twoResources))
	if _, err := e.ExecuteKept(ctx, p.Kept(), p.Stack, p.ChangeSetCreated); !errors.Is(err, elevator.ErrChangeSetFailed) {
		t.Fatalf("the failed update: %v", err)
	}
	// AWS keeps the change set, EXECUTE_FAILED: it was executed, not
	// stale, so a resume must not send the stage back for a new review
	// (whose change set would run the failing change again).
	cs, err := e.CheckKept(ctx, p.Kept(), p.Stack)
	if err != nil || !cs.Executed() {
		t.Fatalf("CheckKept of the failed change set: %+v, %v; want it executed", cs, err)
	}
	_, err = e.ExecuteKept(ctx, p.Kept(), p.Stack, p.ChangeSetCreated)
	if !errors.Is(err, elevator.ErrChangeSetFailed) || errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "Subnet") {
		t.Fatalf("the resume: %v; want the update's failure, naming Subnet", err)
	}
	if f.calls["ExecuteChangeSet"] != 2 {
		t.Errorf("%d executions, want 2 (the first update, the failing one; none on resume)", f.calls["ExecuteChangeSet"])
	}
}

func TestSweepKeptDeletesAnOwnersLostChangeSetsAndTheStackThatOnlyHeldThem(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	const owner = "elevator pipeline p1 stage test"
	mine := spec(oneResource)
	mine.Owner = owner
	lost, err := e.Plan(ctx, mine) // a new stack: made in REVIEW_IN_PROGRESS to hold it
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := e.Plan(ctx, mine)
	theirs, _ := e.Plan(ctx, spec(oneResource)) // made by someone else
	if n, err := e.SweepKept(ctx, lost.Stack, owner, kept.Kept()); err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want the lost one deleted", n, err)
	}
	for id, want := range map[string]bool{lost.Kept(): false, kept.Kept(): true, theirs.Kept(): true} {
		if _, ok := f.changeSets[id]; ok != want {
			t.Errorf("change set %s there: %v, want %v", id, ok, want)
		}
	}
	// Nothing kept, nothing of anyone else: the stack that existed only
	// to hold the change sets goes too.
	_ = e.DeleteKept(ctx, theirs.Kept())
	if n, err := e.SweepKept(ctx, lost.Stack, owner); err != nil || n != 1 {
		t.Fatalf("second sweep = %d, %v", n, err)
	}
	if _, ok := f.stacks[lost.Stack]; ok {
		t.Errorf("the empty REVIEW_IN_PROGRESS stack %s is still there", lost.Stack)
	}
}
