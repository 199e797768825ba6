package ecs

// These tests run against a real moto server (emulatortest), each in an
// account of its own, with the cluster, subnets and security group a
// release finds in place made directly with the SDK, and what the adapter
// did read back with the SDK.

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

type fixture struct {
	c       *Client
	api     *ecssdk.Client
	cluster string
	subnets []string
	cidr    string
	sg      string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	f := fixture{c: New(cfg), api: ecssdk.NewFromConfig(cfg), cluster: elevator.ECSClusterName("prod"), cidr: "10.9.1.0/24"}
	ec2c := ec2sdk.NewFromConfig(cfg)
	vpc, err := ec2c.CreateVpc(ctx, &ec2sdk.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := ec2c.CreateSubnet(ctx, &ec2sdk.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(f.cidr), AvailabilityZone: aws.String("eu-west-1a")})
	if err != nil {
		t.Fatal(err)
	}
	f.subnets = []string{aws.ToString(sn.Subnet.SubnetId)}
	sg, err := ec2c.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("web"), VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	f.sg = aws.ToString(sg.GroupId)
	if _, err := f.api.CreateCluster(ctx, &ecssdk.CreateClusterInput{ClusterName: aws.String(f.cluster)}); err != nil {
		t.Fatal(err)
	}
	return f
}

