package app

// End-to-end: an orbit and an app brought up against a real moto server in
// an account of their own (emulatortest.Config), then read back with the
// SDK's own clients.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ecr"
	"github.com/elevatorhq/elevator/internal/aws/elbv2"
	"github.com/elevatorhq/elevator/internal/aws/route53"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
	"github.com/elevatorhq/elevator/internal/orbit/orbittest"
	"github.com/elevatorhq/elevator/internal/progress"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// world is one isolated account with an orbit up in it.
type world struct {
	cfg   func(region string) aws.Config
	orbit *elevator.Orbit
	apps  *Service
}

func newWorld(t *testing.T, orbitYAML string) *world {
	t.Helper()
	orbittest.FakeAgent(t)
	account := emulatortest.Config(t, "us-east-1")
	cfgFor := func(region string) aws.Config {
		c := account.Copy()
		c.Region = region
		return c
	}
	poller := apply.Poller{Clock: elevator.SystemClock{}}
	o, err := manifest.ParseOrbit("orbit.yml", []byte(orbitYAML))
	if err != nil {
		t.Fatal(err)
	}
	if o.Domain != "" {
		if _, err := r53.NewFromConfig(account).CreateHostedZone(context.Background(), &r53.CreateHostedZoneInput{Name: aws.String(o.Domain), CallerReference: aws.String(t.Name())}); err != nil {
			t.Fatal(err)
		}
	}
	orbits := &orbit.Service{
		Clients: func(region string) (orbit.Clients, error) {
			c := cfgFor(region)
			return orbit.Clients{Stacks: cloudformation.New(c), Network: ec2.New(c), Parameters: ssm.New(c)}, nil
		},
		Zones: route53.New(account), Progress: progress.Discard(), Poller: poller,
	}
	if _, err := orbits.Up(context.Background(), o); err != nil {
		t.Fatalf("orbit up: %v", err)
	}
	return &world{cfg: cfgFor, orbit: o, apps: &Service{
		Clients: func(region string) (Clients, error) {
			c := cfgFor(region)
			return Clients{Stacks: cloudformation.New(c), Network: ec2.New(c), LoadBalancing: elbv2.New(c), Registry: ecr.New(c)}, nil
		},
		Identity: sts.New(account), Progress: progress.Discard(), Poller: poller,
	}}
}

func (w *world) app(t *testing.T, src string) *elevator.App {
	t.Helper()
	a, err := manifest.ParseApp("app.yml", []byte(src), w.orbit.Name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

const shop = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    port: 8080
    load_balancer:
      type: public
      listeners: [{protocol: HTTP, port: 80}]
      health_check: {path: /health}
    firewall:
      - {port: 22, from: bastion}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker, ports: ["9000:9000"]}}
    port: 9000
    firewall:
      - {port: 9000, from: {service: web}}
      - {ports: 7000-7100, protocol: udp, from: {cidr: 10.9.0.0/16}}
data:
  tables:
    carts: {hash_key: {name: id, type: S}}
