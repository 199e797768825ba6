package compile

import (
	"fmt"
	"path"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// The deploy account and region the resource policies are evaluated in.
const (
	evalAccount = "111111111111"
	evalRegion  = "us-east-1"
)

// request is one call a principal makes, as a resource policy sees it.
type request struct {
	principal string // the caller's account id or IAM ARN
	action    string
	resource  string
	prefix    string // s3:prefix of a ListBucket, or ""
}

// resourcePolicyAllows evaluates a compiled resource policy the way IAM
// does for a caller of another account, in the part Elevator's policies
// use: an explicit Deny wins; else an Allow whose Principal names the
// caller (exactly, or by its account id), whose Action and Resource match
// (with * and ? wildcards) and whose StringLike s3:prefix condition, if
// any, matches. moto keeps bucket and table policies but never evaluates
// them (moto/iam/access_control.py checks only the caller's own identity
// policies), so this evaluation is the proof of what they grant.
func resourcePolicyAllows(t *testing.T, doc Props, r request) bool {
	t.Helper()
	allowed := false
	for _, st := range doc["Statement"].([]any) {
		st := st.(Props)
		if !principalMatches(st["Principal"], r.principal) || !anyMatch(evalStrings(t, st["Action"]), r.action) ||
			!anyMatch(evalStrings(t, st["Resource"]), r.resource) || !conditionHolds(t, st["Condition"], r) {
			continue
		}
		if st["Effect"] == "Deny" {
			return false
		}
		allowed = allowed || st["Effect"] == "Allow"
	}
	return allowed
}

func principalMatches(p any, caller string) bool {
	aws, _ := p.(Props)["AWS"].([]any)
	callerAccount := caller
	if parts := strings.Split(caller, ":"); len(parts) > 4 {
		callerAccount = parts[4]
	}
	for _, e := range aws {
		if e == caller || e == callerAccount {
			return true
		}
	}
	return false
}

func conditionHolds(t *testing.T, c any, r request) bool {
	if c == nil {
		return true
	}
	for op, keys := range c.(Props) {
		for key, want := range keys.(Props) {
			if op != "StringLike" || key != "s3:prefix" {
				t.Fatalf("the evaluation knows no condition %s %s: teach it before granting it", op, key)
			}
			if r.prefix == "" || !anyMatch(evalStrings(t, want), r.prefix) {
				return false
			}
		}
	}
	return true
}

// evalStrings resolves an Action or Resource: strings, and Fn::Sub of the
// pseudo parameters.
func evalStrings(t *testing.T, v any) []string {
	t.Helper()
	var vs []any
	switch v := v.(type) {
	case []any:
		vs = v
	default:
		vs = []any{v}
	}
	var out []string
	for _, v := range vs {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case Props:
			s, ok := v["Fn::Sub"].(string)
			if !ok {
				t.Fatalf("cannot evaluate %v", v)
			}
			out = append(out, strings.NewReplacer("${AWS::Partition}", "aws", "${AWS::Region}", evalRegion, "${AWS::AccountId}", evalAccount).Replace(s))
		default:
			t.Fatalf("cannot evaluate %v", v)
		}
	}
	return out
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		// path.Match's * stops at '/', IAM's does not: compare with the
		// slashes out of the way.
		if ok, _ := path.Match(strings.ReplaceAll(p, "/", "|"), strings.ReplaceAll(s, "/", "|")); ok {
			return true
		}
	}
	return false
}

