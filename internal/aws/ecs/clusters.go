package ecs

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

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
func (c *Client) Cluster(ctx context.Context, name string) (ClusterSummary, error) {
	out, err := c.api.DescribeClusters(ctx, &ecssdk.DescribeClustersInput{Clusters: []string{name}})
	if err != nil {
		return ClusterSummary{}, c.fail("describe ECS cluster "+name, "ECS cluster", name, err)
	}
	// A missing cluster is a failure of the call's item, not of the call;
	// a deleted one stays INACTIVE for a while.
	for _, cl := range out.Clusters {
		if aws.ToString(cl.Status) == StatusInactive {
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
	return ClusterSummary{}, awserr.NotFound("ECS cluster", name, c.region, ErrClusterNotFound)
}

// ClusterServices lists the services in cluster that keep it from being
// deleted (ServiceARNs, then Services): active or draining, not those
// deleted (INACTIVE), which ECS may still list for a while. They are
// sorted by name. It returns an ENOTFOUND error wrapping
// ErrClusterNotFound when there is no such cluster.
func (c *Client) ClusterServices(ctx context.Context, cluster string) ([]Service, error) {
	arns, err := c.ServiceARNs(ctx, cluster)
	if err != nil {
		return nil, err
	}
	all, err := c.Services(ctx, cluster, arns)
	if err != nil {
		return nil, err
	}
	services := []Service{}
	for _, s := range all {
		if s.Status != StatusInactive {
			services = append(services, s)
		}
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	return services, nil
}
