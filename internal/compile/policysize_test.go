package compile

import (
	"encoding/json"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// iamPolicyLimit is IAM's limit on a managed policy's document: 6,144
// characters, whitespace not counted.
const iamPolicyLimit = 6144

// TestOrbitPoliciesFitIAMsLimit compiles the orbit stack of an orbit with
// the longest name a manifest allows (20 characters) and measures its
// managed policies as IAM would store them: pseudo parameters replaced by
// their longest values, a GetAtt by the ARN it gives, no whitespace.
func TestOrbitPoliciesFitIAMsLimit(t *testing.T) {
	o := loadAppOrbit(t, "staging")
	o.Name = strings.Repeat("o", 20)
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", HostedZoneID: "Z0123456789ABCDEFGHIJ", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatal(err)
	}
	sub := strings.NewReplacer("${AWS::Partition}", "aws-us-gov", "${AWS::Region}", "ap-southeast-2", "${AWS::AccountId}", "123456789012")
	var resolve func(v any) any
	resolve = func(v any) any {
		switch v := v.(type) {
		case Props:
			if s, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
				return sub.Replace(s)
			}
			if _, ok := v["Fn::GetAtt"]; ok && len(v) == 1 {
				return "arn:aws-us-gov:sqs:ap-southeast-2:123456789012:" + elevator.SubmissionsQueueName(o.Name)
			}
			out := map[string]any{}
			for k, x := range v {
				out[k] = resolve(x)
			}
			return out
		case []any:
			out := make([]any, len(v))
			for i, x := range v {
				out[i] = resolve(x)
			}
			return out
		}
		return v
	}
	for _, id := range []string{idDeployerPolicy, idSubmitterPolicy} {
		b, err := json.Marshal(resolve(stacks[0].Template.Resources[id].Properties["PolicyDocument"]))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d characters of %d", id, len(b), iamPolicyLimit)
		if len(b) > iamPolicyLimit {
			t.Errorf("%s is %d characters for an orbit named %s; IAM takes %d at most", id, len(b), o.Name, iamPolicyLimit)
		}
	}
}
