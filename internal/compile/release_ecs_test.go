package compile

import (
	"reflect"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// mixedExample is the example app with web as an ECS service on Fargate
// from its own repository (built in Go) and worker on Auto Scaling Groups
// as it is, with secrets from both stores, a database and a table, in the
// example orbit (us-east-1 and us-west-2) with an ECS cluster.
func mixedExample(t testing.TB) (*elevator.App, *elevator.Orbit) {
	t.Helper()
	a, o := releaseExample(t)
	o.ECS = &elevator.OrbitECS{Path: "ecs"}
	web := a.Service("web")
	web.InstanceType, web.LifecycleHooks = "", nil
	web.Runtime = elevator.Runtime{ECS: &elevator.ECS{
		Repository: &elevator.Repository{KeepUntagged: 10},
		CPU:        512, Memory: 1024,
		Ports:    []elevator.ECSPort{{Container: 8080, Protocol: "tcp"}, {Container: 9000, Protocol: "udp"}},
		Command:  []string{"bin/server"},
		Env:      map[string]string{"PORT": "8080", "LOG_LEVEL": "warn"},
		Capacity: elevator.ECSFargateSpot, Path: "services.web.runtime.ecs",
	}}
	a.Secrets = []elevator.Secret{
		{Name: "STRIPE_KEY", SecretsManager: "shop/stripe"},
		{Name: "SIGNING_KEY", SSMParameter: "/shop/signing-key"},
		{Name: "PARTNER_KEY", SecretsManager: "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner-AbCdEf"},
	}
	a.Data.Database = &elevator.Database{Engine: "postgres", Class: "db.t4g.medium", Storage: 20}
	a.Data.Tables = []elevator.Table{{Name: "line-items", HashKey: elevator.Key{Name: "id", Type: "S"}, OnDemand: true}}
	return a, o
}

// mixedFacts are releaseFactsFor with the outputs of web as an ECS
// service and of the data stores.
func mixedFacts(regions ...string) map[string]ReleaseFacts {
	f := releaseFactsFor(regions...)
	for _, r := range regions {
		delete(f[r].App, "WebInstanceProfile")
		delete(f[r].Images, "web")
		for k, v := range map[string]string{
			"WebTaskRole":      "arn:aws:iam::123456789012:role/elevator/demo/shop/web/TaskRoleWeb-1",
			"WebExecutionRole": "arn:aws:iam::123456789012:role/elevator/demo/shop/web/ExecutionRoleWeb-1",
			"WebLogGroup":      "/elevator/demo/shop/web",
			"WebRepository":    "123456789012.dkr.ecr." + r + ".amazonaws.com/demo/shop/web",
			"RedisEndpoint":    "redis." + r + ".example", "RedisPort": "6379",
			"DatabaseEndpoint": "db." + r + ".example", "DatabasePort": "5432",
			"DatabaseSecret": "arn:aws:secretsmanager:" + r + ":123456789012:secret:DatabaseSecret-Xy12Zw",
		} {
			f[r].App[k] = v
		}
	}
	for _, r := range regions {
		rf := f[r]
		// internal/lookup finds the full ARN, with Secrets Manager's suffix.
		rf.SecretARNs = map[string]string{"shop/stripe": "arn:aws:secretsmanager:" + r + ":123456789012:secret:shop/stripe-Qw12Er"}
		f[r] = rf
	}
	return f
}

func mixedRequest(a *elevator.App, o *elevator.Orbit) ReleaseRequest {
	return ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1.4.2", ID: "20261123-150000-0badcafe",
		CreatedAt: time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), CreatedBy: "arn:aws:iam::1:user/ada"}
}

