// Package ecs is Elevator's adapter for Amazon ECS: the task definitions
// and services a release registers, creates, sizes, attaches to target
// groups and deletes, and the tasks of those services, in Elevator's own
// types. Nothing above it sees an SDK type.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrServiceNotFound, ErrClusterNotFound or
// ErrTaskDefinitionNotFound (and an *awserr.NotFoundError naming what is
// missing), EINVALID for a request AWS refuses as malformed (ClientException,
// InvalidParameterException) or one the adapter refuses to send, and the
// codes awserr gives every service (EINTERRUPTED, EAWS). Check the
// sentinels with errors.Is.
//
// The package retries nothing itself: the SDK retries transient failures,
// and the release engine decides what to do with the rest.
package ecs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// The causes of the ENOTFOUND errors, for errors.Is.
var (
	ErrServiceNotFound        = errors.New("ECS service not found")
	ErrClusterNotFound        = errors.New("ECS cluster not found")
	ErrTaskDefinitionNotFound = errors.New("ECS task definition not found")
)

// AWS's limits on the ids one call may name.
const (
	describeServicesMax      = 10
	describeTasksMax         = 100
	deleteTaskDefinitionsMax = 10
)

// api lists the ECS operations Elevator uses.
type api interface {
	RegisterTaskDefinition(context.Context, *ecssdk.RegisterTaskDefinitionInput, ...func(*ecssdk.Options)) (*ecssdk.RegisterTaskDefinitionOutput, error)
	ListTaskDefinitions(context.Context, *ecssdk.ListTaskDefinitionsInput, ...func(*ecssdk.Options)) (*ecssdk.ListTaskDefinitionsOutput, error)
	ListTaskDefinitionFamilies(context.Context, *ecssdk.ListTaskDefinitionFamiliesInput, ...func(*ecssdk.Options)) (*ecssdk.ListTaskDefinitionFamiliesOutput, error)
	DescribeTaskDefinition(context.Context, *ecssdk.DescribeTaskDefinitionInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeTaskDefinitionOutput, error)
	DeregisterTaskDefinition(context.Context, *ecssdk.DeregisterTaskDefinitionInput, ...func(*ecssdk.Options)) (*ecssdk.DeregisterTaskDefinitionOutput, error)
	DeleteTaskDefinitions(context.Context, *ecssdk.DeleteTaskDefinitionsInput, ...func(*ecssdk.Options)) (*ecssdk.DeleteTaskDefinitionsOutput, error)
	CreateService(context.Context, *ecssdk.CreateServiceInput, ...func(*ecssdk.Options)) (*ecssdk.CreateServiceOutput, error)
	DescribeServices(context.Context, *ecssdk.DescribeServicesInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeServicesOutput, error)
	DescribeClusters(context.Context, *ecssdk.DescribeClustersInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeClustersOutput, error)
	ListServices(context.Context, *ecssdk.ListServicesInput, ...func(*ecssdk.Options)) (*ecssdk.ListServicesOutput, error)
	UpdateService(context.Context, *ecssdk.UpdateServiceInput, ...func(*ecssdk.Options)) (*ecssdk.UpdateServiceOutput, error)
	DeleteService(context.Context, *ecssdk.DeleteServiceInput, ...func(*ecssdk.Options)) (*ecssdk.DeleteServiceOutput, error)
	ListTasks(context.Context, *ecssdk.ListTasksInput, ...func(*ecssdk.Options)) (*ecssdk.ListTasksOutput, error)
	DescribeTasks(context.Context, *ecssdk.DescribeTasksInput, ...func(*ecssdk.Options)) (*ecssdk.DescribeTasksOutput, error)
	TagResource(context.Context, *ecssdk.TagResourceInput, ...func(*ecssdk.Options)) (*ecssdk.TagResourceOutput, error)
	UntagResource(context.Context, *ecssdk.UntagResourceInput, ...func(*ecssdk.Options)) (*ecssdk.UntagResourceOutput, error)
}

// Client talks to ECS in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client {
	return &Client{api: ecssdk.NewFromConfig(cfg), region: cfg.Region}
}

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// Port is a container port; the task's host port is the same (awsvpc).
type Port struct {
	Container int
	Protocol  string // "tcp" (when empty) or "udp"
}

