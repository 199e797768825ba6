package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

const (
	twoResources = "Resources:\n  Vpc: {Type: AWS::EC2::VPC}\n  Subnet: {Type: AWS::EC2::Subnet}\n"
	oneResource  = "Resources:\n  Vpc: {Type: AWS::EC2::VPC}\n"
)

func newEngine(f *fakeCloudFormation) (*Engine, *recorder) {
	rec := &recorder{}
	return &Engine{Stacks: f, Progress: rec, Poller: Poller{Clock: f.clock, Interval: time.Second, Timeout: time.Hour}}, rec
}

func spec(body string) Spec {
	return Spec{Name: "elevator-orbit-t", Body: body, Parameters: map[string]string{"BastionAmi": "ami-1"}, Tags: map[string]string{elevator.TagOrbit: "t"}}
}

func TestApplyCreatesAStackAndReportsEveryEvent(t *testing.T) {
	f := newFake()
	f.pollsToSettle = 3 // the stack stays in progress for a few looks, as on AWS
	e, rec := newEngine(f)
	ctx := context.Background()

	p, err := e.Plan(ctx, spec(twoResources))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Create || p.NoChanges || len(p.Changes) != 2 {
		t.Fatalf("plan: create=%v nochanges=%v changes=%v", p.Create, p.NoChanges, p.Changes)
	}
	res, err := e.Execute(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "CREATE_COMPLETE" || !res.Changed {
		t.Errorf("result: %+v", res)
	}
	var got []string
	for _, ev := range rec.events {
		got = append(got, ev.LogicalID+" "+ev.Status)
	}
	want := "elevator-orbit-t CREATE_IN_PROGRESS,Subnet CREATE_COMPLETE,Vpc CREATE_COMPLETE,elevator-orbit-t CREATE_COMPLETE"
	if strings.Join(got, ",") != want {
		t.Errorf("events reported:\n got %s\nwant %s", strings.Join(got, ","), want)
	}
	if f.calls["Describe"] < 3 {
		t.Errorf("the stack was looked at %d times; it settles on the third look", f.calls["Describe"])
	}
}

func TestApplyTwiceChangesNothingTheSecondTime(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(twoResources))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	created := f.calls["CreateChangeSet"]

	p, err := e.Plan(ctx, spec(twoResources))
	if err != nil {
		t.Fatal(err)
	}
	if !p.NoChanges {
		t.Fatalf("second plan has changes: %+v", p.Changes)
	}
	res, err := e.Execute(ctx, p)
	if err != nil || res.Changed {
		t.Fatalf("second execute: %+v, %v", res, err)
	}
	if f.calls["CreateChangeSet"] != created || f.calls["ExecuteChangeSet"] != 1 {
		t.Errorf("an unchanged stack made %d more change set(s) and %d executions", f.calls["CreateChangeSet"]-created, f.calls["ExecuteChangeSet"])
	}
}

