package apply

import (
	"context"
	"errors"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// These use the in-memory CloudFormation of fake_test.go, which fails
// and rolls back an update and deletes a stack's change sets once one ran,
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
	_, err = e.ExecuteKept(ctx, p.Kept(), p.Stack, false)
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
	if _, err := e.ExecuteKept(ctx, reviewed.Kept(), reviewed.Stack, false); !errors.Is(err, elevator.ErrStaleChangeSet) || f.calls["ExecuteChangeSet"] != 2 {
		t.Fatalf("executing it: %v (%d executions)", err, f.calls["ExecuteChangeSet"])
	}
}

func TestAResumedExecutionOfAKeptChangeSetFollowsItsStack(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(oneResource))
	id := p.Kept()
	if res, err := e.ExecuteKept(ctx, id, p.Stack, false); err != nil || res.Status != "CREATE_COMPLETE" {
		t.Fatalf("execute: %+v, %v", res, err)
	}
	// The process died before it wrote that the change set ran; AWS
	// deleted it. The resume follows the stack.
	res, err := e.ExecuteKept(ctx, id, p.Stack, true)
	if err != nil || res.Status != "CREATE_COMPLETE" || f.calls["ExecuteChangeSet"] != 1 {
		t.Fatalf("resume: %+v, %v; %d executions", res, err, f.calls["ExecuteChangeSet"])
	}
	// A change set that is gone because another one ran first is stale,
	// started or not: no event of the stack carries its token.
	other, _ := e.Plan(ctx, spec(twoResources))
	third, _ := e.Plan(ctx, spec(twoResources+"  Gateway: {Type: AWS::EC2::InternetGateway}\n"))
	if _, err := e.ExecuteKept(ctx, third.Kept(), p.Stack, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ExecuteKept(ctx, other.Kept(), p.Stack, true); !errors.Is(err, elevator.ErrStaleChangeSet) || f.calls["ExecuteChangeSet"] != 2 {
		t.Fatalf("a change set another one's execution deleted: %v (%d executions)", err, f.calls["ExecuteChangeSet"])
	}
	// Without having started it, a change set that is gone is stale.
	if _, err := e.ExecuteKept(ctx, id, p.Stack, false); !errors.Is(err, elevator.ErrStaleChangeSet) || !strings.Contains(err.Error(), "no longer exists") {
		t.Fatalf("a gone change set never started: %v", err)
	}
}
