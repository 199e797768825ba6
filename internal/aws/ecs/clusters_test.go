package ecs

// Client.Cluster and Client.ClusterServices against a fake ECS API that behaves: it keeps clusters and
// services, pages ListServices as ECS does, takes at most 10 services per
// DescribeServices, and answers as ECS for a missing cluster. The orbit
// package's tests run them against moto.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	elevator "github.com/elevatorhq/elevator"
)

type fakeClustersAPI struct {
	api      // what the clusters' reads do not call
	clusters map[string]ecstypes.Cluster
	services map[string][]ecstypes.Service // by cluster
	calls    map[string]int
}

func (f *fakeClustersAPI) DescribeClusters(_ context.Context, in *ecssdk.DescribeClustersInput, _ ...func(*ecssdk.Options)) (*ecssdk.DescribeClustersOutput, error) {
	f.calls["DescribeClusters"]++
	out := &ecssdk.DescribeClustersOutput{}
	for _, name := range in.Clusters {
		if c, ok := f.clusters[name]; ok {
			out.Clusters = append(out.Clusters, c)
		} else {
			out.Failures = append(out.Failures, ecstypes.Failure{Arn: aws.String(name), Reason: aws.String("MISSING")})
		}
	}
	return out, nil
}

func (f *fakeClustersAPI) ListServices(_ context.Context, in *ecssdk.ListServicesInput, _ ...func(*ecssdk.Options)) (*ecssdk.ListServicesOutput, error) {
	f.calls["ListServices"]++
	cluster := aws.ToString(in.Cluster)
	if _, ok := f.clusters[cluster]; !ok {
		return nil, &ecstypes.ClusterNotFoundException{Message: aws.String("Cluster not found.")}
	}
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	all := f.services[cluster]
	end := min(start+10, len(all))
	out := &ecssdk.ListServicesOutput{}
	for _, s := range all[start:end] {
		out.ServiceArns = append(out.ServiceArns, aws.ToString(s.ServiceArn))
	}
	if end < len(all) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeClustersAPI) DescribeServices(_ context.Context, in *ecssdk.DescribeServicesInput, _ ...func(*ecssdk.Options)) (*ecssdk.DescribeServicesOutput, error) {
	f.calls["DescribeServices"]++
	if len(in.Services) > 10 {
		return nil, &ecstypes.InvalidParameterException{Message: aws.String("services can have at most 10 items")}
	}
	out := &ecssdk.DescribeServicesOutput{}
	for _, s := range f.services[aws.ToString(in.Cluster)] {
		if slices.Contains(in.Services, aws.ToString(s.ServiceArn)) {
			out.Services = append(out.Services, s)
		}
	}
	return out, nil
}

func newClustersFake() (*fakeClustersAPI, *Client) {
	f := &fakeClustersAPI{clusters: map[string]ecstypes.Cluster{}, services: map[string][]ecstypes.Service{}, calls: map[string]int{}}
	return f, &Client{api: f, region: "eu-west-1"}
}

func TestAClusterThatIsMissingOrDeletedIsNotFound(t *testing.T) {
	f, c := newClustersFake()
	f.clusters["gone"] = ecstypes.Cluster{ClusterName: aws.String("gone"), Status: aws.String("INACTIVE")}
	for _, name := range []string{"nothing", "gone"} {
		_, err := c.Cluster(context.Background(), name)
		if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrClusterNotFound) {
			t.Errorf("%s: %v, want ENOTFOUND wrapping ErrClusterNotFound", name, err)
		}
	}
	_, err := c.ClusterServices(context.Background(), "nothing")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrClusterNotFound) {
		t.Errorf("services of a missing cluster: %v, want ENOTFOUND wrapping ErrClusterNotFound", err)
	}
}

func TestClusterSaysWhatItHolds(t *testing.T) {
	f, c := newClustersFake()
	f.clusters["elevator-prod"] = ecstypes.Cluster{
		ClusterName: aws.String("elevator-prod"), ClusterArn: aws.String("arn:aws:ecs:eu-west-1:123456789012:cluster/elevator-prod"),
		Status: aws.String("ACTIVE"), CapacityProviders: []string{"FARGATE_SPOT", "elevator-prod-ec2", "FARGATE"},
		RegisteredContainerInstancesCount: 3, ActiveServicesCount: 2, RunningTasksCount: 7, PendingTasksCount: 1,
	}
	got, err := c.Cluster(context.Background(), "elevator-prod")
	if err != nil {
		t.Fatal(err)
	}
	want := ClusterSummary{Name: "elevator-prod", ARN: "arn:aws:ecs:eu-west-1:123456789012:cluster/elevator-prod", Status: "ACTIVE",
		CapacityProviders: []string{"FARGATE", "FARGATE_SPOT", "elevator-prod-ec2"}, RegisteredInstances: 3, ActiveServices: 2, RunningTasks: 7, PendingTasks: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestServicesReadsEveryPageAndLeavesDeletedServicesOut(t *testing.T) {
	f, c := newClustersFake()
	f.clusters["elevator-prod"] = ecstypes.Cluster{ClusterName: aws.String("elevator-prod"), Status: aws.String("ACTIVE")}
	var want []string
	// 23 services: three pages of ListServices, three DescribeServices
	// calls; every third one deleted and still listed.
	for i := range 23 {
		name := fmt.Sprintf("shop-web-r%02d", i)
		status := "ACTIVE"
		switch i % 3 {
		case 1:
			status = "DRAINING" // still keeps the cluster from being deleted
		case 2:
			status = "INACTIVE"
		}
		if status != "INACTIVE" {
			want = append(want, name)
		}
		f.services["elevator-prod"] = append(f.services["elevator-prod"], ecstypes.Service{
			ServiceName: aws.String(name), Status: aws.String(status),
			ServiceArn:               aws.String("arn:aws:ecs:eu-west-1:123456789012:service/elevator-prod/" + name),
			CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{{CapacityProvider: aws.String("provider-for-" + name)}},
		})
	}
	services, err := c.ClusterServices(context.Background(), "elevator-prod")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range services {
		got = append(got, s.Name)
		if want := []string{"provider-for-" + s.Name}; !slices.Equal(s.CapacityProviders, want) {
			t.Errorf("%s: capacity providers %v, want %v", s.Name, s.CapacityProviders, want)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if f.calls["ListServices"] != 3 || f.calls["DescribeServices"] != 3 {
		t.Errorf("calls %v, want 3 ListServices and 3 DescribeServices", f.calls)
	}
}
