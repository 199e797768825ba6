package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// gatedApp is releaseApp with gates: a smoke test on the test listener
// the app stack makes (a command, as moto's load balancers answer no
// HTTP; its ELEVATOR_TEST_URL is empty on moto, whose stacks keep no
// outputs and whose load balancer DNS name is not resolved from
// resources), an integration test and a bake of 0 s (no bake, then).
const gatedApp = releaseApp + `tests:
  smoke:
    - {name: facts, kind: command, command: [sh, -c, 'test -n "$ELEVATOR_RELEASE_ID" && echo "version $ELEVATOR_VERSION in $ELEVATOR_REGION on $ELEVATOR_INSTANCES"']}
  integration:
    - {name: again, kind: command, command: ["true"]}
  bake: 0s
`

func TestAGatedDeployThroughTheCLIPassesItsGatesOnTheEmulator(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(gatedApp), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	// The app stack made the test listener, answering 503.
	elb := elbv2sdk.NewFromConfig(acct.Config("us-east-1"))
	lbs, err := elb.DescribeLoadBalancers(context.Background(), &elbv2sdk.DescribeLoadBalancersInput{})
	if err != nil {
		t.Fatal(err)
	}
	var test []string
	for _, lb := range lbs.LoadBalancers {
		ls, err := elb.DescribeListeners(context.Background(), &elbv2sdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls.Listeners {
			if aws.ToInt32(l.Port) == 9000 {
				test = append(test, string(l.DefaultActions[0].Type))
			}
		}
	}
	if strings.Join(test, ",") != "fixed-response" {
		t.Fatalf("test listeners on port 9000: %v, want one answering with a fixed response", test)
	}

	for _, version := range []string{"1.0.0", "1.0.1"} {
		r := elevator(t, "", append([]string{"deploy", "--version", version, "-o", "json"}, flags...)...)
		mustSucceed(t, r)
		for _, want := range []string{`"state": "Success"`, `"SmokeTest"`, `"IntegrationTest"`, `"green_ready_at"`, "version " + version + " in us-east-1 on i-"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("release of %s: record lacks %q:\n%s", version, want, r.stdout)
			}
		}
	}
	lockIsFree(t, orbit, flags)
}
