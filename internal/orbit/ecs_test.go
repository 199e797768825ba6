package orbit

// The ECS stack against moto. moto's CloudFormation makes the cluster
// (AWS::ECS::Cluster), the container instances' role, instance profile,
// security group, launch template and Auto Scaling Group, but not
// AWS::ECS::CapacityProvider nor AWS::ECS::ClusterCapacityProviderAssociations
// (it has no CloudFormation model for them, and skips them with a
// warning): so these tests read back what moto makes, and the capacity
// provider and the associations are checked in the templates
// (internal/compile's ECS golden files, linted by cfn-lint). moto's
// cluster made through CloudFormation also ignores ClusterSettings, and
// is left behind when its stack is deleted (it has no CloudFormation
// delete): the tests check that the stack is deleted.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	asgsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ecs"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/cost"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// ecsService is service(t) with an ECS client in every region.
func ecsService(t *testing.T) (*Service, func(region string) aws.Config) {
	svc, cfgFor := service(t)
	clients := svc.Clients
	svc.Clients = func(region string) (Clients, error) {
		c, err := clients(region)
		c.Clusters = ecs.New(cfgFor(region))
		c.Groups = autoscaling.New(cfgFor(region))
		return c, err
	}
	return svc, cfgFor
}

// describeCluster returns the orbit's cluster as ECS has it, or nil when
// ECS has none (or only an INACTIVE one).
func describeCluster(t *testing.T, cfg aws.Config, o *elevator.Orbit) *ecstypes.Cluster {
	t.Helper()
	out, err := ecssdk.NewFromConfig(cfg).DescribeClusters(context.Background(), &ecssdk.DescribeClustersInput{Clusters: []string{elevator.ECSClusterName(o.Name)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Clusters {
		if aws.ToString(c.Status) != "INACTIVE" {
			return &c
		}
	}
	return nil
}

// ecsOrbit has one NAT gateway: EC2 capacity needs a way out.
const ecsOrbit = "name: boxes\nregions:\n  eu-west-1: {}\nnetwork: {nat: single}\n"

// withECS is ecsOrbit with an ecs section.
func withECS(t *testing.T, section string) *elevator.Orbit {
	t.Helper()
	return parse(t, ecsOrbit+"ecs: "+section+"\n")
}

func TestUpMakesTheECSClusterWithItsEC2CapacityAndDownRemovesIt(t *testing.T) {
	svc, cfgFor := ecsService(t)
	cfg := cfgFor("eu-west-1")
	ctx := context.Background()
	o := withECS(t, "{ec2: {instance_type: c7i.large, min: 1, max: 3, target_capacity: 80}}")

	plans, err := svc.Plan(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || plans[1].Stack != o.ECSStackName() || !plans[1].Create || !hasChange(plans[1], "Add", "CapacityProvider") {
		t.Fatalf("plan before the first up does not show the ECS stack being made: %s", toJSON(t, plans))
	}
	res, err := svc.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plans) != 2 || res.Plans[1].Stack != o.ECSStackName() || res.Results[1].Status != "CREATE_COMPLETE" {
		t.Fatalf("up made %s, want the orbit's stack then the ECS stack", toJSON(t, res))
	}
	cluster := describeCluster(t, cfg, o)
	if cluster == nil || aws.ToString(cluster.Status) != "ACTIVE" {
		t.Fatalf("no active cluster %s after up: %+v", elevator.ECSClusterName(o.Name), cluster)
	}

	// The container instances: in the private tier, protected from
	// scale-in, from the ECS-optimized image, joining the cluster.
	// moto gives a stack made through a change set no outputs; Elevator
	// reads them from the template then, resolving Refs only (see
	// apply.Engine.Outputs): ClusterArn, a GetAtt, and CapacityProvider,
	// a resource moto does not make, are not there on moto.
	outputs, err := svc.engine(Clients{Stacks: cloudformation.New(cfg)}).Outputs(ctx, o.ECSStackName())
	if err != nil {
		t.Fatal(err)
	}
	if outputs[compile.ECSClusterOutput] != elevator.ECSClusterName(o.Name) {
		t.Errorf("cluster outputs %v", outputs)
	}
	groups, err := asgsdk.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &asgsdk.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{outputs[compile.ECSGroupOutput]}})
	if err != nil || len(groups.AutoScalingGroups) != 1 {
		t.Fatalf("the container instances' group %q: %v, %v", outputs[compile.ECSGroupOutput], groups, err)
	}
	g := groups.AutoScalingGroups[0]
	orbitOutputs, err := svc.engine(Clients{Stacks: cloudformation.New(cfg)}).Outputs(ctx, o.StackName())
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(g.MinSize) != 1 || aws.ToInt32(g.MaxSize) != 3 || !aws.ToBool(g.NewInstancesProtectedFromScaleIn) {
		t.Errorf("group sizes %d..%d, protected %v; want 1..3, protected", aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToBool(g.NewInstancesProtectedFromScaleIn))
	}
	if subnets := strings.Split(aws.ToString(g.VPCZoneIdentifier), ","); !sameSorted(subnets, strings.Split(orbitOutputs["PrivateSubnets"], ",")) {
		t.Errorf("group subnets %v, want the private tier's %s", subnets, orbitOutputs["PrivateSubnets"])
	}

	status, err := svc.Status(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	e := status[0].ECS
	if e == nil || e.ClusterStatus != "ACTIVE" || e.StackStatus != "CREATE_COMPLETE" || e.ContainerInstances == nil {
		t.Errorf("status shows the cluster as %s", toJSON(t, e))
	}

	// A second up changes nothing.
	res, err = svc.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plans) != 2 || !res.Plans[1].NoChanges {
		t.Errorf("a second up changed the ECS stack: %s", toJSON(t, res))
	}

	// moto cannot delete the VPC's route tables, so Down ends in a
	// DependencyViolation there (see docs/emulator.md); the ECS stack is
	// deleted before that. Any other error is a failure.
	results, err := svc.Down(ctx, o)
	if err != nil && !strings.Contains(err.Error(), "DependencyViolation") {
		t.Fatal(err)
	}
	if len(results) != 2 || results[1] == nil || results[1].Stack != o.ECSStackName() || results[1].Status != "DELETE_COMPLETE" {
		t.Errorf("down did %s, want the orbit stack and the ECS stack deleted", toJSON(t, results))
	}
	// moto's cluster has no CloudFormation delete: deleting the stack
	// leaves it ACTIVE on moto, where AWS deletes it with the stack. So
	// the stack's deletion is what is checked.
	if _, err := cloudformation.New(cfg).Describe(ctx, o.ECSStackName()); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the ECS stack is still there: %v", err)
	}
}

