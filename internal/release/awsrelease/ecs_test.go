package awsrelease

// ECS services released through the Cloud on moto, read back with the
// SDK. moto keeps ECS services, task definitions, load balancer settings
// and Application Auto Scaling targets, but it starts no task for a
// service, never registers one in a target group and never fails a
// deployment (moto/ecs/models.py). So the Cloud talks to moto through
// ecsproxy, a fault-injecting proxy in front of moto (an HTTP client the
// SDK sends through) that answers for tasks, target health and
// deployments (see its package comment).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aassdk "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatch"
	"github.com/elevatorhq/elevator/internal/emulator/ecsproxy"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
)

// ecsWorld is one region of a world with the orbit's ECS cluster, an app's
// web service (a security group and a target group of TargetType ip, and a
// second for tests) and a Cloud that reaches moto through an ecsproxy.Proxy.
type ecsWorld struct {
	*world
	region       string
	cluster      string
	sg, tg, test string
	proxy        *ecsproxy.Proxy
	cloud        *Cloud
}

func newECSWorld(t testing.TB) *ecsWorld {
	t.Helper()
	w := &ecsWorld{world: newWorld(t, "us-east-1"), region: "us-east-1", cluster: elevator.ECSClusterName(orbitName)}
	ctx := context.Background()
	cfg := w.cfg(w.region)
	// The orbit's cluster, as its ECS stack makes it.
	if _, err := ecssdk.NewFromConfig(cfg).CreateCluster(ctx, &ecssdk.CreateClusterInput{ClusterName: aws.String(w.cluster),
		CapacityProviders: []string{"FARGATE", "FARGATE_SPOT"}}); err != nil {
		t.Fatal(err)
	}
	vpc := w.outputs[w.region]["VpcId"]
	// Tagged for the app's web service, as its app stack makes them:
	// releases use only what is.
	tags := map[string]string{elevator.TagOrbit: orbitName, elevator.TagApp: "shop", elevator.TagService: "web"}
	sg, err := ec2sdk.NewFromConfig(cfg).CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{
		GroupName: aws.String("shop-rel-web"), Description: aws.String("web"), VpcId: aws.String(vpc),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: ec2Tags(tags)}}})
	if err != nil {
		t.Fatal(err)
	}
	w.sg = aws.ToString(sg.GroupId)
	elb := elbv2sdk.NewFromConfig(cfg)
	for i, p := range []*string{&w.tg, &w.test} {
		tg, err := elb.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{
			Name: aws.String(fmt.Sprintf("shop-web-%d", i)), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(8080),
			VpcId: aws.String(vpc), TargetType: elbv2types.TargetTypeEnumIp, HealthCheckPath: aws.String("/health"), Tags: elbTags(tags)})
		if err != nil {
			t.Fatal(err)
		}
		*p = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	}
	w.proxy = ecsproxy.New(emulatortest.Endpoint(), cfg.Credentials)
	via := cfg.Copy()
	via.HTTPClient = w.proxy
	w.cloud = NewCloud(via)
	return w
}

// spec is the web service's group of a release, as the engine builds it.
func (w *ecsWorld) spec(releaseID, short string, targetGroups ...string) release.GroupSpec {
	return release.GroupSpec{
		Name:             "shop-" + orbitName + "-web-" + short,
		Subnets:          w.privateSubnets(w.region)[:2],
		SecurityGroups:   []string{w.sg},
		TargetGroups:     targetGroups,
		Capacity:         release.Capacity{Min: 2, Max: 4, Desired: 2},
		HealthCheckGrace: 45 * time.Second,
		Tags: map[string]string{elevator.TagOrbit: orbitName, elevator.TagApp: "shop", elevator.TagService: "web",
			elevator.TagRelease: releaseID, elevator.TagManagedBy: "elevator"},
		ECS: &release.ECSSpec{
			Cluster: w.cluster, Container: "web", Image: "public.ecr.aws/nginx/nginx:" + short,
			CPU: 512, Memory: 1024, Ports: []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}},
			Command:  []string{"nginx", "-g", "daemon off;"},
			Env:      map[string]string{"ELEVATOR_RELEASE_ID": releaseID, "ELEVATOR_APP": "shop", "LOG_LEVEL": "info"},
			Secrets:  []elevator.ReleaseSecret{{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf:password::"}},
			Capacity: elevator.ECSFargate, TaskRole: "arn:aws:iam::000000000000:role/shop-web-task",
			ExecutionRole: "arn:aws:iam::000000000000:role/shop-web-exec", LogGroup: strings.TrimSuffix(elevator.AppPath(orbitName, "shop"), "/"),
		},
	}
}

