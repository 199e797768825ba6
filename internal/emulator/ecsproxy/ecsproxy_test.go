package ecsproxy

// The proxy as a server (httptest) in front of a real moto server, reached
// by SDK clients of two regions with clusters of their own names.

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestAsAServerItAnswersTasksOfAnyRegionAndClusterAndNewOnesAfterALoadBalancerChange(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ region, cluster string }{{"eu-west-1", "blue"}, {"ap-south-1", "green"}} {
		cfg := emulatortest.Config(t, tc.region)
		p := New(emulatortest.Endpoint(), cfg.Credentials)
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		cfg.BaseEndpoint = aws.String(srv.URL)
		c := ecssdk.NewFromConfig(cfg)
		if _, err := c.CreateCluster(ctx, &ecssdk.CreateClusterInput{ClusterName: aws.String(tc.cluster)}); err != nil {
			t.Fatal(err)
		}
		td, err := c.RegisterTaskDefinition(ctx, &ecssdk.RegisterTaskDefinitionInput{Family: aws.String("web"),
			ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("nginx"), Memory: aws.Int32(512)}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateService(ctx, &ecssdk.CreateServiceInput{Cluster: aws.String(tc.cluster), ServiceName: aws.String("web"),
			TaskDefinition: td.TaskDefinition.TaskDefinitionArn, DesiredCount: aws.Int32(2)}); err != nil {
			t.Fatal(err)
		}
		tasks := func() []string {
			l, err := c.ListTasks(ctx, &ecssdk.ListTasksInput{Cluster: aws.String(tc.cluster), ServiceName: aws.String("web")})
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.DescribeTasks(ctx, &ecssdk.DescribeTasksInput{Cluster: aws.String(tc.cluster), Tasks: l.TaskArns})
			if err != nil {
				t.Fatal(err)
			}
			var ips []string
			for _, x := range d.Tasks {
				ips = append(ips, aws.ToString(x.Attachments[0].Details[0].Value))
			}
			return ips
		}
		before := tasks()
		if len(before) != 2 || before[0] != p.TaskIP("web", 0) {
			t.Fatalf("%s: tasks %v", tc.region, before)
		}
		p.Fail("web", "tasks failed to start")
		s, err := c.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(tc.cluster), Services: []string{"web"}})
		if err != nil || len(s.Services) != 1 || aws.ToString(s.Services[0].Deployments[0].RolloutStateReason) != "tasks failed to start" {
			t.Fatalf("%s: services %+v %v", tc.region, s, err)
		}
		if _, err := c.UpdateService(ctx, &ecssdk.UpdateServiceInput{Cluster: aws.String(tc.cluster), Service: aws.String("web"),
			LoadBalancers: []ecstypes.LoadBalancer{}}); err != nil {
			t.Fatal(err)
		}
		if after := tasks(); len(after) != 2 || after[0] == before[0] || after[1] == before[1] {
			t.Errorf("%s: after a load balancer change the tasks are %v, before %v", tc.region, after, before)
		}
	}
}
