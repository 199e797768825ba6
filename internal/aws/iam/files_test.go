package iam

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestSetPolicyDocumentDropsTheOldestVersionAtFive: six new documents on
// a policy keep IAM's five versions, the newest the default, the two
// oldest gone.
func TestSetPolicyDocumentDropsTheOldestVersionAtFive(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	c := New(cfg)
	doc := func(n int) string {
		return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b%d/*"}]}`, n)
	}
	arn, err := c.CreatePolicy(ctx, "p", "/elevator-iam/", "", doc(1))
	if err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= 7; n++ {
		if err := c.SetPolicyDocument(ctx, arn, doc(n)); err != nil {
			t.Fatalf("document %d: %v", n, err)
		}
	}
	out, err := iamsdk.NewFromConfig(cfg).ListPolicyVersions(ctx, &iamsdk.ListPolicyVersionsInput{PolicyArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var def string
	for _, v := range out.Versions {
		ids = append(ids, aws.ToString(v.VersionId))
		if v.IsDefaultVersion {
			def = aws.ToString(v.VersionId)
		}
	}
	sort.Strings(ids)
	if fmt.Sprint(ids) != "[v3 v4 v5 v6 v7]" || def != "v7" {
		t.Errorf("versions %v, default %s; want v3 to v7, default v7", ids, def)
	}
}

// TestOwnedReadsOnlyUnderThePath: objects at / and at a sibling path are
// not in the inventory; one at a path below is.
func TestOwnedReadsOnlyUnderThePath(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	sdk := iamsdk.NewFromConfig(cfg)
	for _, g := range []struct{ name, path string }{{"root", "/"}, {"sibling", "/elevator-iam-other/"}, {"mine", "/elevator-iam/"}, {"below", "/elevator-iam/team/"}} {
		if _, err := sdk.CreateGroup(ctx, &iamsdk.CreateGroupInput{GroupName: aws.String(g.name), Path: aws.String(g.path)}); err != nil {
			t.Fatal(err)
		}
		if _, err := sdk.CreateUser(ctx, &iamsdk.CreateUserInput{UserName: aws.String(g.name), Path: aws.String(g.path)}); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := New(cfg).Owned(ctx, "/elevator-iam/")
	if err != nil {
		t.Fatal(err)
	}
	var groups, users []string
	for _, g := range inv.Groups {
		groups = append(groups, g.Name)
	}
	for _, u := range inv.Users {
		users = append(users, u.Name)
	}
	sort.Strings(groups)
	sort.Strings(users)
	if fmt.Sprint(groups) != "[below mine]" || fmt.Sprint(users) != "[below mine]" {
		t.Errorf("owned groups %v, users %v; want [below mine] each", groups, users)
	}
}