// Secret is an environment variable ECS reads from Secrets Manager or SSM
// when a task starts: ValueFrom is an ARN (with a JSON key suffix, maybe).
type Secret struct {
	Name, ValueFrom string
}

// TaskDefinitionInput is a task definition of one container, in the
// awsvpc network mode.
type TaskDefinitionInput struct {
	Family    string
	Container string // the container's name
	Image     string
	CPU       int // CPU units of the task
	Memory    int // MiB of the task
	Ports     []Port
	Command   []string
	Env       map[string]string // sent sorted by name
	Secrets   []Secret
	// EC2 makes the task definition compatible with EC2 capacity; else
	// Fargate (Fargate Spot included).
	EC2           bool
	TaskRole      string // ARN, or ""
	ExecutionRole string // ARN, or ""
	// LogGroup, when set, sends the container's output to CloudWatch Logs
	// with the awslogs driver, in the client's region, streams prefixed
	// with LogStreamPrefix.
	LogGroup, LogStreamPrefix string
	Tags                      map[string]string
}

// TaskDefinition is a revision of a task definition family.
type TaskDefinition struct {
	ARN      string
	Family   string
	Revision int
	Status   string // ACTIVE, INACTIVE, DELETE_IN_PROGRESS
	Tags     map[string]string
	// Container and Ports are the first container's name and ports.
	Container string
	Ports     []Port
}

// Name is family:revision.
func (t TaskDefinition) Name() string { return t.Family + ":" + strconv.Itoa(t.Revision) }

// RegisterTaskDefinition registers a new revision of in.Family.
func (c *Client) RegisterTaskDefinition(ctx context.Context, in TaskDefinitionInput) (TaskDefinition, error) {
	doing := "register task definition " + in.Family
	if in.Family == "" || in.Container == "" || in.Image == "" {
		return TaskDefinition{}, elevator.Errorf(elevator.EINVALID, "%s in %s: a family, a container name and an image are required", doing, c.region)
	}
	cd := ecstypes.ContainerDefinition{
		Name:      aws.String(in.Container),
		Image:     aws.String(in.Image),
		Essential: aws.Bool(true),
		Command:   in.Command,
	}
	for _, p := range in.Ports {
		proto := ecstypes.TransportProtocolTcp
		if strings.EqualFold(p.Protocol, "udp") {
			proto = ecstypes.TransportProtocolUdp
		}
		cd.PortMappings = append(cd.PortMappings, ecstypes.PortMapping{
			ContainerPort: aws.Int32(int32(p.Container)), HostPort: aws.Int32(int32(p.Container)), Protocol: proto,
		})
	}
	for _, k := range slices.Sorted(maps.Keys(in.Env)) {
		cd.Environment = append(cd.Environment, ecstypes.KeyValuePair{Name: aws.String(k), Value: aws.String(in.Env[k])})
	}
	for _, s := range in.Secrets {
		cd.Secrets = append(cd.Secrets, ecstypes.Secret{Name: aws.String(s.Name), ValueFrom: aws.String(s.ValueFrom)})
	}
	if in.LogGroup != "" {
		cd.LogConfiguration = &ecstypes.LogConfiguration{
			LogDriver: ecstypes.LogDriverAwslogs,
			Options: map[string]string{
				"awslogs-group":         in.LogGroup,
				"awslogs-region":        c.region,
				"awslogs-stream-prefix": in.LogStreamPrefix,
			},
		}
	}
	compat := ecstypes.CompatibilityFargate
	if in.EC2 {
		compat = ecstypes.CompatibilityEc2
	}
	out, err := c.api.RegisterTaskDefinition(ctx, &ecssdk.RegisterTaskDefinitionInput{
		Family:                  aws.String(in.Family),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{compat},
		Cpu:                     aws.String(strconv.Itoa(in.CPU)),
		Memory:                  aws.String(strconv.Itoa(in.Memory)),
		ContainerDefinitions:    []ecstypes.ContainerDefinition{cd},
		TaskRoleArn:             optional(in.TaskRole),
		ExecutionRoleArn:        optional(in.ExecutionRole),
		Tags:                    tags(in.Tags),
	})
	if err != nil {
		return TaskDefinition{}, c.fail(doing, "task definition", in.Family, err)
	}
	td := taskDefinition(out.TaskDefinition, out.Tags)
	if td.Tags == nil {
		td.Tags = in.Tags
	}
	return td, nil
}