func webTaskDefinition() TaskDefinitionInput {
	return TaskDefinitionInput{
		Family: "shop-prod-web-abcd", Container: "web", Image: "public.ecr.aws/nginx/nginx:1.27",
		CPU: 512, Memory: 1024,
		Ports:    []Port{{Container: 8080}, {Container: 9000, Protocol: "udp"}},
		Command:  []string{"bin/server", "--port", "8080"},
		Env:      map[string]string{"ZONE": "z", "ELEVATOR_APP": "shop", "LOG_LEVEL": "info"},
		Secrets:  []Secret{{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::"}},
		TaskRole: "arn:aws:iam::123456789012:role/task", ExecutionRole: "arn:aws:iam::123456789012:role/exec",
		LogGroup: "/elevator/prod/shop", LogStreamPrefix: "web",
		Tags: map[string]string{elevator.TagApp: "shop", elevator.TagRelease: "r1"},
	}
}

func TestATaskDefinitionIsRegisteredWithItsContainerAndFoundDeregisteredAndDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	td, err := f.c.RegisterTaskDefinition(ctx, webTaskDefinition())
	if err != nil {
		t.Fatal(err)
	}
	if td.Family != "shop-prod-web-abcd" || td.Revision != 1 || td.Name() != "shop-prod-web-abcd:1" {
		t.Fatalf("registered %+v", td)
	}
	out, err := f.api.DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{TaskDefinition: aws.String(td.ARN), Include: []ecstypes.TaskDefinitionField{ecstypes.TaskDefinitionFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	got := out.TaskDefinition
	if got.NetworkMode != ecstypes.NetworkModeAwsvpc || !reflect.DeepEqual(got.RequiresCompatibilities, []ecstypes.Compatibility{ecstypes.CompatibilityFargate}) ||
		aws.ToString(got.Cpu) != "512" || aws.ToString(got.Memory) != "1024" ||
		aws.ToString(got.TaskRoleArn) != "arn:aws:iam::123456789012:role/task" || aws.ToString(got.ExecutionRoleArn) != "arn:aws:iam::123456789012:role/exec" {
		t.Errorf("task definition %+v", got)
	}
	if len(got.ContainerDefinitions) != 1 {
		t.Fatalf("containers %+v", got.ContainerDefinitions)
	}
	cd := got.ContainerDefinitions[0]
	if aws.ToString(cd.Name) != "web" || aws.ToString(cd.Image) != "public.ecr.aws/nginx/nginx:1.27" || !slices.Equal(cd.Command, []string{"bin/server", "--port", "8080"}) {
		t.Errorf("container %+v", cd)
	}
	var ports []string
	for _, p := range cd.PortMappings {
		if aws.ToInt32(p.HostPort) != aws.ToInt32(p.ContainerPort) {
			t.Errorf("port mapping %+v: host port differs", p)
		}
		ports = append(ports, string(p.Protocol)+":"+strconv.Itoa(int(aws.ToInt32(p.ContainerPort))))
	}
	if !slices.Equal(ports, []string{"tcp:8080", "udp:9000"}) {
		t.Errorf("ports %v", ports)
	}
	var env []string
	for _, kv := range cd.Environment {
		env = append(env, aws.ToString(kv.Name)+"="+aws.ToString(kv.Value))
	}
	if !slices.Equal(env, []string{"ELEVATOR_APP=shop", "LOG_LEVEL=info", "ZONE=z"}) {
		t.Errorf("environment %v, want it sorted", env)
	}
	if len(cd.Secrets) != 1 || aws.ToString(cd.Secrets[0].Name) != "DATABASE_PASSWORD" || !strings.HasSuffix(aws.ToString(cd.Secrets[0].ValueFrom), ":password::") {
		t.Errorf("secrets %+v", cd.Secrets)
	}
	if lc := cd.LogConfiguration; lc == nil || lc.LogDriver != ecstypes.LogDriverAwslogs ||
		!reflect.DeepEqual(lc.Options, map[string]string{"awslogs-group": "/elevator/prod/shop", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}) {
		t.Errorf("log configuration %+v", cd.LogConfiguration)
	}

	// A second revision, on EC2 capacity; the family lists both, oldest
	// first, and the adapter reads tags and the container back.
	in := webTaskDefinition()
	in.EC2 = true
	td2, err := f.c.RegisterTaskDefinition(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	arns, err := f.c.TaskDefinitionARNs(ctx, in.Family, "ACTIVE")
	if err != nil || !slices.Equal(arns, []string{td.ARN, td2.ARN}) {
		t.Fatalf("ARNs %v, %v; want %s then %s", arns, err, td.ARN, td2.ARN)
	}
	back, err := f.c.TaskDefinition(ctx, td2.Name())
	if err != nil || back.Tags[elevator.TagRelease] != "r1" || back.Container != "web" || len(back.Ports) != 2 || back.Ports[0].Container != 8080 {
		t.Errorf("described %+v, %v", back, err)
	}
	if fams, err := f.c.Families(ctx, "shop-prod-"); err != nil || !slices.Equal(fams, []string{"shop-prod-web-abcd"}) {
		t.Errorf("families %v, %v", fams, err)
	}
	if fams, err := f.c.Families(ctx, "other-"); err != nil || len(fams) != 0 {
		t.Errorf("families of another app %v, %v", fams, err)
	}
	if _, err := f.c.TaskDefinition(ctx, "nothing:1"); !errors.Is(err, ErrTaskDefinitionNotFound) || elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("a missing task definition: %v", err)
	}

	// An ACTIVE revision cannot be deleted; deregistered it can, and
	// doing either again is nil.
	if err := f.c.DeleteTaskDefinitions(ctx, []string{td.ARN}); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("deleting an ACTIVE revision: %v", err)
	}
	for range 2 {
		if err := f.c.DeregisterTaskDefinition(ctx, td.Name()); err != nil {
			t.Fatal(err)
		}
	}
	if arns, _ := f.c.TaskDefinitionARNs(ctx, in.Family, "INACTIVE"); !slices.Equal(arns, []string{td.ARN}) {
		t.Errorf("INACTIVE %v", arns)
	}
	for range 2 {
		if err := f.c.DeleteTaskDefinitions(ctx, []string{td.ARN}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.c.TaskDefinition(ctx, td.ARN); !errors.Is(err, ErrTaskDefinitionNotFound) {
		t.Errorf("deleted revision described: %v", err)
	}
	if err := f.c.DeregisterTaskDefinition(ctx, td.ARN); err != nil {
		t.Errorf("deregistering a deleted revision: %v", err)
	}
}

func TestAServiceIsCreatedDescribedChangedAndDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	td, err := f.c.RegisterTaskDefinition(ctx, webTaskDefinition())
	if err != nil {
		t.Fatal(err)
	}
	tg := "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-web/0123456789abcdef"
	tags := map[string]string{elevator.TagApp: "shop", elevator.TagRelease: "r1"}
	// moto drops enableExecuteCommand (its services never have it), so
	// the test reads it from the request the adapter sent.
	sent := &sentCreates{api: f.c.api}
	f.c.api = sent
	s, err := f.c.CreateService(ctx, ServiceInput{
		Cluster: f.cluster, Name: "shop-prod-web-abcd", TaskDefinition: td.ARN, Desired: 2,
		CapacityProvider: ProviderFargate, Subnets: f.subnets, SecurityGroups: []string{f.sg},
		LoadBalancers: []LoadBalancer{{TargetGroupARN: tg, Container: "web", Port: 8080}}, HealthCheckGrace: 30 * time.Second,
		Token: "0123456789abcdef", Tags: tags,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "shop-prod-web-abcd" || s.Desired != 2 || s.Cluster != f.cluster {
		t.Errorf("created %+v", s)
	}
	if len(sent.creates) != 1 || !sent.creates[0].EnableExecuteCommand {
		t.Errorf("CreateService sent %+v, want ECS Exec on", sent.creates)
	}
	out, err := f.api.DescribeServices(ctx, &ecssdk.DescribeServicesInput{Cluster: aws.String(f.cluster), Services: []string{"shop-prod-web-abcd"}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("%+v, %v", out, err)
	}
	raw := out.Services[0]
	if nc := raw.NetworkConfiguration; nc == nil || nc.AwsvpcConfiguration == nil || !slices.Equal(nc.AwsvpcConfiguration.Subnets, f.subnets) ||
		!slices.Equal(nc.AwsvpcConfiguration.SecurityGroups, []string{f.sg}) {
		t.Errorf("network configuration %+v", raw.NetworkConfiguration)
	}
	if raw.PropagateTags != ecstypes.PropagateTagsService || len(raw.LoadBalancers) != 1 || aws.ToInt32(raw.LoadBalancers[0].ContainerPort) != 8080 {
		t.Errorf("service %+v", raw)
	}

	got, err := f.c.Service(ctx, f.cluster, "shop-prod-web-abcd")
	if err != nil || !reflect.DeepEqual(got.TargetGroups(), []string{tg}) || got.Tags[elevator.TagRelease] != "r1" || got.Failed() != "" {
		t.Errorf("described %+v, %v", got, err)
	}
	// moto starts no task: its one deployment stays IN_PROGRESS.
	if want := "deployment IN_PROGRESS: 0 of 2 tasks running"; got.Settling() != want {
		t.Errorf("Settling() %q with deployments %+v, want %q", got.Settling(), got.Deployments, want)
	}
	arns, err := f.c.ServiceARNs(ctx, f.cluster)
	if err != nil || len(arns) != 1 || !strings.HasSuffix(arns[0], "/shop-prod-web-abcd") {
		t.Errorf("service ARNs %v, %v", arns, err)
	}
	if _, err := f.c.Service(ctx, f.cluster, "nothing"); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("a missing service: %v", err)
	}
	if _, err := f.c.ServiceARNs(ctx, "elevator-nowhere"); !errors.Is(err, ErrClusterNotFound) {
		t.Errorf("a missing cluster: %v", err)
	}

	// Scale, drop the load balancers, tag.
	three, none := 3, []LoadBalancer{}
	if _, err := f.c.UpdateService(ctx, f.cluster, s.Name, Update{Desired: &three, LoadBalancers: &none}); err != nil {
		t.Fatal(err)
	}
	if err := f.c.TagResource(ctx, got.ARN, map[string]string{elevator.TagDetachedDesired: "2"}); err != nil {
		t.Fatal(err)
	}
	got, err = f.c.Service(ctx, f.cluster, s.Name)
	if err != nil || got.Desired != 3 || len(got.LoadBalancers) != 0 || got.Tags[elevator.TagDetachedDesired] != "2" {
		t.Errorf("after the update %+v, %v", got, err)
	}
	if err := f.c.UntagResource(ctx, got.ARN, []string{elevator.TagDetachedDesired}); err != nil {
		t.Fatal(err)
	}
	if got, _ = f.c.Service(ctx, f.cluster, s.Name); got.Tags[elevator.TagDetachedDesired] != "" {
		t.Errorf("untagged, tags %v", got.Tags)
	}
	if _, err := f.c.UpdateService(ctx, f.cluster, "nothing", Update{Desired: &three}); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("updating a missing service: %v", err)
	}

	// Deleted: INACTIVE to Services, gone to Service, and again nil.
	for range 2 {
		if err := f.c.DeleteService(ctx, f.cluster, s.Name); err != nil {
			t.Fatal(err)
		}
	}
	all, err := f.c.Services(ctx, f.cluster, []string{s.Name, "nothing"})
	if err != nil || len(all) != 1 || all[0].Status != StatusInactive {
		t.Errorf("after delete %+v, %v", all, err)
	}
	if _, err := f.c.Service(ctx, f.cluster, s.Name); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("a deleted service: %v", err)
	}
}

// sentCreates passes calls to moto and keeps the CreateService
// requests sent.
type sentCreates struct {
	api
	creates []*ecssdk.CreateServiceInput
}

func (s *sentCreates) CreateService(ctx context.Context, in *ecssdk.CreateServiceInput, opts ...func(*ecssdk.Options)) (*ecssdk.CreateServiceOutput, error) {
	s.creates = append(s.creates, in)
	return s.api.CreateService(ctx, in, opts...)
}

// fakeTasks answers ListTasks and DescribeTasks for the adapter, in
// place of moto: moto starts no tasks for services, ignores ListTasks'
// serviceName (list_tasks in moto/ecs/models.py) and fails a Fargate
// RunTask with a 500 (its Task reads a private_dns_name its network
// interfaces lack). It has n running tasks and one stopped, lists them a
// page of 100 at a time, and counts DescribeTasks calls.
type fakeTasks struct {
	api
	running   int
	describes int
}

func (f *fakeTasks) arn(i int) string {
	return fmt.Sprintf("arn:aws:ecs:eu-west-1:123456789012:task/elevator-prod/%032d", i)
}

func (f *fakeTasks) ListTasks(_ context.Context, in *ecssdk.ListTasksInput, _ ...func(*ecssdk.Options)) (*ecssdk.ListTasksOutput, error) {
	if aws.ToString(in.ServiceName) != "web" {
		return nil, &ecstypes.ServiceNotFoundException{Message: aws.String("Service not found.")}
	}
	var all []string
	if in.DesiredStatus == ecstypes.DesiredStatusStopped {
		all = []string{f.arn(f.running)}
	} else {
		for i := range f.running {
			all = append(all, f.arn(i))
		}
	}
	start, _ := strconv.Atoi(aws.ToString(in.NextToken))
	end := min(start+100, len(all))
	out := &ecssdk.ListTasksOutput{TaskArns: all[start:end]}
	if end < len(all) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeTasks) DescribeTasks(_ context.Context, in *ecssdk.DescribeTasksInput, _ ...func(*ecssdk.Options)) (*ecssdk.DescribeTasksOutput, error) {
	f.describes++
	if len(in.Tasks) > 100 {
		return nil, &ecstypes.InvalidParameterException{Message: aws.String("too many tasks")}
	}
	out := &ecssdk.DescribeTasksOutput{}
	for _, a := range in.Tasks {
		var i int
		fmt.Sscanf(a[strings.LastIndexByte(a, '/')+1:], "%d", &i)
		t := ecstypes.Task{TaskArn: aws.String(a), LastStatus: aws.String("RUNNING"), HealthStatus: ecstypes.HealthStatusHealthy,
			Attachments: []ecstypes.Attachment{{Type: aws.String("ElasticNetworkInterface"), Details: []ecstypes.KeyValuePair{
				{Name: aws.String("subnetId"), Value: aws.String("subnet-1")},
				{Name: aws.String("privateIPv4Address"), Value: aws.String(fmt.Sprintf("10.9.%d.%d", i/250, i%250+1))}}}}}
		if i == f.running {
			t.LastStatus, t.HealthStatus, t.StoppedReason, t.Attachments = aws.String("STOPPED"), ecstypes.HealthStatusUnknown, aws.String("Essential container exited"), nil
		}
		out.Tasks = append(out.Tasks, t)
	}
	return out, nil
}

func TestTasksAreListedRunningAndStoppedWithTheirPrivateAddress(t *testing.T) {
	fake := &fakeTasks{running: 150}
	c := &Client{api: fake, region: "eu-west-1"}
	tasks, err := c.Tasks(context.Background(), "elevator-prod", "web")
	if err != nil || len(tasks) != 151 {
		t.Fatalf("%d tasks, %v", len(tasks), err)
	}
	if fake.describes != 2 {
		t.Errorf("%d DescribeTasks calls for 151 tasks, want 2", fake.describes)
	}
	for i, tk := range tasks {
		switch {
		case i == 150:
			if tk.LastStatus != "STOPPED" || tk.StoppedReason != "Essential container exited" || tk.PrivateIP != "" {
				t.Errorf("stopped task %+v", tk)
			}
		default:
			want := fmt.Sprintf("10.9.%d.%d", i/250, i%250+1)
			if tk.LastStatus != "RUNNING" || tk.Health != "HEALTHY" || tk.PrivateIP != want || tk.ID != fmt.Sprintf("%032d", i) {
				t.Errorf("task %d: %+v, want address %s", i, tk, want)
			}
		}
	}
	if tasks, err := c.Tasks(context.Background(), "elevator-prod", "gone"); err != nil || len(tasks) != 0 {
		t.Errorf("tasks of a missing service: %v, %v", tasks, err)
	}
}

func TestOnlyThePrimaryDeploymentsFailureFailsAService(t *testing.T) {
	for _, c := range []struct {
		deps []Deployment
		want string
	}{
		{nil, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "IN_PROGRESS"}}, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "COMPLETED"}, {Status: "ACTIVE", RolloutState: "FAILED", Reason: "old"}}, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "FAILED", Reason: "tasks failed to start"}}, "tasks failed to start"},
		{[]Deployment{{Status: "ACTIVE", RolloutState: "COMPLETED"}, {Status: "PRIMARY", RolloutState: "FAILED"}}, "the deployment failed"},
	} {
		if got := (Service{Deployments: c.deps}).Failed(); got != c.want {
			t.Errorf("Failed() of %+v = %q, want %q", c.deps, got, c.want)
		}
	}
}

