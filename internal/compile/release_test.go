package compile

import (
	"os"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

func releaseExample(t testing.TB) (*elevator.App, *elevator.Orbit) {
	t.Helper()
	od, _ := os.ReadFile("../../examples/orbit.yml")
	o, err := manifest.ParseOrbit("orbit.yml", od)
	if err != nil {
		t.Fatal(err)
	}
	ad, _ := os.ReadFile("../../examples/app.yml")
	a, err := manifest.ParseApp("app.yml", ad, o.Name)
	if err != nil {
		t.Fatal(err)
	}
	return a, o
}

func releaseFactsFor(regions ...string) map[string]ReleaseFacts {
	f := map[string]ReleaseFacts{}
	for _, r := range regions {
		f[r] = ReleaseFacts{
			Orbit: map[string]string{"PrivateSubnets": "subnet-" + r + "-a,subnet-" + r + "-b", "WarningTopic": "arn:aws:sns:" + r + ":1:demo-warning"},
			App: map[string]string{
				"WebSecurityGroup": "sg-web-" + r, "WebInstanceProfile": "profile-web", "WebTargetGroup": "arn:tg/web/" + r,
				"WorkerSecurityGroup": "sg-worker-" + r, "WorkerInstanceProfile": "profile-worker",
			},
			Images: map[string]string{"web": "ami-web", "worker": "ami-worker"},
		}
	}
	return f
}

func TestReleaseDocumentPlacesEveryServiceInEveryRegion(t *testing.T) {
	a, o := releaseExample(t)
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	rel, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1.4.2", ID: "20261123-150000-0badcafe", CreatedAt: now, CreatedBy: "arn:aws:iam::1:user/ada"}, releaseFactsFor("us-east-1", "us-west-2"))
	if err != nil {
		t.Fatal(err)
	}
	if rel.App != "shop" || rel.Orbit != "demo" || rel.Version != "1.4.2" || strings.Join(rel.Regions, ",") != "us-east-1,us-west-2" {
		t.Errorf("release: %+v", rel)
	}
	web, worker := rel.Service("web"), rel.Service("worker")
	if web == nil || worker == nil {
		t.Fatalf("services: %+v", rel.Services)
	}
	p := web.Placement("us-west-2")
	if p.Image != "ami-web" || strings.Join(p.Subnets, ",") != "subnet-us-west-2-a,subnet-us-west-2-b" || p.SecurityGroups[0] != "sg-web-us-west-2" || p.TargetGroups[0] != "arn:tg/web/us-west-2" || p.InstanceProfile != "profile-web" {
		t.Errorf("web in us-west-2: %+v", p)
	}
	if wp := worker.Placement("us-east-1"); len(wp.TargetGroups) != 0 || wp.SecurityGroups[0] != "sg-worker-us-east-1" {
		t.Errorf("worker (no load balancer) in us-east-1: %+v", wp)
	}
	if web.Capacity.Min != a.Service("web").Scaling.Min || web.InstanceType != a.Service("web").InstanceType {
		t.Errorf("web capacity %+v type %s", web.Capacity, web.InstanceType)
	}
	if web.Capacity.Strategy != elevator.StrategyCanary || web.Capacity.Spread != 0.2 || web.HealthCheckGraceSeconds != 60 || rel.TimeoutSeconds != 900 {
		t.Errorf("web's release settings: %+v grace %d timeout %d", web.Capacity, web.HealthCheckGraceSeconds, rel.TimeoutSeconds)
	}
	if len(worker.Hooks) != 1 || worker.Hooks[0].Transition != elevator.HookTerminating || worker.Hooks[0].HeartbeatSeconds != 300 {
		t.Errorf("worker's hooks: %+v", worker.Hooks)
	}
	if al := web.Placement("us-west-2").Alarms; len(al) != 1 || al[0].Threshold != 80 || al[0].PeriodSeconds != 60 || al[0].Evaluations != 3 || al[0].Actions[0] != "arn:aws:sns:us-west-2:1:demo-warning" {
		t.Errorf("web's cpu alarm (warning at 80%% over 3 minutes, to the region's warning topic): %+v", al)
	}
	if len(web.Policies) == 0 {
		t.Errorf("web's step policies were not carried over: %+v", web.Policies)
	}
	if !strings.Contains(web.UserData, "ghcr.io/acme/shop:{{VERSION}}") {
		t.Errorf("web's user data does not run its image:\n%s", web.UserData)
	}
	if errs := rel.Check(); errs != nil {
		t.Errorf("the built release fails its own checks: %v", errs)
	}
}

func TestReleaseDocumentSaysWhatIsMissing(t *testing.T) {
	a, o := releaseExample(t)
	f := releaseFactsFor("us-east-1", "us-west-2")
	delete(f["us-west-2"].App, "WebTargetGroup")
	delete(f["us-east-1"].Images, "worker")
	_, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1", ID: "20261123-150000-0badcafe", CreatedAt: time.Now()}, f)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"the image of service worker in us-east-1", "the target group of service web in us-west-2", "run `elevator app up` first"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: " "}, releaseFactsFor("us-east-1", "us-west-2")); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("no version: %v", err)
	}
}

