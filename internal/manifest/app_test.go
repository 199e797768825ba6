package manifest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

func readExampleApp(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../../examples/app.yml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseAppReadsTheExample(t *testing.T) {
	a, err := ParseApp("examples/app.yml", readExampleApp(t), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	if a.Name != "shop" || len(a.Services) != 2 || a.Orbit != "" {
		t.Fatalf("got app %q with %d services for orbit %q, want shop with 2 for none", a.Name, len(a.Services), a.Orbit)
	}
	if !reflect.DeepEqual(a.Overrides, []string{"demo"}) {
		t.Errorf("overrides: %v, want [demo]", a.Overrides)
	}
	web, worker := a.Services[0], a.Services[1]
	if web.Name != "web" || worker.Name != "worker" {
		t.Fatalf("services in file order: got %s, %s", web.Name, worker.Name)
	}

	if web.InstanceType != "t3.small" || web.Port != 8080 || web.Runtime.Docker == nil || web.Runtime.Docker.Image != "ghcr.io/acme/shop" {
		t.Errorf("web: instance %s port %d docker %+v", web.InstanceType, web.Port, web.Runtime.Docker)
	}
	if want := map[string]string{"LOG_LEVEL": "info"}; !reflect.DeepEqual(web.Env, want) {
		t.Errorf("web env %v, want the app's %v", web.Env, want)
	}
	wantLB := elevator.LoadBalancer{
		Type:      elevator.LoadBalancerPublic,
		Listeners: []elevator.Listener{{Protocol: "HTTP", Port: 80}},
		HealthCheck: elevator.HealthCheck{
			Path: "/health", Interval: 10 * time.Second, Timeout: 5 * time.Second,
			Healthy: 2, Unhealthy: 3, SuccessCodes: "200-399",
		},
		DeregistrationDelay: 30 * time.Second,
	}
	if !reflect.DeepEqual(web.LoadBalancer, wantLB) {
		t.Errorf("web load balancer:\n got %+v\nwant %+v", web.LoadBalancer, wantLB)
	}
	if len(web.Firewall) != 1 || !web.Firewall[0].Bastion || web.Firewall[0].FromPort != 22 || web.Firewall[0].ToPort != 22 || web.Firewall[0].Protocol != "tcp" {
		t.Errorf("web firewall: %+v", web.Firewall)
	}
	if len(web.Alarms) != 2 || web.Alarms[0].Metric != elevator.MetricCPU || web.Alarms[1].Metric != elevator.Metric5xxRate {
		t.Fatalf("web alarms: %+v", web.Alarms)
	}
	if al := web.Alarms[1]; al.Period != time.Minute || al.Evaluations != 3 || al.Comparison != ">=" || al.Severity != elevator.SeverityCritical || al.Threshold != 5 {
		t.Errorf("5xx alarm defaults: %+v", al)
	}
	wantScaling := elevator.Scaling{Min: 2, Max: 4,
		Steps: []elevator.StepPolicy{
			{When: elevator.CPUAbove, Threshold: 70, Adjustment: 2, Periods: 2, Cooldown: time.Minute, Path: "services.web.scaling.step[0]"},
			{When: elevator.CPUBelow, Threshold: 20, Adjustment: -1, Periods: 10, Cooldown: time.Minute, Path: "services.web.scaling.step[1]"},
		},
		Schedule: []elevator.ScheduledCapacity{
			{Desired: 4, Cron: "0 8 * * 1-5", Path: "services.web.scaling.schedule[0]"},
			{Desired: 2, Cron: "0 20 * * *", Path: "services.web.scaling.schedule[1]"},
		},
	}
	if msg := differs(web.Scaling, wantScaling); msg != "" {
		t.Errorf("web scaling:\n%s", msg)
	}
	wantRelease := elevator.ReleaseSettings{Strategy: elevator.StrategyCanary, Spread: 0.2, MaxTerms: 2, HealthCheckGrace: time.Minute}
	if msg := differs(web.Release, wantRelease); msg != "" {
		t.Errorf("web release:\n%s", msg)
	}
	wantHooks := []elevator.LifecycleHook{{Name: "drain", Transition: elevator.HookTerminating, Heartbeat: 300 * time.Second, DefaultResult: "CONTINUE", Path: "services.worker.lifecycle_hooks[0]"}}
	if msg := differs(worker.LifecycleHooks, wantHooks); msg != "" {
		t.Errorf("worker lifecycle hooks:\n%s", msg)
	}
	if a.ReleaseTimeout != 15*time.Minute {
		t.Errorf("release timeout %s, want 15m", a.ReleaseTimeout)
	}

	if worker.InstanceType != DefaultInstanceType || !reflect.DeepEqual(worker.AMI, DefaultServiceAMI) || !reflect.DeepEqual(worker.Scaling, elevator.Scaling{Min: 1, Max: 1}) || !reflect.DeepEqual(worker.Release, DefaultRelease) {
		t.Errorf("worker defaults: instance %s ami %+v scaling %+v release %+v", worker.InstanceType, worker.AMI, worker.Scaling, worker.Release)
	}
	if worker.LoadBalancer.Type != elevator.LoadBalancerNone || worker.LoadBalancer.Listeners != nil {
		t.Errorf("worker load balancer: %+v, want none", worker.LoadBalancer)
	}
	fromWeb := elevator.FirewallRule{Protocol: "tcp", FromPort: 9000, ToPort: 9000, App: "shop", Service: "web", Path: "services.worker.firewall[0]"}
	if len(worker.Firewall) == 0 || worker.Firewall[0] != fromWeb {
		t.Errorf("worker firewall: %+v, want first %+v", worker.Firewall, fromWeb)
	}

	wantRedis := &elevator.Redis{NodeType: "cache.t3.micro", Nodes: 1, EngineVersion: "7.1", MaintenanceWindow: "sun:05:00-sun:06:00", Path: "data.redis"}
	if !reflect.DeepEqual(a.Data.Redis, wantRedis) || a.Data.Database != nil || a.Data.Tables != nil {
		t.Errorf("data: redis %+v database %+v tables %+v", a.Data.Redis, a.Data.Database, a.Data.Tables)
	}
	if pos := a.Source.At("services.web.instance_type"); pos != (elevator.Pos{Line: 17, Column: 20}) {
		t.Errorf("position of services.web.instance_type: %+v, want 17:20", pos)
	}
}

// TestParseAppReadsTheDeployerExample reads examples/deployer.yml, the
// deployer service's own manifest, in the demo orbit: two or more
// instances behind a private load balancer that checks /readyz, given the
// orbit's deployer and submitter policies, running `elevator deployer` for
// the orbit.
func TestParseAppReadsTheDeployerExample(t *testing.T) {
	data, err := os.ReadFile("../../examples/deployer.yml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseApp("examples/deployer.yml", data, "demo")
	if err != nil {
		t.Fatalf("ParseApp:\n%v", err)
	}
	api := a.Service("api")
	if api == nil || api.Runtime.Docker == nil {
		t.Fatalf("no docker service api: %+v", a.Services)
	}
	if !reflect.DeepEqual(api.OrbitPolicies, []elevator.OrbitPolicy{elevator.OrbitPolicyDeployer, elevator.OrbitPolicySubmitter}) {
		t.Errorf("orbit policies %v, want [deployer submitter] (it compiles the releases of pipeline stages)", api.OrbitPolicies)
	}
	lb := api.LoadBalancer
	if lb.Type != elevator.LoadBalancerPrivate || lb.HealthCheck.Path != "/readyz" {
		t.Errorf("load balancer %s with health %s, want private with /readyz", lb.Type, lb.HealthCheck.Path)
	}
	if api.Scaling.Min < 2 {
		t.Errorf("scaling min %d, want 2 or more (one instance per zone survives a zone)", api.Scaling.Min)
	}
	if got := strings.Join(api.Runtime.Docker.Command, " "); got != "deployer --orbit demo --listen :8080" {
		t.Errorf("command %q, want the deployer of orbit demo on :8080", got)
	}
}

func TestParseAppRejectsAnUnknownOrbitPolicy(t *testing.T) {
	src := "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x}}\n    orbit_policies: [deployer, admin]\n"
	_, err := ParseApp("app.yml", []byte(src), "")
	want := `app.yml:5:32: services.web.orbit_policies[1]: "admin": must be one of: deployer, submitter`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, want)
	}
}

func TestParseAppMergesTheExampleOverride(t *testing.T) {
	a, err := ParseApp("examples/app.yml", readExampleApp(t), "demo")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	web := a.Service("web")
	if a.Orbit != "demo" || web == nil {
		t.Fatalf("orbit %q, web %v", a.Orbit, web)
	}
	if web.InstanceType != "t3.micro" || web.Scaling.Min != 1 || web.Scaling.Max != 2 || web.Scaling.Schedule != nil || len(web.Scaling.Steps) != 2 {
		t.Errorf("web in demo: instance %s scaling %+v, want t3.micro 1..2 with the base's steps and no schedule", web.InstanceType, web.Scaling)
	}
	if web.Release.Strategy != elevator.StrategyCanary || a.ReleaseTimeout != 15*time.Minute {
		t.Errorf("web in demo: strategy %s timeout %s, want the base's canary and 15m", web.Release.Strategy, a.ReleaseTimeout)
	}
	if a.Env["LOG_LEVEL"] != "debug" || web.Env["LOG_LEVEL"] != "debug" {
		t.Errorf("LOG_LEVEL: app %q web %q, want debug", a.Env["LOG_LEVEL"], web.Env["LOG_LEVEL"])
	}
	if web.Port != 8080 || web.LoadBalancer.Type != elevator.LoadBalancerPublic {
		t.Errorf("fields the override leaves alone changed: port %d lb %s", web.Port, web.LoadBalancer.Type)
	}
	for path, want := range map[string]elevator.Pos{
		"services.web.instance_type":      {Line: 67, Column: 24}, // the override's
		"services.web.scaling.max":        {Line: 68, Column: 32}, // the override's
		"services.web.scaling.schedule":   {Line: 68, Column: 45}, // the override's
		"services.web.scaling.step[1]":    {Line: 35, Column: 11}, // the base's
		"env.LOG_LEVEL":                   {Line: 64, Column: 22}, // the override's
		"services.web.port":               {Line: 18, Column: 11}, // the base's
		"services.web.release.spread":     {Line: 39, Column: 15}, // the base's
		"services.worker.lifecycle_hooks": {Line: 52, Column: 5},  // the base's
	} {
		if got := a.Source.At(path); got != want {
			t.Errorf("position of %s: %+v, want %+v", path, got, want)
		}
	}
}

// overrideApp has a base and overrides for two orbits; the tests below
// parse it for each orbit.
const overrideApp = `name: shop
env: {LOG_LEVEL: info, REGION_HINT: east}
secrets:
  DB_URL: {ssm: /shop/db}
services:
  web:
    runtime:
      docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"], env: {A: "1"}}
    ami: {name: "debian-12-*", owners: ["136693071363"]}
    port: 8080
    load_balancer:
      type: public
      hosts: [shop.example.com]
    alarms:
      - {metric: cpu, threshold: 80, severity: warning}
      - {metric: unhealthy_hosts, threshold: 1, severity: critical}
    scaling: {min: 2, max: 4}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
data:
  tables:
    carts: {hash_key: {name: id, type: S}, billing: provisioned, read: 5, write: 5}
orbits:
  production:
    env: {LOG_LEVEL: warn}
    secrets:
      DB_URL: {secretsmanager: shop/production/db}
    services:
      web:
        ami: {id: ami-0123456789abcdef0}
        runtime: {docker: {env: {B: "2"}}}
        alarms:
          - {metric: cpu, threshold: 60, severity: critical}
        scaling: {max: 12}
      worker:
        runtime:
          units: {worker.service: "[Service]\nExecStart=/usr/bin/worker\n"}
        load_balancer: {type: none}
    data:
      tables:
        carts: {billing: on_demand}
      database: {engine: mysql, multi_az: true}
  staging:
    services:
      web:
        load_balancer: {type: none}
        alarms: [{metric: cpu, threshold: 90, severity: info}]
`

func TestParseAppMergesAnOrbitsOverride(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(overrideApp), "production")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	web, worker := a.Service("web"), a.Service("worker")
	tests := []struct {
		name      string
		got, want any
	}{
		{"a plain value of the override wins", a.Env, map[string]string{"LOG_LEVEL": "warn", "REGION_HINT": "east"}},
		{"a secret is replaced whole", a.Secrets, []elevator.Secret{{Name: "DB_URL", SecretsManager: "shop/production/db", Path: "secrets.DB_URL"}}},
		{"an image selector is replaced whole", web.AMI, elevator.AMISelector{ID: "ami-0123456789abcdef0"}},
		{"mappings merge field by field", web.Runtime.Docker, &elevator.Docker{Image: "ghcr.io/acme/shop", Ports: []string{"8080:8080"}, Env: map[string]string{"A": "1", "B": "2"}}},
		{"lists are replaced", len(web.Alarms), 1},
		{"a list item comes from the override", web.Alarms[0].Threshold, 60.0},
		{"a scaling field the override leaves keeps the base's", web.Scaling, elevator.Scaling{Min: 2, Max: 12}},
		{"fields the override does not name stay", web.LoadBalancer.Hosts, []string{"shop.example.com"}},
		{"units replace docker", worker.Runtime, elevator.Runtime{Units: map[string]string{"worker.service": "[Service]\nExecStart=/usr/bin/worker\n"}}},
		{"on-demand billing drops the capacity", a.Data.Tables, []elevator.Table{{Name: "carts", HashKey: elevator.Key{Name: "id", Type: "S"}, OnDemand: true, Path: "data.tables.carts"}}},
		{"a data store can be added", a.Data.Database, &elevator.Database{Engine: "mysql", Class: DefaultDatabaseClass, Storage: DefaultDatabaseStorage, MultiAZ: true, Path: "data.database"}},
		{"overrides are listed in file order", a.Overrides, []string{"production", "staging"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}

	positions := []struct {
		path string
		want elevator.Pos
	}{
		{"env.LOG_LEVEL", elevator.Pos{Line: 25, Column: 22}},
		{"env.REGION_HINT", elevator.Pos{Line: 2, Column: 37}},
		{"secrets.DB_URL.secretsmanager", elevator.Pos{Line: 27, Column: 32}},
		{"services.web.ami.id", elevator.Pos{Line: 30, Column: 19}},
		{"services.web.ami.owners", elevator.Pos{Line: 30, Column: 14}}, // gone with the base's ami: the override's ami
		{"services.web.alarms[0].threshold", elevator.Pos{Line: 33, Column: 38}},
		{"services.web.alarms[1]", elevator.Pos{Line: 32, Column: 9}}, // gone with the base's list: its parent's
		{"services.web.scaling.max", elevator.Pos{Line: 34, Column: 24}},
		{"services.web.scaling.min", elevator.Pos{Line: 17, Column: 20}},
		{"services.web.runtime.docker.image", elevator.Pos{Line: 8, Column: 23}},
		{"services.worker.runtime.units", elevator.Pos{Line: 37, Column: 18}},
		{"data.tables.carts.billing", elevator.Pos{Line: 41, Column: 26}},
		{"data.tables.carts.read", elevator.Pos{Line: 22, Column: 12}}, // dropped: the merged table's, which is the base's
		{"data.database.engine", elevator.Pos{Line: 42, Column: 26}},
	}
	for _, p := range positions {
		if got := a.Source.At(p.path); got != p.want {
			t.Errorf("position of %s: %d:%d, want %d:%d", p.path, got.Line, got.Column, p.want.Line, p.want.Column)
		}
	}
}

func TestParseAppAppliesOnlyTheNamedOrbitsOverride(t *testing.T) {
	tests := []struct {
		orbit     string
		lbType    elevator.LoadBalancerType
		hosts     []string
		logLevel  string
		scalingMx int
	}{
		{"", elevator.LoadBalancerPublic, []string{"shop.example.com"}, "info", 4},
		{"staging", elevator.LoadBalancerNone, nil, "info", 4},
		{"test", elevator.LoadBalancerPublic, []string{"shop.example.com"}, "info", 4},
		{"production", elevator.LoadBalancerPublic, []string{"shop.example.com"}, "warn", 12},
	}
	for _, tt := range tests {
		t.Run("orbit "+tt.orbit, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(overrideApp), tt.orbit)
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			web := a.Service("web")
			if web.LoadBalancer.Type != tt.lbType || !reflect.DeepEqual(web.LoadBalancer.Hosts, tt.hosts) {
				t.Errorf("load balancer %s hosts %v, want %s %v", web.LoadBalancer.Type, web.LoadBalancer.Hosts, tt.lbType, tt.hosts)
			}
			if a.Env["LOG_LEVEL"] != tt.logLevel || web.Scaling.Max != tt.scalingMx {
				t.Errorf("LOG_LEVEL %q max %d, want %q %d", a.Env["LOG_LEVEL"], web.Scaling.Max, tt.logLevel, tt.scalingMx)
			}
		})
	}
}

