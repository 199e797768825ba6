package awsrelease

// The world of the end-to-end tests: a real orbit brought up on moto by
// internal/orbit's Service, in an account of its own, and the resources
// an app's services use (tagged target groups behind a load balancer,
// security groups, instance profiles on their paths, a tagged image),
// made directly with the SDK as `app up` would.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	autoscalingsdk "github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/progress"
	"github.com/elevatorhq/elevator/internal/release"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const (
	orbitName = "rel"
	testPoll  = 50 * time.Millisecond // the engine's poll interval on the emulator
	testLease = 5 * time.Second
)

// world is an orbit in moto, in an account of its own.
type world struct {
	t       testing.TB
	regions []string // the home region first
	account aws.Config
	outputs map[string]map[string]string // region -> the orbit stack's outputs
	images  map[string]string            // region -> the image releases use
}

// cfg is the account's config in region, straight to moto.
func (w *world) cfg(region string) aws.Config {
	c := w.account.Copy()
	c.Region = region
	return c
}

func (w *world) accountID() string { return emulatortest.AccountID(w.account) }

// newWorld brings up orbit "rel" in the regions (the first is home).
func newWorld(t testing.TB, regions ...string) *world {
	t.Helper()
	w := &world{t: t, regions: regions, account: emulatortest.Config(t, regions[0]), images: map[string]string{}}
	svc := &orbit.Service{
		Clients: func(region string) (orbit.Clients, error) {
			cfg := w.cfg(region)
			return orbit.Clients{Stacks: cloudformation.New(cfg), Network: ec2.New(cfg), Parameters: ssm.New(cfg)}, nil
		},
		Zones:    route53.New(w.account),
		Progress: progress.Discard(),
		Poller:   apply.Poller{Clock: elevator.SystemClock{}},
	}
	var src strings.Builder
	fmt.Fprintf(&src, "name: %s\nregions:\n", orbitName)
	for _, r := range regions {
		fmt.Fprintf(&src, "  %s: {}\n", r)
	}
	src.WriteString("network: {nat: none}\n")
	o, err := manifest.ParseOrbit("orbit.yml", []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Up(ctx, o); err != nil {
		t.Fatalf("orbit up: %v", err)
	}
	if w.outputs, err = svc.Outputs(ctx, o); err != nil {
		t.Fatalf("orbit outputs: %v", err)
	}
	for _, r := range regions {
		out, err := ec2sdk.NewFromConfig(w.cfg(r)).DescribeImages(ctx, &ec2sdk.DescribeImagesInput{
			Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}}})
		if err != nil || len(out.Images) == 0 {
			t.Fatalf("images in %s: %v", r, err)
		}
		w.images[r] = aws.ToString(out.Images[0].ImageId)
	}
	return w
}

func (w *world) privateSubnets(region string) []string {
	return strings.Split(w.outputs[region]["PrivateSubnets"], ",")
}

// service is what one service of a test app uses in one region.
type service struct {
	Name        string
	TargetGroup string // "" for a service without a load balancer
	SG, Profile string
}

// app is a test app: its services' resources per region.
type app struct {
	name     string
	services []string
	lb       map[string]bool                // services behind a load balancer
	res      map[string]map[string]*service // region -> service -> resources
}