`

// shopWithDatabase adds a PostgreSQL instance (moto's CloudFormation makes
// RDS instances, not ElastiCache groups or Aurora clusters).
const shopWithDatabase = shop + `  database: {engine: postgres, version: "16.3", class: db.t3.micro, storage: 20}
`

func tagMap[T any](tags []T, kv func(T) (string, string)) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		k, v := kv(t)
		m[k] = v
	}
	return m
}

func hasElevatorTags(t *testing.T, what string, tags map[string]string, orbitName, app string) {
	t.Helper()
	if tags[elevator.TagOrbit] != orbitName || tags[elevator.TagApp] != app || tags[elevator.TagManagedBy] != elevator.ManagedBy {
		t.Errorf("%s tags: %v", what, tags)
	}
}

// TestAppUpBuildsWhatTheManifestAsks checks with the SDK's clients what
// `app up` made: the load balancer and its listener, a target group per
// load-balanced service, a security group per service with its rules, an
// instance profile per service on its path, the DNS record, and the table.
func TestAppUpBuildsWhatTheManifestAsks(t *testing.T) {
	w := newWorld(t, "name: prod\ndomain: example.test\nregions:\n  eu-west-1: {}\nnetwork: {nat: single}\nbastion: {allowed_cidrs: [203.0.113.0/24]}\n")
	a := w.app(t, shopWithDatabase)
	ctx := context.Background()
	res, err := w.apps.Up(ctx, a, w.orbit)
	if err != nil {
		t.Fatalf("app up: %v", err)
	}
	if res.Results[0].Status != "CREATE_COMPLETE" {
		t.Fatalf("result %+v", res.Results[0])
	}
	cfg := w.cfg("eu-west-1")

	elb := elbv2sdk.NewFromConfig(cfg)
	lbs, err := elb.DescribeLoadBalancers(ctx, &elbv2sdk.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 1 || lbs.LoadBalancers[0].Scheme != "internet-facing" {
		t.Fatalf("load balancers: %+v %v", lbs, err)
	}
	lb := lbs.LoadBalancers[0]
	listeners, err := elb.DescribeListeners(ctx, &elbv2sdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
	if err != nil || len(listeners.Listeners) != 1 || aws.ToInt32(listeners.Listeners[0].Port) != 80 {
		t.Errorf("listeners: %+v %v", listeners, err)
	}
	tgs, err := elb.DescribeTargetGroups(ctx, &elbv2sdk.DescribeTargetGroupsInput{})
	if err != nil || len(tgs.TargetGroups) != 1 || aws.ToInt32(tgs.TargetGroups[0].Port) != 8080 || aws.ToString(tgs.TargetGroups[0].HealthCheckPath) != "/health" {
		t.Fatalf("target groups (one, for web): %+v %v", tgs, err)
	}
	tagged, err := elb.DescribeTags(ctx, &elbv2sdk.DescribeTagsInput{ResourceArns: []string{aws.ToString(tgs.TargetGroups[0].TargetGroupArn), aws.ToString(lb.LoadBalancerArn)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range tagged.TagDescriptions {
		tags := tagMap(d.Tags, func(t elbv2types.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) })
		hasElevatorTags(t, aws.ToString(d.ResourceArn), tags, "prod", "shop")
	}
	if tags := tagMap(tagged.TagDescriptions[0].Tags, func(t elbv2types.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) }); tags[elevator.TagService] != "web" {
		t.Errorf("target group is not tagged for service web: %v", tags)
	}

	e := ec2sdk.NewFromConfig(cfg)
	sgs, err := e.DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + elevator.TagApp), Values: []string{"shop"}}}})
	if err != nil {
		t.Fatal(err)
	}
	byService := map[string]ec2types.SecurityGroup{}
	for _, g := range sgs.SecurityGroups {
		tags := tagMap(g.Tags, func(t ec2types.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) })
		hasElevatorTags(t, aws.ToString(g.GroupId), tags, "prod", "shop")
		byService[tags[elevator.TagService]] = g
	}
	web, worker := byService["web"], byService["worker"]
	if web.GroupId == nil || worker.GroupId == nil {
		t.Fatalf("security groups by service: %v", byService)
	}
	var rules []string
	for _, p := range worker.IpPermissions {
		for _, pair := range p.UserIdGroupPairs {
			rules = append(rules, fmt.Sprintf("%s %d-%d from %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), map[bool]string{true: "web", false: aws.ToString(pair.GroupId)}[aws.ToString(pair.GroupId) == aws.ToString(web.GroupId)]))
		}
		for _, r := range p.IpRanges {
			rules = append(rules, fmt.Sprintf("%s %d-%d from %s", aws.ToString(p.IpProtocol), aws.ToInt32(p.FromPort), aws.ToInt32(p.ToPort), aws.ToString(r.CidrIp)))
		}
	}
	sort.Strings(rules)
	if got := strings.Join(rules, "; "); got != "tcp 9000-9000 from web; udp 7000-7100 from 10.9.0.0/16" {
		t.Errorf("worker's ingress: %s", got)
	}

	profiles, err := iamsdk.NewFromConfig(cfg).ListInstanceProfiles(ctx, &iamsdk.ListInstanceProfilesInput{PathPrefix: aws.String(elevator.AppPath("prod", "shop"))})
	if err != nil {
		t.Fatal(err)
	}
	// moto lists every profile whatever the prefix (the orbit's bastion
	// has one too): keep the app's.
	var paths []string
	appProfiles := profiles.InstanceProfiles[:0]
	for _, p := range profiles.InstanceProfiles {
		if strings.HasPrefix(aws.ToString(p.Path), elevator.AppPath("prod", "shop")) {
			paths = append(paths, aws.ToString(p.Path))
			appProfiles = append(appProfiles, p)
		}
	}
	profiles.InstanceProfiles = appProfiles
	sort.Strings(paths)
	if strings.Join(paths, " ") != "/elevator/prod/shop/web/ /elevator/prod/shop/worker/" {
		t.Errorf("instance profile paths: %v", paths)
	}

	iamc := iamsdk.NewFromConfig(cfg)
	for _, p := range profiles.InstanceProfiles {
		for _, role := range p.Roles {
			rt, err := iamc.ListRoleTags(ctx, &iamsdk.ListRoleTagsInput{RoleName: role.RoleName})
			if err != nil {
				t.Fatal(err)
			}
			// Instance profiles take no tags in CloudFormation; their roles do.
			hasElevatorTags(t, "role "+aws.ToString(role.RoleName), tagMap(rt.Tags, func(t iamtypes.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) }), "prod", "shop")
		}
	}

	dbs, err := rds.NewFromConfig(cfg).DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil || len(dbs.DBInstances) != 1 || aws.ToString(dbs.DBInstances[0].Engine) != "postgres" {
		t.Fatalf("database: %+v %v", dbs, err)
	}
	hasElevatorTags(t, "database", tagMap(dbs.DBInstances[0].TagList, func(t rdstypes.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) }), "prod", "shop")

	zones, err := r53.NewFromConfig(cfg).ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String("example.test.")})
	if err != nil || len(zones.HostedZones) == 0 {
		t.Fatalf("zones: %v", err)
	}
	records, err := r53.NewFromConfig(cfg).ListResourceRecordSets(ctx, &r53.ListResourceRecordSetsInput{HostedZoneId: zones.HostedZones[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range records.ResourceRecordSets {
		if aws.ToString(r.Name) == "web.shop.prod.example.test." {
			found = true
		}
	}
	if !found {
		t.Errorf("no record web.shop.prod.example.test. among %d", len(records.ResourceRecordSets))
	}

	table, err := dynamodb.NewFromConfig(cfg).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts-prod")})
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	ttags, err := dynamodb.NewFromConfig(cfg).ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: table.Table.TableArn})
	if err != nil {
		t.Fatal(err)
	}
	hasElevatorTags(t, "table", tagMap(ttags.Tags, func(t ddbtypes.Tag) (string, string) { return aws.ToString(t.Key), aws.ToString(t.Value) }), "prod", "shop")

	status, err := w.apps.Status(ctx, a, w.orbit)
	if err != nil || len(status) != 1 || len(status[0].LoadBalancers) != 1 || status[0].LoadBalancers[0].DNSName != aws.ToString(lb.DNSName) {
		t.Errorf("status reads back the load balancer %s: %+v %v", aws.ToString(lb.DNSName), status, err)
	}
	if out := status[0].Outputs; out["WebTargetGroup"] != aws.ToString(tgs.TargetGroups[0].TargetGroupArn) || out["WorkerSecurityGroup"] != aws.ToString(worker.GroupId) || out["WorkerInstanceProfile"] == "" {
		t.Errorf("outputs the release engine needs: %v", out)
	}

	again, err := w.apps.Up(ctx, a, w.orbit)
	if err != nil || !again.Plans[0].NoChanges {
		t.Errorf("second app up: %+v %v", again, err)
	}
}

func TestAppDownKeepsDataUnlessTold(t *testing.T) {
	w := newWorld(t, "name: test\nregions:\n  us-east-2: {}\nnetwork: {nat: none}\nbastion: {allowed_cidrs: [203.0.113.0/24]}\n")
	a := w.app(t, shop)
	ctx := context.Background()
	if _, err := w.apps.Up(ctx, a, w.orbit); err != nil {
		t.Fatal(err)
	}
	_, err := w.apps.Down(ctx, a, w.orbit, false)
	if elevator.ErrorCode(err) != elevator.ECONFLICT || !strings.Contains(err.Error(), "owns data stores in orbit test (table carts)") {
		t.Fatalf("down without --delete-data: %v", err)
	}
	if _, err := dynamodb.NewFromConfig(w.cfg("us-east-2")).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("shop-carts-test")}); err != nil {
		t.Errorf("the table went: %v", err)
	}
	res, err := w.apps.Down(ctx, a, w.orbit, true)
	if err != nil || res[0].Status != "DELETE_COMPLETE" {
		t.Fatalf("down --delete-data: %+v %v", res, err)
	}
}

func TestAnAppNeedsItsOrbitUp(t *testing.T) {
	w := newWorld(t, "name: stage\nregions:\n  us-west-1: {}\nnetwork: {nat: none}\n")
	other, _ := manifest.ParseOrbit("orbit.yml", []byte("name: missing\nregions:\n  us-west-1: {}\n"))
	_, err := w.apps.Plan(context.Background(), w.app(t, shop), other)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "orbit missing is not up in us-west-1") {
		t.Errorf("got %v", err)
	}
}

func TestAFirewallRuleFromAnotherAppUsesItsSecurityGroup(t *testing.T) {
	w := newWorld(t, "name: mesh\nregions:\n  ap-south-1: {}\nnetwork: {nat: none}\n")
	ctx := context.Background()
	billing := w.app(t, "name: billing\nservices:\n  api:\n    runtime: {docker: {image: ghcr.io/acme/billing, ports: [\"8080:8080\"]}}\n    port: 8080\n")
	caller := w.app(t, "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop, ports: [\"8080:8080\"]}}\n    port: 8080\n    firewall:\n      - {port: 8080, from: {app: billing, service: api}}\n")

	_, err := w.apps.Plan(ctx, caller, w.orbit)
	if err == nil || !strings.Contains(err.Error(), "app.yml:7:9: services.web.firewall[0]: app billing has no service api in orbit mesh, region ap-south-1: bring it up first") || !strings.Contains(err.Error(), "billing") {
		t.Fatalf("a rule from an app not up yet: %v", err)
	}
	if _, err := w.apps.Up(ctx, billing, w.orbit); err != nil {
		t.Fatal(err)
	}
	facts, err := w.apps.Facts(ctx, caller, w.orbit)
	if err != nil {
		t.Fatal(err)
	}
	sg := facts["ap-south-1"].ServiceSecurityGroups["billing/api"]
	if !strings.HasPrefix(sg, "sg-") {
		t.Fatalf("billing/api's group not found: %v", facts["ap-south-1"].ServiceSecurityGroups)
	}
	if _, err := w.apps.Up(ctx, caller, w.orbit); err != nil {
		t.Fatal(err)
	}
	groups, err := ec2sdk.NewFromConfig(w.cfg("ap-south-1")).DescribeSecurityGroups(ctx, &ec2sdk.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + elevator.TagApp), Values: []string{"shop"}}, {Name: aws.String("tag:" + elevator.TagService), Values: []string{"web"}}}})
	if err != nil || len(groups.SecurityGroups) != 1 {
		t.Fatalf("shop/web group: %v %v", groups, err)
	}
	ok := false
	for _, p := range groups.SecurityGroups[0].IpPermissions {
		for _, pair := range p.UserIdGroupPairs {
			ok = ok || aws.ToString(pair.GroupId) == sg && aws.ToInt32(p.FromPort) == 8080
		}
	}
	if !ok {
		t.Errorf("shop/web does not let billing/api (%s) in on 8080: %+v", sg, groups.SecurityGroups[0].IpPermissions)
	}
}

func TestARegionFlagActsInOneRegionOnly(t *testing.T) {
	w := newWorld(t, "name: two\nregions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\nbastion: {allowed_cidrs: [203.0.113.0/24]}\n")
	a := w.app(t, shop)
	ctx := context.Background()
	w.apps.Region = "eu-west-1"
	res, err := w.apps.Up(ctx, a, w.orbit)
	if err != nil || len(res.Results) != 1 || res.Results[0].Region != "eu-west-1" {
		t.Fatalf("up in eu-west-1 only: %+v %v", res, err)
	}
	w.apps.Region = ""
	st, err := w.apps.Status(ctx, a, w.orbit)
	if err != nil || st[0].Status != "NOT_FOUND" || st[1].Status != "CREATE_COMPLETE" {
		t.Errorf("status: %+v %v", st, err)
	}
}