func TestParseAppAppliesDefaults(t *testing.T) {
	tests := []struct {
		name    string
		service string // the web service's fields, indented by four spaces
		check   func(s *elevator.Service) string
	}{
		{"scaling defaults to one instance", "", func(s *elevator.Service) string {
			return differs(s.Scaling, elevator.Scaling{Min: 1, Max: 1})
		}},
		{"max defaults to min", "    scaling: {min: 3}\n", func(s *elevator.Service) string {
			return differs(s.Scaling, elevator.Scaling{Min: 3, Max: 3})
		}},
		{"min defaults to one", "    scaling: {max: 5, target_cpu: 60}\n", func(s *elevator.Service) string {
			return differs(s.Scaling, elevator.Scaling{Min: 1, Max: 5, TargetCPU: 60})
		}},
		{"a load balancer gets an HTTP listener on 80 and a health check", "    port: 80\n    load_balancer: {type: private, health_check: {path: /up}}\n", func(s *elevator.Service) string {
			return differs(s.LoadBalancer, elevator.LoadBalancer{
				Type:                elevator.LoadBalancerPrivate,
				Listeners:           []elevator.Listener{DefaultListener},
				HealthCheck:         elevator.HealthCheck{Path: "/up", Interval: 10 * time.Second, Timeout: 5 * time.Second, Healthy: 2, Unhealthy: 3, SuccessCodes: "200-399"},
				DeregistrationDelay: 30 * time.Second,
			})
		}},
		{"HTTPS listeners keep their certificate", "    port: 80\n    load_balancer:\n      type: public\n      stickiness: 1h\n      listeners:\n        - {protocol: HTTPS, port: 443, certificate: {domain: shop.example.com}}\n        - {protocol: HTTP, port: 80, redirect_https: true}\n", func(s *elevator.Service) string {
			return differs([]any{s.LoadBalancer.Listeners, s.LoadBalancer.Stickiness}, []any{[]elevator.Listener{
				{Protocol: "HTTPS", Port: 443, CertificateDomain: "shop.example.com"},
				{Protocol: "HTTP", Port: 80, RedirectHTTPS: true},
			}, time.Hour})
		}},
		{"icmp takes every type", "    firewall: [{protocol: icmp, from: {cidr: 10.0.0.0/8}}]\n", func(s *elevator.Service) string {
			return differs(s.Firewall, []elevator.FirewallRule{{Protocol: "icmp", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8"), Path: "services.web.firewall[0]"}})
		}},
		{"a source app without a service means all of its services", "    firewall: [{ports: 9000-9100, protocol: udp, from: {app: billing}}]\n", func(s *elevator.Service) string {
			return differs(s.Firewall, []elevator.FirewallRule{{Protocol: "udp", FromPort: 9000, ToPort: 9100, App: "billing", Path: "services.web.firewall[0]"}})
		}},
		{"a custom alarm keeps its comparison", "    alarms: [{metric: custom, namespace: Shop, name: QueueDepth, statistic: Maximum, comparison: \">\", threshold: 1000, severity: info, dimensions: {Queue: jobs}}]\n", func(s *elevator.Service) string {
			return differs(s.Alarms, []elevator.Alarm{{Metric: elevator.MetricCustom, Threshold: 1000, Period: time.Minute, Evaluations: 3, Severity: elevator.SeverityInfo, Comparison: ">", Namespace: "Shop", MetricName: "QueueDepth", Statistic: "Maximum", Dimensions: map[string]string{"Queue": "jobs"}, Path: "services.web.alarms[0]"}})
		}},
		{"env values become text, the service's over the app's", "    env: {N: 3, ON: true, MODE: fast}\n", func(s *elevator.Service) string {
			return differs(s.Env, map[string]string{"N": "3", "ON": "true", "MODE": "fast", "LOG_LEVEL": "info"})
		}},
		{"a service is released all at once, with the engine's grace and no hooks", "", func(s *elevator.Service) string {
			return differs([]any{s.Release, s.LifecycleHooks}, []any{elevator.ReleaseSettings{Strategy: elevator.StrategyAllAtOnce, HealthCheckGrace: 300 * time.Second}, []elevator.LifecycleHook(nil)})
		}},
		{"a percent strategy keeps its steps", "    release: {strategy: percent, steps: [10, 50, 100], max_terms: 3, health_check_grace: 0s}\n", func(s *elevator.Service) string {
			return differs(s.Release, elevator.ReleaseSettings{Strategy: elevator.StrategyPercent, Steps: []int{10, 50, 100}, MaxTerms: 3})
		}},
		{"step policies adjust by one, over two minutes, a minute apart", "    scaling:\n      max: 4\n      step: [{when: cpu_above, threshold: 75.5}, {when: cpu_below, threshold: 10}]\n", func(s *elevator.Service) string {
			return differs(s.Scaling.Steps, []elevator.StepPolicy{
				{When: elevator.CPUAbove, Threshold: 75.5, Adjustment: 1, Periods: 2, Cooldown: time.Minute, Path: "services.web.scaling.step[0]"},
				{When: elevator.CPUBelow, Threshold: 10, Adjustment: -1, Periods: 2, Cooldown: time.Minute, Path: "services.web.scaling.step[1]"},
			})
		}},
		{"a schedule entry may join several in Asiaq's notation", "    scaling:\n      max: 5\n      schedule: [\"1@30 10 * * *:5@45  1 * * *\", \"3@0 */4 * JAN-MAR mon-fri\"]\n", func(s *elevator.Service) string {
			return differs(s.Scaling.Schedule, []elevator.ScheduledCapacity{
				{Desired: 1, Cron: "30 10 * * *", Path: "services.web.scaling.schedule[0]"},
				{Desired: 5, Cron: "45 1 * * *", Path: "services.web.scaling.schedule[0]"},
				{Desired: 3, Cron: "0 */4 * JAN-MAR mon-fri", Path: "services.web.scaling.schedule[1]"},
			})
		}},
		{"a lifecycle hook waits an hour, then abandons", "    lifecycle_hooks: [{name: warm, transition: launching}]\n", func(s *elevator.Service) string {
			return differs(s.LifecycleHooks, []elevator.LifecycleHook{{Name: "warm", Transition: elevator.HookLaunching, Heartbeat: time.Hour, DefaultResult: "ABANDON", Path: "services.web.lifecycle_hooks[0]"}})
		}},
		{"a lifecycle hook that notifies keeps its topic and role", "    lifecycle_hooks:\n      - name: drain\n        transition: terminating\n        heartbeat: 2h\n        topic: {arn: \"arn:aws:sns:us-east-1:123456789012:shop-drain\"}\n        role: {arn: \"arn:aws:iam::123456789012:role/shop/drain\"}\n", func(s *elevator.Service) string {
			return differs(s.LifecycleHooks, []elevator.LifecycleHook{{Name: "drain", Transition: elevator.HookTerminating, Heartbeat: 2 * time.Hour, DefaultResult: "ABANDON",
				TopicARN: "arn:aws:sns:us-east-1:123456789012:shop-drain", RoleARN: "arn:aws:iam::123456789012:role/shop/drain", Path: "services.web.lifecycle_hooks[0]"}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: shop\nenv: {LOG_LEVEL: info}\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n" + tt.service
			a, err := ParseApp("app.yml", []byte(src), "")
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			if msg := tt.check(&a.Services[0]); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestParseAppReadsTheReleaseTimeout(t *testing.T) {
	tests := []struct {
		name    string
		release string // the app's release field, or ""
		want    time.Duration
	}{
		{"a release waits ten minutes when the app says nothing", "", elevator.DefaultReleaseTimeout},
		{"an empty release mapping keeps the default", "release: {}\n", 10 * time.Minute},
		{"the shortest timeout is a minute", "release: {timeout: 1m}\n", time.Minute},
		{"the longest timeout is a day", "release: {timeout: 24h}\n", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: shop\nservices: {web: {runtime: {docker: {image: x}}}}\n" + tt.release
			a, err := ParseApp("app.yml", []byte(src), "")
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			if a.ReleaseTimeout != tt.want {
				t.Errorf("release timeout %s, want %s", a.ReleaseTimeout, tt.want)
			}
		})
	}
}

// releaseApp releases web in percent steps with a hook; its orbits change
// how.
const releaseApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
    scaling:
      min: 2
      max: 6
      step: [{when: cpu_above, threshold: 60, adjust: 2}]
      schedule: ["6@0 8 * * 1-5"]
    release: {strategy: percent, steps: [25, 50, 100], spread: 0.1, health_check_grace: 90s}
    lifecycle_hooks: [{name: drain, transition: terminating, heartbeat: 5m}]
release: {timeout: 20m}
orbits:
  production:
    services:
      web:
        release: {strategy: canary, max_terms: 2}
  staging:
    services:
      web:
        scaling: {max: 2, schedule: ["2@0 8 * * 1-5"]}
        release: {steps: [50, 100]}
        lifecycle_hooks: []
    release: {timeout: 1h}
`

func TestParseAppMergesReleaseOverrides(t *testing.T) {
	base := elevator.ReleaseSettings{Strategy: elevator.StrategyPercent, Steps: []int{25, 50, 100}, Spread: 0.1, HealthCheckGrace: 90 * time.Second}
	tests := []struct {
		name     string
		orbit    string
		release  elevator.ReleaseSettings
		schedule []elevator.ScheduledCapacity
		hooks    int
		timeout  time.Duration
	}{
		{"without an orbit the base's settings stand", "", base,
			[]elevator.ScheduledCapacity{{Desired: 6, Cron: "0 8 * * 1-5", Path: "services.web.scaling.schedule[0]"}}, 1, 20 * time.Minute},
		{"another strategy drops the base's percent steps and keeps the rest", "production",
			elevator.ReleaseSettings{Strategy: elevator.StrategyCanary, Spread: 0.1, MaxTerms: 2, HealthCheckGrace: 90 * time.Second},
			[]elevator.ScheduledCapacity{{Desired: 6, Cron: "0 8 * * 1-5", Path: "services.web.scaling.schedule[0]"}}, 1, 20 * time.Minute},
		{"new steps keep the base's percent strategy, and lists and the timeout are replaced", "staging",
			elevator.ReleaseSettings{Strategy: elevator.StrategyPercent, Steps: []int{50, 100}, Spread: 0.1, HealthCheckGrace: 90 * time.Second},
			[]elevator.ScheduledCapacity{{Desired: 2, Cron: "0 8 * * 1-5", Path: "services.web.scaling.schedule[0]"}}, 0, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(releaseApp), tt.orbit)
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			web := a.Service("web")
			if msg := differs(web.Release, tt.release); msg != "" {
				t.Errorf("release:\n%s", msg)
			}
			if msg := differs(web.Scaling.Schedule, tt.schedule); msg != "" {
				t.Errorf("schedule:\n%s", msg)
			}
			if len(web.LifecycleHooks) != tt.hooks || len(web.Scaling.Steps) != 1 {
				t.Errorf("%d hooks and %d step policies, want %d and 1", len(web.LifecycleHooks), len(web.Scaling.Steps), tt.hooks)
			}
			if a.ReleaseTimeout != tt.timeout {
				t.Errorf("timeout %s, want %s", a.ReleaseTimeout, tt.timeout)
			}
		})
	}
	a, err := ParseApp("app.yml", []byte(releaseApp), "production")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	for path, want := range map[string]elevator.Pos{
		"services.web.release.strategy":  {Line: 17, Column: 29}, // the override's
		"services.web.release.max_terms": {Line: 17, Column: 48}, // the override's
		"services.web.release.spread":    {Line: 10, Column: 64}, // the base's
		"services.web.release.steps":     {Line: 10, Column: 14}, // dropped: the merged release's, which is the base's
	} {
		if got := a.Source.At(path); got != want {
			t.Errorf("position of %s: %+v, want %+v", path, got, want)
		}
	}
}

func TestParseAppReadsDataStores(t *testing.T) {
	src := `name: shop
services: {web: {runtime: {units: {web.service: "[Service]\nExecStart=/bin/web\n"}}}}
data:
  redis: {}
  database: {aurora: true, global: true, version: "16.3"}
  tables:
    events: {hash_key: {name: id, type: S}, range_key: {name: at, type: N}, billing: provisioned, read: 5, write: 10}
    carts: {hash_key: {name: id, type: B}}
`
	a, err := ParseApp("app.yml", []byte(src), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	wantRedis := DefaultRedis
	wantRedis.Path = "data.redis"
	if msg := differs(a.Data, elevator.Data{
		Redis:    &wantRedis,
		Database: &elevator.Database{Engine: "postgres", Version: "16.3", Class: DefaultAuroraClass, Aurora: true, Global: true, Path: "data.database"},
		Tables: []elevator.Table{
			{Name: "events", HashKey: elevator.Key{Name: "id", Type: "S"}, RangeKey: &elevator.Key{Name: "at", Type: "N"}, Read: 5, Write: 10, Path: "data.tables.events"},
			{Name: "carts", HashKey: elevator.Key{Name: "id", Type: "B"}, OnDemand: true, Path: "data.tables.carts"},
		},
	}); msg != "" {
		t.Error(msg)
	}
}

// differs describes how got differs from want, or returns "" when they are
// equal.
func differs(got, want any) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	return fmt.Sprintf("got  %+v\nwant %+v", got, want)
}

// TestParseAppRejects holds one bad manifest per row; each must fail with
// exactly the listed messages, positions included: nothing lost, nothing
// said twice. "web" stands for a valid first service.
func TestParseAppRejects(t *testing.T) {
	const web = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"an empty file", ``,
			[]string{"app.yml:1:1: the file is empty; it must be a YAML mapping"}},
		{"a missing name and services", "env: {A: b}\n",
			[]string{`app.yml:1:1: missing required field "name" (the app's name: 1 to 20 lowercase letters, digits or '-', starting with a letter)`,
				`app.yml:1:1: missing required field "services" (the app's services, such as web and worker, by name)`}},
		{"an unknown top-level field", web + "colour: red\n",
			[]string{`app.yml:5:1: colour: unknown field "colour"; allowed here: chaos, data, env, name, orbits, pipeline, release, secrets, services, tests`}},
		{"an upper-case app name", "name: Shop\nservices: {web: {runtime: {docker: {image: x}}}}\n",
			[]string{`app.yml:1:7: name: "Shop": not allowed; want the app's name: 1 to 20 lowercase letters, digits or '-', starting with a letter`}},
		{"no services", "name: shop\nservices: {}\n",
			[]string{`app.yml:2:11: services: needs at least 1 entry(ies) (the app's services, such as web and worker, by name)`}},
		{"a service name with a capital", "name: shop\nservices:\n  Web: {runtime: {docker: {image: x}}}\n",
			[]string{`app.yml:3:3: services.Web: "Web" is not allowed as a name here; want a service name: 1 to 20 lowercase letters, digits or '-', starting with a letter`}},
		{"an unknown field in a service", web + "    instance: t3.small\n",
			[]string{`app.yml:5:5: services.web.instance: unknown field "instance"; allowed here: alarms, ami, env, firewall, instance_type, lifecycle_hooks, load_balancer, orbit_policies, port, release, runtime, scaling`}},
		{"a service without a runtime", "name: shop\nservices:\n  web:\n    instance_type: t3.small\n",
			[]string{`app.yml:3:3: services.web: missing required field "runtime" (how the service runs: docker, units or ecs)`}},
		{"a runtime with both docker and units", "name: shop\nservices:\n  web:\n    runtime:\n      docker: {image: x}\n      units: {web.service: x}\n",
			[]string{`app.yml:4:5: services.web.runtime: give exactly one of docker (a container on instances), units (systemd units) or ecs (an ECS service); this has docker and units`}},
		{"a runtime with neither docker nor units", "name: shop\nservices:\n  web:\n    runtime: {}\n",
			[]string{`app.yml:4:14: services.web.runtime: give exactly one of docker (a container on instances), units (systemd units) or ecs (an ECS service); this has none`}},
		{"a repository beside an image", "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x, repository: {keep_untagged: 5}}}\n",
			[]string{`app.yml:4:34: services.web.runtime.docker.repository: only a service without image has its own repository; remove image to run from the app's ECR repository, or repository to keep x`}},
		{"a repository that keeps no untagged image", "name: shop\nservices:\n  web:\n    runtime: {docker: {repository: {keep_untagged: 0}}}\n",
			[]string{`app.yml:4:52: services.web.runtime.docker.repository.keep_untagged: 0: must be at least 1 (how many untagged images the repository keeps, newest first (default 10))`}},
		{"a repository that keeps a fraction", "name: shop\nservices:\n  web:\n    runtime: {docker: {repository: {keep_untagged: 2.5}}}\n",
			[]string{`app.yml:4:52: services.web.runtime.docker.repository.keep_untagged: 2.5: is a number; want integer (how many untagged images the repository keeps, newest first (default 10))`}},
		{"a repository with an unknown setting", "name: shop\nservices:\n  web:\n    runtime: {docker: {repository: {scan: false}}}\n",
			[]string{`app.yml:4:37: services.web.runtime.docker.repository.scan: unknown field "scan"; allowed here: keep_untagged`}},
		{"an image with a tag", "name: shop\nservices:\n  web:\n    runtime: {docker: {image: \"localhost:5000/shop:1.2\"}}\n",
			[]string{`app.yml:4:31: services.web.runtime.docker.image: "localhost:5000/shop:1.2": has a tag; give the repository only, such as localhost:5000/shop: a release adds :VERSION`}},
		{"a docker port that is not host:container", "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x, ports: [\"8080\"]}}\n",
			[]string{`app.yml:4:42: services.web.runtime.docker.ports[0]: "8080": not allowed; want host:container, such as 80:8080 or 5353:53/udp`}},
		{"a docker port out of range and a host port published twice", "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x, ports: [\"80:8080\", \"80:9090/tcp\", \"0:53/udp\"]}}\n",
			[]string{`app.yml:4:53: services.web.runtime.docker.ports[1]: "80:9090/tcp": publishes host port 80/tcp again (first in ports[0]); a host port takes one container port`,
				`app.yml:4:68: services.web.runtime.docker.ports[2]: "0:53/udp": port 0 is out of range; want host:container with ports from 1 to 65535`}},
		{"a port that docker does not publish", "name: shop\nservices:\n  web:\n    runtime: {docker: {image: x, ports: [\"80:8080\"]}}\n    port: 8080\n",
			[]string{`app.yml:5:11: services.web.port: 8080: is not a host port of runtime.docker.ports (80); the load balancer and firewall reach the instance's port`}},
		{"a load balancer without a port", web + "    load_balancer: {type: public}\n",
			[]string{`app.yml:3:3: services.web: missing required field "port" (a service behind a load balancer needs the port it listens on, such as 8080)`}},
		{"listeners and hosts on a load balancer without a type", web + "    load_balancer:\n      listeners: [{protocol: HTTP, port: 80}]\n      hosts: [a.example.com]\n",
			[]string{`app.yml:6:7: services.web.load_balancer.listeners: only a load balancer of type public or private takes listeners; without a type, there is no load balancer`,
				`app.yml:7:7: services.web.load_balancer.hosts: only a load balancer of type public or private takes hosts; without a type, there is no load balancer`}},
		{"a health check on a load balancer of type none", web + "    load_balancer: {type: none, health_check: {path: /}}\n",
			[]string{`app.yml:5:33: services.web.load_balancer.health_check: only a load balancer of type public or private takes health_check; the type is none`}},
		{"listener mistakes", web + "    port: 80\n    load_balancer:\n      type: public\n      listeners:\n" +
			"        - {protocol: HTTPS, port: 443}\n" +
			"        - {protocol: HTTP, port: 443, certificate: {arn: \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"}}\n" +
			"        - {protocol: HTTPS, port: 8443, redirect_https: true, certificate: {domain: a.example.com, arn: \"arn:aws:acm:us-east-1:123456789012:certificate/abc\"}}\n",
			[]string{`app.yml:9:11: services.web.load_balancer.listeners[0]: an HTTPS listener needs a certificate: {domain: shop.example.com} or {arn: arn:aws:acm:...}`,
				`app.yml:10:34: services.web.load_balancer.listeners[1].port: 443: duplicate listener port (first in listeners[0]); each listener needs its own port`,
				`app.yml:10:39: services.web.load_balancer.listeners[1].certificate: only an HTTPS listener takes a certificate`,
				`app.yml:11:57: services.web.load_balancer.listeners[2].redirect_https: true: only an HTTP listener redirects to HTTPS`,
				`app.yml:11:76: services.web.load_balancer.listeners[2].certificate: give exactly one of domain (a certificate is requested) or arn (an existing certificate)`}},
		{"a redirect with no HTTPS listener", web + "    port: 80\n    load_balancer:\n      type: public\n      listeners: [{protocol: HTTP, port: 80, redirect_https: true}]\n",
			[]string{`app.yml:8:62: services.web.load_balancer.listeners[0].redirect_https: true: there is no HTTPS listener to redirect to; add one such as {protocol: HTTPS, port: 443, certificate: {domain: shop.example.com}}`}},
		{"a health check timeout not below its interval", web + "    port: 80\n    load_balancer:\n      type: private\n      health_check: {interval: 5s, timeout: 5s, success_codes: 200-599}\n",
			[]string{`app.yml:8:45: services.web.load_balancer.health_check.timeout: the timeout (5s) must be less than the interval (5s)`,
				`app.yml:8:64: services.web.load_balancer.health_check.success_codes: "200-599": 200-599 is not a code or an ascending range of codes between 200 and 499`}},
		{"durations that are not", web + "    port: 80\n    load_balancer:\n      type: private\n      deregistration_delay: 30\n      slow_start: 1.5s\n      stickiness: 8d\n",
			[]string{`app.yml:8:29: services.web.load_balancer.deregistration_delay: 30: is a number; want string (a duration such as 30s, 5m or 1h)`,
				`app.yml:9:19: services.web.load_balancer.slow_start: "1.5s": not whole seconds; did you mean 2s?`,
				`app.yml:10:19: services.web.load_balancer.stickiness: "8d": not allowed; want a duration such as 30s, 5m or 1h`}},
		{"a slow start out of range", web + "    port: 80\n    load_balancer: {type: private, slow_start: 10s, deregistration_delay: 2h}\n",
			[]string{`app.yml:6:48: services.web.load_balancer.slow_start: "10s": must be 0s (off) or between 30s and 15m`,
				`app.yml:6:75: services.web.load_balancer.deregistration_delay: "2h": must be between 0s and 1h`}},
		{"two services taking every request on one port", web + "    port: 80\n    load_balancer: {type: public}\n  api:\n    runtime: {docker: {image: x}}\n    port: 80\n    load_balancer: {type: public}\n",
			[]string{`app.yml:10:20: services.api.load_balancer: services web and api would both take every request on port 80 of the app's public load balancer; give one of them hosts or paths`}},
		{"services disagreeing on a port's protocol", web + "    port: 80\n    load_balancer: {type: public}\n  api:\n    runtime: {docker: {image: x}}\n    port: 80\n    load_balancer:\n      type: public\n      paths: [/api/*]\n      listeners: [{protocol: HTTPS, port: 80, certificate: {domain: shop.example.com}}]\n",
			[]string{`app.yml:13:19: services.api.load_balancer.listeners[0]: port 80 of the app's public load balancer is HTTP for service web; services sharing a load balancer must agree on each port's protocol`}},
		{"scaling with min above max and max 0", web + "    scaling: {min: 5, max: 2}\n  api:\n    runtime: {docker: {image: x}}\n    scaling: {max: 0}\n",
			[]string{`app.yml:5:20: services.web.scaling.min: 5: is more than max (2); want min <= max`,
				`app.yml:8:20: services.api.scaling.max: 0: must be at least 1 (the most instances, 1 to 1000 and at least min (default: min))`}},
		{"firewall rules with the wrong ports", web + "    firewall:\n" +
			"      - {port: 1, ports: 1-2, from: bastion}\n" +
			"      - {from: bastion}\n" +
			"      - {ports: 9100-9000, from: bastion}\n" +
			"      - {ports: 1-70000, from: bastion}\n" +
			"      - {protocol: icmp, port: 8, from: bastion}\n" +
			"      - {protocol: sctp, port: 8, from: bastion}\n",
			[]string{`app.yml:6:9: services.web.firewall[0]: give exactly one of port or ports, not both`,
				`app.yml:7:9: services.web.firewall[1]: give exactly one of port (such as 8080) or ports (such as 9000-9100)`,
				`app.yml:8:17: services.web.firewall[2].ports: "9100-9000": the range is backwards; did you mean 9000-9100?`,
				`app.yml:9:17: services.web.firewall[3].ports: "1-70000": ports go from 0 to 65535`,
				`app.yml:10:32: services.web.firewall[4].port: 8: protocol icmp takes no port; it lets in every ICMP type`,
				`app.yml:11:20: services.web.firewall[5].protocol: "sctp": must be one of: tcp, udp, icmp, all`}},
		{"firewall rules with the wrong sources", web + "    firewall:\n" +
			"      - {port: 80, from: {cidr: 10.0.0.1/8}}\n" +
			"      - {port: 80, from: {cidr: 10.0.0.0/8, app: billing}}\n" +
			"      - {port: 80, from: {service: api}}\n" +
			"      - {port: 80, from: {app: shop, service: api}}\n" +
			"      - {port: 80, from: {}}\n" +
			"      - {port: 80, from: nowhere}\n" +
			"      - {port: 80}\n",
			[]string{`app.yml:6:33: services.web.firewall[0].from.cidr: "10.0.0.1/8": has host bits set; did you mean 10.0.0.0/8?`,
				`app.yml:7:26: services.web.firewall[1].from: give exactly one source: cidr, app (with or without service), service, or bastion; not cidr and app or service`,
				`app.yml:8:36: services.web.firewall[2].from.service: "api": no such service in this app; services are: web`,
				`app.yml:9:47: services.web.firewall[3].from.service: "api": no such service in this app; services are: web`,
				`app.yml:10:26: services.web.firewall[4].from: give a source: {cidr: 10.0.0.0/8}, {app: billing, service: api}, {service: web} or bastion`,
				`app.yml:11:26: services.web.firewall[5].from: "nowhere": must be one of: bastion`,
				`app.yml:12:9: services.web.firewall[6]: missing required field "from" (where the traffic comes from: exactly one of {cidr: 10.0.0.0/8}, {app: billing, service: api} (another app's service in the same orbit; without service, every service of the app), {service: web} (a service of this app) or bastion (the orbit's bastion))`}},
		{"an image parameter outside the prefixes the submitter policy may read", web + "    ami: {ssm: /shop/web-ami}\n" +
			"  worker:\n    runtime: {docker: {image: x}}\n    ami: {ssm: /elevator/images/}\n" +
			"  cron:\n    runtime: {docker: {image: x}}\n    ami: {ssm: /elevator/images/shop/cron}\n" +
			"  batch:\n    runtime: {docker: {image: x}}\n    ami: {ssm: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64}\n",
			[]string{`app.yml:5:16: services.web.ami.ssm: "/shop/web-ami": an image parameter must be one of AWS's, under /aws/service/, or the account's under /elevator/images/, such as /elevator/images/shop/web: compiling a release reads it with the orbit's submitter policy, which may read no other parameter (the others may hold secrets)`,
				`app.yml:8:16: services.worker.ami.ssm: "/elevator/images/": an image parameter must be one of AWS's, under /aws/service/, or the account's under /elevator/images/, such as /elevator/images/shop/worker: compiling a release reads it with the orbit's submitter policy, which may read no other parameter (the others may hold secrets)`}},
		{"alarm mistakes", web + "    alarms:\n" +
			"      - {metric: custom, threshold: 1, severity: info, namespace: Shop}\n" +
			"      - {metric: cpu, threshold: 180, severity: warning, statistic: Maximum}\n" +
			"      - {metric: 5xx_rate, threshold: 1, severity: urgent}\n" +
			"      - {metric: cpu, threshold: 1, severity: info, period: 45s}\n" +
			"      - {metric: cpu, threshold: 1, severity: info, period: 1h, evaluations: 25}\n",
			[]string{`app.yml:6:9: services.web.alarms[0]: a custom alarm needs name, statistic, comparison`,
				`app.yml:7:34: services.web.alarms[1].threshold: 180: cpu is a percentage; want 0 to 100`,
				`app.yml:7:58: services.web.alarms[1].statistic: only a custom alarm takes statistic; cpu is a built-in metric`,
				`app.yml:8:18: services.web.alarms[2].metric: "5xx_rate": is measured by the load balancer, and service web has none`,
				`app.yml:8:52: services.web.alarms[2].severity: "urgent": must be one of: critical, warning, info`,
				`app.yml:9:61: services.web.alarms[3].period: "45s": must be 10s, 30s or a multiple of 60s`,
				`app.yml:10:78: services.web.alarms[4].evaluations: 25: 25 periods of 1h are more than a day, the longest CloudWatch evaluates`}},
		{"env and secret mistakes", "name: shop\nenv: {log_level: x, API_KEY: y, RATIO: 1.5, N: 2.0}\nsecrets:\n  API_KEY: {ssm: /a/b, secretsmanager: c}\n  OTHER: {}\nservices:\n  web:\n    runtime: {docker: {image: x, env: {OTHER: z}}}\n",
			[]string{`app.yml:2:7: env.log_level: "log_level" is not allowed as a name here; want an environment variable name: upper-case letters, digits and '_', not starting with a digit, such as LOG_LEVEL`,
				`app.yml:2:21: env.API_KEY: "API_KEY": is also a secret (secrets.API_KEY); a variable is either plain env or a secret, not both`,
				`app.yml:2:40: env.RATIO: 1.5: is a number; want boolean or integer or string (a string, an integer or true/false; quote other numbers, such as "1.10", to keep them as written)`,
				`app.yml:2:48: env.N: 2: is a decimal number; quote it so that the value stays as written`,
				`app.yml:4:12: secrets.API_KEY: give exactly one of ssm (a parameter name) or secretsmanager (a secret name or ARN)`,
				`app.yml:5:10: secrets.OTHER: give exactly one of ssm (a parameter name) or secretsmanager (a secret name or ARN)`,
				`app.yml:8:40: services.web.runtime.docker.env.OTHER: "OTHER": is also a secret (secrets.OTHER); a variable is either plain env or a secret, not both`}},
		{"database mistakes", web + "data:\n  database: {engine: oracle, global: true}\n  redis: {maintenance_window: \"sun:05:00-sun:05:30\"}\n",
			[]string{`app.yml:6:22: data.database.engine: "oracle": must be one of: postgres, mysql`,
				`app.yml:6:38: data.database.global: true: a global database needs aurora: true`,
				`app.yml:7:31: data.redis.maintenance_window: "sun:05:00-sun:05:30": lasts 0h30m; a maintenance window lasts from 1 hour to 24 hours`}},
		{"storage on Aurora and a window at no real time", web + "data:\n  database: {aurora: true, storage: 50}\n  redis: {maintenance_window: \"sun:25:00-mon:06:00\"}\n",
			[]string{`app.yml:6:37: data.database.storage: 50: Aurora manages its own storage; remove storage, or set aurora: false`,
				`app.yml:7:31: data.redis.maintenance_window: "sun:25:00-mon:06:00": not a window of real times; want ddd:hh:mm-ddd:hh:mm with hh 00 to 23 and mm 00 to 59, such as sun:05:00-sun:06:00`}},
		{"table mistakes", web + "data:\n  tables:\n" +
			"    carts: {billing: provisioned, read: 5}\n" +
			"    users: {hash_key: {name: id, type: S}, range_key: {name: id, type: X}, write: 3}\n" +
			"    carts: {hash_key: {name: id, type: S}}\n",
			[]string{`app.yml:9:5: data.tables.carts: duplicate key "carts" (first at line 7, column 5)`}},
		{"table key, billing and capacity mistakes", web + "data:\n  tables:\n" +
			"    carts: {billing: provisioned, read: 5}\n" +
			"    users: {hash_key: {name: id, type: S}, range_key: {name: id, type: X}, write: 3}\n",
			[]string{`app.yml:7:12: data.tables.carts: missing required field "hash_key" (a key attribute: {name: id, type: S})`,
				`app.yml:7:12: data.tables.carts: provisioned billing needs write capacity units, such as read: 5, write: 5`,
				`app.yml:8:62: data.tables.users.range_key.name: "id": is also the hash key; the range key needs another attribute`,
				`app.yml:8:72: data.tables.users.range_key.type: "X": must be one of: S, N, B`,
				`app.yml:8:83: data.tables.users.write: 3: only provisioned billing takes write; billing is on_demand`}},
		{"an override for a service the app lacks, and unknown fields in overrides", web + "orbits:\n  production:\n    services: {api: {port: 1}, web: {port: 0}}\n    name: x\n  Staging: {}\n",
			[]string{`app.yml:7:16: orbits.production.services.api: "api": no such service; an override can only change one of the app's services: web`,
				`app.yml:7:44: orbits.production.services.web.port: 0: must be at least 1 (a port number, 1 to 65535)`,
				`app.yml:8:5: orbits.production.name: unknown field "name"; allowed here: chaos, data, env, release, secrets, services`,
				`app.yml:9:3: orbits.Staging: "Staging" is not allowed as a name here; want an orbit name: 1 to 20 lowercase letters, digits or '-', starting with a letter`}},
		{"a bad value in another orbit's override", web + "orbits:\n  staging:\n    services: {web: {scaling: {min: -1}}}\n",
			[]string{`app.yml:7:37: orbits.staging.services.web.scaling.min: -1: must be at least 0 (the fewest instances, 0 to 1000 (default 1))`}},
		{"a conflict made by the merge, reported where the override writes it", web + "    scaling: {min: 1, max: 4}\norbits:\n  production:\n    services: {web: {scaling: {min: 9}}}\n",
			[]string{`app.yml:8:37: services.web.scaling.min: 9: is more than max (4); want min <= max`}},
		{"a value the override puts out of range, reported where the override writes it", web + "    port: 80\n    load_balancer: {type: public}\norbits:\n  production:\n    services: {web: {load_balancer: {health_check: {interval: 2s}}}}\n",
			[]string{`app.yml:9:63: services.web.load_balancer.health_check.interval: "2s": must be between 5s and 5m`}},
		{"an override value the schema faults, reported once", web + "    scaling: {max: 4}\norbits:\n  production:\n    services: {web: {scaling: {min: 2000}}}\n",
			[]string{`app.yml:8:37: orbits.production.services.web.scaling.min: 2000: must be at most 1000 (the fewest instances, 0 to 1000 (default 1))`}},
		{"an override that drops the load balancer some alarms need", web + "    port: 80\n    load_balancer: {type: public}\n    alarms: [{metric: unhealthy_hosts, threshold: 1, severity: critical}]\norbits:\n  production:\n    services: {web: {load_balancer: {type: none}}}\n",
			[]string{`app.yml:7:23: services.web.alarms[0].metric: "unhealthy_hosts": is measured by the load balancer, and service web has none`}},
		{"secrets pasted where their references belong, never echoed", web + "secrets:\n  STRIPE_KEY: sk_live_4eC39HqLyjWDarjtT1zdp7dc\n  API_KEY: {sk_live_4eC39HqLyjWDarjtT1zdp7dc: x}\norbits:\n  production:\n    secrets: {DB_URL: {ssm: \"postgres://u:p4ss@db/x\"}}\n",
			[]string{`app.yml:6:15: secrets.STRIPE_KEY: is a string; want object (where a secret's value is kept: exactly one of ssm (a SecureString parameter) or secretsmanager (a secret's name or ARN))`,
				`app.yml:7:12: secrets.API_KEY: give exactly one of ssm (a parameter name) or secretsmanager (a secret name or ARN)`,
				`app.yml:7:13: secrets.API_KEY: unknown field; allowed here: secretsmanager, ssm`,
				`app.yml:10:29: orbits.production.secrets.DB_URL.ssm: not allowed; want an SSM parameter name such as /elevator/production/shop/database-url`}},
		{"an unknown release strategy", web + "    release: {strategy: blue-green, steps: [50, 100]}\n",
			[]string{`app.yml:5:25: services.web.release.strategy: "blue-green": must be one of: all-at-once, canary, percent`}},
		{"steps without the percent strategy", web + "    release: {steps: [50, 100]}\n  api:\n    runtime: {docker: {image: x}}\n    release:\n      strategy: canary\n      steps: [100]\n",
			[]string{`app.yml:5:15: services.web.release.steps: only the percent strategy takes steps; without a strategy, a release is all-at-once`,
				`app.yml:10:7: services.api.release.steps: only the percent strategy takes steps; the strategy is canary`}},
		{"a percent strategy without steps", web + "    release: {strategy: percent}\n",
			[]string{`app.yml:5:14: services.web.release: the percent strategy needs steps: increasing percentages of the desired capacity, ending at 100, such as [25, 50, 100]`}},
		{"percent steps that do not increase, or stop short of 100", web + "    release: {strategy: percent, steps: [50, 50, 100]}\n  api:\n    runtime: {docker: {image: x}}\n    release: {strategy: percent, steps: [25, 75]}\n  admin:\n    runtime: {docker: {image: x}}\n    release: {strategy: percent, steps: [0, 150, 100], spread: 1, max_terms: -1}\n",
			[]string{`app.yml:5:46: services.web.release.steps[1]: 50: is not more than the step before it (50); steps increase`,
				`app.yml:8:46: services.api.release.steps[1]: 75: the last step must be 100, when the new group has its full size`,
				`app.yml:11:42: services.admin.release.steps[0]: 0: must be at least 1 (a percentage of the desired capacity, 1 to 100)`,
				`app.yml:11:45: services.admin.release.steps[1]: 150: must be at most 100 (a percentage of the desired capacity, 1 to 100)`,
				`app.yml:11:64: services.admin.release.spread: 1: must be less than 1: a group launches desired x (1 + spread) instances and is healthy with desired x (1 - spread)`,
				`app.yml:11:78: services.admin.release.max_terms: -1: must be at least 0 (how many of the new instances terminating halts the release, 0 to 1000; 0 and 1 both mean the first one does (default 0))`}},
		{"a health check grace beyond two hours and a negative spread", web + "    release: {health_check_grace: 3h, spread: -0.1}\n",
			[]string{`app.yml:5:35: services.web.release.health_check_grace: "3h": must be between 0s and 2h`,
				`app.yml:5:47: services.web.release.spread: -0.1: must be at least 0 (the share of the desired capacity launched beyond it, and allowed to be missing for the group to be healthy: at least 0 and less than 1, such as 0.2 (default 0))`}},
		{"step policies adjusting the wrong way", web + "    scaling:\n      max: 4\n      step:\n" +
			"        - {when: cpu_above, threshold: 70, adjust: -2}\n" +
			"        - {when: cpu_below, threshold: 20, adjust: 1}\n" +
			"        - {when: cpu_above, threshold: 80, adjust: 0, cooldown: 2h}\n",
			[]string{`app.yml:8:52: services.web.scaling.step[0].adjust: -2: cpu_above adds instances; want a positive adjust, such as 2`,
				`app.yml:9:52: services.web.scaling.step[1].adjust: 1: cpu_below removes instances; want a negative adjust, such as -1`,
				`app.yml:10:52: services.web.scaling.step[2].adjust: 0: cpu_above adds instances; want a positive adjust, such as 2`,
				`app.yml:10:65: services.web.scaling.step[2].cooldown: "2h": must be between 0s and 1h`}},
		{"step policy thresholds out of range or undoing each other", web + "    scaling:\n      max: 4\n      step:\n" +
			"        - {when: cpu_above, threshold: 0}\n" +
			"        - {when: cpu_below, threshold: 120}\n" +
			"        - {when: cpu_above, threshold: 50}\n" +
			"        - {when: cpu_below, threshold: 60, periods: 0}\n" +
			"        - {when: cpu_over, threshold: 50}\n" +
			"        - {threshold: 50}\n",
			[]string{`app.yml:8:40: services.web.scaling.step[0].threshold: 0: must be more than 0, or the policy acts always (cpu_above) or never (cpu_below)`,
				`app.yml:9:40: services.web.scaling.step[1].threshold: 120: must be at most 100 (the average CPU percent, above 0 and at most 100)`,
				`app.yml:11:40: services.web.scaling.step[3].threshold: 60: is not below the cpu_above threshold of step[2] (50); the two policies would undo each other`,
				`app.yml:11:53: services.web.scaling.step[3].periods: 0: must be at least 1 (how many minutes in a row the CPU must be past the threshold, 1 to 1440 (default 2))`,
				`app.yml:12:18: services.web.scaling.step[4].when: "cpu_over": must be one of: cpu_above, cpu_below`,
				`app.yml:13:11: services.web.scaling.step[5]: missing required field "when" (cpu_above (add instances) or cpu_below (remove instances))`}},
		{"schedule entries that are malformed or outside min and max", web + "    scaling:\n      min: 1\n      max: 4\n      schedule:\n" +
			"        - \"4 0 8 * * 1-5\"\n" +
			"        - \"4@0 25 * * *\"\n" +
			"        - \"4@0 8 * *\"\n" +
			"        - \"9@0 8 * * MON-FRI\"\n" +
			"        - \"2@0 20 * * *:0@0 2 * * *\"\n" +
			"        - \"2@0 20 * * *:x@0 2 * * *\"\n" +
			"        - \"-1@0 2 * * *\"\n" +
			"        - \"\"\n",
			[]string{`app.yml:9:11: services.web.scaling.schedule[0]: "4 0 8 * * 1-5": want desired@cron, such as 4@0 8 * * 1-5 (4 instances at 08:00 UTC on weekdays)`,
				`app.yml:10:11: services.web.scaling.schedule[1]: "4@0 25 * * *": cron "0 25 * * *": hour "25": "25": want 0 to 23`,
				`app.yml:11:11: services.web.scaling.schedule[2]: "4@0 8 * *": cron "0 8 * *": want five fields: minute hour day-of-month month day-of-week`,
				`app.yml:12:11: services.web.scaling.schedule[3]: "9@0 8 * * MON-FRI": desired 9 is not between min (1) and max (4)`,
				`app.yml:13:11: services.web.scaling.schedule[4]: "2@0 20 * * *:0@0 2 * * *": entry 2: desired 0 is not between min (1) and max (4)`,
				`app.yml:14:11: services.web.scaling.schedule[5]: "2@0 20 * * *:x@0 2 * * *": entry 2: want desired@cron, such as 4@0 8 * * 1-5 (4 instances at 08:00 UTC on weekdays)`,
				`app.yml:15:11: services.web.scaling.schedule[6]: "-1@0 2 * * *": want desired@cron, such as 4@0 8 * * 1-5 (4 instances at 08:00 UTC on weekdays)`,
				`app.yml:16:11: services.web.scaling.schedule[7]: "": not allowed; want desired@cron, such as 4@0 8 * * 1-5 (4 instances at 08:00 UTC on weekdays); several may be joined with ':'`}},
		{"lifecycle hook mistakes", web + "    lifecycle_hooks:\n" +
			"      - {name: drain, transition: terminate, heartbeat: 10s}\n" +
			"      - {name: drain, transition: terminating, heartbeat: 3h, default_result: continue}\n" +
			"      - {name: warm, transition: launching, topic: {arn: \"arn:aws:sns:us-east-1:123456789012:warm\"}}\n" +
			"      - {name: \"no spaces\", transition: launching, role: {arn: \"arn:aws:iam::123456789012:role/warm\"}}\n" +
			"      - {transition: launching, heartbeat: 300}\n",
			[]string{`app.yml:6:35: services.web.lifecycle_hooks[0].transition: "terminate": must be one of: launching, terminating`,
				`app.yml:6:57: services.web.lifecycle_hooks[0].heartbeat: "10s": must be between 30s and 2h`,
				`app.yml:7:16: services.web.lifecycle_hooks[1].name: "drain": is the name of lifecycle_hooks[0] too; each hook needs its own name`,
				`app.yml:7:59: services.web.lifecycle_hooks[1].heartbeat: "3h": must be between 30s and 2h`,
				`app.yml:7:79: services.web.lifecycle_hooks[1].default_result: "continue": must be one of: CONTINUE, ABANDON`,
				`app.yml:8:9: services.web.lifecycle_hooks[2]: give both topic (where notices go) and role (what Auto Scaling publishes them as), or neither`,
				`app.yml:9:9: services.web.lifecycle_hooks[3]: give both topic (where notices go) and role (what Auto Scaling publishes them as), or neither`,
				`app.yml:9:16: services.web.lifecycle_hooks[3].name: "no spaces": not allowed; want the hook's name, unique in the service: 1 to 255 letters, digits, '-', '_' or '/'`,
				`app.yml:10:9: services.web.lifecycle_hooks[4]: missing required field "name" (the hook's name, unique in the service: 1 to 255 letters, digits, '-', '_' or '/')`,
				`app.yml:10:44: services.web.lifecycle_hooks[4].heartbeat: 300: is a number; want string (a duration such as 30s, 5m or 1h)`}},
		{"a release timeout under a minute", web + "release: {timeout: 30s}\n",
			[]string{`app.yml:5:20: release.timeout: "30s": must be between 1m and 24h`}},
		{"release timeouts wrong in overrides, the orbit's own reported where it writes it", web + "release: {timeout: 20m}\norbits:\n  production:\n    release: {timeout: 48h}\n  staging:\n    release: {timeout: 10, wait: 1m}\n",
			[]string{`app.yml:8:24: release.timeout: "48h": must be between 1m and 24h`,
				`app.yml:10:24: orbits.staging.release.timeout: 10: is a number; want string (a duration such as 30s, 5m or 1h)`,
				`app.yml:10:28: orbits.staging.release.wait: unknown field "wait"; allowed here: timeout`}},
		{"an override that takes steps with a strategy other than percent", web + "    release: {strategy: percent, steps: [50, 100]}\norbits:\n  production:\n    services: {web: {release: {strategy: canary, steps: [100]}}}\n",
			[]string{`app.yml:8:50: services.web.release.steps: only the percent strategy takes steps; the strategy is canary`}},
		{"an override that lowers max below a scheduled capacity of the base", web + "    scaling: {max: 6, schedule: [\"6@0 8 * * *\"]}\norbits:\n  production:\n    services: {web: {scaling: {max: 3}}}\n",
			[]string{`app.yml:5:34: services.web.scaling.schedule[0]: "6@0 8 * * *": desired 6 is not between min (1) and max (3)`}},
		{"a merge key", "base: &b {image: x}\nname: shop\nservices:\n  web:\n    runtime:\n      docker:\n        <<: *b\n",
			[]string{`app.yml:7:9: services.web.runtime.docker: merge keys (<<) are not supported; repeat the fields instead`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(tt.src), "production")
			if err == nil {
				t.Fatalf("ParseApp accepted it: %+v", a)
			}
			var fe elevator.FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want elevator.FieldErrors: %v", err, err)
			}
			if elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("code %q, want %q", elevator.ErrorCode(err), elevator.EINVALID)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("messages differ;\n got:\n%s\nwant:\n%s", got, want)
			}
			for _, secret := range []string{"sk_live_", "p4ss"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the messages show a secret (%s...)", secret)
				}
			}
		})
	}
}