// newApp makes the resources of an app's services in every region: a
// security group each, an instance profile on /elevator/<orbit>/<app>/<service>/,
// and for the services in lb a tagged target group behind a listener of
// an internet-facing load balancer; and tags the region's image for the
// app. Services not in lb have no load balancer.
func (w *world) newApp(name string, services []string, lb ...string) *app {
	w.t.Helper()
	a := &app{name: name, services: services, lb: map[string]bool{}, res: map[string]map[string]*service{}}
	for _, s := range lb {
		a.lb[s] = true
	}
	ctx := context.Background()
	iamc := iamsdk.NewFromConfig(w.cfg(w.regions[0]))
	for _, s := range services {
		_, err := iamc.CreateInstanceProfile(ctx, &iamsdk.CreateInstanceProfileInput{
			InstanceProfileName: aws.String(name + "-" + orbitName + "-" + s), Path: aws.String(elevator.IAMPath(orbitName, name, s))})
		if err != nil {
			w.t.Fatalf("instance profile: %v", err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make([]error, len(w.regions))
	for i, r := range w.regions {
		a.res[r] = map[string]*service{}
		wg.Go(func() {
			res, err := w.appRegion(ctx, a, r)
			mu.Lock()
			defer mu.Unlock()
			a.res[r], errs[i] = res, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			w.t.Fatal(err)
		}
	}
	return a
}

func (w *world) appRegion(ctx context.Context, a *app, region string) (map[string]*service, error) {
	cfg := w.cfg(region)
	ec2c, elb := ec2sdk.NewFromConfig(cfg), elbv2sdk.NewFromConfig(cfg)
	vpc := w.outputs[region]["VpcId"]
	tags := func(s string) map[string]string {
		return map[string]string{elevator.TagOrbit: orbitName, elevator.TagApp: a.name, elevator.TagService: s, "Name": a.name + "-" + s}
	}
	// The image: add the app to its elevator:app list.
	img, err := ec2c.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{ImageIds: []string{w.images[region]}})
	if err != nil {
		return nil, err
	}
	apps := a.name
	for _, t := range img.Images[0].Tags {
		if aws.ToString(t.Key) == elevator.TagApp {
			apps = aws.ToString(t.Value) + "," + a.name
		}
	}
	_, err = ec2c.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{w.images[region]}, Tags: []ec2types.Tag{
		{Key: aws.String(elevator.TagApp), Value: aws.String(apps)}, {Key: aws.String(elevator.TagOrbit), Value: aws.String(orbitName)}}})
	if err != nil {
		return nil, err
	}
	var lbARN string
	if len(a.lb) > 0 {
		out, err := elb.CreateLoadBalancer(ctx, &elbv2sdk.CreateLoadBalancerInput{
			Name:           aws.String(a.name + "-" + orbitName),
			Subnets:        strings.Split(w.outputs[region]["PublicSubnets"], ","),
			SecurityGroups: []string{w.outputs[region]["PublicLoadBalancerSecurityGroup"]},
			Scheme:         elbv2types.LoadBalancerSchemeEnumInternetFacing,
			Type:           elbv2types.LoadBalancerTypeEnumApplication,
		})
		if err != nil {
			return nil, fmt.Errorf("load balancer: %w", err)
		}
		lbARN = aws.ToString(out.LoadBalancers[0].LoadBalancerArn)
	}
	res := map[string]*service{}
	for i, s := range a.services {
		sv := &service{Name: s, Profile: a.name + "-" + orbitName + "-" + s}
		sg, err := ec2c.CreateSecurityGroup(ctx, &ec2sdk.CreateSecurityGroupInput{
			GroupName: aws.String(a.name + "-" + orbitName + "-" + s), Description: aws.String("service " + s), VpcId: aws.String(vpc),
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: ec2Tags(tags(s))}}})
		if err != nil {
			return nil, fmt.Errorf("security group: %w", err)
		}
		sv.SG = aws.ToString(sg.GroupId)
		if a.lb[s] {
			tg, err := elb.CreateTargetGroup(ctx, &elbv2sdk.CreateTargetGroupInput{
				Name: aws.String(fmt.Sprintf("%s-%s-%d", a.name, s, i)), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(8080),
				VpcId: aws.String(vpc), TargetType: elbv2types.TargetTypeEnumInstance, HealthCheckPath: aws.String("/health"),
				Tags: elbTags(tags(s))})
			if err != nil {
				return nil, fmt.Errorf("target group: %w", err)
			}
			sv.TargetGroup = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
			_, err = elb.CreateListener(ctx, &elbv2sdk.CreateListenerInput{
				LoadBalancerArn: aws.String(lbARN), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(int32(8000 + i)),
				DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(sv.TargetGroup)}}})
			if err != nil {
				return nil, fmt.Errorf("listener: %w", err)
			}
		}
		res[s] = sv
	}
	return res, nil
}