func TestReleaseDocumentNamesACustomPrivateTier(t *testing.T) {
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: demo\nregions:\n  us-east-1: {}\nnetwork:\n  tiers: [{name: edge, access: public}, {name: app}, {name: data}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := releaseExample(t)
	o.Regions = o.Regions[:1]
	f := releaseFactsFor("us-east-1")
	f["us-east-1"].Orbit["AppSubnets"] = "subnet-app-a"
	rel, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1", ID: "20261123-150000-0badcafe", CreatedAt: time.Now()}, f)
	if err != nil {
		t.Fatal(err)
	}
	if p := rel.Services[0].Placements[0]; p.Tier != "app" || p.Subnets[0] != "subnet-app-a" {
		t.Errorf("placement in a tier called app: %+v", p)
	}
}

// TestReleaseDocumentRefusesUserDataEC2WouldRefuse: the user data is
// measured as the engine hands it to EC2, its placeholders filled, so a
// version that fills a placeholder used many times can make it too large.
func TestReleaseDocumentRefusesUserDataEC2WouldRefuse(t *testing.T) {
	a, o := releaseExample(t)
	a.Service("web").Env["MANY_VERSIONS"] = strings.Repeat("{{VERSION}},", 1200) // 13,200 bytes as written
	build := func(version string) error {
		_, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: version, ID: "20261123-150000-0badcafe", CreatedAt: time.Now(), CreatedBy: "ada"},
			releaseFactsFor("us-east-1", "us-west-2"))
		return err
	}
	if err := build("1"); err != nil {
		t.Fatalf("user data within 16 KB once filled: %v", err)
	}
	err := build("1.4.2-" + strings.Repeat("x", 20))
	if elevator.ErrorCode(err) != elevator.EINVALID {
		t.Fatalf("user data over 16 KB once filled: %v, want EINVALID", err)
	}
	for _, want := range []string{"service web: user data of ", " bytes in us-east-1 once its placeholders are filled; EC2 takes at most 16384 (16 KB)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "service worker") {
		t.Errorf("error %q names worker, whose user data fits", err)
	}
}

