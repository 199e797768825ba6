package ecs

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// clusterCodes are ECS's answers about clusters that mean more than a
// failed call.
var clusterCodes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "ClusterNotFoundException", Err: ErrClusterNotFound}},
}

type clustersAPI interface {
	DescribeClusters(context.Context, *ecssdk.DescribeClustersInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeClustersOutput, error)
	ListServices(context.Context, *ecssdk.ListServicesInput, ...func(*ecssdk.Options)) (*ecssdk.ListServicesOutput, error)
	DescribeServices(context.Context, *ecssdk.DescribeServicesInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeServicesOutput, error)
}

// describeServicesAtMost is how many services one DescribeServices call
// takes.
const describeServicesAtMost = 10

// Clusters reads ECS clusters in one region: what an orbit needs of the
// cluster its stack makes.
type Clusters struct {
	api    clustersAPI
	region string
}

// NewClusters returns a Clusters for cfg's region.
func NewClusters(cfg aws.Config) *Clusters {
	return &Clusters{api: ecssdk.NewFromConfig(cfg), region: cfg.Region}
}

// ClusterSummary is a cluster as ECS describes it.
type ClusterSummary struct {
	Name   string
	ARN    string
	Status string // ACTIVE, PROVISIONING, DEPROVISIONING, FAILED
	// CapacityProviders are the providers associated with the cluster,
	// sorted.
	CapacityProviders []string
	// RegisteredInstances counts the container instances (EC2 capacity)
	// registered with the cluster.
	RegisteredInstances int
	ActiveServices      int
	RunningTasks        int
	PendingTasks        int
}

// Cluster describes the cluster name. It returns an ENOTFOUND error
// wrapping ErrClusterNotFound when there is no such cluster, or it was
// deleted.
func (c *Clusters) Cluster(ctx context.Context, name string) (ClusterSummary, error) {
	op := awserr.Op{Doing: "describe ECS cluster " + name, Region: c.region, Kind: "ECS cluster", Name: name}
	out, err := c.api.DescribeClusters(ctx, &ecssdk.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return ClusterSummary{}, clusterCodes.Translate(op, err)
	}
	// A missing cluster is a failure of the call's item, not of the call;
	// a deleted one stays INACTIVE for a while.
	for _, cl := range out.Clusters {
		if aws.ToString(cl.Status) == "INACTIVE" {
			continue
		}
		s := ClusterSummary{
			Name:                aws.ToString(cl.ClusterName),
			ARN:                 aws.ToString(cl.ClusterArn),
			Status:              aws.ToString(cl.Status),
			CapacityProviders:   append([]string{}, cl.CapacityProviders...),
			RegisteredInstances: int(cl.RegisteredContainerInstancesCount),
			ActiveServices:      int(cl.ActiveServicesCount),
			RunningTasks:        int(cl.RunningTasksCount),
			PendingTasks:        int(cl.PendingTasksCount),
		}
		sort.Strings(s.CapacityProviders)
		return s, nil
	}
	return ClusterSummary{}, awserr.NotFound(op.Kind, name, c.region, ErrClusterNotFound)
}

// ServiceSummary is a service of a cluster as ECS describes it.
type ServiceSummary struct {
	Name   string
	Status string // ACTIVE or DRAINING
	// CapacityProviders are the providers of the service's capacity
	// provider strategy, in its order.
	CapacityProviders []string
}

// Services lists the services in cluster that keep it from being deleted:
// active or draining, not those deleted (INACTIVE), which ECS may still
// list for a while. They are sorted by name. It returns an ENOTFOUND
// error wrapping ErrClusterNotFound when there is no such cluster.
func (c *Clusters) Services(ctx context.Context, cluster string) ([]ServiceSummary, error) {
	op := awserr.Op{Doing: "list the services of ECS cluster " + cluster, Region: c.region, Kind: "ECS cluster", Name: cluster}
	var arns []string
	p := ecssdk.NewListServicesPaginator(c.api, &ecssdk.ListServicesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, clusterCodes.Translate(op, err)
		}
		arns = append(arns, out.ServiceArns...)
	}
	services := []ServiceSummary{}
	for start := 0; start < len(arns); start += describeServicesAtMost {
		batch := arns[start:min(start+describeServicesAtMost, len(arns))]
		out, err := c.api.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return nil, clusterCodes.Translate(awserr.Op{Doing: "describe the services of ECS cluster " + cluster, Region: c.region, Kind: "ECS cluster", Name: cluster}, err)
		}
		for _, s := range out.Services {
			if aws.ToString(s.Status) == "INACTIVE" {
				continue
			}
			sum := ServiceSummary{Name: aws.ToString(s.ServiceName), Status: aws.ToString(s.Status), CapacityProviders: []string{}}
			for _, item := range s.CapacityProviderStrategy {
				sum.CapacityProviders = append(sum.CapacityProviders, aws.ToString(item.CapacityProvider))
			}
			services = append(services, sum)
		}
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	return services, nil
}
