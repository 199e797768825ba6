package compile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestDeployerAndSubmitterPoliciesGrantOnlyNamedResources compiles an orbit
// of two regions and reads its managed policies: only the first region's
// stack has them (and the queue); every action is spelled out; only the
// read-only actions of DescribeActions go without a resource; the
// submitter may put objects under submissions/ and read records and the
// audit log, nothing else; and nothing names another orbit's resources.
func TestDeployerAndSubmitterPoliciesGrantOnlyNamedResources(t *testing.T) {
	o := loadAppOrbit(t, "staging")
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", HostedZoneID: "Z0123456789ABCDEFGHIJ", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatal(err)
	}
	describe := map[string]bool{}
	for _, a := range DescribeActions {
		describe[a.(string)] = true
	}
	for i, s := range stacks {
		_, hasQueue := s.Template.Resources[idSubmissionsQueue]
		if home := i == 0; hasQueue != home {
			t.Fatalf("%s: submissions queue %v, want it only in the first region", s.Region, hasQueue)
		}
		if !hasQueue {
			continue
		}
		for _, id := range []string{idSubmitterPolicy, idDeployerPolicy} {
			doc := s.Template.Resources[id].Properties["PolicyDocument"].(Props)
			var actions []string
			for _, st := range doc["Statement"].([]any) {
				st := st.(Props)
				sid, _ := st["Sid"].(string)
				if st["Effect"] != "Allow" {
					t.Errorf("%s %s: effect %v", id, sid, st["Effect"])
				}
				as := list(st["Action"])
				actions = append(actions, as...)
				for _, a := range as {
					if strings.Contains(a, "*") {
						t.Errorf("%s %s: allows the actions %s", id, sid, a)
					}
				}
				for _, r := range list(st["Resource"]) {
					if r == "*" || r == "arn:aws:*" {
						for _, a := range as {
							if !describe[a] {
								t.Errorf("%s %s: %s on every resource; only the read-only actions of DescribeActions may be", id, sid, a)
							}
						}
						continue
					}
					// Images (AMIs are shared), the AWS-owned Run Command
					// document and AWS's public parameters (the newest AMI
					// ids) are the resources of another account: they are
					// named without one.
					image := sid == "RunInstances" && strings.HasSuffix(r, "::image/*]") ||
						sid == "SSMTests" && strings.HasSuffix(r, "::document/AWS-RunShellScript]") ||
						sid == "ImageParameters" && strings.HasSuffix(r, "::parameter/aws/service/*]")
					if !image && !strings.Contains(r, o.Name) && !strings.Contains(r, "${AWS::AccountId}") && !strings.Contains(r, "Arn") {
						t.Errorf("%s %s: resource %s names neither the orbit nor the account", id, sid, r)
					}
				}
			}
			if id == idSubmitterPolicy {
				want := []string{"cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet", "cloudformation:DescribeChangeSet",
					"cloudformation:DescribeStackEvents", "cloudformation:DescribeStackResources", "cloudformation:DescribeStacks",
					"cloudformation:GetTemplate", "cloudformation:ListChangeSets", "dynamodb:GetItem", "dynamodb:Query",
					"ec2:DescribeImages", "ec2:DescribeSecurityGroups", "s3:GetObject", "s3:ListBucket", "s3:PutObject", "sns:Publish", "ssm:GetParameter"}
				slices.Sort(actions)
				if actions = slices.Compact(actions); fmt.Sprint(actions) != fmt.Sprint(want) {
					t.Errorf("submitter actions %v, want %v", actions, want)
				}
				for _, st := range doc["Statement"].([]any) {
					st := st.(Props)
					if slices.Contains(list(st["Action"]), "s3:PutObject") {
						if r := fmt.Sprint(st["Resource"]); !strings.Contains(r, "/submissions/*") && !strings.Contains(r, "/agent/*") {
							t.Errorf("submitter puts objects in %s, want only under submissions/ and agent/", r)
						}
					}
				}
			}
		}
		for _, key := range []string{SubmissionsQueueOutput, SubmitterPolicyOutput, DeployerPolicyOutput} {
			if _, ok := s.Template.Outputs[key]; !ok {
				t.Errorf("%s: no output %s", s.Region, key)
			}
		}
		bucket := s.Template.Resources[idStateBucket]
		if !slices.Contains(bucket.DependsOn, idSubmissionsPolicy) || bucket.Properties["NotificationConfiguration"] == nil {
			t.Errorf("state bucket: depends on %v, notification %v; want it to notify the queue once its policy is there", bucket.DependsOn, bucket.Properties["NotificationConfiguration"])
		}
		if p := fmt.Sprint(s.Template.Resources[idSubmissionsPolicy].Properties); strings.Contains(p, idStateBucket) {
			t.Errorf("the queue policy refers to the bucket resource (a circular dependency): %s", p)
		}
	}
}
