package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	domain "github.com/elevatorhq/elevator"
)

// TestTheDeployerDeploysAsAnElevatorApp puts examples/deployer.yml into an
// orbit on moto, as its header says a user does, with the orbit's name in
// place of demo: `app plan` validates it, `app up` makes its stack, and a
// deploy of it ends Success with a group of two or more instances over the
// orbit's zones, behind the load balancer's target group. Its role (in the template the app stack was made from) names the
// orbit's deployer and submitter policies by ARNs that are the orbit
// stack's real policies: GetPolicy finds them in the account, with their
// statements.
//
// moto's CloudFormation makes an AWS::IAM::Role without its
// ManagedPolicyArns (Role.create_from_cloudformation_json in
// moto/iam/models.py reads only the inline Policies), so the attachment
// is read from the stack's template, not from ListAttachedRolePolicies.
func TestTheDeployerDeploysAsAnElevatorApp(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))

	example, err := os.ReadFile("../../examples/deployer.yml")
	if err != nil {
		t.Fatal(err)
	}
	app := strings.NewReplacer("\n  demo:\n", "\n  "+orbit+":\n", "[deployer, --orbit, demo,", "[deployer, --orbit, "+orbit+",").Replace(string(example))
	if !strings.Contains(app, "--orbit, "+orbit+",") {
		t.Fatal("examples/deployer.yml no longer names the demo orbit in its command; update this test with it")
	}
	appFile := filepath.Join(t.TempDir(), "deployer.yml")
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "plan"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	r := elevator(t, "", append([]string{"deploy", "--version", "v1.0.0", "-o", "json"}, flags...)...)
	mustSucceed(t, r)
	var rec domain.ReleaseRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.State != domain.StateSuccess {
		t.Fatalf("the deployer's release: %v %s\n%s", err, rec.State, r.stderr)
	}
	ctx := context.Background()
	cfg := acct.Config("us-east-1")
	out, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		Filters: []astypes.Filter{{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}, {Name: aws.String("tag:" + domain.TagApp), Values: []string{"deployer"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AutoScalingGroups) != 1 {
		t.Fatalf("%d groups of the deployer app, want its api group", len(out.AutoScalingGroups))
	}
	// Two or more instances, over two or more zones' subnets (moto then
	// puts every instance in the first subnet: docs/emulator.md).
	g := out.AutoScalingGroups[0]
	if subnets := strings.Split(aws.ToString(g.VPCZoneIdentifier), ","); aws.ToInt32(g.DesiredCapacity) < 2 || len(subnets) < 2 || len(g.Instances) < 2 {
		t.Errorf("group %s: desired %d, %d instances over subnets %v; want 2 or more over 2 or more zones",
			aws.ToString(g.AutoScalingGroupName), aws.ToInt32(g.DesiredCapacity), len(g.Instances), subnets)
	}
	if len(g.TargetGroupARNs) != 1 {
		t.Errorf("group %s: target groups %v, want the private load balancer's", aws.ToString(g.AutoScalingGroupName), g.TargetGroupARNs)
	}
	tmpl, err := cfnsdk.NewFromConfig(cfg).GetTemplate(ctx, &cfnsdk.GetTemplateInput{StackName: aws.String((&domain.App{Name: "deployer"}).StackName(orbit))})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Resources map[string]struct {
			Type       string
			Properties struct {
				ManagedPolicyArns []struct {
					Sub string `json:"Fn::Sub"`
				}
				Scheme          string
				HealthCheckPath string
			}
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(tmpl.TemplateBody)), &body); err != nil {
		t.Fatal(err)
	}
	schemes, health := map[string]bool{}, map[string]bool{}
	for _, r := range body.Resources {
		switch r.Type {
		case "AWS::ElasticLoadBalancingV2::LoadBalancer":
			schemes[r.Properties.Scheme] = true
		case "AWS::ElasticLoadBalancingV2::TargetGroup":
			health[r.Properties.HealthCheckPath] = true
		}
	}
	if len(schemes) != 1 || !schemes["internal"] || len(health) != 1 || !health["/readyz"] {
		t.Errorf("load balancer schemes %v, target group health paths %v; want internal only, /readyz only", schemes, health)
	}
	role := body.Resources["RoleApi"]
	if role.Type != "AWS::IAM::Role" || len(role.Properties.ManagedPolicyArns) != 2 {
		t.Fatalf("the api role in the app stack: %+v, want two managed policies", role)
	}
	// The deployer's policy, and the submitter's (it compiles the releases
	// of the pipeline stages it drives), both real policies of the account.
	want := map[string]string{"deployer": "sqs:ReceiveMessage", "submitter": "/submissions/*"}
	api := iam.NewFromConfig(cfg)
	for i, which := range []string{"deployer", "submitter"} {
		arn := strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::AccountId}", acct.ID).Replace(role.Properties.ManagedPolicyArns[i].Sub)
		p, err := api.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("the role names %s, which is no policy of the account: %v", arn, err)
		}
		v, err := api.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: p.Policy.DefaultVersionId})
		if err != nil {
			t.Fatal(err)
		}
		if doc := aws.ToString(v.PolicyVersion.Document); !strings.Contains(doc, want[which]) || which == "deployer" && !strings.Contains(doc, domain.SubmissionsQueueName(orbit)) && !strings.Contains(doc, "QueueSubmissions") {
			t.Errorf("policy %s is not the %s's: %s", arn, which, doc)
		}
	}
}