func TestPlanComparesTemplatesAsDocuments(t *testing.T) {
	tests := []struct {
		name        string
		deployed    string
		body        string
		wantChanges string
	}{
		{name: "the same YAML needs no change set", deployed: twoResources, body: twoResources},
		{name: "a stack applied as YAML takes the same template as JSON without a change set", deployed: twoResources,
			body: `{"Resources":{"Subnet":{"Type":"AWS::EC2::Subnet"},"Vpc":{"Type":"AWS::EC2::VPC"}}}`},
		{name: "a JSON template that differs makes a change set", deployed: twoResources,
			body: `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC"}}}`, wantChanges: "Modify Vpc,Remove Subnet"},
		{name: "a value that differs only in type is a change", deployed: "Resources:\n  Vpc: {Type: AWS::EC2::VPC, Properties: {Size: 16}}\n",
			body: `{"Resources":{"Vpc":{"Type":"AWS::EC2::VPC","Properties":{"Size":"16"}}}}`, wantChanges: "Modify Vpc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			e, _ := newEngine(f)
			ctx := context.Background()
			p, _ := e.Plan(ctx, spec(tt.deployed))
			if _, err := e.Execute(ctx, p); err != nil {
				t.Fatal(err)
			}
			created := f.calls["CreateChangeSet"]
			p, err := e.Plan(ctx, spec(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range p.Changes {
				got = append(got, c.Action+" "+c.LogicalID)
			}
			if strings.Join(got, ",") != tt.wantChanges {
				t.Errorf("changes = %v, want %q", got, tt.wantChanges)
			}
			if madeOne := f.calls["CreateChangeSet"] > created; madeOne != (tt.wantChanges != "") || p.NoChanges == madeOne {
				t.Errorf("change sets made: %d, no changes: %v", f.calls["CreateChangeSet"]-created, p.NoChanges)
			}
		})
	}
}

func TestPlanShowsAddModifyRemoveAndDiscardLeavesNothing(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(twoResources))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	p, err := e.Plan(ctx, spec(oneResource+"  Nat: {Type: AWS::EC2::NatGateway}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, c.Action+" "+c.LogicalID)
	}
	if strings.Join(got, ",") != "Add Nat,Modify Vpc,Remove Subnet" {
		t.Errorf("changes: %v", got)
	}
	if err := e.Discard(ctx, p); err != nil {
		t.Fatal(err)
	}
	// The executed change set of the first update stays, as on AWS; no
	// other does.
	for id, cs := range f.changeSets {
		if cs.execution == "" {
			t.Errorf("change set %s left after discard", id)
		}
	}
}

func TestPlanOfANewStackLeavesNoStackBehind(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	p, err := e.Plan(ctx, spec(twoResources))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Discard(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Describe(ctx, "elevator-orbit-t"); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the stack made to hold the change set is still there: %v", err)
	}
}

func TestAFailedResourceFailsTheApplyAndNamesIt(t *testing.T) {
	f := newFake()
	f.failResource = "Subnet"
	e, _ := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(twoResources))
	_, err := e.Execute(ctx, p)
	if elevator.ErrorCode(err) != elevator.EAWS {
		t.Fatalf("error %v (code %q), want an aws error", err, elevator.ErrorCode(err))
	}
	for _, want := range []string{"ROLLBACK_COMPLETE", "Subnet (AWS::EC2::Thing): CREATE_FAILED Resource handler returned message: boom"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestAStackThatCannotTakeAChangeGetsARemedy(t *testing.T) {
	tests := []struct {
		status string
		want   string
	}{
		{"ROLLBACK_COMPLETE", "delete the stack (`down` of the orbit or app it belongs to)"},
		{"UPDATE_ROLLBACK_FAILED", "aws cloudformation continue-update-rollback --stack-name elevator-orbit-t --region us-east-1"},
		{"UPDATE_IN_PROGRESS", "another change is under way"},
		{"DELETE_IN_PROGRESS", "another change is under way"},
		{"DELETE_FAILED", "remove what blocked the deletion"},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			f := newFake()
			f.stacks["elevator-orbit-t"] = &fakeStack{Stack: cloudformation.Stack{Name: "elevator-orbit-t", Status: cloudformation.StackStatus(tt.status)}}
			e, _ := newEngine(f)
			_, err := e.Plan(context.Background(), spec(twoResources))
			if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v (code %q), want a conflict saying %q", err, elevator.ErrorCode(err), tt.want)
			}
			if f.calls["CreateChangeSet"] != 0 {
				t.Error("a change set was made anyway")
			}
		})
	}
}

func TestDeleteFollowsTheStackUntilItIsGone(t *testing.T) {
	f := newFake()
	f.pollsToSettle = 2
	e, rec := newEngine(f)
	ctx := context.Background()
	p, _ := e.Plan(ctx, spec(twoResources))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	rec.events = nil
	res, err := e.Delete(ctx, "elevator-orbit-t")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "DELETE_COMPLETE" || !res.Changed {
		t.Errorf("result %+v", res)
	}
	if _, err := f.Describe(ctx, "elevator-orbit-t"); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("stack still there: %v", err)
	}
	res, err = e.Delete(ctx, "elevator-orbit-t")
	if err != nil || res.Status != "NOT_FOUND" || res.Changed {
		t.Errorf("deleting a missing stack: %+v %v", res, err)
	}
}

