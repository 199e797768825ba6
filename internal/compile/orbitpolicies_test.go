package compile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// orbitPolicies compiles the staging orbit and returns its submitter and
// deployer policy documents (in the home region's stack).
func orbitPolicies(t *testing.T) (o *elevator.Orbit, submitter, deployer []Props) {
	t.Helper()
	o = loadAppOrbit(t, "staging")
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", HostedZoneID: "Z0123456789ABCDEFGHIJ", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatal(err)
	}
	statements := func(id string) []Props {
		var out []Props
		for _, st := range stacks[0].Template.Resources[id].Properties["PolicyDocument"].(Props)["Statement"].([]any) {
			out = append(out, st.(Props))
		}
		return out
	}
	return o, statements(idSubmitterPolicy), statements(idDeployerPolicy)
}

// resources lists a statement's resources as IAM reads them, with
// ${AWS::Partition} as aws and ${AWS::AccountId} as 123456789012.
func resources(st Props) []string {
	sub := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::AccountId}", "123456789012", "${AWS::Region}", "us-east-1")
	var out []string
	rs, ok := st["Resource"].([]any)
	if !ok {
		rs = []any{st["Resource"]}
	}
	for _, r := range rs {
		switch r := r.(type) {
		case string:
			out = append(out, r)
		case Props:
			s, _ := r["Fn::Sub"].(string)
			out = append(out, sub.Replace(s))
		}
	}
	return out
}

// granting returns the statements that allow action on a resource
// matched by one of the statement's resource patterns (IAM's * and ?).
func granting(policy []Props, action, resource string) []Props {
	var out []Props
	for _, st := range policy {
		if !slices.Contains(list(st["Action"]), action) {
			continue
		}
		for _, r := range resources(st) {
			if iamMatch(r, resource) {
				out = append(out, st)
				break
			}
		}
	}
	return out
}

// TestAStagesReviewAndUpdateOfTheAppStacksAreGranted reads the compiled
// policies (moto does not enforce IAM): the deployer may make, read,
// list, delete and execute change sets of the orbit's app stacks and read
// those stacks; the submitter may do all but execute (making a change
// set is a plan, it changes no resource), so that another orbit's
// deployer given this orbit's submitter policy can review a stage here;
// neither may touch another orbit's app stacks or delete a stack.
func TestAStagesReviewAndUpdateOfTheAppStacksAreGranted(t *testing.T) {
	o, submitter, deployer := orbitPolicies(t)
	stack := "arn:aws:cloudformation:eu-west-1:123456789012:stack/elevator-app-" + o.Name + "-shop/0b9c2f80-0000-11ef-8c1e-0a1b2c3d4e5f"
	changeSet := "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/elevator-20261129-223546-438273/df97e0b0-0000-11ef-8c1e-0a1b2c3d4e5f"
	other := "arn:aws:cloudformation:eu-west-1:123456789012:stack/elevator-app-production-shop/0b9c2f80-0000-11ef-8c1e-0a1b2c3d4e5f"
	review := []string{"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ListChangeSets", "cloudformation:DeleteChangeSet",
		"cloudformation:DescribeStacks", "cloudformation:GetTemplate", "cloudformation:DescribeStackEvents"}
	for _, tc := range []struct {
		policy string
		sts    []Props
		may    []string
		mayNot []string
	}{
		{"deployer", deployer, append(slices.Clone(review), "cloudformation:ExecuteChangeSet", "cloudformation:DescribeStackResources"), []string{"cloudformation:DeleteStack"}},
		{"submitter", submitter, review, []string{"cloudformation:ExecuteChangeSet", "cloudformation:DeleteStack"}},
	} {
		for _, a := range tc.may {
			if len(granting(tc.sts, a, stack)) == 0 {
				t.Errorf("%s policy: %s not allowed on the app stack %s", tc.policy, a, stack)
			}
			if strings.Contains(a, "ChangeSet") && a != "cloudformation:CreateChangeSet" && a != "cloudformation:ListChangeSets" && len(granting(tc.sts, a, changeSet)) == 0 {
				t.Errorf("%s policy: %s not allowed on Elevator's change set %s", tc.policy, a, changeSet)
			}
			if len(granting(tc.sts, a, other)) > 0 {
				t.Errorf("%s policy: %s allowed on another orbit's app stack %s", tc.policy, a, other)
			}
		}
		for _, a := range tc.mayNot {
			if sts := granting(tc.sts, a, stack); len(sts) > 0 {
				t.Errorf("%s policy: %s allowed on the app stack by %v", tc.policy, a, sts)
			}
		}
	}
	// A review reads the security groups of the other apps the app's
	// firewall names (app.Service.Facts).
	if len(granting(submitter, "ec2:DescribeSecurityGroups", "*")) == 0 {
		t.Errorf("submitter policy: no ec2:DescribeSecurityGroups, which a review's facts need")
	}
	// Compiling a release checks a service's image given by id, or finds
	// the newest by name (elevator.AMISelector.Resolve).
	if len(granting(submitter, "ec2:DescribeImages", "*")) == 0 {
		t.Errorf("submitter policy: no ec2:DescribeImages, which resolving a service's image by id or name needs")
	}
}