func (w *ecsWorld) groups(t *testing.T) map[string]release.Group {
	t.Helper()
	gs, err := w.cloud.Groups(context.Background(), release.GroupFilter{App: "shop", Orbit: orbitName})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]release.Group{}
	for _, g := range gs {
		m[g.Name] = g
	}
	return m
}

func (w *ecsWorld) describe(t *testing.T, name string) ecstypes.Service {
	t.Helper()
	out, err := ecssdk.NewFromConfig(w.cfg(w.region)).DescribeServices(context.Background(), &ecssdk.DescribeServicesInput{
		Cluster: aws.String(w.cluster), Services: []string{name}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("service %s: %+v", name, out)
	}
	return out.Services[0]
}

func (w *ecsWorld) activeRevisions(t *testing.T, family string) []string {
	t.Helper()
	out, err := ecssdk.NewFromConfig(w.cfg(w.region)).ListTaskDefinitions(context.Background(), &ecssdk.ListTaskDefinitionsInput{FamilyPrefix: aws.String(family)})
	if err != nil {
		t.Fatal(err)
	}
	return out.TaskDefinitionArns
}

// wantScaling reads a service's scalable target back with the SDK: its
// bounds and whether its dynamic scaling in and out and scheduled scaling
// are all suspended (suspended) or none is.
func (w *ecsWorld) wantScaling(t *testing.T, service string, min, max int32, suspended bool) {
	t.Helper()
	out, err := aassdk.NewFromConfig(w.cfg(w.region)).DescribeScalableTargets(context.Background(), &aassdk.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{"service/" + w.cluster + "/" + service}})
	if err != nil || len(out.ScalableTargets) != 1 {
		t.Fatalf("scalable target of %s: %+v, %v", service, out, err)
	}
	tg := out.ScalableTargets[0]
	st := tg.SuspendedState
	if aws.ToInt32(tg.MinCapacity) != min || aws.ToInt32(tg.MaxCapacity) != max || st == nil ||
		aws.ToBool(st.DynamicScalingInSuspended) != suspended || aws.ToBool(st.DynamicScalingOutSuspended) != suspended ||
		aws.ToBool(st.ScheduledScalingSuspended) != suspended {
		t.Errorf("scalable target of %s: min %d, max %d, suspended state %+v; want %d, %d, all %v",
			service, aws.ToInt32(tg.MinCapacity), aws.ToInt32(tg.MaxCapacity), st, min, max, suspended)
	}
}