func TestOutputsAreResolvedFromResourcesWhenTheStackReportsNone(t *testing.T) {
	f := newFake()
	e, _ := newEngine(f)
	ctx := context.Background()
	body := twoResources + `Outputs:
  VpcId: {Value: {Ref: Vpc}}
  Subnets: {Value: {"Fn::Join": [",", [{Ref: Subnet}, {Ref: Vpc}]]}}
  Cidr: {Value: 10.0.0.0/16}
  Ami: {Value: {Ref: BastionAmi}}
  Unknown: {Value: {"Fn::GetAtt": [Vpc, CidrBlock]}}
`
	p, _ := e.Plan(ctx, spec(body))
	if _, err := e.Execute(ctx, p); err != nil {
		t.Fatal(err)
	}
	out, err := e.Outputs(ctx, "elevator-orbit-t")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"VpcId": "id-vpc", "Subnets": "id-subnet,id-vpc", "Cidr": "10.0.0.0/16", "Ami": "ami-1"}
	if len(out) != len(want) {
		t.Errorf("outputs %v, want %v (Fn::GetAtt left out)", out, want)
	}
	for k, v := range want {
		if out[k] != v {
			t.Errorf("output %s = %q, want %q", k, out[k], v)
		}
	}
	f.stacks["elevator-orbit-t"].Outputs = map[string]string{"VpcId": "vpc-real"}
	out, _ = e.Outputs(ctx, "elevator-orbit-t")
	if out["VpcId"] != "vpc-real" || len(out) != 1 {
		t.Errorf("a stack's own outputs win: %v", out)
	}
}

func TestWaitingStopsWhenTheContextIsCancelled(t *testing.T) {
	f := newFake()
	f.pollsToSettle = 1000
	e, _ := newEngine(f)
	ctx, cancel := context.WithCancel(context.Background())
	p, _ := e.Plan(ctx, spec(twoResources))
	cancel()
	_, err := e.Execute(ctx, p)
	if elevator.ErrorCode(err) != elevator.EINTERRUPTED {
		t.Errorf("got %v (code %q), want interrupted", err, elevator.ErrorCode(err))
	}
}

// TestABodyOverCloudFormationsLimitIsRefusedBeforeAnyCall: a body of a
// huge manifest value never reaches a change set.
func TestABodyOverCloudFormationsLimitIsRefusedBeforeAnyCall(t *testing.T) {
	padded := func(n int) string { return oneResource + "# " + strings.Repeat("x", n-len(oneResource)-3) + "\n" }
	tests := []struct {
		name string
		size int
		want string // "" when it is sent
	}{
		{"a body of 51,200 bytes", MaxInlineBody, ""},
		{"a body of 51,201 bytes", MaxInlineBody + 1, "the template body is 51201 bytes; CloudFormation takes at most 51200 in a request"},
		{"a body over 1 MB", MaxS3Body + 1, "the template body is 1048577 bytes; CloudFormation takes at most 1048576 (1 MB, from S3)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			e, _ := newEngine(f)
			body := padded(tt.size)
			if len(body) != tt.size {
				t.Fatalf("the test's body is %d bytes, want %d", len(body), tt.size)
			}
			_, err := e.Plan(context.Background(), spec(body))
			if tt.want == "" {
				if err != nil {
					t.Errorf("Plan = %v, want it sent", err)
				}
				return
			}
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "stack elevator-orbit-t") {
				t.Errorf("Plan = %v, want EINVALID naming the stack and saying %q", err, tt.want)
			}
			if len(f.calls) != 0 {
				t.Errorf("calls made before refusing: %v", f.calls)
			}
		})
	}
}
