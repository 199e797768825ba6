package cli_test

// A mixed app, web on ECS Fargate and worker on Docker instances, released
// through the command line in one release into both regions of an orbit.
//
// moto keeps ECS services, task definitions and their load balancer
// settings, but it starts no task, registers none in a target group and
// never finishes a deployment (moto/ecs/models.py). So the command line
// talks to moto through ecsproxy.Proxy, a fault-injecting proxy in front
// of moto: it answers ListTasks and DescribeTasks with the running tasks an
// ECS service of that desired count would have, DescribeTargetHealth of
// ECS services' target groups with those tasks healthy, and makes a
// service's deployment COMPLETED; every other call (the worker's Auto
// Scaling Groups, stacks, the record) goes to moto unchanged. What the
// engine does when tasks fail or never get healthy is covered by the
// release engine's fake cloud and internal/release/awsrelease's ECS tests.

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/ecsproxy"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

const mixedApp = `name: shop
services:
  web:
    runtime: {ecs: {image: ghcr.io/acme/shop, cpu: 256, memory: 512, ports: ["8080"]}}
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 2}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
`

// mixedOrbit is an orbit over two regions with a Fargate cluster; tasks
// pull their images through its NAT gateway.
const mixedOrbit = "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: single}\necs: {}\n"

// mixedReleasable brings up the app's orbit and app through the command
// line, in an account of the test's own, with its AWS calls going through
// an ECS proxy (see ecsEndpoint); it allows the app's images, and returns
// the proxy's address and the flags that name orbit and app.
func mixedReleasable(t *testing.T, app string) (acct *emulatortest.Account, endpoint, orbit string, flags []string) {
	t.Helper()
	acct = inAccount(t)
	endpoint = ecsEndpoint(t, acct)
	orbitFile, orbit := manifest(t, mixedOrbit)
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, run(t, endpoint, "", "orbit", "up", "-f", orbitFile))
	flags = []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, run(t, endpoint, "", append([]string{"app", "up", "--poll-interval", "100ms"}, flags...)...))
	mustSucceed(t, run(t, endpoint, "", append([]string{"image", "allow"}, flags...)...))
	return acct, endpoint, orbit, flags
}

func TestAMixedAppReleasesBothKindsInOneReleaseInEveryRegion(t *testing.T) {
	acct, endpoint, orbit, flags := mixedReleasable(t, mixedApp)
	deploy := func(version string, extra ...string) result {
		t.Helper()
		r := run(t, endpoint, "", append(append([]string{"deploy", "--version", version, "--poll-interval", "100ms"}, extra...), flags...)...)
		mustSucceed(t, r)
		return r
	}
	first := deploy("1.0.0")
	second := deploy("1.0.1", "-o", "json")
	firstID := releaseID.FindStringSubmatch(first.stdout)[1]
	secondID := releaseID.FindStringSubmatch(second.stderr)[1]
	name := func(service, id string) string { return "shop-" + orbit + "-" + service + "-" + shortID(id) }

	ctx := context.Background()
	cluster := domain.ECSClusterName(orbit)
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		// The worker: the second release's group, and the first's gone.
		if got, want := strings.Join(groups(t, acct, region, orbit), " "), name("worker", secondID); got != want {
			t.Errorf("%s: Auto Scaling Groups %q, want %q (the first release's gone, web on none)", region, got, want)
		}

		// The web: the second release's ECS service in the orbit's
		// cluster, in the app's target group (by IP); the first's deleted.
		client := ecssdk.NewFromConfig(acct.Config(region))
		out, err := client.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name("web", firstID), name("web", secondID)}})
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		var current *string
		for _, s := range out.Services {
			switch aws.ToString(s.ServiceName) {
			case name("web", firstID):
				if aws.ToString(s.Status) != "INACTIVE" {
					t.Errorf("%s: the first release's ECS service %s is %s, want INACTIVE or gone", region, aws.ToString(s.ServiceName), aws.ToString(s.Status))
				}
			case name("web", secondID):
				if aws.ToString(s.Status) != "ACTIVE" {
					t.Errorf("%s: the second release's ECS service is %s", region, aws.ToString(s.Status))
				}
				if len(s.LoadBalancers) != 1 {
					t.Errorf("%s: ECS service load balancers %+v, want the app's target group", region, s.LoadBalancers)
					break
				}
				tg, err := elbv2sdk.NewFromConfig(acct.Config(region)).DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{TargetGroupArns: []string{aws.ToString(s.LoadBalancers[0].TargetGroupArn)}})
				if err != nil || len(tg.TargetGroups) != 1 {
					t.Fatalf("%s: target group %s: %v", region, aws.ToString(s.LoadBalancers[0].TargetGroupArn), err)
				}
				if g := tg.TargetGroups[0]; g.TargetType != "ip" || aws.ToInt32(s.LoadBalancers[0].ContainerPort) != 8080 {
					t.Errorf("%s: ECS service in target group %s (type %s) on port %d, want an ip target group on 8080", region, aws.ToString(g.TargetGroupName), g.TargetType, aws.ToInt32(s.LoadBalancers[0].ContainerPort))
				}
				current = s.TaskDefinition
			}
		}
		if current == nil {
			t.Errorf("%s: no ECS service %s in cluster %s", region, name("web", secondID), cluster)
			continue
		}
		td, err := client.DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{TaskDefinition: current})
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if c := td.TaskDefinition.ContainerDefinitions; len(c) != 1 || aws.ToString(c[0].Image) != "ghcr.io/acme/shop:1.0.1" {
			t.Errorf("%s: the second release's task definition runs %+v, want ghcr.io/acme/shop:1.0.1", region, c)
		}
	}
	if !strings.Contains(second.stdout, `"state": "Success"`) || !strings.Contains(second.stdout, shortID(firstID)) {
		t.Errorf("second record (json) does not say Success replacing %s:\n%s", firstID, second.stdout)
	}

	status := run(t, endpoint, "", "release", "status", secondID, "--orbit", orbit, "--orbit-file", flags[5])
	mustSucceed(t, status)
	for _, want := range []string{"ECS service " + name("web", secondID) + " (cluster " + cluster + ")", name("worker", secondID), "us-east-1", "eu-west-1", "Success"} {
		if !strings.Contains(status.stdout, want) {
			t.Errorf("release status lacks %q:\n%s", want, status.stdout)
		}
	}
	lockIsFree(t, orbit, flags)
}

// ecsEndpoint starts an ecsproxy.Proxy in front of the package's moto,
// reaching it as acct, and returns its address for the command line's
// --endpoint-url. The server stops when the test ends.
func ecsEndpoint(t *testing.T, acct *emulatortest.Account) string {
	t.Helper()
	srv := httptest.NewServer(ecsproxy.New(emulatortest.Endpoint(), credentials.NewStaticCredentialsProvider(acct.AccessKeyID, acct.SecretAccessKey, "")))
	t.Cleanup(srv.Close)
	return srv.URL
}
