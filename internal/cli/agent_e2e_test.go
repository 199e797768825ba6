package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"
)

// TestDeployStoresTheAgentItsInstancesFetch: deploy refuses to start
// without the agent built, stores each new build (here, newer than the
// one orbit up stored) in every region's state bucket before the release,
// and only asks the next time.
func TestDeployStoresTheAgentItsInstancesFetch(t *testing.T) {
	acct, orbitName, flags := releasable(t)

	t.Setenv(orbit.AgentDirEnv, t.TempDir())
	none := elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...)
	if none.code != cli.ExitNotFound || !strings.Contains(none.stderr, "run scripts/setup") {
		t.Errorf("deploy without the agent built: exit %d\n%s", none.code, none.stderr)
	}
	orbittest.FakeAgent(t)

	first := elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...)
	mustSucceed(t, first)
	files, err := orbit.ReadAgent()
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		bucket := domain.StateBucketName(acct.ID, region, orbitName)
		sdk := s3.NewFromConfig(acct.Config(region), func(o *s3.Options) { o.UsePathStyle = true })
		for goarch, b := range files.Builds {
			if _, err := sdk.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(b.Key)}); err != nil {
				t.Errorf("%s: the %s build is not at s3://%s/%s: %v", region, goarch, bucket, b.Key, err)
			}
			if !strings.Contains(first.stderr, region+"  stored the Elevator agent at s3://"+bucket+"/"+b.Key) {
				t.Errorf("deploy did not say it stored %s in %s:\n%s", b.Key, region, first.stderr)
			}
		}
	}
	second := elevator(t, "", append([]string{"deploy", "--version", "1.0.1"}, flags...)...)
	mustSucceed(t, second)
	if strings.Contains(second.stderr, "stored the Elevator agent") {
		t.Errorf("the second deploy stored the agent again:\n%s", second.stderr)
	}
}

// TestOrbitOutputsSayHowToReachTheBastion: an orbit with a bastion names
// its group and says how to go through it.
func TestOrbitOutputsSayHowToReachTheBastion(t *testing.T) {
	inAccount(t)
	file, name := manifest(t, "regions:\n  eu-west-1: {}\nnetwork: {nat: none}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", file))
	out := elevator(t, "", "orbit", "outputs", "-f", file)
	mustSucceed(t, out)
	for _, want := range []string{"BastionAutoScalingGroup", "reach the hosts through the bastion", "elevator ssh --orbit " + name, "ssh -J ", "aws ssm start-session"} {
		if !strings.Contains(out.stdout, want) {
			t.Errorf("orbit outputs lacks %q:\n%s", want, out.stdout)
		}
	}
}