// TaskDefinitionARNs returns the ARNs of family's revisions in status
// (ACTIVE when ""), oldest first. A family with none is an empty list.
func (c *Client) TaskDefinitionARNs(ctx context.Context, family, status string) ([]string, error) {
	in := &ecssdk.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family), Sort: ecstypes.SortOrderAsc}
	if status != "" {
		in.Status = ecstypes.TaskDefinitionStatus(status)
	}
	var arns []string
	p := ecssdk.NewListTaskDefinitionsPaginator(c.api, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list task definitions of "+family, "task definition family", family, err)
		}
		arns = append(arns, out.TaskDefinitionArns...)
	}
	return arns, nil
}

// Families returns the task definition families whose names start with
// prefix (every family when it is ""), with ACTIVE or INACTIVE revisions
// (AWS lists INACTIVE ones while it keeps them).
func (c *Client) Families(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	in := &ecssdk.ListTaskDefinitionFamiliesInput{Status: ecstypes.TaskDefinitionFamilyStatusAll}
	if prefix != "" {
		in.FamilyPrefix = aws.String(prefix)
	}
	p := ecssdk.NewListTaskDefinitionFamiliesPaginator(c.api, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list task definition families "+prefix+"*", "", "", err)
		}
		for _, f := range page.Families {
			if strings.HasPrefix(f, prefix) { // AWS's filter is a prefix; keep it one whatever answers
				out = append(out, f)
			}
		}
	}
	return out, nil
}

// TaskDefinition describes a task definition (an ARN or family:revision),
// with its tags; ENOTFOUND wrapping ErrTaskDefinitionNotFound when there
// is none.
func (c *Client) TaskDefinition(ctx context.Context, id string) (TaskDefinition, error) {
	out, err := c.api.DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{
		TaskDefinition: aws.String(id), Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		return TaskDefinition{}, c.fail("describe task definition "+id, "task definition", id, err)
	}
	return taskDefinition(out.TaskDefinition, out.Tags), nil
}

// DeregisterTaskDefinition makes a revision INACTIVE: no new task starts
// from it. One already INACTIVE, or gone, is nil.
func (c *Client) DeregisterTaskDefinition(ctx context.Context, id string) error {
	_, err := c.api.DeregisterTaskDefinition(ctx, &ecssdk.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(id)})
	err = c.fail("deregister task definition "+id, "task definition", id, err)
	if errors.Is(err, ErrTaskDefinitionNotFound) {
		return nil
	}
	return err
}

// DeleteTaskDefinitions deletes INACTIVE revisions, ten per call. A
// revision already gone is not a failure; one still ACTIVE is (EINVALID).
func (c *Client) DeleteTaskDefinitions(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), deleteTaskDefinitionsMax)
		out, err := c.api.DeleteTaskDefinitions(ctx, &ecssdk.DeleteTaskDefinitionsInput{TaskDefinitions: ids[:n]})
		if err != nil {
			return c.fail("delete task definitions "+strings.Join(ids[:n], ", "), "", "", err)
		}
		for _, f := range out.Failures {
			reason := aws.ToString(f.Reason)
			if strings.Contains(strings.ToLower(reason), "does not exist") {
				continue
			}
			return elevator.Errorf(elevator.EINVALID, "delete task definition %s in %s: %s", aws.ToString(f.Arn), c.region, reason)
		}
		ids = ids[n:]
	}
	return nil
}

func taskDefinition(td *ecstypes.TaskDefinition, tg []ecstypes.Tag) TaskDefinition {
	if td == nil {
		return TaskDefinition{}
	}
	out := TaskDefinition{
		ARN:      aws.ToString(td.TaskDefinitionArn),
		Family:   aws.ToString(td.Family),
		Revision: int(td.Revision),
		Status:   string(td.Status),
		Tags:     tagMap(tg),
	}
	if len(td.ContainerDefinitions) > 0 {
		cd := td.ContainerDefinitions[0]
		out.Container = aws.ToString(cd.Name)
		for _, p := range cd.PortMappings {
			out.Ports = append(out.Ports, Port{Container: int(aws.ToInt32(p.ContainerPort)), Protocol: string(p.Protocol)})
		}
	}
	return out
}