func healthyTargets(t *testing.T, c *Cloud, tg string) []string {
	t.Helper()
	targets, err := c.Targets(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range targets {
		if x.State == release.TargetHealthy {
			ids = append(ids, x.InstanceID)
		}
	}
	sort.Strings(ids)
	return ids
}

func targetIDs(g release.Group) []string {
	var ids []string
	for _, in := range g.Instances {
		if in.Lifecycle == release.LifecycleInService && in.Healthy {
			ids = append(ids, in.TargetID())
		}
	}
	sort.Strings(ids)
	return ids
}

func TestAnECSReleaseMakesItsServiceAndTheNextReplacesAndDeletesIt(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	c := w.cloud

	// Release 1: its service, made twice (a retried step) with one
	// revision of its task definition.
	first := w.spec("20261130-071500000-aaaa", "aaaa", w.tg)
	old := release.GroupRef{Name: first.Name, Cluster: w.cluster}
	for range 2 {
		if err := c.CreateGroup(ctx, first, "token-aaaa"); err != nil {
			t.Fatal(err)
		}
	}
	if revs := w.activeRevisions(t, first.Name); len(revs) != 1 {
		t.Errorf("task definition revisions %v, want one", revs)
	}
	svc := w.describe(t, first.Name)
	if len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != w.tg ||
		aws.ToString(svc.LoadBalancers[0].ContainerName) != "web" || aws.ToInt32(svc.LoadBalancers[0].ContainerPort) != 8080 {
		t.Errorf("load balancers %+v", svc.LoadBalancers)
	}
	if svc.DesiredCount != 2 || svc.PropagateTags != ecstypes.PropagateTagsService || svc.NetworkConfiguration == nil ||
		!slices.Equal(svc.NetworkConfiguration.AwsvpcConfiguration.Subnets, first.Subnets) {
		t.Errorf("service %+v", svc)
	}
	td, err := ecssdk.NewFromConfig(w.cfg(w.region)).DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		t.Fatal(err)
	}
	cd := td.TaskDefinition.ContainerDefinitions[0]
	var env []string
	for _, kv := range cd.Environment {
		env = append(env, aws.ToString(kv.Name)+"="+aws.ToString(kv.Value))
	}
	if aws.ToString(cd.Name) != "web" || aws.ToString(cd.Image) != "public.ecr.aws/nginx/nginx:aaaa" || td.TaskDefinition.NetworkMode != ecstypes.NetworkModeAwsvpc ||
		!slices.Equal(env, []string{"ELEVATOR_APP=shop", "ELEVATOR_RELEASE_ID=20261130-071500000-aaaa", "LOG_LEVEL=info"}) ||
		len(cd.Secrets) != 1 || aws.ToString(cd.Secrets[0].ValueFrom) != first.ECS.Secrets[0].ValueFrom ||
		cd.LogConfiguration == nil || cd.LogConfiguration.Options["awslogs-group"] != first.ECS.LogGroup || cd.LogConfiguration.Options["awslogs-stream-prefix"] != "web" {
		t.Errorf("container %+v", cd)
	}

	// Its tasks are instances, registered in its target group by address.
	g := w.groups(t)[first.Name]
	if g.Cluster != w.cluster || g.Capacity.Desired != 2 || !slices.Equal(g.TargetGroups, []string{w.tg}) || g.ReleaseID() != first.Tags[elevator.TagRelease] {
		t.Fatalf("group %+v", g)
	}
	if ids := targetIDs(g); len(ids) != 2 || !slices.Equal(ids, healthyTargets(t, c, w.tg)) {
		t.Errorf("tasks %v, healthy targets %v", ids, healthyTargets(t, c, w.tg))
	}

	// Scaling: target, policies (with the step policy's alarm on the
	// service's CPU) and a schedule.
	sc := release.Scaling{Min: 2, Max: 6,
		Policies: []elevator.ReleasePolicy{{Type: elevator.PolicyCPUTarget, Target: 60}, {Type: elevator.PolicyCPUScaleUp, Threshold: 80, Adjustment: 2}},
		Schedule: []elevator.ReleaseSchedule{{Desired: 4, Cron: "0 8 * * 1-5"}},
	}
	if err := c.PutScaling(ctx, old, sc); err != nil {
		t.Fatal(err)
	}
	asc := aassdk.NewFromConfig(w.cfg(w.region))
	tgts, err := asc.DescribeScalableTargets(ctx, &aassdk.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(tgts.ScalableTargets) != 1 || aws.ToString(tgts.ScalableTargets[0].ResourceId) != "service/"+w.cluster+"/"+first.Name ||
		aws.ToInt32(tgts.ScalableTargets[0].MinCapacity) != 2 || aws.ToInt32(tgts.ScalableTargets[0].MaxCapacity) != 6 {
		t.Errorf("scalable targets %+v, %v", tgts, err)
	}
	alarms, err := cloudwatch.New(w.cfg(w.region)).Alarms(ctx, first.Name)
	if err != nil || len(alarms) != 1 || alarms[0].Namespace != "AWS/ECS" || alarms[0].Dimensions["ServiceName"] != first.Name ||
		alarms[0].Dimensions["ClusterName"] != w.cluster || len(alarms[0].Actions) != 1 {
		t.Errorf("alarms %+v, %v", alarms, err)
	}
	if g := w.groups(t)[first.Name]; g.Capacity.Min != 2 || g.Capacity.Max != 6 {
		t.Errorf("capacity after scaling %+v", g.Capacity)
	}

	// Release 2: a new service in the test target group first, then in
	// the app's; it leaves the test target group.
	second := w.spec("20261130-072000000-bbbb", "bbbb", w.tg, w.test)
	next := release.GroupRef{Name: second.Name, Cluster: w.cluster}
	second.Absent = true
	if err := c.CreateGroup(ctx, second, "token-bbbb"); err != nil {
		t.Fatal(err)
	}
	if err := c.DetachTargetGroups(ctx, next, []string{w.test}); err != nil {
		t.Fatal(err)
	}
	if g := w.groups(t)[second.Name]; !slices.Equal(g.TargetGroups, []string{w.tg}) || g.Capacity.Desired != 2 {
		t.Errorf("new service after leaving the test target group %+v", g)
	}

	// Cut-over: the old service leaves all its target groups, scaled to
	// 0 with its count recorded; a failure's cleanup would attach it
	// again with that count (shown here), the success deletes it.
	if err := c.DetachTargetGroups(ctx, old, []string{w.tg}); err != nil {
		t.Fatal(err)
	}
	if svc := w.describe(t, first.Name); svc.DesiredCount != 0 || tag(svc.Tags, elevator.TagDetachedDesired) != "2" {
		t.Errorf("detached old service: desired %d, tags %v", svc.DesiredCount, svc.Tags)
	}
	// Its scaling is suspended, its bounds kept: its policies and
	// schedule cannot bring tasks back.
	w.wantScaling(t, first.Name, 2, 6, true)
	if g := w.groups(t)[first.Name]; len(g.Instances) != 0 || len(g.TargetGroups) != 0 {
		t.Errorf("old service still has tasks %+v or target groups %v", g.Instances, g.TargetGroups)
	}
	if err := c.DetachTargetGroups(ctx, old, []string{w.tg}); err != nil { // again: harmless
		t.Fatal(err)
	}
	if svc := w.describe(t, first.Name); svc.DesiredCount != 0 || tag(svc.Tags, elevator.TagDetachedDesired) != "2" {
		t.Errorf("detached twice: desired %d, tags %v", svc.DesiredCount, svc.Tags)
	}
	if err := c.AttachTargetGroups(ctx, old, []string{w.tg}); err != nil {
		t.Fatal(err)
	}
	if svc := w.describe(t, first.Name); svc.DesiredCount != 2 || tag(svc.Tags, elevator.TagDetachedDesired) != "" {
		t.Errorf("attached again: desired %d, tags %v", svc.DesiredCount, svc.Tags)
	}
	w.wantScaling(t, first.Name, 2, 6, false)
	if g := w.groups(t)[first.Name]; !slices.Equal(g.TargetGroups, []string{w.tg}) || len(targetIDs(g)) != 2 {
		t.Errorf("attached again: group %+v", g)
	}
	if err := c.DetachTargetGroups(ctx, old, []string{w.tg}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.DeleteGroup(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	if svc := w.describe(t, first.Name); aws.ToString(svc.Status) != "INACTIVE" {
		t.Errorf("old service %s, want INACTIVE", aws.ToString(svc.Status))
	}
	if revs := w.activeRevisions(t, first.Name); len(revs) != 0 {
		t.Errorf("old task definition still ACTIVE: %v", revs)
	}
	if tgts, _ := asc.DescribeScalableTargets(ctx, &aassdk.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs}); len(tgts.ScalableTargets) != 0 {
		t.Errorf("scalable targets left %+v", tgts.ScalableTargets)
	}
	if alarms, err := cloudwatch.New(w.cfg(w.region)).Alarms(ctx, first.Name); err != nil || len(alarms) != 0 {
		t.Errorf("alarms left %+v, %v", alarms, err)
	}
	gs := w.groups(t)
	if len(gs) != 1 || !slices.Equal(targetIDs(gs[second.Name]), healthyTargets(t, c, w.tg)) {
		t.Errorf("groups after the cut-over %+v; healthy %v", gs, healthyTargets(t, c, w.tg))
	}
	if err := c.SetCapacity(ctx, old, release.Capacity{Desired: 1}); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("sizing a deleted service: %v", err)
	}
}

func TestAnECSServiceWhoseDeploymentFailedSaysWhy(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	spec := w.spec("20261130-071500000-cccc", "cccc", w.tg)
	if err := w.cloud.CreateGroup(ctx, spec, "token-cccc"); err != nil {
		t.Fatal(err)
	}
	if g := w.groups(t)[spec.Name]; g.Failed != "" {
		t.Fatalf("failed before the proxy says so: %q", g.Failed)
	}
	w.proxy.Fail(spec.Name, "ECS deployment circuit breaker: tasks failed to start.")
	if g := w.groups(t)[spec.Name]; g.Failed != "ECS deployment circuit breaker: tasks failed to start." {
		t.Errorf("Failed %q", g.Failed)
	}
	// An orbit without a cluster in the region: refused, not retried.
	nowhere := w.spec("20261130-071500000-hhhh", "hhhh", w.tg)
	nowhere.ECS.Cluster = elevator.ECSClusterName("elsewhere")
	if err := w.cloud.CreateGroup(ctx, nowhere, "token-hhhh"); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "ecs:") {
		t.Errorf("creating in a missing cluster: %v", err)
	}
	// A service of that name from another release is not taken for this
	// release's.
	other := w.spec("20261130-071600000-dddd", "cccc", w.tg)
	if err := w.cloud.CreateGroup(ctx, other, "token-dddd"); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("creating over another release's service: %v", err)
	}
}

