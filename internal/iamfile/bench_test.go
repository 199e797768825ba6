package iamfile

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// bigFile returns files of n policies, n groups, n users and n roles,
// each group, user and role with a policy attached and an inline policy.
func bigFile(n int) string {
	var b strings.Builder
	b.WriteString("path: /elevator-iam/\npolicies:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - name: p%d\n    document: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Action: [s3:GetObject, \"logs:Get*\"], Resource: \"arn:aws:s3:::b%d/*\"}]}\n", i, i)
	}
	inline := `{x: {Version: "2012-10-17", Statement: {Effect: Allow, Action: sqs:SendMessage, Resource: "*"}}}`
	b.WriteString("groups:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: g%d, policies: [p%d], inline: %s}\n", i, i, inline)
	}
	b.WriteString("users:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: u%d, groups: [g%d], policies: [p%d], inline: %s}\n", i, i, i, inline)
	}
	b.WriteString("roles:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: r%d, policies: [p%d], inline: %s, trust: {Version: \"2012-10-17\", Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}}\n", i, i, inline)
	}
	return b.String()
}

// BenchmarkPlan200 plans, against moto, files of 200 objects (50 of each
// kind) that the account already holds: the cost of reading the account
// and comparing. Run: go test ./internal/iamfile -run '^$' -bench Plan200 -benchtime 3x
func BenchmarkPlan200(b *testing.B) {
	cfg := emulatortest.Config(b, "us-east-1")
	id := emulatortest.AccountID(cfg)
	acct := iam.New(cfg)
	f := parse(b, bigFile(50))
	ctx := context.Background()
	p, err := MakePlan(ctx, acct, Input{File: f, AccountID: id, Partition: "aws"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Apply(ctx, acct, p, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		p, err := MakePlan(ctx, acct, Input{File: f, AccountID: id, Partition: "aws"})
		if err != nil {
			b.Fatal(err)
		}
		if !p.Empty() || p.Unchanged != 200 {
			b.Fatalf("plan of applied files: %d changes, %d unchanged\n%s", len(p.Changes), p.Unchanged, changes(p))
		}
	}
}