func TestReleaseDocumentPlacesAnECSServiceAndAGroupInEveryRegion(t *testing.T) {
	a, o := mixedExample(t)
	rel, err := ReleaseDocument(mixedRequest(a, o), mixedFacts("us-east-1", "us-west-2"))
	if err != nil {
		t.Fatal(err)
	}
	web, worker := rel.Service("web"), rel.Service("worker")
	wantTask := &elevator.ReleaseECS{
		Capacity: elevator.ECSFargateSpot, CPU: 512, Memory: 1024,
		Ports:   []elevator.ReleasePort{{Container: 8080, Protocol: "tcp"}, {Container: 9000, Protocol: "udp"}},
		Command: []string{"bin/server"},
		Env:     map[string]string{"LOG_LEVEL": "warn", "PORT": "8080"}, // the container's LOG_LEVEL over the app's
	}
	if !reflect.DeepEqual(web.ECS, wantTask) {
		t.Errorf("web's task\n got %+v\nwant %+v", web.ECS, wantTask)
	}
	if web.InstanceType != "" || web.UserData != "" || len(web.Hooks) != 0 {
		t.Errorf("web has instance settings: type %q, %d bytes of user data, hooks %v", web.InstanceType, len(web.UserData), web.Hooks)
	}
	if web.Capacity.Min != 1 || web.Capacity.Max != 2 || web.Capacity.Strategy != elevator.StrategyCanary || len(web.Policies) != 2 {
		t.Errorf("web's capacity and policies are not the manifest's: %+v %+v", web.Capacity, web.Policies)
	}
	if worker.ECS != nil || worker.InstanceType == "" || worker.UserData == "" || len(worker.Hooks) != 1 {
		t.Errorf("worker is not a group: ecs %v, type %q, hooks %v", worker.ECS, worker.InstanceType, worker.Hooks)
	}
	for _, r := range rel.Regions {
		p := web.Placement(r)
		want := elevator.ReleasePlacement{
			Region:         r,
			Image:          "123456789012.dkr.ecr." + r + ".amazonaws.com/demo/shop/web:1.4.2",
			Repository:     "demo/shop/web",
			Subnets:        []string{"subnet-" + r + "-a", "subnet-" + r + "-b"},
			SecurityGroups: []string{"sg-web-" + r},
			TargetGroups:   []string{"arn:tg/web/" + r},
			Cluster:        "elevator-demo",
			TaskRole:       "arn:aws:iam::123456789012:role/elevator/demo/shop/web/TaskRoleWeb-1",
			ExecutionRole:  "arn:aws:iam::123456789012:role/elevator/demo/shop/web/ExecutionRoleWeb-1",
			LogGroup:       "/elevator/demo/shop/web",
			Env: map[string]string{
				"REDIS_URL":        "rediss://redis." + r + ".example:6379",
				"TABLE_LINE_ITEMS": "shop-line-items-demo",
				"DATABASE_HOST":    "db." + r + ".example",
				"DATABASE_PORT":    "5432",
				"DATABASE_NAME":    "postgres",
				"DATABASE_USER":    "elevator",
			},
			Secrets: []elevator.ReleaseSecret{
				{Name: "STRIPE_KEY", ValueFrom: "arn:aws:secretsmanager:" + r + ":123456789012:secret:shop/stripe-Qw12Er"},
				{Name: "SIGNING_KEY", ValueFrom: "arn:aws:ssm:" + r + ":123456789012:parameter/shop/signing-key"},
				{Name: "PARTNER_KEY", ValueFrom: "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner-AbCdEf"},
				{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:" + r + ":123456789012:secret:DatabaseSecret-Xy12Zw:password::"},
			},
		}
		// Alarms, events and the service URL are as for any service.
		want.Alarms, want.Events, want.ServiceURL = p.Alarms, p.Events, p.ServiceURL
		if len(p.Alarms) != 1 {
			t.Errorf("web in %s: alarms %v, want its cpu alarm", r, p.Alarms)
		}
		if !reflect.DeepEqual(*p, want) {
			t.Errorf("web in %s\n got %+v\nwant %+v", r, *p, want)
		}
		wp := worker.Placement(r)
		if wp.Image != "ami-worker" || wp.InstanceProfile != "profile-worker" || wp.Cluster != "" || wp.TaskRole != "" || wp.Env != nil || wp.Secrets != nil {
			t.Errorf("worker in %s is not placed as a group: %+v", r, *wp)
		}
	}
	if strings.Contains(rel.Service("worker").UserData, "DATABASE_PASSWORD") {
		t.Errorf("worker's user data has the ECS database variables")
	}
	if err := rel.Check(); err != nil {
		t.Errorf("the built release fails its own checks: %v", err)
	}
}

func TestReleaseDocumentOfAnECSServiceRunsAnImageAtTheVersion(t *testing.T) {
	a, o := mixedExample(t)
	a.Service("web").Runtime.ECS.Repository, a.Service("web").Runtime.ECS.Image = nil, "public.ecr.aws/nginx/nginx"
	f := mixedFacts("us-east-1", "us-west-2")
	for _, r := range []string{"us-east-1", "us-west-2"} {
		delete(f[r].App, "WebRepository")
	}
	rel, err := ReleaseDocument(mixedRequest(a, o), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rel.Regions {
		if p := rel.Service("web").Placement(r); p.Image != "public.ecr.aws/nginx/nginx:1.4.2" || p.Repository != "" {
			t.Errorf("web in %s: image %q, repository %q", r, p.Image, p.Repository)
		}
	}
}

func TestReleaseDocumentOfAnECSServiceSaysWhatIsMissing(t *testing.T) {
	a, o := mixedExample(t)
	f := mixedFacts("us-east-1", "us-west-2")
	delete(f["us-west-2"].App, "WebTaskRole")
	delete(f["us-west-2"].App, "WebLogGroup")
	delete(f["us-east-1"].App, "WebRepository")
	_, err := ReleaseDocument(mixedRequest(a, o), f)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Fatalf("error %v, want ENOTFOUND", err)
	}
	for _, w := range []string{"the repository of service web in us-east-1", "the task role of service web in us-west-2", "the log group of service web in us-west-2", "elevator app up"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not say %q: %v", w, err)
		}
	}

	f = mixedFacts("us-east-1", "us-west-2")
	f["us-east-1"].App["WebRepository"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/other"
	if _, err := ReleaseDocument(mixedRequest(a, o), f); elevator.ErrorCode(err) != elevator.EINTERNAL {
		t.Errorf("another repository's URI: %v, want EINTERNAL", err)
	}
	f = mixedFacts("us-east-1", "us-west-2")
	f["us-east-1"].App["WebTaskRole"] = "TaskRoleWeb-1"
	if _, err := ReleaseDocument(mixedRequest(a, o), f); elevator.ErrorCode(err) != elevator.EINTERNAL {
		t.Errorf("a task role that is no ARN: %v, want EINTERNAL", err)
	}
}

func TestReleaseDocumentOfAnECSServiceNeedsTheOrbitsCluster(t *testing.T) {
	tests := []struct {
		name     string
		capacity string
		orbit    *elevator.OrbitECS
		at, want string
	}{
		{"an orbit without ecs", elevator.ECSFargate, nil, "services.web.runtime.ecs", "service web runs on ECS, but orbit demo has no ECS cluster; add an ecs section to the orbit's manifest"},
		{"capacity ec2 in an orbit without ecs.ec2", elevator.ECSEC2, &elevator.OrbitECS{}, "services.web.runtime.ecs", "orbit demo's cluster has no EC2 capacity; add ecs.ec2 to the orbit's manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, o := mixedExample(t)
			a.Service("web").Runtime.ECS.Capacity, o.ECS = tt.capacity, tt.orbit
			_, err := ReleaseDocument(mixedRequest(a, o), mixedFacts("us-east-1", "us-west-2"))
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.at) {
				t.Errorf("error %v (%s), want EINVALID at %s saying %q", err, elevator.ErrorCode(err), tt.at, tt.want)
			}
		})
	}
	a, o := mixedExample(t)
	a.Service("web").Runtime.ECS.Capacity, o.ECS = elevator.ECSEC2, &elevator.OrbitECS{EC2: &elevator.ECSCapacity{InstanceType: "m7g.large", Max: 2}}
	rel, err := ReleaseDocument(mixedRequest(a, o), mixedFacts("us-east-1", "us-west-2"))
	if err != nil || rel.Service("web").ECS.Capacity != elevator.ECSEC2 {
		t.Errorf("capacity ec2 in an orbit with ecs.ec2: %v", err)
	}
}