func TestTaskDefinitionsLeftByAReleaseAreRemainsAndDeleted(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	spec := w.spec("20261130-071500000-eeee", "eeee")
	if _, err := w.cloud.taskDefinition(ctx, spec); err != nil { // a release that stopped before its service
		t.Fatal(err)
	}
	f := release.GroupFilter{App: "shop", Orbit: orbitName}
	rs, err := w.cloud.Remains(ctx, f)
	if err != nil || len(rs) != 1 || rs[0].Kind != release.RemainTaskDefinition || rs[0].Name != spec.Name+":1" || rs[0].ReleaseID != spec.Tags[elevator.TagRelease] {
		t.Fatalf("remains %+v, %v", rs, err)
	}
	if rs, _ := w.cloud.Remains(ctx, release.GroupFilter{App: "shop", Orbit: orbitName, ReleaseID: "20261130-071500000-ffff"}); len(rs) != 0 {
		t.Errorf("remains of another release %+v", rs)
	}
	if err := w.cloud.DeleteRemain(ctx, rs[0]); err != nil {
		t.Fatal(err)
	}
	if rs, _ := w.cloud.Remains(ctx, f); len(rs) != 0 {
		t.Errorf("remains after delete %+v", rs)
	}
	if err := w.cloud.DeleteRemain(ctx, rs[0]); err != nil {
		t.Errorf("deleting it again: %v", err)
	}
}