// runService puts a service in the orbit's cluster, as an ECS release
// would: on Fargate, or on the capacity providers given.
func runService(t *testing.T, cfg aws.Config, o *elevator.Orbit, name string, providers ...string) {
	t.Helper()
	ctx := context.Background()
	client := ecssdk.NewFromConfig(cfg)
	td, err := client.RegisterTaskDefinition(ctx, &ecssdk.RegisterTaskDefinitionInput{
		Family:                  aws.String(name),
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		Cpu:                     aws.String("256"),
		Memory:                  aws.String("512"),
		ContainerDefinitions:    []ecstypes.ContainerDefinition{{Name: aws.String("web"), Image: aws.String("public.ecr.aws/nginx/nginx")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := &ecssdk.CreateServiceInput{
		Cluster:        aws.String(elevator.ECSClusterName(o.Name)),
		ServiceName:    aws.String(name),
		TaskDefinition: td.TaskDefinition.TaskDefinitionArn,
		DesiredCount:   aws.Int32(1),
	}
	for _, p := range providers {
		in.CapacityProviderStrategy = append(in.CapacityProviderStrategy, ecstypes.CapacityProviderStrategyItem{CapacityProvider: aws.String(p), Weight: 1})
	}
	if _, err := client.CreateService(ctx, in); err != nil {
		t.Fatal(err)
	}
}

func TestRemovingTheECSSectionIsRefusedWhileAnAppsServicesRunThere(t *testing.T) {
	svc, cfgFor := ecsService(t)
	cfg := cfgFor("eu-west-1")
	ctx := context.Background()
	fargate := withECS(t, "{}")
	res, err := svc.Up(ctx, fargate)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plans) != 2 || res.Plans[1].Stack != fargate.ECSStackName() {
		t.Fatalf("up made %s", toJSON(t, res))
	}
	runService(t, cfg, fargate, "shop-web-r1")

	without := parse(t, ecsOrbit)
	for what, run := range map[string]func() error{
		"plan": func() error { _, err := svc.Plan(ctx, without); return err },
		"up":   func() error { _, err := svc.Up(ctx, without); return err },
		"down": func() error { _, err := svc.Down(ctx, without); return err },
	} {
		err := run()
		if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "eu-west-1: 1 service(s) (shop-web-r1)") {
			t.Errorf("%s with the service running: %v, want ECONFLICT naming it", what, err)
		}
	}
	if describeCluster(t, cfg, fargate) == nil {
		t.Fatal("the cluster was deleted although a service runs in it")
	}
	if _, err := cloudformation.New(cfg).Describe(ctx, fargate.ECSStackName()); err != nil {
		t.Errorf("the ECS stack: %v", err)
	}
	if _, err := cloudformation.New(cfg).Describe(ctx, fargate.StackName()); err != nil {
		t.Errorf("the orbit stack: %v", err)
	}

	// Once the app's service is gone, dropping the section deletes the
	// stack and the cluster.
	client := ecssdk.NewFromConfig(cfg)
	if _, err := client.DeleteService(ctx, &ecssdk.DeleteServiceInput{Cluster: aws.String(elevator.ECSClusterName(fargate.Name)), Service: aws.String("shop-web-r1"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	plans, err := svc.Plan(ctx, without)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || !hasChange(plans[1], "Remove", "Cluster") {
		t.Errorf("plan does not show the ECS stack going: %s", toJSON(t, plans))
	}
	res, err = svc.Up(ctx, without)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 || res.Results[1].Stack != fargate.ECSStackName() || res.Results[1].Status != "DELETE_COMPLETE" {
		t.Errorf("up did not delete the ECS stack: %s", toJSON(t, res))
	}
	if _, err := cloudformation.New(cfg).Describe(ctx, fargate.ECSStackName()); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the ECS stack is still there: %v", err) // moto leaves the cluster itself (see above)
	}
	status, err := svc.Status(ctx, without)
	if err != nil || status[0].ECS != nil {
		t.Errorf("status of an orbit without ECS shows %s, %v", toJSON(t, status), err)
	}
}

// strategies stands in for ECS's capacity provider strategies, which moto
// drops from CreateService (its DescribeServices answers none): it is the
// orbit's Clusters on moto, with the strategy given here for the named
// services, as ECS would answer.
type strategies struct {
	Clusters
	providers map[string][]string // service name -> capacity providers
}

func (s strategies) ClusterServices(ctx context.Context, cluster string) ([]ecs.Service, error) {
	services, err := s.Clusters.ClusterServices(ctx, cluster)
	for i := range services {
		if p, ok := s.providers[services[i].Name]; ok {
			services[i].CapacityProviders = p
		}
	}
	return services, err
}

func TestRemovingTheEC2CapacityIsRefusedWhileAServiceRunsOnIt(t *testing.T) {
	svc, cfgFor := ecsService(t)
	cfg := cfgFor("eu-west-1")
	ctx := context.Background()
	withEC2 := withECS(t, "{ec2: {instance_type: t4g.small, max: 2}}")
	onEC2 := map[string][]string{"shop-worker-r1": {elevator.ECSCapacityProviderName(withEC2.Name)}}
	clients := svc.Clients
	svc.Clients = func(region string) (Clients, error) {
		c, err := clients(region)
		c.Clusters = strategies{Clusters: c.Clusters, providers: onEC2}
		return c, err
	}
	if _, err := svc.Up(ctx, withEC2); err != nil {
		t.Fatal(err)
	}
	runService(t, cfg, withEC2, "shop-web-r1")
	runService(t, cfg, withEC2, "shop-worker-r1", elevator.ECSCapacityProviderName(withEC2.Name))

	fargate := withECS(t, "{}")
	for what, run := range map[string]func() error{
		"plan": func() error { _, err := svc.Plan(ctx, fargate); return err },
		"up":   func() error { _, err := svc.Up(ctx, fargate); return err },
	} {
		err := run()
		if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "capacity provider elevator-boxes-ec2, which services of apps run on in eu-west-1: 1 service(s) (shop-worker-r1)") {
			t.Errorf("%s with a service on EC2: %v, want ECONFLICT naming it (and not the Fargate one)", what, err)
		}
	}
	tmpl, err := cloudformation.New(cfg).Template(ctx, withEC2.ECSStackName())
	if err != nil || !strings.Contains(tmpl, "AutoScalingGroupContainerInstance") {
		t.Errorf("the ECS stack lost its EC2 capacity: %v", err)
	}

	// With the EC2 service gone, the Fargate one may stay and the plan
	// takes the EC2 capacity away. (moto fails to execute that change
	// set: it trips on the parameters the new template no longer
	// declares, and answers InvalidGroup.NotFound for the security group
	// it removes; the update itself is CloudFormation's to make.)
	if _, err := ecssdk.NewFromConfig(cfg).DeleteService(ctx, &ecssdk.DeleteServiceInput{Cluster: aws.String(elevator.ECSClusterName(withEC2.Name)), Service: aws.String("shop-worker-r1"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	plans, err := svc.Plan(ctx, fargate)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || !hasChange(plans[1], "Remove", "AutoScalingGroupContainerInstance") || !hasChange(plans[1], "Remove", "CapacityProvider") || hasChange(plans[1], "Remove", "Cluster") {
		t.Errorf("plan does not take the EC2 capacity, and only it, away: %s", toJSON(t, plans))
	}
}

func TestAContainerInstanceImageThatCannotBeFoundChangesNothing(t *testing.T) {
	svc, cfgFor := ecsService(t)
	ctx := context.Background()
	o := withECS(t, "{ec2: {instance_type: m7g.large, max: 2, ami: {ssm: /elevator/images/none}}}")
	_, err := svc.Up(ctx, o)
	var fe elevator.FieldErrors
	if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Path != "ecs.ec2.ami" || !strings.Contains(err.Error(), "orbit.yml:5:") || !strings.Contains(fe[0].Message, "/elevator/images/none") {
		t.Fatalf("got %v, want a field error at ecs.ec2.ami (orbit.yml:5)", err)
	}
	if _, err := cloudformation.New(cfgFor("eu-west-1")).Describe(ctx, o.StackName()); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the orbit stack was made before the image was checked: %v", err)
	}
}

func TestEC2CapacityWithoutATierForItChangesNothing(t *testing.T) {
	svc, cfgFor := ecsService(t)
	ctx := context.Background()
	o := parse(t, "name: edge\nregions:\n  eu-west-1: {}\nnetwork:\n  nat: none\n  tiers: [{name: edge, access: public}]\necs:\n  ec2: {instance_type: m7g.large, max: 2}\n")
	for what, run := range map[string]func() error{
		"plan": func() error { _, err := svc.Plan(ctx, o); return err },
		"up":   func() error { _, err := svc.Up(ctx, o); return err },
	} {
		err := run()
		var fe elevator.FieldErrors
		if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Path != "ecs.ec2" || !strings.Contains(err.Error(), "orbit.yml:8:8: ecs.ec2: EC2 capacity runs in the private tier") {
			t.Errorf("%s: %v, want one field error at ecs.ec2 (orbit.yml:8:8)", what, err)
		}
	}
	if _, err := cloudformation.New(cfgFor("eu-west-1")).Describe(ctx, o.StackName()); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the orbit stack was made before the ECS stack was checked: %v", err)
	}
}

func TestTheDefaultContainerInstanceImageComesFromSSM(t *testing.T) {
	svc, cfgFor := ecsService(t)
	ctx := context.Background()
	params := ssm.New(cfgFor("eu-west-1"))
	// Each instance type's image is its architecture's parameter's value,
	// read from moto here; the two must differ for the test to tell them
	// apart.
	want := map[string]string{}
	for typ, sel := range map[string]elevator.AMISelector{"m7g.large": manifest.DefaultECSARM64AMI, "c7i.large": manifest.DefaultECSAMI} {
		v, err := params.Parameter(ctx, sel.SSMParameter)
		if err != nil {
			t.Fatalf("%s: %v", sel.SSMParameter, err)
		}
		want[typ] = v
	}
	if want["m7g.large"] == want["c7i.large"] || !strings.HasPrefix(want["m7g.large"], "ami-") {
		t.Fatalf("moto's ECS-optimized image parameters are %v: the test cannot tell arm64 from x86_64", want)
	}
	for typ, ami := range want {
		o := withECS(t, "{ec2: {instance_type: "+typ+", max: 2}}")
		images, err := svc.ecsImages(ctx, o)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if got := images["eu-west-1"]; got != ami {
			t.Errorf("%s: image %q, want %q, its architecture's parameter's", typ, got, ami)
		}
	}
}

// TestTheECSStacksCostTheirContainerInstances: the plan's estimate counts
// the EC2 capacity at its minimum size (the desired count is ECS managed
// scaling's), before the orbit stack is up as after.
func TestTheECSStacksCostTheirContainerInstances(t *testing.T) {
	svc, _ := ecsService(t)
	o := withECS(t, "{ec2: {instance_type: m7g.large, min: 2, max: 5}}")
	stacks, err := svc.ECSStacks(context.Background(), o)
	if err != nil || len(stacks) != 1 {
		t.Fatalf("%d stacks, %v", len(stacks), err)
	}
	items, err := cost.Template(cost.Stack{Region: stacks[0].Region, Body: stacks[0].Body, Parameters: stacks[0].Parameters}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, it := range items {
		if it.Key == "ec2:m7g.large" {
			found = it.Count == 2
		}
	}
	if !found {
		t.Errorf("items %+v: want 2 m7g.large instances", items)
	}
	none, err := svc.ECSStacks(context.Background(), parse(t, ecsOrbit))
	if err != nil || len(none) != 0 {
		t.Errorf("an orbit without ecs: %d stacks, %v", len(none), err)
	}
}

func sameSorted(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
