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
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// relaunchBastionWithAPublicAddress does by hand what moto 5.2.5 leaves
// out: its CloudFormation subnets ignore MapPublicIpOnLaunch, so the
// bastion, launched into a public subnet, has no public address. The
// test sets the attribute on the orbit's public subnets and has the
// bastion's group launch its instance again.
func relaunchBastionWithAPublicAddress(t *testing.T, acct *emulatortest.Account, region, orbit string) {
	t.Helper()
	ctx := context.Background()
	ec2c := ec2sdk.NewFromConfig(acct.Config(region))
	subnets, err := ec2c.DescribeSubnets(ctx, &ec2sdk.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + domain.TagOrbit), Values: []string{orbit}}, {Name: aws.String("tag:" + domain.TagTier), Values: []string{domain.TierPublic}},
	}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("public subnets of %s: %v", orbit, err)
	}
	for _, s := range subnets.Subnets {
		if _, err := ec2c.ModifySubnetAttribute(ctx, &ec2sdk.ModifySubnetAttributeInput{SubnetId: s.SubnetId, MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
			t.Fatal(err)
		}
	}
	asg := autoscaling.NewFromConfig(acct.Config(region))
	groups, err := asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{Filters: []astypes.Filter{{Name: aws.String("tag:Name"), Values: []string{domain.BastionName(orbit)}}}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("bastion group of %s: %v", orbit, err)
	}
	name := groups.AutoScalingGroups[0].AutoScalingGroupName
	for _, n := range []int32{0, 1} {
		if _, err := asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{AutoScalingGroupName: name, MinSize: aws.Int32(n), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(n)}); err != nil {
			t.Fatal(err)
		}
	}
}

// fakeSSH writes a fake ssh (or AWS CLI): a script that records its
// arguments, one per line, in a file, and exits with status. It returns
// the script and the file.
func fakeSSH(t *testing.T, status int) (script, argvFile string) {
	t.Helper()
	dir := t.TempDir()
	argvFile = filepath.Join(dir, "argv")
	script = filepath.Join(dir, "fake-ssh")
	body := "#!/bin/sh\n# A fake ssh for tests: it records its arguments and logs in nowhere.\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + argvFile + "'\nexit " + string(rune('0'+status)) + "\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, argvFile
}

// TestSSHGoesThroughTheBastionToAHealthyInstanceOfTheCurrentRelease
// releases an app into an orbit with a bastion, on moto, and runs
// `elevator ssh` with a fake ssh: it must be given the bastion's public
// address as the jump host and the instance's private address, then the
// command. With --output json nothing runs and the plan is printed.
func TestSSHGoesThroughTheBastionToAHealthyInstanceOfTheCurrentRelease(t *testing.T) {
	acct, orbit, flags := releasableIn(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n")
	o := []string{"--orbit", orbit, "--orbit-file", flags[5]}
	none := elevator(t, "", append([]string{"ssh", "--app", "shop", "--service", "web", "--user", "alice"}, o...)...)
	if none.code != cli.ExitNotFound || !strings.Contains(none.stderr, "app shop has no successful release in orbit "+orbit) {
		t.Errorf("ssh before any release: exit %d\n%s", none.code, none.stderr)
	}
	mustSucceed(t, elevator(t, "", append([]string{"deploy", "--version", "1.0.0"}, flags...)...))
	relaunchBastionWithAPublicAddress(t, acct, "eu-west-1", orbit)

	plan := elevator(t, "", append([]string{"ssh", "--app", "shop", "--service", "web", "--user", "alice", "--region", "eu-west-1", "-o", "json"}, o...)...)
	mustSucceed(t, plan)
	var target struct {
		Release, Region, Group, Via string
		Instance                    struct {
			ID        string
			PrivateIP string `json:"private_ip"`
		}
		Bastion *struct {
			ID       string
			PublicIP string `json:"public_ip"`
		}
		Command []string
	}
	if err := json.Unmarshal([]byte(plan.stdout), &target); err != nil {
		t.Fatalf("%v\n%s", err, plan.stdout)
	}
	if target.Region != "eu-west-1" || !strings.HasPrefix(target.Group, "shop-"+orbit+"-web-") || !strings.HasPrefix(target.Instance.ID, "i-") ||
		target.Instance.PrivateIP == "" || target.Bastion == nil || target.Bastion.PublicIP == "" || target.Via != "ssh" {
		t.Fatalf("ssh -o json:\n%s", plan.stdout)
	}

	script, argvFile := fakeSSH(t, 3)
	t.Setenv(cli.SSHEnv, script)
	r := elevator(t, "", append([]string{"ssh", "--app", "shop", "--service", "web", "--user", "alice", "--region", "eu-west-1"}, append(o, "--endpoint-url", emulatortest.Endpoint(), "--", "uptime", "-p")...)...)
	if r.code != 3 {
		t.Errorf("ssh exited %d, want the fake ssh's 3\n%s", r.code, r.stderr)
	}
	argv, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatalf("the fake ssh did not run: %v\n%s", err, r.stderr)
	}
	want := strings.Join([]string{"-J", "alice@" + target.Bastion.PublicIP, "--", "alice@" + target.Instance.PrivateIP, "uptime", "-p"}, "\n") + "\n"
	if string(argv) != want {
		t.Errorf("ssh was run with\n%s\nwant\n%s", argv, want)
	}
	if !strings.Contains(r.stderr, "through bastion "+target.Bastion.ID) {
		t.Errorf("ssh did not say where it goes:\n%s", r.stderr)
	}

	// Through Session Manager: a fake AWS CLI is run with the instance.
	awsCLI, awsArgv := fakeSSH(t, 0)
	t.Setenv(cli.AWSCLIEnv, awsCLI)
	mustSucceed(t, elevator(t, "", append([]string{"ssh", "--app", "shop", "--service", "web", "--ssm", "--region", "eu-west-1"}, o...)...))
	if argv, err := os.ReadFile(awsArgv); err != nil || string(argv) != "ssm\nstart-session\n--target\n"+target.Instance.ID+"\n--region\neu-west-1\n" {
		t.Errorf("the AWS CLI was run with %q (%v)", argv, err)
	}

	ssm := elevator(t, "", append([]string{"ssh", "--app", "shop", "--service", "worker", "--ssm", "-o", "json"}, o...)...)
	mustSucceed(t, ssm)
	if !strings.Contains(ssm.stdout, `"ssm",`) || !strings.Contains(ssm.stdout, `"start-session"`) || !strings.Contains(ssm.stdout, `"us-east-1"`) || !strings.Contains(ssm.stdout, `"bastion": null`) {
		t.Errorf("ssh --ssm -o json:\n%s", ssm.stdout)
	}
}