func tag(tags []ecstypes.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// The engine's release of an ECS service, end to end on moto (through
// ecsProxy): the first release makes the service in the app's target
// group, the second replaces it, deleting the first service and its task
// definition.
func TestTheEngineReleasesAnECSServiceAndTheNextReplacesIt(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	c := w.cfg(w.region)
	c.HTTPClient = w.proxy
	e := w.engine(w.backend(c), "ecs")
	first := w.release("1")
	if rec := w.run(t, e, first); rec.State != elevator.StateSuccess {
		t.Fatalf("first release: %s (%s)", rec.State, rec.Error)
	}
	name := release.GroupName(first, "web")
	svc := w.describe(t, name)
	if aws.ToString(svc.Status) != "ACTIVE" || len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != w.tg ||
		aws.ToInt32(svc.LoadBalancers[0].ContainerPort) != 8080 || tag(svc.Tags, elevator.TagRelease) != first.ID {
		t.Errorf("first service %+v", svc)
	}
	td, err := ecssdk.NewFromConfig(w.cfg(w.region)).DescribeTaskDefinition(ctx, &ecssdk.DescribeTaskDefinitionInput{TaskDefinition: svc.TaskDefinition})
	if err != nil {
		t.Fatal(err)
	}
	cd := td.TaskDefinition.ContainerDefinitions[0]
	env := map[string]string{}
	for _, kv := range cd.Environment {
		env[aws.ToString(kv.Name)] = aws.ToString(kv.Value)
	}
	if aws.ToString(cd.Image) != "public.ecr.aws/nginx/nginx:1" || env["ELEVATOR_RELEASE_ID"] != first.ID || env["LOG_LEVEL"] != "info" ||
		cd.LogConfiguration == nil || cd.LogConfiguration.Options["awslogs-group"] != elevator.AppPath(orbitName, "shop")+"web" {
		t.Errorf("container %+v, environment %v", cd, env)
	}

	// The second service's deployment is not steady for its first three
	// looks (the proxy says so): the engine waits for it, and cuts over
	// (scales the first service to 0) only once it is.
	second := w.release("2")
	next := release.GroupName(second, "web")
	w.proxy.Settle(next, 3, ecsproxy.Deployment{Status: "PRIMARY", Rollout: "IN_PROGRESS", Running: 0, Desired: 1})
	if rec := w.run(t, e, second); rec.State != elevator.StateSuccess {
		t.Fatalf("second release: %s (%s)", rec.State, rec.Error)
	}
	if answered, left := w.proxy.Settled(next); answered != 3 || left != 0 {
		t.Errorf("settling answers given %d, left %d; want 3 and 0", answered, left)
	}
	log := w.proxy.Log()
	cut := slices.Index(log, "update "+name+" desired=0")
	if cut < 0 || slices.Contains(log[cut:], "settling "+next) {
		t.Errorf("cut over while the new service was settling, or never: %q", log)
	}
	if svc := w.describe(t, name); aws.ToString(svc.Status) != "INACTIVE" {
		t.Errorf("first service %s after the second release, want INACTIVE", aws.ToString(svc.Status))
	}
	if revs := w.activeRevisions(t, name); len(revs) != 0 {
		t.Errorf("first task definition still ACTIVE: %v", revs)
	}
	svc = w.describe(t, next)
	if aws.ToString(svc.Status) != "ACTIVE" || len(svc.LoadBalancers) != 1 || aws.ToString(svc.LoadBalancers[0].TargetGroupArn) != w.tg {
		t.Errorf("second service %+v", svc)
	}
}

func TestAServicesTasksAreInstancesByTheirLifecycleWithStoppedOnesTerminated(t *testing.T) {
	w := newECSWorld(t)
	spec := w.spec("20261130-071500000-gggg", "gggg", w.tg)
	if err := w.cloud.CreateGroup(context.Background(), spec, "token-gggg"); err != nil {
		t.Fatal(err)
	}
	statuses := []string{"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "RUNNING/UNHEALTHY", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED", "STOPPED"}
	w.proxy.SetTasks(spec.Name, statuses...)
	g := w.groups(t)[spec.Name]
	var got []string
	for _, in := range g.Instances {
		got = append(got, fmt.Sprintf("%s:%v", in.Lifecycle, in.Healthy))
	}
	want := []string{"Pending:true", "Pending:true", "Pending:true", "InService:true", "InService:false",
		"Terminating:true", "Terminating:true", "Terminating:true", "Terminated:true", "Terminated:true"}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("instances %v, want %v", got, want)
	}
	for _, in := range g.Instances {
		if in.Target == "" || in.TargetID() != in.Target || in.ID == in.Target {
			t.Errorf("task %+v: want its address as its target", in)
		}
	}
}