// TestTheSubmitterReadsOnlyImageParameters checks that compiling a
// release may read AWS's public parameters and the account's under
// elevator.ImageParameterPrefix, and no other parameter of the account
// (SecureString secrets decrypt through the aws/ssm key with no grant of
// their own).
func TestTheSubmitterReadsOnlyImageParameters(t *testing.T) {
	_, submitter, deployer := orbitPolicies(t)
	for _, tc := range []struct {
		param string
		may   bool
	}{
		{"arn:aws:ssm:us-east-1::parameter/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", true},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/elevator/images/shop/web", true},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/shop/db-password", false},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/elevator/slack-webhook", false},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/elevator/imagesx", false},
	} {
		if got := len(granting(submitter, "ssm:GetParameter", tc.param)) > 0; got != tc.may {
			t.Errorf("submitter may read %s: %v, want %v", tc.param, got, tc.may)
		}
		if len(granting(deployer, "ssm:GetParameter", tc.param)) > 0 {
			t.Errorf("deployer policy reads %s", tc.param)
		}
	}
}

// TestAMissingKeyReadsAsMissing checks that whoever reads a key under a
// prefix may list that prefix: without s3:ListBucket on it, S3 answers
// a GetObject of a missing key 403, not 404 (a release document not
// written yet, a pipeline's sources).
func TestAMissingKeyReadsAsMissing(t *testing.T) {
	_, submitter, deployer := orbitPolicies(t)
	for _, tc := range []struct {
		policy string
		sts    []Props
	}{{"submitter", submitter}, {"deployer", deployer}} {
		var read []string
		for _, st := range tc.sts {
			if !slices.Contains(list(st["Action"]), "s3:GetObject") {
				continue
			}
			for _, r := range resources(st) {
				if strings.Contains(r, "/agent/") || strings.Contains(r, "/"+elevator.RejectedPrefix) {
					// agent/: in every region's bucket, listed by
					// ListAgentBuilds; rejected/: the deployer reads a
					// submission moved aside only to learn whether it was,
					// and takes a 403 as a 404 (deployer.job.reject).
					continue
				}
				read = append(read, strings.SplitN(r, "/", 2)[1]) // the key after the bucket
			}
		}
		var listed []string
		for _, st := range tc.sts {
			if slices.Contains(list(st["Action"]), "s3:ListBucket") && !strings.Contains(fmt.Sprint(resources(st)), "-*-") {
				listed = append(listed, list(st["Condition"].(Props)["StringLike"].(Props)["s3:prefix"])...)
			}
		}
		for _, prefix := range read {
			if !slices.Contains(listed, prefix) {
				t.Errorf("%s policy reads %s but lists only %v", tc.policy, prefix, listed)
			}
		}
		if tc.policy == "submitter" && !slices.Contains(read, elevator.ReleasesPrefix+"*") {
			t.Errorf("submitter policy reads %v, want %s among them", read, elevator.ReleasesPrefix)
		}
		// Another orbit's deployer, holding this orbit's submitter
		// policy, checks a pipeline's starter against the orbit's
		// settings and reads why a stage's release was rejected.
		if tc.policy == "submitter" && (!slices.Contains(read, elevator.OrbitSettingsKey) || !slices.Contains(listed, elevator.RejectedPrefix+"*")) {
			t.Errorf("submitter policy reads %v and lists %v, want %s read and %s listed", read, listed, elevator.OrbitSettingsKey, elevator.RejectedPrefix)
		}
		if tc.policy == "deployer" && !slices.Contains(read, elevator.PipelinesPrefix+"*") {
			t.Errorf("deployer policy reads %v, want %s among them", read, elevator.PipelinesPrefix)
		}
	}
}

// TestTheDeployerWritesNoSourcesAndDeletesOnlyIndexEntries checks the two
// narrowed grants: the deployer only reads pipelines/ (`pipeline start`
// writes the sources), and deletes items of the releases table only in
// the partition of the index of running executions.
func TestTheDeployerWritesNoSourcesAndDeletesOnlyIndexEntries(t *testing.T) {
	o, _, deployer := orbitPolicies(t)
	sources := "arn:aws:s3:::" + elevator.StateBucketName("123456789012", "us-east-1", o.Name) + "/" + elevator.PipelineSourcesKey("shop", "20261129-120000-abcdef12")
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject"} {
		if sts := granting(deployer, a, sources); len(sts) > 0 {
			t.Errorf("deployer policy: %s on %s by %v", a, sources, sts)
		}
	}
	if len(granting(deployer, "s3:GetObject", sources)) == 0 {
		t.Errorf("deployer policy: may not read %s", sources)
	}
	table := "arn:aws:dynamodb:us-east-1:123456789012:table/" + elevator.ReleasesTableName(o.Name)
	sts := granting(deployer, "dynamodb:DeleteItem", table)
	if len(sts) != 1 {
		t.Fatalf("deployer policy: DeleteItem on the releases table in %d statements, want 1", len(sts))
	}
	cond := fmt.Sprint(sts[0]["Condition"])
	if want := fmt.Sprintf("map[ForAllValues:StringEquals:map[dynamodb:LeadingKeys:[%s]]]", elevator.PipelineIndexKey); cond != want {
		t.Errorf("deployer policy: DeleteItem on the releases table on condition %s, want %s", cond, want)
	}
	if len(list(sts[0]["Action"])) != 1 {
		t.Errorf("the index statement allows %v, want only dynamodb:DeleteItem", sts[0]["Action"])
	}
}

// iamMatch matches value against an IAM resource pattern: * any run of
// characters, ? one.
func iamMatch(pattern, value string) bool {
	if pattern == "" {
		return value == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(value); i++ {
			if iamMatch(pattern[1:], value[i:]) {
				return true
			}
		}
		return false
	case '?':
		return value != "" && iamMatch(pattern[1:], value[1:])
	}
	return value != "" && value[0] == pattern[0] && iamMatch(pattern[1:], value[1:])
}