// FuzzParseApp checks that no input panics, and that an accepted app is
// usable: a name, at least one service, each with exactly one runtime.
func FuzzParseApp(f *testing.F) {
	if data, err := os.ReadFile("../../examples/app.yml"); err == nil {
		f.Add(data, "demo")
	}
	f.Add([]byte(overrideApp), "production")
	f.Add([]byte(overrideApp), "staging")
	f.Add([]byte(releaseApp), "production")
	f.Add([]byte(releaseApp), "staging")
	f.Add([]byte("name: a\nservices: {w: {runtime: {units: {a.service: x}}, firewall: [{ports: 1-2, from: {service: w}}]}}\n"), "")
	f.Add([]byte("name: a\nservices: {w: {runtime: {docker: {image: x}}, ami: {ssm: /elevator/images/}}}\norbits: {p: {services: {w: {ami: {ssm: /x}}}}}\n"), "p")
	f.Add([]byte("name: a\nservices: {w: {runtime: {docker: {image: x}}}}\norbits: {p: {services: {w: {runtime: {units: {a.service: x}}}}}}\n"), "p")
	f.Add([]byte("a: &a [*a]\n"), "")
	f.Add([]byte("name: a\nservices: {w: {runtime: {docker: {repository: {keep_untagged: 3}}}}, v: {runtime: {docker: {}}}}\norbits: {p: {services: {w: {runtime: {docker: {image: x}}}}}}\n"), "p")
	f.Add([]byte(gatedApp), "")
	f.Add([]byte(ecsApp), "prod")
	f.Add([]byte(ecsApp), "")
	f.Add([]byte("name: a\nservices: {w: {port: 80, runtime: {ecs: {cpu: 256, memory: 512, ports: [\"80:80/udp\", 81, \"8080:\"]}}}}\n"), "")
	f.Add([]byte("name: a\nservices: {w: {runtime: {ecs: {image: x, cpu: 128, memory: 6, capacity: ec2}}}}\norbits: {p: {services: {w: {runtime: {ecs: {capacity: fargate}}}}}}\n"), "p")
	f.Add([]byte("name: a\nservices: {w: {runtime: {docker: {image: x}}}}\norbits: {p: {services: {w: {runtime: {ecs: {cpu: 4096, memory: 30720}}}}}}\n"), "p")
	f.Add([]byte(pipelineApp), "production")
	f.Fuzz(func(t *testing.T, data []byte, orbit string) {
		a, err := ParseApp("fuzz.yml", data, orbit)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		if a.Name == "" || len(a.Services) == 0 {
			t.Fatalf("accepted an app without a name or services: %+v", a)
		}
		for _, s := range a.Services {
			if boolCount(s.Runtime.Docker != nil, s.Runtime.Units != nil, s.Runtime.ECS != nil) != 1 {
				t.Fatalf("service %s has not exactly one runtime: %+v", s.Name, s.Runtime)
			}
			if e := s.Runtime.ECS; e != nil {
				checkECSInvariants(t, s, e)
			}
			if d := s.Runtime.Docker; d != nil && (d.Image == "") != (d.Repository != nil) {
				t.Fatalf("service %s has image %q and repository %+v: want exactly one", s.Name, d.Image, d.Repository)
			}
			if d := s.Runtime.Docker; d != nil && d.Repository != nil && (d.Repository.KeepUntagged < 1 || d.Repository.KeepUntagged > elevator.MaxKeepUntagged) {
				t.Fatalf("service %s keeps %d untagged images", s.Name, d.Repository.KeepUntagged)
			}
			if s.Scaling.Min > s.Scaling.Max || s.Scaling.Max < 1 {
				t.Fatalf("service %s scales %d..%d", s.Name, s.Scaling.Min, s.Scaling.Max)
			}
			for _, sc := range s.Scaling.Schedule {
				if sc.Desired < s.Scaling.Min || sc.Desired > s.Scaling.Max {
					t.Fatalf("service %s schedules %d outside %d..%d", s.Name, sc.Desired, s.Scaling.Min, s.Scaling.Max)
				}
			}
			if r := s.Release; (r.Strategy == elevator.StrategyPercent) != (len(r.Steps) > 0) || r.Spread < 0 || r.Spread >= 1 {
				t.Fatalf("service %s releases %+v", s.Name, r)
			}
		}
		if tt := a.Tests; tt != nil {
			for _, x := range append(slices.Clone(tt.Smoke), tt.Integration...) {
				if (x.Kind == elevator.TestCommand || x.Kind == elevator.TestSSM) && len(x.Command) == 0 {
					t.Fatalf("accepted a %s test without a command: %+v", x.Kind, x)
				}
			}
			if len(tt.Alarms) > 0 && tt.MissingData == "" {
				t.Fatalf("accepted alarms without missing_data: %+v", tt)
			}
		}
		if p := a.Pipeline; p != nil {
			checkPipelineInvariants(t, p)
		}
	})
}