func TestAnECSServiceSettlesWhileItsDeploymentIsNotSteady(t *testing.T) {
	w := newECSWorld(t)
	spec := w.spec("20261130-071500000-iiii", "iiii", w.tg)
	if err := w.cloud.CreateGroup(context.Background(), spec, "token-iiii"); err != nil {
		t.Fatal(err)
	}
	if g := w.groups(t)[spec.Name]; g.Settling != "" || g.Failed != "" {
		t.Fatalf("a steady service: settling %q, failed %q", g.Settling, g.Failed)
	}
	w.proxy.Settle(spec.Name, 1,
		ecsproxy.Deployment{Status: "PRIMARY", Rollout: "IN_PROGRESS", Running: 1, Desired: 3},
		ecsproxy.Deployment{Status: "ACTIVE", Rollout: "COMPLETED", Running: 2, Desired: 2})
	if g := w.groups(t)[spec.Name]; g.Settling != "2 deployments: PRIMARY IN_PROGRESS, 1 of 3 tasks running" {
		t.Errorf("two deployments: settling %q", g.Settling)
	}
	w.proxy.Settle(spec.Name, 1, ecsproxy.Deployment{Status: "PRIMARY", Rollout: "IN_PROGRESS", Running: 2, Desired: 3})
	if g := w.groups(t)[spec.Name]; g.Settling != "deployment IN_PROGRESS: 2 of 3 tasks running" {
		t.Errorf("one deployment in progress: settling %q", g.Settling)
	}
	if g := w.groups(t)[spec.Name]; g.Settling != "" {
		t.Errorf("steady again: settling %q", g.Settling)
	}
	// A failed primary deployment fails the service whether or not
	// another deployment is left.
	w.proxy.Fail(spec.Name, "ECS deployment circuit breaker: tasks failed to start.")
	w.proxy.Settle(spec.Name, 1,
		ecsproxy.Deployment{Status: "ACTIVE", Rollout: "COMPLETED", Running: 2, Desired: 2},
		ecsproxy.Deployment{Status: "PRIMARY", Rollout: "IN_PROGRESS", Running: 0, Desired: 2})
	if g := w.groups(t)[spec.Name]; g.Failed != "ECS deployment circuit breaker: tasks failed to start." ||
		g.Settling != "2 deployments: PRIMARY FAILED, 0 of 2 tasks running" {
		t.Errorf("failed: %q, settling %q", g.Failed, g.Settling)
	}
}