// Capacity provider strategies' providers.
const (
	ProviderFargate     = elevator.ECSProviderFargate
	ProviderFargateSpot = elevator.ECSProviderFargateSpot
)

// LoadBalancer registers a service's container port with a target group.
type LoadBalancer struct {
	TargetGroupARN string
	Container      string
	Port           int
}

// ServiceInput is a service of awsvpc tasks without public addresses.
type ServiceInput struct {
	Cluster, Name  string
	TaskDefinition string // ARN or family:revision
	Desired        int
	// CapacityProvider is the one provider of its strategy:
	// ProviderFargate, ProviderFargateSpot or an EC2 capacity provider.
	CapacityProvider string
	Subnets          []string
	SecurityGroups   []string
	LoadBalancers    []LoadBalancer
	// HealthCheckGrace is how long ECS ignores failing load balancer
	// health checks of a new task; sent only with load balancers.
	HealthCheckGrace time.Duration
	// Token makes a retried create return the service the first try made.
	Token string
	Tags  map[string]string // propagated to tasks
}

// Deployment is one of a service's deployments.
type Deployment struct {
	ID           string
	Status       string // PRIMARY, ACTIVE, INACTIVE
	RolloutState string // IN_PROGRESS, COMPLETED, FAILED
	Reason       string
	Desired      int // tasks it is to run
	Running      int
	Failed       int // tasks that failed to start
}

// Service is an ECS service.
type Service struct {
	Name, ARN, Cluster string
	Status             string // ACTIVE, DRAINING, INACTIVE
	Desired            int
	Running, Pending   int
	TaskDefinition     string
	ExecuteCommand     bool // ECS Exec is on
	LoadBalancers      []LoadBalancer
	Deployments        []Deployment
	// CapacityProviders are the providers of the service's capacity
	// provider strategy, in its order.
	CapacityProviders []string
	Tags              map[string]string
}

// The statuses of a service.
const (
	StatusActive   = "ACTIVE"
	StatusDraining = "DRAINING"
	StatusInactive = "INACTIVE"
)

// Failed is the reason ECS gave up the service's primary deployment (its
// circuit breaker tripped), or "".
func (s Service) Failed() string {
	for _, d := range s.Deployments {
		if d.Status == "PRIMARY" && d.RolloutState == string(ecstypes.DeploymentRolloutStateFailed) {
			if d.Reason == "" {
				return "the deployment failed"
			}
			return d.Reason
		}
	}
	return ""
}

// Settling says why the service's deployments are not steady, or "":
// with more than one deployment (a change of its task or load balancers
// starts new tasks, then stops the old ones) "2 deployments: PRIMARY
// IN_PROGRESS, 1 of 3 tasks running", the primary deployment's rollout
// state and tasks; with one IN_PROGRESS "deployment IN_PROGRESS: 2 of 3
// tasks running".
func (s Service) Settling() string {
	switch {
	case len(s.Deployments) > 1:
		what := fmt.Sprintf("%d deployments", len(s.Deployments))
		for _, d := range s.Deployments {
			if d.Status == "PRIMARY" {
				return fmt.Sprintf("%s: PRIMARY %s, %d of %d tasks running", what, d.RolloutState, d.Running, d.Desired)
			}
		}
		return what
	case len(s.Deployments) == 1 && s.Deployments[0].RolloutState == string(ecstypes.DeploymentRolloutStateInProgress):
		d := s.Deployments[0]
		return fmt.Sprintf("deployment IN_PROGRESS: %d of %d tasks running", d.Running, d.Desired)
	}
	return ""
}

// TargetGroups lists the ARNs of the service's target groups.
func (s Service) TargetGroups() []string {
	var out []string
	for _, lb := range s.LoadBalancers {
		if !slices.Contains(out, lb.TargetGroupARN) {
			out = append(out, lb.TargetGroupARN)
		}
	}
	return out
}