func TestParseAppReadsOwnRepositories(t *testing.T) {
	src := `name: shop
services:
  web:
    runtime: {docker: {ports: ["80:8080"]}}
  worker:
    runtime: {docker: {repository: {keep_untagged: 3}}}
  cron:
    runtime: {docker: {image: ghcr.io/acme/cron}}
orbits:
  prod:
    services:
      web: {runtime: {docker: {repository: {keep_untagged: 50}}}}
`
	tests := []struct {
		orbit string
		want  map[string]*elevator.Repository // by service
	}{
		{"", map[string]*elevator.Repository{
			"web":    {KeepUntagged: elevator.DefaultKeepUntagged, Path: "services.web.runtime.docker"},
			"worker": {KeepUntagged: 3, Path: "services.worker.runtime.docker.repository"},
			"cron":   nil,
		}},
		{"prod", map[string]*elevator.Repository{
			"web":    {KeepUntagged: 50, Path: "services.web.runtime.docker.repository"},
			"worker": {KeepUntagged: 3, Path: "services.worker.runtime.docker.repository"},
			"cron":   nil,
		}},
	}
	for _, tt := range tests {
		t.Run("orbit "+tt.orbit, func(t *testing.T) {
			a, err := ParseApp("app.yml", []byte(src), tt.orbit)
			if err != nil {
				t.Fatalf("ParseApp: %v", err)
			}
			for name, want := range tt.want {
				d := a.Service(name).Runtime.Docker
				if (d.Image == "") != (want != nil) {
					t.Errorf("%s: image %q with repository %+v", name, d.Image, d.Repository)
				}
				if msg := differs(d.Repository, want); msg != "" {
					t.Errorf("%s: repository: %s", name, msg)
				}
			}
		})
	}
}