// TestReleaseDocumentReadsTheOutputsTheECSAppStackMakes builds the release
// of the containers golden case from its app stack's outputs, resolved as
// apply.Outputs does on the emulator (physical ids made up; the
// repository's is its name, and the outputs only CloudFormation resolves
// are stand-ins): the release finds every output it needs.
func TestReleaseDocumentReadsTheOutputsTheECSAppStackMakes(t *testing.T) {
	var c compiledAppCase
	for _, cc := range compileAppCases(t) {
		if cc.name == "containers" {
			c = cc
		}
	}
	if c.a == nil {
		t.Fatal("no golden case containers")
	}
	facts := map[string]ReleaseFacts{}
	for _, s := range c.stacks {
		refs := map[string]string{}
		for k, v := range s.Parameters {
			refs[k] = v
		}
		for id := range s.Template.Resources {
			refs[id] = "id-of-" + id
		}
		refs[RepositoryResource("web")] = elevator.AppRepositoryName(c.o.Name, c.a.Name, "web")
		refs["DatabaseSecret"] = "arn:aws:secretsmanager:" + s.Region + ":" + testAccount + ":secret:id-of-DatabaseSecret-AbCdEf"
		app := map[string]string{}
		for key, out := range s.Template.Outputs {
			if v, ok := resolveOutput(out.Value, refs); ok {
				app[key] = v
			} else {
				app[key] = "stand-in-" + key
			}
		}
		facts[s.Region] = ReleaseFacts{Orbit: c.facts[s.Region].Orbit, App: app,
			SecretARNs: map[string]string{"depot/api-token": "arn:aws:secretsmanager:" + s.Region + ":" + testAccount + ":secret:depot/api-token-Zx98Cv"}}
	}
	req := mixedRequest(c.a, c.o)
	rel, err := ReleaseDocument(req, facts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rel.Regions {
		web, worker := rel.Service("web").Placement(r), rel.Service("worker").Placement(r)
		if want := RepositoryHost(testAccount, r) + "/staging/depot/web:1.4.2"; web.Image != want {
			t.Errorf("web's image %s, want %s", web.Image, want)
		}
		if worker.Image != "public.ecr.aws/acme/depot-worker:1.4.2" || rel.Service("worker").ECS.Capacity != elevator.ECSEC2 {
			t.Errorf("worker's image %s, capacity %s", worker.Image, rel.Service("worker").ECS.Capacity)
		}
		if want := "arn:aws:iam::" + testAccount + ":role/elevator/staging/depot/web/id-of-TaskRoleWeb"; web.TaskRole != want {
			t.Errorf("web's task role %s, want %s", web.TaskRole, want)
		}
		if web.LogGroup != "id-of-LogGroupWeb" || len(web.TargetGroups) != 1 || len(worker.TargetGroups) != 0 || len(web.SecurityGroups) != 1 {
			t.Errorf("web's placement %+v", *web)
		}
		wantSecrets := []elevator.ReleaseSecret{
			{Name: "API_TOKEN", ValueFrom: "arn:aws:secretsmanager:" + r + ":" + testAccount + ":secret:depot/api-token-Zx98Cv"},
			{Name: "DATABASE_PASSWORD", ValueFrom: "arn:aws:secretsmanager:" + r + ":" + testAccount + ":secret:id-of-DatabaseSecret-AbCdEf:password::"},
		}
		if !reflect.DeepEqual(worker.Secrets, wantSecrets) {
			t.Errorf("worker's secrets\n got %v\nwant %v", worker.Secrets, wantSecrets)
		}
		if web.Env["REDIS_URL"] != "rediss://stand-in-RedisEndpoint:6379" || web.Env["DATABASE_PORT"] != "5432" {
			t.Errorf("web's env %v", web.Env)
		}
	}
	if err := rel.Check(); err != nil {
		t.Errorf("the built release fails its own checks: %v", err)
	}
}

// BenchmarkECSAppStackAndRelease compiles the containers golden app (two
// ECS services, a secret, Redis and a database) into its orbit's region,
// and builds the release of the mixed example app (one ECS service, one
// group) in two regions, per operation.
func BenchmarkECSAppStackAndRelease(b *testing.B) {
	a, err := loadApp("containers", "staging")
	if err != nil {
		b.Fatal(err)
	}
	o := loadAppOrbit(b, "containers")
	facts := orbitAppFacts(b, o, nil)
	ma, mo := mixedExample(b)
	req, rf := mixedRequest(ma, mo), mixedFacts("us-east-1", "us-west-2")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppStacks(a, o, facts); err != nil {
			b.Fatal(err)
		}
		if _, err := ReleaseDocument(req, rf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestECSAppRefusesSecretsTheContainersCannotTake: in an app with an ECS
// service, a secret named like a variable the containers have already
// (a data store's, ELEVATOR_*, an env key) is refused at the secret, by
// the release document and by the app stack alike. The same secrets in an
// app without ECS services are not refused.
func TestECSAppRefusesSecretsTheContainersCannotTake(t *testing.T) {
	tests := []struct {
		name   string
		secret elevator.Secret
		want   string
	}{
		{"the database's password", elevator.Secret{Name: "DATABASE_PASSWORD", SSMParameter: "/shop/db"}, `secrets.DATABASE_PASSWORD: "DATABASE_PASSWORD": is already a variable of the containers of ECS services: the database's password`},
		{"the database's host", elevator.Secret{Name: "DATABASE_HOST", SSMParameter: "/shop/db"}, `"DATABASE_HOST": is already a variable of the containers of ECS services: the database's host`},
		{"the Redis address", elevator.Secret{Name: "REDIS_URL", SSMParameter: "/shop/redis"}, `"REDIS_URL": is already a variable of the containers of ECS services: the Redis address`},
		{"a table", elevator.Secret{Name: "TABLE_LINE_ITEMS", SSMParameter: "/shop/t"}, `"TABLE_LINE_ITEMS": is already a variable of the containers of ECS services: table line-items`},
		{"an Elevator variable", elevator.Secret{Name: "ELEVATOR_VERSION", SSMParameter: "/shop/v"}, `"ELEVATOR_VERSION": ELEVATOR_* names are Elevator's own variables`},
		{"a container env key", elevator.Secret{Name: "LOG_LEVEL", SSMParameter: "/shop/l"}, `"LOG_LEVEL": is already a variable of the containers of ECS services: an env key of service web's container (runtime.ecs.env)`},
		{"a service env key", elevator.Secret{Name: "MODE", SSMParameter: "/shop/m"}, `"MODE": is already a variable of the containers of ECS services: an env key of service web`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, o := mixedExample(t)
			a.Service("web").Env = map[string]string{"MODE": "web"}
			tt.secret.Path = "secrets." + tt.secret.Name
			a.Secrets = append(a.Secrets, tt.secret)
			_, err := ReleaseDocument(mixedRequest(a, o), mixedFacts("us-east-1", "us-west-2"))
			if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("release document: %v (%s), want EINVALID saying %q", err, elevator.ErrorCode(err), tt.want)
			}
			if _, err := AppStacks(a, o, orbitAppFacts(t, o, nil)); elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("app stack: %v (%s), want EINVALID saying %q", err, elevator.ErrorCode(err), tt.want)
			}

			a.Service("web").Runtime = elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/web"}}
			if errs := checkECSSecrets(a); len(errs) > 0 {
				t.Errorf("an app without ECS services: %v", errs)
			}
		})
	}
	a, o := mixedExample(t)
	if errs := checkECSSecrets(a); len(errs) > 0 {
		t.Errorf("the example's own secrets: %v", errs)
	}
	if _, err := ReleaseDocument(mixedRequest(a, o), mixedFacts("us-east-1", "us-west-2")); err != nil {
		t.Errorf("the example: %v", err)
	}
}