// CreateService creates a service. Its deployment circuit breaker is on
// without rollback (whoever created it decides what to do with a failed
// deployment), its tags are propagated to its tasks, and ECS adds its
// own. ECS Exec is on (enableExecuteCommand): a task role allowed the
// ssmmessages channel actions can be reached with `aws ecs
// execute-command`. AWS answers a repeated create with the same token with the
// service it made; a create of a name in use by another token is
// EINVALID.
func (c *Client) CreateService(ctx context.Context, in ServiceInput) (Service, error) {
	doing := "create ECS service " + in.Name + " in cluster " + in.Cluster
	if len(in.Subnets) == 0 {
		return Service{}, elevator.Errorf(elevator.EINVALID, "%s in %s: no subnets to run tasks in", doing, c.region)
	}
	req := &ecssdk.CreateServiceInput{
		Cluster:        aws.String(in.Cluster),
		ServiceName:    aws.String(in.Name),
		TaskDefinition: aws.String(in.TaskDefinition),
		DesiredCount:   aws.Int32(int32(in.Desired)),
		CapacityProviderStrategy: []ecstypes.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String(in.CapacityProvider), Weight: 1},
		},
		NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
			Subnets: in.Subnets, SecurityGroups: in.SecurityGroups, AssignPublicIp: ecstypes.AssignPublicIpDisabled,
		}},
		LoadBalancers: loadBalancers(in.LoadBalancers),
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			DeploymentCircuitBreaker: &ecstypes.DeploymentCircuitBreaker{Enable: true, Rollback: false},
		},
		ClientToken:          optional(in.Token),
		Tags:                 tags(in.Tags),
		PropagateTags:        ecstypes.PropagateTagsService,
		EnableECSManagedTags: true,
		EnableExecuteCommand: true,
	}
	if len(in.LoadBalancers) > 0 && in.HealthCheckGrace > 0 {
		req.HealthCheckGracePeriodSeconds = aws.Int32(int32(in.HealthCheckGrace / time.Second))
	}
	out, err := c.api.CreateService(ctx, req)
	if err != nil {
		return Service{}, c.fail(doing, "ECS cluster", in.Cluster, err)
	}
	s := service(out.Service)
	if len(s.Tags) == 0 {
		s.Tags = in.Tags
	}
	return s, nil
}

// Services describes the named services of a cluster with their tags,
// ten per call. A service that does not exist is left out; INACTIVE
// (deleted) ones are kept, for the caller to tell. A missing cluster is
// ENOTFOUND wrapping ErrClusterNotFound.
func (c *Client) Services(ctx context.Context, cluster string, names []string) ([]Service, error) {
	var out []Service
	for len(names) > 0 {
		n := min(len(names), describeServicesMax)
		page, err := c.api.DescribeServices(ctx, &ecssdk.DescribeServicesInput{
			Cluster: aws.String(cluster), Services: names[:n], Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
		if err != nil {
			return nil, c.fail("describe ECS services of cluster "+cluster, "ECS cluster", cluster, err)
		}
		for _, s := range page.Services {
			out = append(out, service(&s))
		}
		names = names[n:]
	}
	return out, nil
}

// Service describes one service; ENOTFOUND wrapping ErrServiceNotFound
// when there is none, or only an INACTIVE (deleted) one.
func (c *Client) Service(ctx context.Context, cluster, name string) (Service, error) {
	found, err := c.Services(ctx, cluster, []string{name})
	if err != nil {
		return Service{}, err
	}
	for _, s := range found {
		if s.Status != StatusInactive {
			return s, nil
		}
	}
	return Service{}, awserr.NotFound("ECS service", name+" of cluster "+cluster, c.region, ErrServiceNotFound)
}

// ServiceARNs lists the ARNs of a cluster's services. A missing cluster is
// ENOTFOUND wrapping ErrClusterNotFound.
func (c *Client) ServiceARNs(ctx context.Context, cluster string) ([]string, error) {
	var arns []string
	p := ecssdk.NewListServicesPaginator(c.api, &ecssdk.ListServicesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.fail("list ECS services of cluster "+cluster, "ECS cluster", cluster, err)
		}
		arns = append(arns, out.ServiceArns...)
	}
	return arns, nil
}

// Update changes a service: the fields that are not nil.
type Update struct {
	Desired       *int
	LoadBalancers *[]LoadBalancer // the whole new list; an empty one removes them all
}

// UpdateService changes a service; ENOTFOUND wrapping ErrServiceNotFound
// when there is none.
func (c *Client) UpdateService(ctx context.Context, cluster, name string, u Update) (Service, error) {
	req := &ecssdk.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(name)}
	if u.Desired != nil {
		req.DesiredCount = aws.Int32(int32(*u.Desired))
	}
	if u.LoadBalancers != nil {
		req.LoadBalancers = loadBalancers(*u.LoadBalancers)
		if req.LoadBalancers == nil {
			req.LoadBalancers = []ecstypes.LoadBalancer{}
		}
	}
	out, err := c.api.UpdateService(ctx, req)
	if err != nil {
		return Service{}, c.fail("update ECS service "+name+" of cluster "+cluster, "ECS service", name+" of cluster "+cluster, err)
	}
	return service(out.Service), nil
}