func TestAnECSServiceWithoutAScalableTargetIsDetachedToZeroAndAttachedBack(t *testing.T) {
	w := newECSWorld(t)
	ctx := context.Background()
	spec := w.spec("20261130-071500000-jjjj", "jjjj", w.tg)
	ref := spec.Ref()
	if err := w.cloud.CreateGroup(ctx, spec, "token-jjjj"); err != nil {
		t.Fatal(err)
	}
	if err := w.cloud.DetachTargetGroups(ctx, ref, []string{w.tg}); err != nil {
		t.Fatal(err)
	}
	if svc := w.describe(t, spec.Name); svc.DesiredCount != 0 || tag(svc.Tags, elevator.TagDetachedDesired) != "2" {
		t.Errorf("detached: desired %d, tags %v", svc.DesiredCount, svc.Tags)
	}
	if g := w.groups(t)[spec.Name]; len(g.TargetGroups) != 0 {
		t.Errorf("detached: target groups %v", g.TargetGroups)
	}
	if err := w.cloud.AttachTargetGroups(ctx, ref, []string{w.tg}); err != nil {
		t.Fatal(err)
	}
	if svc := w.describe(t, spec.Name); svc.DesiredCount != 2 || tag(svc.Tags, elevator.TagDetachedDesired) != "" {
		t.Errorf("attached: desired %d, tags %v", svc.DesiredCount, svc.Tags)
	}
	out, err := aassdk.NewFromConfig(w.cfg(w.region)).DescribeScalableTargets(ctx, &aassdk.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(out.ScalableTargets) != 0 {
		t.Errorf("a scalable target was made: %+v, %v", out, err)
	}
}