// TestECSSecretsAreTheirFullARNs: ECS reads a secret by its full ARN, and
// Secrets Manager takes a partial ARN whose name ends in "-" and six
// characters (shop/db-master, stripe-apikey) for a full one and finds
// nothing. So the release document gives each Secrets Manager secret, and
// a global database's secret the app stack outputs by name, the full ARN
// internal/lookup found, never one built from the name; without it the
// release is not built.
func TestECSSecretsAreTheirFullARNs(t *testing.T) {
	a, o := mixedExample(t)
	a.Secrets = append(a.Secrets,
		elevator.Secret{Name: "DB_MASTER", SecretsManager: "shop/db-master", Path: "secrets.DB_MASTER"},
		elevator.Secret{Name: "STRIPE", SecretsManager: "stripe-apikey", Path: "secrets.STRIPE"})
	f := mixedFacts("us-east-1", "us-west-2")
	for r, rf := range f {
		rf.SecretARNs["shop/db-master"] = "arn:aws:secretsmanager:" + r + ":123456789012:secret:shop/db-master-AAbb11"
		rf.SecretARNs["stripe-apikey"] = "arn:aws:secretsmanager:" + r + ":123456789012:secret:stripe-apikey-CCdd22"
		rf.SecretARNs["global-db-secret"] = "arn:aws:secretsmanager:" + r + ":123456789012:secret:global-db-secret-EEff33"
		rf.App["DatabaseSecret"] = "global-db-secret" // a replica's stack outputs the secret's name
	}
	rel, err := ReleaseDocument(mixedRequest(a, o), f)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rel.Regions {
		got := map[string]string{}
		for _, s := range rel.Service("web").Placement(r).Secrets {
			got[s.Name] = s.ValueFrom
		}
		want := map[string]string{
			"STRIPE_KEY":        "arn:aws:secretsmanager:" + r + ":123456789012:secret:shop/stripe-Qw12Er",
			"SIGNING_KEY":       "arn:aws:ssm:" + r + ":123456789012:parameter/shop/signing-key",
			"PARTNER_KEY":       "arn:aws:secretsmanager:us-east-1:210987654321:secret:partner-AbCdEf",
			"DB_MASTER":         "arn:aws:secretsmanager:" + r + ":123456789012:secret:shop/db-master-AAbb11",
			"STRIPE":            "arn:aws:secretsmanager:" + r + ":123456789012:secret:stripe-apikey-CCdd22",
			"DATABASE_PASSWORD": "arn:aws:secretsmanager:" + r + ":123456789012:secret:global-db-secret-EEff33:password::",
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: secrets\n got %v\nwant %v", r, got, want)
		}
	}

	delete(f["us-west-2"].SecretARNs, "shop/db-master")
	_, err = ReleaseDocument(mixedRequest(a, o), f)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "ARN of secret shop/db-master in us-west-2") {
		t.Errorf("without the secret's ARN in us-west-2: %v, want ENOTFOUND naming it", err)
	}
}