// DeleteService deletes a service and stops its tasks (force: whatever
// its desired count). A service already gone, or deleted, is nil.
func (c *Client) DeleteService(ctx context.Context, cluster, name string) error {
	_, err := c.api.DeleteService(ctx, &ecssdk.DeleteServiceInput{Cluster: aws.String(cluster), Service: aws.String(name), Force: aws.Bool(true)})
	err = c.fail("delete ECS service "+name+" of cluster "+cluster, "ECS service", name+" of cluster "+cluster, err)
	if errors.Is(err, ErrServiceNotFound) {
		return nil
	}
	return err
}

// Task is a task of a service.
type Task struct {
	ARN, ID        string
	TaskDefinition string
	LastStatus     string // PROVISIONING, PENDING, ACTIVATING, RUNNING, DEACTIVATING, STOPPING, DEPROVISIONING, STOPPED
	DesiredStatus  string
	Health         string // HEALTHY, UNHEALTHY, UNKNOWN (no health check)
	PrivateIP      string // of its elastic network interface; "" until it has one
	StoppedReason  string
	AZ             string
}

// Tasks returns a service's tasks, running and stopped (ECS keeps
// stopped tasks for about an hour): ListTasks for each desired status,
// then DescribeTasks, a hundred per call. A missing cluster is ENOTFOUND
// wrapping ErrClusterNotFound; a missing service has no tasks.
func (c *Client) Tasks(ctx context.Context, cluster, service string) ([]Task, error) {
	var arns []string
	for _, st := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		p := ecssdk.NewListTasksPaginator(c.api, &ecssdk.ListTasksInput{
			Cluster: aws.String(cluster), ServiceName: aws.String(service), DesiredStatus: st})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			err = c.fail("list tasks of ECS service "+service+" of cluster "+cluster, "ECS service", service+" of cluster "+cluster, err)
			if errors.Is(err, ErrServiceNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			for _, a := range out.TaskArns {
				if !slices.Contains(arns, a) {
					arns = append(arns, a)
				}
			}
		}
	}
	var tasks []Task
	for len(arns) > 0 {
		n := min(len(arns), describeTasksMax)
		out, err := c.api.DescribeTasks(ctx, &ecssdk.DescribeTasksInput{Cluster: aws.String(cluster), Tasks: arns[:n]})
		if err != nil {
			return nil, c.fail("describe tasks of ECS service "+service+" of cluster "+cluster, "ECS cluster", cluster, err)
		}
		for _, t := range out.Tasks {
			tasks = append(tasks, task(t))
		}
		arns = arns[n:]
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].ARN < tasks[j].ARN })
	return tasks, nil
}

func task(t ecstypes.Task) Task {
	out := Task{
		ARN:            aws.ToString(t.TaskArn),
		TaskDefinition: aws.ToString(t.TaskDefinitionArn),
		LastStatus:     aws.ToString(t.LastStatus),
		DesiredStatus:  aws.ToString(t.DesiredStatus),
		Health:         string(t.HealthStatus),
		StoppedReason:  aws.ToString(t.StoppedReason),
		AZ:             aws.ToString(t.AvailabilityZone),
	}
	out.ID = out.ARN[strings.LastIndexByte(out.ARN, '/')+1:]
	for _, a := range t.Attachments {
		if aws.ToString(a.Type) != "ElasticNetworkInterface" {
			continue
		}
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				out.PrivateIP = aws.ToString(d.Value)
			}
		}
	}
	return out
}