func TestReleaseDocumentCarriesTheGatesAndTheTestListener(t *testing.T) {
	a, o := releaseExample(t)
	a.Tests = &elevator.AppTests{
		Smoke:       []elevator.ReleaseTest{{Name: "health", Kind: elevator.TestHTTP, Path: "/health"}},
		Bake:        5 * time.Minute,
		Alarms:      []string{"elevator-demo-shop-web-5xx_rate"},
		MissingData: elevator.MissingDataOK,
	}
	req := ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1.4.2", ID: "20261123-150000-0badcafe",
		CreatedAt: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), CreatedBy: "arn:aws:iam::1:user/ada"}
	facts := releaseFactsFor("us-east-1", "us-west-2")
	if _, err := ReleaseDocument(req, facts); elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "the test listener of service web in us-east-1") {
		t.Fatalf("without the test listener's output: %v, want it named as missing", err)
	}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		facts[r].App["WebTestListener"] = "arn:listener/test/" + r
		facts[r].App["PublicLoadBalancerDns"] = "lb-" + r
		facts[r].App["WebEndpoint"] = "shop.demo.example.com"
		facts[r].Orbit["InfoTopic"] = "arn:aws:sns:" + r + ":1:demo-info"
	}
	rel, err := ReleaseDocument(req, facts)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Tests == nil || rel.Tests.BakeSeconds != 300 || len(rel.Tests.Smoke) != 1 || rel.Tests.MissingData != elevator.MissingDataOK {
		t.Errorf("tests %+v", rel.Tests)
	}
	p := rel.Service("web").Placement("us-west-2")
	if p.TestListener != "arn:listener/test/us-west-2" || p.TestURL != "http://lb-us-west-2:9000" || p.Events != "arn:aws:sns:us-west-2:1:demo-info" || !strings.HasSuffix(p.ServiceURL, "://shop.demo.example.com") {
		t.Errorf("web in us-west-2: %+v", p)
	}
	if w := rel.Service("worker").Placement("us-west-2"); w.TestListener != "" {
		t.Errorf("worker has a test listener: %+v", w)
	}
	if err := rel.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

// TestReleaseDocumentRunsAnOwnRepositoryFromEachRegion releases the
// example app with web on its own repository: each region's instances
// pull <account>.dkr.ecr.<region>.amazonaws.com/demo/shop/web:<version>
// (one user data, {{REGION}} filled in per region), and each placement
// names the repository the engine checks; the worker, from ghcr, names
// none. A region without the repository's output is missing, and regions
// in different accounts are refused.
func TestReleaseDocumentRunsAnOwnRepositoryFromEachRegion(t *testing.T) {
	a, o := releaseExample(t)
	web := a.Service("web")
	web.Runtime.Docker.Image, web.Runtime.Docker.Repository = "", &elevator.Repository{KeepUntagged: 10}
	facts := func(accounts ...string) map[string]ReleaseFacts {
		f := releaseFactsFor("us-east-1", "us-west-2")
		for i, r := range []string{"us-east-1", "us-west-2"} {
			if i < len(accounts) {
				f[r].App["WebRepository"] = accounts[i] + ".dkr.ecr." + r + ".amazonaws.com/demo/shop/web"
			}
		}
		return f
	}
	req := ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1.4.2", ID: "20261123-150000-0badcafe", CreatedAt: time.Now(), CreatedBy: "arn:aws:iam::1:user/ada"}
	rel, err := ReleaseDocument(req, facts("123456789012", "123456789012"))
	if err != nil {
		t.Fatal(err)
	}
	rw := rel.Service("web")
	for _, r := range rel.Regions {
		if p := rw.Placement(r); p.Repository != "demo/shop/web" {
			t.Errorf("web in %s: repository %q, want demo/shop/web", r, p.Repository)
		}
		if p := rel.Service("worker").Placement(r); p.Repository != "" {
			t.Errorf("worker in %s: repository %q, want none", r, p.Repository)
		}
		ud := elevator.ExpandUserData(rw.UserData, elevator.UserDataVars{Region: r, Version: rel.Version})
		if want := "123456789012.dkr.ecr." + r + ".amazonaws.com/demo/shop/web:1.4.2"; !strings.Contains(ud, want) {
			t.Errorf("web's user data in %s does not run %s:\n%s", r, want, ud)
		}
	}
	if errs := rel.Check(); errs != nil {
		t.Errorf("the built release fails its own checks: %v", errs)
	}

	_, err = ReleaseDocument(req, facts("123456789012"))
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "the repository of service web in us-west-2") {
		t.Errorf("no repository in us-west-2: %v", err)
	}
	_, err = ReleaseDocument(req, facts("123456789012", "210987654321"))
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "one account") {
		t.Errorf("regions in two accounts: %v", err)
	}
}