func TestAServiceSettlesWhileItHasTwoDeploymentsOrOneInProgress(t *testing.T) {
	for _, c := range []struct {
		deps []Deployment
		want string
	}{
		{nil, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "COMPLETED", Running: 3, Desired: 3}}, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "FAILED", Running: 0, Desired: 3}}, ""},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "IN_PROGRESS", Running: 2, Desired: 3}}, "deployment IN_PROGRESS: 2 of 3 tasks running"},
		{[]Deployment{{Status: "ACTIVE", RolloutState: "COMPLETED", Running: 3, Desired: 3}, {Status: "PRIMARY", RolloutState: "IN_PROGRESS", Running: 1, Desired: 3}},
			"2 deployments: PRIMARY IN_PROGRESS, 1 of 3 tasks running"},
		{[]Deployment{{Status: "PRIMARY", RolloutState: "COMPLETED", Running: 3, Desired: 3}, {Status: "ACTIVE", RolloutState: "COMPLETED", Running: 1, Desired: 0}},
			"2 deployments: PRIMARY COMPLETED, 3 of 3 tasks running"},
	} {
		if got := (Service{Deployments: c.deps}).Settling(); got != c.want {
			t.Errorf("Settling() of %+v = %q, want %q", c.deps, got, c.want)
		}
	}
}