// TagResource puts tags on a service, task or task definition (by ARN).
func (c *Client) TagResource(ctx context.Context, arn string, t map[string]string) error {
	_, err := c.api.TagResource(ctx, &ecssdk.TagResourceInput{ResourceArn: aws.String(arn), Tags: tags(t)})
	return c.fail("tag "+arn, "ECS resource", arn, err)
}

// UntagResource removes tags from a service, task or task definition.
func (c *Client) UntagResource(ctx context.Context, arn string, keys []string) error {
	_, err := c.api.UntagResource(ctx, &ecssdk.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: keys})
	return c.fail("untag "+arn, "ECS resource", arn, err)
}

func service(s *ecstypes.Service) Service {
	if s == nil {
		return Service{}
	}
	out := Service{
		Name:           aws.ToString(s.ServiceName),
		ARN:            aws.ToString(s.ServiceArn),
		Cluster:        aws.ToString(s.ClusterArn),
		Status:         aws.ToString(s.Status),
		Desired:        int(s.DesiredCount),
		Running:        int(s.RunningCount),
		Pending:        int(s.PendingCount),
		TaskDefinition: aws.ToString(s.TaskDefinition),
		ExecuteCommand: s.EnableExecuteCommand,
		Tags:           tagMap(s.Tags),
	}
	if i := strings.LastIndexByte(out.Cluster, '/'); i >= 0 {
		out.Cluster = out.Cluster[i+1:]
	}
	for _, lb := range s.LoadBalancers {
		out.LoadBalancers = append(out.LoadBalancers, LoadBalancer{
			TargetGroupARN: aws.ToString(lb.TargetGroupArn), Container: aws.ToString(lb.ContainerName), Port: int(aws.ToInt32(lb.ContainerPort)),
		})
	}
	for _, item := range s.CapacityProviderStrategy {
		out.CapacityProviders = append(out.CapacityProviders, aws.ToString(item.CapacityProvider))
	}
	for _, d := range s.Deployments {
		out.Deployments = append(out.Deployments, Deployment{
			ID: aws.ToString(d.Id), Status: aws.ToString(d.Status), RolloutState: string(d.RolloutState),
			Reason: aws.ToString(d.RolloutStateReason), Desired: int(d.DesiredCount), Running: int(d.RunningCount), Failed: int(d.FailedTasks),
		})
	}
	return out
}

func loadBalancers(lbs []LoadBalancer) []ecstypes.LoadBalancer {
	var out []ecstypes.LoadBalancer
	for _, lb := range lbs {
		out = append(out, ecstypes.LoadBalancer{
			TargetGroupArn: aws.String(lb.TargetGroupARN), ContainerName: aws.String(lb.Container), ContainerPort: aws.Int32(int32(lb.Port)),
		})
	}
	return out
}

var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "ServiceNotFoundException", Err: ErrServiceNotFound},
		{Code: "ServiceNotActiveException", Err: ErrServiceNotFound}, // deleted
		{Code: "ClusterNotFoundException", Err: ErrClusterNotFound},
		{Code: "ClientException", Message: "unable to describe task definition", Err: ErrTaskDefinitionNotFound},
		{Code: "ClientException", Message: "task definition does not exist", Err: ErrTaskDefinitionNotFound},
		{Code: "ClientException", Message: "revision is missing", Err: ErrTaskDefinitionNotFound},
	},
	Invalid: []awserr.Match{
		{Code: "ClientException"},
		{Code: "InvalidParameterException"},
		{Code: "PlatformUnknownException"},
		{Code: "PlatformTaskDefinitionIncompatibilityException"},
	},
}

// fail translates the error of a call that names kind name.
func (c *Client) fail(doing, kind, name string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: kind, Name: name}, err)
}

func tags(m map[string]string) []ecstypes.Tag {
	var out []ecstypes.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, ecstypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

func tagMap(t []ecstypes.Tag) map[string]string {
	if len(t) == 0 {
		return nil
	}
	m := make(map[string]string, len(t))
	for _, x := range t {
		m[aws.ToString(x.Key)] = aws.ToString(x.Value)
	}
	return m
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