// TestBuildersMaySubmitAndReadAndNothingElse compiles an orbit that names
// a builder account and a builder role, and evaluates the home region's
// bucket and releases table policies for calls of theirs and of a
// stranger: builders may put submissions, read release documents, the
// audit log and the records, and list the audit log; they may not
// overwrite release documents, write the audit log or records, delete
// submissions, read the rejected ones, or list other prefixes; the
// stranger may do nothing; and the other regions grant nobody anything.
func TestBuildersMaySubmitAndReadAndNothingElse(t *testing.T) {
	o, err := manifest.ParseOrbit("orbit.yml", []byte(`name: prod
regions: {us-east-1: {}, eu-west-1: {}}
builders: ["222222222222", "arn:aws:iam::333333333333:role/ci"]
`))
	if err != nil {
		t.Fatal(err)
	}
	rf := map[string]RegionFacts{}
	for _, r := range o.Regions {
		rf[r.Name] = RegionFacts{AZs: zones(r.Name, 3), BastionAMI: "ami-0123456789abcdef0", Agent: fakeAgentBuilds()}
	}
	stacks, err := OrbitStacks(o, rf)
	if err != nil {
		t.Fatal(err)
	}
	home := stacks[0].Template.Resources
	bucketPolicy, ok := home[idStateBucketPolicy]
	if !ok || bucketPolicy.Properties["Bucket"].(Props)["Ref"] != idStateBucket {
		t.Fatalf("no policy of the state bucket in the home region: %+v", bucketPolicy)
	}
	bucketDoc := bucketPolicy.Properties["PolicyDocument"].(Props)
	tableDoc := home[idReleasesTable].Properties["ResourcePolicy"].(Props)["PolicyDocument"].(Props)
	if own := fmt.Sprint(home[idStateBucket].Properties["OwnershipControls"]); !strings.Contains(own, "BucketOwnerEnforced") {
		t.Errorf("the state bucket's ownership controls are %s: a builder's submission would stay the builder's", own)
	}

	bucket := "arn:aws:s3:::elevator-" + evalAccount + "-" + evalRegion + "-prod"
	table := "arn:aws:dynamodb:" + evalRegion + ":" + evalAccount + ":table/" + elevator.ReleasesTableName("prod")
	id := "20260101T000000Z-abcdef"
	builders := []string{"arn:aws:iam::222222222222:role/anything", "arn:aws:iam::333333333333:role/ci"}
	tests := []struct {
		name    string
		doc     Props
		r       request
		allowed bool
	}{
		{"submit a release", bucketDoc, request{action: "s3:PutObject", resource: bucket + "/submissions/" + id + ".json"}, true},
		{"read a release's document", bucketDoc, request{action: "s3:GetObject", resource: bucket + "/releases/" + id + "/release.json"}, true},
		{"read the audit log", bucketDoc, request{action: "s3:GetObject", resource: bucket + "/audit/2026/01/01/x.json"}, true},
		{"list the audit log", bucketDoc, request{action: "s3:ListBucket", resource: bucket, prefix: "audit/2026/01/01/"}, true},
		{"list the release documents, so that a missing one reads as missing", bucketDoc, request{action: "s3:ListBucket", resource: bucket, prefix: "releases/20261129-120000-abcdef12"}, true},
		{"read a release's record", tableDoc, request{action: "dynamodb:GetItem", resource: table}, true},
		{"query the records of an app", tableDoc, request{action: "dynamodb:Query", resource: table}, true},
		{"overwrite a release's document", bucketDoc, request{action: "s3:PutObject", resource: bucket + "/releases/" + id + "/release.json"}, false},
		{"write the audit log", bucketDoc, request{action: "s3:PutObject", resource: bucket + "/audit/2026/01/01/x.json"}, false},
		{"put an agent build", bucketDoc, request{action: "s3:PutObject", resource: bucket + "/agent/elevator-agent"}, false},
		{"delete a submission", bucketDoc, request{action: "s3:DeleteObject", resource: bucket + "/submissions/" + id + ".json"}, false},
		{"read a submission", bucketDoc, request{action: "s3:GetObject", resource: bucket + "/submissions/" + id + ".json"}, false},
		{"read a rejected submission", bucketDoc, request{action: "s3:GetObject", resource: bucket + "/rejected/x.json"}, false},
		{"list the submissions", bucketDoc, request{action: "s3:ListBucket", resource: bucket, prefix: "submissions/"}, false},
		{"list the whole bucket", bucketDoc, request{action: "s3:ListBucket", resource: bucket}, false},
		{"change the bucket's policy", bucketDoc, request{action: "s3:PutBucketPolicy", resource: bucket}, false},
		{"write a record", tableDoc, request{action: "dynamodb:PutItem", resource: table}, false},
		{"change a record", tableDoc, request{action: "dynamodb:UpdateItem", resource: table}, false},
		{"scan the records", tableDoc, request{action: "dynamodb:Scan", resource: table}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range builders {
				r := tt.r
				r.principal = p
				if got := resourcePolicyAllows(t, tt.doc, r); got != tt.allowed {
					t.Errorf("%s: allowed %v, want %v", p, got, tt.allowed)
				}
			}
			// Another role of the builder role's account, and another
			// account altogether, are granted nothing.
			for _, p := range []string{"arn:aws:iam::333333333333:role/intern", "arn:aws:iam::444444444444:role/ci", "444444444444"} {
				r := tt.r
				r.principal = p
				if resourcePolicyAllows(t, tt.doc, r) {
					t.Errorf("%s, not a builder, is allowed", p)
				}
			}
		})
	}

	for _, s := range stacks[1:] {
		if _, ok := s.Template.Resources[idStateBucketPolicy]; ok {
			t.Errorf("%s: a bucket policy outside the home region", s.Region)
		}
		if p := s.Template.Resources[idReleasesTable].Properties["ResourcePolicy"]; p != nil {
			t.Errorf("%s: a releases table policy outside the home region: %v", s.Region, p)
		}
	}
}

// TestAnOrbitWithoutBuildersHasNoResourcePolicies: the deploy account's
// own principals are given the submitter policy instead.
func TestAnOrbitWithoutBuildersHasNoResourcePolicies(t *testing.T) {
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: prod\nregions: {us-east-1: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := OrbitStacks(o, map[string]RegionFacts{"us-east-1": {AZs: zones("us-east-1", 2), BastionAMI: "ami-0123456789abcdef0", Agent: fakeAgentBuilds()}})
	if err != nil {
		t.Fatal(err)
	}
	res := stacks[0].Template.Resources
	if _, ok := res[idStateBucketPolicy]; ok {
		t.Error("a bucket policy without builders")
	}
	if p := res[idReleasesTable].Properties["ResourcePolicy"]; p != nil {
		t.Errorf("a releases table policy without builders: %v", p)
	}
}