func ec2Tags(m map[string]string) []ec2types.Tag {
	var out []ec2types.Tag
	for k, v := range m {
		out = append(out, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

func elbTags(m map[string]string) []elbv2types.Tag {
	var out []elbv2types.Tag
	for k, v := range m {
		out = append(out, elbv2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out
}

// release is a release of every service of the app in every region of
// the world, created now; change adjusts it.
func (w *world) release(a *app, version string, change ...func(*elevator.Release)) *elevator.Release {
	w.t.Helper()
	id, err := elevator.NewReleaseID(time.Now(), nil)
	if err != nil {
		w.t.Fatal(err)
	}
	rel := &elevator.Release{
		ID: id, CreatedAt: time.Now().UTC().Truncate(time.Second), CreatedBy: "arn:aws:iam::" + w.accountID() + ":user/alice",
		App: a.name, Orbit: orbitName, Version: version, Regions: slices.Clone(w.regions), TimeoutSeconds: 60,
	}
	for _, s := range a.services {
		svc := elevator.ReleaseService{
			Name: s, InstanceType: "t3.micro",
			UserData: "#!/bin/sh\necho {{APP}} {{SERVICE}} {{VERSION}} {{RELEASE_ID}} {{REGION}}\n",
			Capacity: elevator.ReleaseCapacity{Min: 1, Max: 4},
		}
		for _, r := range w.regions {
			sv := a.res[r][s]
			pl := elevator.ReleasePlacement{Region: r, Image: w.images[r], Subnets: w.privateSubnets(r)[:2],
				SecurityGroups: []string{sv.SG}, InstanceProfile: sv.Profile}
			if sv.TargetGroup != "" {
				pl.TargetGroups = []string{sv.TargetGroup}
			}
			svc.Placements = append(svc.Placements, pl)
		}
		rel.Services = append(rel.Services, svc)
	}
	for _, c := range change {
		c(rel)
	}
	return rel
}

// backend returns the engine's backend on configs (the world's own when
// none is given).
func (w *world) backend(cfgs ...aws.Config) *Backend {
	w.t.Helper()
	if len(cfgs) == 0 {
		for _, r := range w.regions {
			cfgs = append(cfgs, w.cfg(r))
		}
	}
	// ECS: the ECS worlds have a cluster; in the others its lookups find none.
	b, err := New(Config{Orbit: orbitName, AWS: cfgs, Bucket: w.outputs[w.regions[0]]["StateBucket"], ECS: true})
	if err != nil {
		w.t.Fatal(err)
	}
	if want := elevator.StateBucketName(w.accountID(), w.regions[0], orbitName); b.Store.bucket != want {
		w.t.Fatalf("the orbit's StateBucket output is %s, BucketName says %s", b.Store.bucket, want)
	}
	return b
}

// engine returns an engine on b with the tests' poll interval and lease.
func (w *world) engine(b *Backend, owner string, change ...func(*release.Config)) *release.Engine {
	w.t.Helper()
	c := b.EngineConfig(owner)
	c.Poll, c.Lease = testPoll, testLease
	for _, ch := range change {
		ch(&c)
	}
	e, err := release.New(c)
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

// run submits and runs rel to its end.
func (w *world) run(t testing.TB, e *release.Engine, rel *elevator.Release) *elevator.ReleaseRecord {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Submit(ctx, rel); err != nil {
		t.Fatalf("submit: %v", err)
	}
	sum, err := rel.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.Run(ctx, rel.ID, sum)
	if err != nil {
		t.Fatalf("run: %v (record %+v)", err, rec)
	}
	return rec
}

// groupState is what the SDK says of one of the app's groups.
type groupState struct {
	Release      string
	Service      string
	TargetGroups []string
	InService    []string // instances InService and Healthy
	Desired      int
}

// groups reads the app's groups in region with the SDK, by name.
func (w *world) groups(a *app, region string) map[string]groupState {
	w.t.Helper()
	out, err := autoscalingsdk.NewFromConfig(w.cfg(region)).DescribeAutoScalingGroups(context.Background(), &autoscalingsdk.DescribeAutoScalingGroupsInput{
		Filters: []autoscalingtypes.Filter{{Name: aws.String("tag:" + elevator.TagApp), Values: []string{a.name}}}})
	if err != nil {
		w.t.Fatal(err)
	}
	m := map[string]groupState{}
	for _, g := range out.AutoScalingGroups {
		st := groupState{TargetGroups: g.TargetGroupARNs, Desired: int(aws.ToInt32(g.DesiredCapacity))}
		for _, tag := range g.Tags {
			switch aws.ToString(tag.Key) {
			case elevator.TagRelease:
				st.Release = aws.ToString(tag.Value)
			case elevator.TagService:
				st.Service = aws.ToString(tag.Value)
			}
		}
		for _, in := range g.Instances {
			if string(in.LifecycleState) == "InService" && aws.ToString(in.HealthStatus) == "Healthy" {
				st.InService = append(st.InService, aws.ToString(in.InstanceId))
			}
		}
		sort.Strings(st.InService)
		m[aws.ToString(g.AutoScalingGroupName)] = st
	}
	return m
}

// healthy lists the targets of a target group that the SDK says are
// healthy, leaving out instances EC2 says are terminated: moto 5.2.5
// deregisters instances from target groups only when they are terminated
// with TerminateInstances, not when their Auto Scaling group terminates
// them (as deleting a group does), and reports every registered instance
// that is not stopped as healthy. AWS deregisters them.
func (w *world) healthy(t testing.TB, region, tg string) []string {
	t.Helper()
	ctx := context.Background()
	out, err := elbv2sdk.NewFromConfig(w.cfg(region)).DescribeTargetHealth(ctx, &elbv2sdk.DescribeTargetHealthInput{TargetGroupArn: aws.String(tg)})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth.State == elbv2types.TargetHealthStateEnumHealthy {
			ids = append(ids, aws.ToString(d.Target.Id))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	inst, err := ec2sdk.NewFromConfig(w.cfg(region)).DescribeInstances(ctx, &ec2sdk.DescribeInstancesInput{InstanceIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, r := range inst.Reservations {
		for _, in := range r.Instances {
			if in.State.Name != ec2types.InstanceStateNameTerminated {
				live = append(live, aws.ToString(in.InstanceId))
			}
		}
	}
	sort.Strings(live)
	return live
}

// launchTemplates lists the names of the app's launch templates in region.
func (w *world) launchTemplates(a *app, region string) []string {
	w.t.Helper()
	out, err := ec2sdk.NewFromConfig(w.cfg(region)).DescribeLaunchTemplates(context.Background(), &ec2sdk.DescribeLaunchTemplatesInput{
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + elevator.TagApp), Values: []string{a.name}}}, MaxResults: aws.Int32(200)})
	if err != nil {
		w.t.Fatal(err)
	}
	var names []string
	for _, lt := range out.LaunchTemplates {
		names = append(names, aws.ToString(lt.LaunchTemplateName))
	}
	sort.Strings(names)
	return names
}

// lockItem reads the app's lock item with the SDK; nil when there is none.
func (w *world) lockItem(a *app) map[string]ddbtypes.AttributeValue {
	w.t.Helper()
	out, err := ddb.NewFromConfig(w.cfg(w.regions[0])).GetItem(context.Background(), &ddb.GetItemInput{
		TableName: aws.String(elevator.LocksTableName(orbitName)), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "release/" + a.name}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Item
}

// recordItem reads a release's item in the releases table with the SDK.
func (w *world) recordItem(a *app, id string) map[string]ddbtypes.AttributeValue {
	w.t.Helper()
	out, err := ddb.NewFromConfig(w.cfg(w.regions[0])).GetItem(context.Background(), &ddb.GetItemInput{
		TableName: aws.String(elevator.ReleasesTableName(orbitName)), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"app": &ddbtypes.AttributeValueMemberS{Value: a.name}, "release_id": &ddbtypes.AttributeValueMemberS{Value: id}}})
	if err != nil {
		w.t.Fatal(err)
	}
	return out.Item
}

// assertServing checks, with the SDK, that in every region exactly the
// groups of release id serve the app: one per service, its instances in
// service and healthy in its target group, and only they in it; that the
// app's launch templates are those groups'; and that no lock is left.
func (w *world) assertServing(t testing.TB, a *app, id string) {
	t.Helper()
	for _, r := range w.regions {
		groups := w.groups(a, r)
		var names []string
		for name, g := range groups {
			names = append(names, name)
			if g.Release != id {
				t.Errorf("%s: group %s of release %s is left (want only release %s's)", r, name, g.Release, id)
			}
		}
		sort.Strings(names)
		if len(groups) != len(a.services) {
			t.Errorf("%s: groups %v, want one per service of release %s", r, names, id)
		}
		if lts := w.launchTemplates(a, r); !slices.Equal(lts, names) {
			t.Errorf("%s: launch templates %v, want those of the groups %v", r, lts, names)
		}
		for name, g := range groups {
			if len(g.InService) != g.Desired || g.Desired < 1 {
				t.Errorf("%s: group %s has %d of %d instances in service", r, name, len(g.InService), g.Desired)
			}
			sv := a.res[r][g.Service]
			if sv == nil {
				continue
			}
			if sv.TargetGroup == "" {
				if len(g.TargetGroups) != 0 {
					t.Errorf("%s: group %s of a service without a load balancer is in %v", r, name, g.TargetGroups)
				}
				continue
			}
			if !slices.Equal(g.TargetGroups, []string{sv.TargetGroup}) {
				t.Errorf("%s: group %s is attached to %v, want %s", r, name, g.TargetGroups, sv.TargetGroup)
			}
			if h := w.healthy(t, r, sv.TargetGroup); !slices.Equal(h, g.InService) {
				t.Errorf("%s: healthy targets of %s's target group are %v, want exactly group %s's instances %v", r, g.Service, h, name, g.InService)
			}
		}
	}
	if l := w.lockItem(a); l != nil {
		t.Errorf("the lock of %s is left: %v", a.name, l)
	}
}

func assertPath(t testing.TB, rec *elevator.ReleaseRecord, want ...elevator.ReleaseState) {
	t.Helper()
	if !slices.Equal(rec.Path, want) {
		t.Fatalf("path = %v, want %v (error: %s; notes: %v; leftovers: %v)", rec.Path, want, rec.Error, rec.Notes, rec.Leftovers)
	}
}

var (
	happyPath  = []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy, elevator.StateCheckHealthy, elevator.StateCutOver, elevator.StateCleanUpSuccess, elevator.StateUnlock, elevator.StateSuccess}
	rolledBack = []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock, elevator.StateValidateResources, elevator.StateDeploy, elevator.StateCheckHealthy, elevator.StateCleanUpFailure, elevator.StateUnlock, elevator.StateFailureClean}
)

// newInstances returns the in-service instances of release id's group of
// a service in region.
func (w *world) newInstances(a *app, region, svc, id string) []string {
	for _, g := range w.groups(a, region) {
		if g.Release == id && g.Service == svc {
			return g.InService
		}
	}
	return nil
}

// stop stops instances with the SDK: moto then reports them unused in
// their target groups.
func (w *world) stop(region string, ids []string) {
	w.t.Helper()
	if len(ids) == 0 {
		w.t.Fatalf("%s: no instances to stop", region)
	}
	if _, err := ec2sdk.NewFromConfig(w.cfg(region)).StopInstances(context.Background(), &ec2sdk.StopInstancesInput{InstanceIds: ids}); err != nil {
		w.t.Fatal(err)
	}
}

// countingClient counts the HTTP calls the SDK makes, by operation.
type countingClient struct {
	next aws.HTTPClient
	mu   sync.Mutex
	ops  map[string]int
}

func newCountingClient() *countingClient {
	return &countingClient{next: http.DefaultClient, ops: map[string]int{}}
}

func (c *countingClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.ops[operation(r)]++
	c.mu.Unlock()
	return c.next.Do(r)
}

// operation names a request's AWS operation: X-Amz-Target for JSON
// protocols, the Action of query protocols (read from the body, which is
// put back), the method for S3.
func operation(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t[strings.LastIndexByte(t, '.')+1:]
	}
	if r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			for _, kv := range strings.Split(string(body), "&") {
				if v, ok := strings.CutPrefix(kv, "Action="); ok {
					return v
				}
			}
		}
	}
	return "S3 " + r.Method
}

func (c *countingClient) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.ops
	c.ops = map[string]int{}
	return m
}
