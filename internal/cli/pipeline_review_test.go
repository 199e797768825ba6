package cli

import (
	"bytes"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestTheReviewDigestFollowsChangeSetsAndHashesOnly(t *testing.T) {
	base := []elevator.ChangeSetRef{
		{Orbit: "prod", Region: "us-east-1", Stack: "elevator-app-prod-shop", ChangeSetID: "arn:aws:cloudformation:us-east-1:123456789012:changeSet/a/1", TemplateHash: "h1",
			Changes: []elevator.ResourceChange{{Action: "Add", LogicalID: "TableOrders", Type: "AWS::DynamoDB::Table", Stateful: true}}},
		{Orbit: "prod", Region: "eu-west-1", Stack: "elevator-app-prod-shop", TemplateHash: "h2"},
	}
	edit := func(f func(r []elevator.ChangeSetRef)) []elevator.ChangeSetRef {
		c := []elevator.ChangeSetRef{base[0], base[1]}
		c[0].Changes = append([]elevator.ResourceChange(nil), base[0].Changes...)
		f(c)
		return c
	}
	d := reviewDigest(base)
	for _, c := range []struct {
		name string
		refs []elevator.ChangeSetRef
		same bool
	}{
		{"the same review read again", edit(func([]elevator.ChangeSetRef) {}), true},
		{"its changes described otherwise", edit(func(r []elevator.ChangeSetRef) { r[0].Changes[0].Replacement = "False" }), true},
		{"another change set id", edit(func(r []elevator.ChangeSetRef) {
			r[0].ChangeSetID = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/b/2"
		}), false},
		{"a change set where there was none", edit(func(r []elevator.ChangeSetRef) { r[1].ChangeSetID = "arn:x" }), false},
		{"another template hash", edit(func(r []elevator.ChangeSetRef) { r[1].TemplateHash = "h3" }), false},
		{"another stack", edit(func(r []elevator.ChangeSetRef) { r[1].Stack = "elevator-app-prod-cart" }), false},
		{"one region fewer", base[:1], false},
	} {
		if got := reviewDigest(c.refs) == d; got != c.same {
			t.Errorf("%s: same digest %v, want %v", c.name, got, c.same)
		}
		if got := elevator.SameReview(c.refs, base); got != c.same {
			t.Errorf("%s: SameReview %v, want %v", c.name, got, c.same)
		}
	}
}

func TestAReviewShowsEachChangeAndMarksStatefulOnes(t *testing.T) {
	var b bytes.Buffer
	e := &elevator.PipelineExecution{Pipeline: elevator.Pipeline{Stages: []elevator.PipelineStage{{Name: "prod", Orbits: []string{"prod"},
		Approval: &elevator.StageApproval{Auto: elevator.ApproveSafeChanges}}}}}
	printReview(&b, e, elevator.StageRun{Name: "prod", Review: []elevator.ChangeSetRef{
		{Orbit: "prod", Region: "us-east-1", Stack: "elevator-app-prod-shop", ChangeSetID: "arn:cs/1", TemplateHash: "h1", Changes: []elevator.ResourceChange{
			{Action: "Add", LogicalID: "TableOrders", Type: "AWS::DynamoDB::Table", Stateful: true},
			{Action: "Modify", LogicalID: "Database", Type: "AWS::RDS::DBInstance", Replacement: "True", Stateful: true},
			{Action: "Modify", LogicalID: "WebSecurityGroup", Type: "AWS::EC2::SecurityGroup", Replacement: "False"},
			{Action: "Remove", LogicalID: "WebLogs", Type: "AWS::Logs::LogGroup", Stateful: true},
		}},
		{Orbit: "prod", Region: "eu-west-1", Stack: "elevator-app-prod-shop", TemplateHash: "h2"},
	}, Updates: map[string]string{"arn:cs/1": elevator.UpdateStarted}})
	for _, want := range []string{
		"review " + reviewDigest([]elevator.ChangeSetRef{{Orbit: "prod", Region: "us-east-1", Stack: "elevator-app-prod-shop", ChangeSetID: "arn:cs/1", TemplateHash: "h1"}, {Orbit: "prod", Region: "eu-west-1", Stack: "elevator-app-prod-shop", TemplateHash: "h2"}}) + ":",
		"prod us-east-1 elevator-app-prod-shop: change set arn:cs/1 (template h1) [started]",
		"+  TableOrders  AWS::DynamoDB::Table  STATEFUL\n",
		"~  Database  AWS::RDS::DBInstance  REPLACED  STATEFUL: data may be lost",
		"~  WebSecurityGroup  AWS::EC2::SecurityGroup  in place\n",
		"-  WebLogs  AWS::Logs::LogGroup  STATEFUL: data may be lost",
		"prod eu-west-1 elevator-app-prod-shop: no changes (template h2)",
		"not approved by policy safe-changes, data may be lost: modify Database in us-east-1, remove WebLogs in us-east-1",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("review lacks %q:\n%s", want, b.String())
		}
	}
}