func boolCount(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// checkECSInvariants fails when an accepted ECS service is one ECS
// would refuse or the release engine cannot place.
func checkECSInvariants(t *testing.T, s elevator.Service, e *elevator.ECS) {
	t.Helper()
	if (e.Image == "") != (e.Repository != nil) {
		t.Fatalf("service %s has image %q and repository %+v: want exactly one", s.Name, e.Image, e.Repository)
	}
	if s.InstanceType != "" || len(s.LifecycleHooks) > 0 {
		t.Fatalf("ECS service %s has instance type %q and hooks %v", s.Name, s.InstanceType, s.LifecycleHooks)
	}
	switch e.Capacity {
	case elevator.ECSFargate, elevator.ECSFargateSpot:
		if !elevator.FargateAllows(e.CPU, e.Memory) {
			t.Fatalf("service %s runs cpu %d, memory %d on %s", s.Name, e.CPU, e.Memory, e.Capacity)
		}
	case elevator.ECSEC2:
		if e.CPU < MinECSCPU || e.Memory < MinECSMemory {
			t.Fatalf("service %s runs cpu %d, memory %d on ec2", s.Name, e.CPU, e.Memory)
		}
	default:
		t.Fatalf("service %s has capacity %q", s.Name, e.Capacity)
	}
	found := s.Port == 0 && len(e.Ports) == 0
	for _, p := range e.Ports {
		if p.Container < 1 || p.Container > 65535 || (p.Protocol != "tcp" && p.Protocol != "udp") {
			t.Fatalf("service %s has port %+v", s.Name, p)
		}
		found = found || p.Container == s.Port
	}
	if !found {
		t.Fatalf("service %s has port %d, not one of its container ports %+v", s.Name, s.Port, e.Ports)
	}
	if s.LoadBalancer.Type != elevator.LoadBalancerNone && !slices.Contains(e.Ports, elevator.ECSPort{Container: s.Port, Protocol: "tcp"}) {
		t.Fatalf("service %s behind a load balancer has port %d, not a tcp port of %+v", s.Name, s.Port, e.Ports)
	}
}
