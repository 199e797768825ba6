package compile

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	yaml "go.yaml.in/yaml/v4"
)

var vars = elevator.UserDataVars{ReleaseID: "20261123-120000-9f86d081", App: "shop", Orbit: "prod", Service: "web", Region: "eu-west-1", Version: "1.4.2"}

// fakeAgentBuilds are agent builds as the caller would look them up, of
// two fake agent files (no instance runs them in these tests).
func fakeAgentBuilds() map[string]elevator.AgentBuild {
	builds := map[string]elevator.AgentBuild{}
	for _, goarch := range elevator.AgentArches {
		sum := sha256.Sum256([]byte("fake elevator-agent for linux/" + goarch))
		sha := hex.EncodeToString(sum[:])
		builds[goarch] = elevator.AgentBuild{Key: elevator.AgentObjectKey(sha, goarch), SHA256: sha}
	}
	return builds
}

// cloudConfig is what cloud-init reads of Elevator's user data.
type cloudConfig struct {
	WriteFiles []struct {
		Path        string `yaml:"path"`
		Permissions string `yaml:"permissions"`
		Content     string `yaml:"content"`
	} `yaml:"write_files"`
	RunCmd [][]string `yaml:"runcmd"`
}

func parseCloudConfig(t *testing.T, userData string) (cloudConfig, map[string]string) {
	t.Helper()
	if !strings.HasPrefix(userData, "#cloud-config\n") {
		t.Fatalf("user data is not cloud-config:\n%s", userData)
	}
	var doc cloudConfig
	if err := yaml.Unmarshal([]byte(userData), &doc); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, userData)
	}
	files := map[string]string{}
	for _, f := range doc.WriteFiles {
		files[f.Path] = f.Content
	}
	return doc, files
}

// agentConfig reads the agent's configuration back from user data.
func agentConfig(t *testing.T, userData string) elevator.AgentConfig {
	t.Helper()
	_, files := parseCloudConfig(t, userData)
	js, ok := files[elevator.AgentConfigPath]
	if !ok {
		t.Fatalf("no %s in the user data", elevator.AgentConfigPath)
	}
	var cfg elevator.AgentConfig
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("%s is not an AgentConfig: %v\n%s", elevator.AgentConfigPath, err, js)
	}
	return cfg
}

func shopApp(services ...elevator.Service) (*elevator.App, *elevator.Orbit) {
	return &elevator.App{Name: "shop", Services: services}, &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "eu-west-1"}}}
}

func TestUserDataRunsADockerServiceThroughTheAgent(t *testing.T) {
	svc := elevator.Service{Name: "web",
		Env: map[string]string{"LOG_LEVEL": "info", "GREETING": "hello from {{APP}} <&>"},
		Runtime: elevator.Runtime{Docker: &elevator.Docker{
			Image:   "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop",
			Ports:   []string{"80:8080"},
			Volumes: []string{"/var/log/shop:/logs:rw"},
			Env:     map[string]string{"LOG_LEVEL": "debug"},
			Command: []string{"serve", "--motd", "50% off $today"},
		}}}
	a, o := shopApp(svc)
	tmpl, err := UserData(&a.Services[0], a, o, fakeAgentBuilds())
	if err != nil {
		t.Fatal(err)
	}
	got := elevator.ExpandUserData(tmpl, vars)
	doc, files := parseCloudConfig(t, got)

	var paths []string
	for _, f := range doc.WriteFiles {
		paths = append(paths, f.Path+" "+f.Permissions)
	}
	if want := []string{elevator.AgentConfigPath + " 0600", BootstrapPath + " 0755", "/etc/systemd/system/elevator-web.service 0644"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("files %v, want %v", paths, want)
	}
	if want := [][]string{{BootstrapPath}}; !reflect.DeepEqual(doc.RunCmd, want) {
		t.Errorf("runcmd %v, want %v", doc.RunCmd, want)
	}
	wantUnit := `[Unit]
Description=shop web 1.4.2 (release 20261123-120000-9f86d081)
After=docker.service
Requires=docker.service

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=15min
ExecStartPre=-/usr/bin/docker rm -f web
ExecStartPre=-/usr/bin/docker pull 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2
ExecStart=/usr/local/bin/elevator-agent exec --service web -- /usr/bin/docker run --rm --name web --log-driver none --env-file /run/elevator/web.env -p 80:8080 -v /var/log/shop:/logs:rw 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2 serve --motd "50%% off $$today"
ExecStop=/usr/bin/docker stop web

[Install]
WantedBy=multi-user.target
`
	if unit := files["/etc/systemd/system/elevator-web.service"]; unit != wantUnit {
		t.Errorf("unit:\n%s\nwant:\n%s", unit, wantUnit)
	}

	cfg := agentConfig(t, got)
	want := elevator.AgentConfig{
		Mode: elevator.AgentModeService, Orbit: "prod", Region: "eu-west-1", App: "shop", Service: "web",
		ReleaseID: "20261123-120000-9f86d081", Version: "1.4.2",
		UsersTable: "prod-users", ServicesTable: "prod-services",
		AppStack: "elevator-app-prod-shop", LogGroup: "/elevator/prod/shop/web",
		Env: map[string]string{
			"ELEVATOR_APP": "shop", "ELEVATOR_ORBIT": "prod", "ELEVATOR_REGION": "eu-west-1",
			"ELEVATOR_RELEASE_ID": "20261123-120000-9f86d081", "ELEVATOR_SERVICE": "web", "ELEVATOR_VERSION": "1.4.2",
			"GREETING": "hello from shop <&>", "LOG_LEVEL": "debug",
		},
		Docker: &elevator.AgentDocker{Image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2"},
		Units:  []string{"elevator-web.service"},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("agent.json:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestUserDataGivesTheAgentTheAppsSecretsTablesAndDataStores(t *testing.T) {
	a, o := shopApp(elevator.Service{Name: "web", Runtime: elevator.Runtime{Units: map[string]string{
		"web.service":  "[Service]\nEnvironmentFile=/run/elevator/web.env\nExecStart=/opt/shop/bin/web --region {{REGION}} --version {{VERSION}}\n",
		"backup.timer": "  [Timer]\nOnCalendar=daily\n",
	}}})
	a.Secrets = []elevator.Secret{
		{Name: "SIGNING_KEY", SSMParameter: "/shop/signing-key"},
		{Name: "STRIPE_KEY", SecretsManager: "shop/stripe"},
	}
	a.Data = elevator.Data{
		Redis:    &elevator.Redis{NodeType: "cache.t3.micro", Nodes: 1},
		Database: &elevator.Database{Engine: "mysql", Aurora: true},
		Tables:   []elevator.Table{{Name: "orders"}, {Name: "line-items"}},
	}
	tmpl, err := UserData(&a.Services[0], a, o, fakeAgentBuilds())
	if err != nil {
		t.Fatal(err)
	}
	got := elevator.ExpandUserData(tmpl, vars)
	doc, files := parseCloudConfig(t, got)
	for name, unit := range a.Services[0].Runtime.Units {
		if want := elevator.ExpandUserData(unit, vars); files["/etc/systemd/system/"+name] != want {
			t.Errorf("%s reads back as %q, want %q", name, files["/etc/systemd/system/"+name], want)
		}
	}
	if want := [][]string{{BootstrapPath}}; !reflect.DeepEqual(doc.RunCmd, want) {
		t.Errorf("runcmd %v, want %v", doc.RunCmd, want)
	}
	cfg := agentConfig(t, got)
	if want := []elevator.AgentSecret{{Name: "SIGNING_KEY", SSMParameter: "/shop/signing-key"}, {Name: "STRIPE_KEY", SecretsManager: "shop/stripe"}}; !reflect.DeepEqual(cfg.Secrets, want) {
		t.Errorf("secrets %+v, want %+v", cfg.Secrets, want)
	}
	if want := map[string]string{"TABLE_ORDERS": "shop-orders-prod", "TABLE_LINE_ITEMS": "shop-line-items-prod"}; !reflect.DeepEqual(cfg.Tables, want) {
		t.Errorf("tables %v, want %v", cfg.Tables, want)
	}
	if want := (&elevator.AgentDatabase{Engine: "aurora-mysql", Name: ""}); !reflect.DeepEqual(cfg.Database, want) {
		t.Errorf("database %+v, want %+v", cfg.Database, want)
	}
	if !cfg.Redis || cfg.Docker != nil {
		t.Errorf("redis %v, docker %+v", cfg.Redis, cfg.Docker)
	}
	if want := []string{"backup.timer", "web.service"}; !reflect.DeepEqual(cfg.Units, want) {
		t.Errorf("units %v, want %v", cfg.Units, want)
	}
}

func TestUserDataRefusesWhatCannotBeWritten(t *testing.T) {
	units := elevator.Runtime{Units: map[string]string{"a.service": ""}}
	tests := []struct {
		name    string
		svc     elevator.Service
		secrets []elevator.Secret
		builds  map[string]elevator.AgentBuild
		code    string
	}{
		{"an environment value on two lines", elevator.Service{Name: "web", Env: map[string]string{"A": "x\ny"}, Runtime: units}, nil, fakeAgentBuilds(), elevator.EINVALID},
		{"a secret reference on two lines", elevator.Service{Name: "web", Runtime: units}, []elevator.Secret{{Name: "X", SSMParameter: "/a\nb"}}, fakeAgentBuilds(), elevator.EINVALID},
		{"a runtime with neither docker nor units", elevator.Service{Name: "web"}, nil, fakeAgentBuilds(), elevator.EINVALID},
		{"no agent builds", elevator.Service{Name: "web", Runtime: units}, nil, nil, elevator.EINTERNAL},
		{"an agent build whose key is not its hash", elevator.Service{Name: "web", Runtime: units}, nil, func() map[string]elevator.AgentBuild {
			b := fakeAgentBuilds()
			b["arm64"] = elevator.AgentBuild{Key: "agent/x; rm -rf /", SHA256: b["arm64"].SHA256}
			return b
		}(), elevator.EINTERNAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, o := shopApp(tt.svc)
			a.Secrets = tt.secrets
			if _, err := UserData(&a.Services[0], a, o, tt.builds); elevator.ErrorCode(err) != tt.code {
				t.Errorf("UserData = %v, want a %s error", err, tt.code)
			}
		})
	}
}

// userDataShapes are the user data of every kind of host, placeholders
// filled: Docker from ghcr and from ECR, units, an app with secrets, a
// database, Redis and tables, and the bastion.
func userDataShapes(t *testing.T) map[string]string {
	t.Helper()
	builds := fakeAgentBuilds()
	shapes := map[string]string{}
	add := func(name string, a *elevator.App) {
		o := &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "eu-west-1"}}}
		tmpl, err := UserData(&a.Services[0], a, o, builds)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		shapes[name] = elevator.ExpandUserData(tmpl, vars)
	}
	docker := func(image string) elevator.Service {
		return elevator.Service{Name: "web", Env: map[string]string{"GREETING": "it's 50% off: \"$today\" \\o/ {x: [1]}"},
			Runtime: elevator.Runtime{Docker: &elevator.Docker{Image: image, Ports: []string{"80:8080"}, Command: []string{"serve", "--motd", "a b"}}}}
	}
	add("docker from ghcr", &elevator.App{Name: "shop", Services: []elevator.Service{docker("ghcr.io/acme/shop")}})
	add("docker from ECR", &elevator.App{Name: "shop", Services: []elevator.Service{docker("123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop")}})
	add("units", &elevator.App{Name: "shop", Services: []elevator.Service{{Name: "web", Runtime: elevator.Runtime{Units: map[string]string{
		"web.service":  "[Service]\nEnvironmentFile=/run/elevator/web.env\nExecStart=/usr/local/bin/elevator-agent exec --service web -- /opt/shop/bin/web --region {{REGION}}\n\n[Install]\nWantedBy=multi-user.target\n",
		"backup.timer": "[Timer]\nOnCalendar=daily\n",
	}}}}})
	add("docker with secrets, a database, Redis and tables", &elevator.App{Name: "shop",
		Services: []elevator.Service{docker("ghcr.io/acme/shop")},
		Secrets:  []elevator.Secret{{Name: "SIGNING_KEY", SSMParameter: "/shop/signing-key"}, {Name: "STRIPE_KEY", SecretsManager: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop/stripe-AbCdEf"}},
		Data: elevator.Data{Redis: &elevator.Redis{NodeType: "cache.t3.micro", Nodes: 1}, Database: &elevator.Database{Engine: "postgres"},
			Tables: []elevator.Table{{Name: "orders"}}},
	})
	o := &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "eu-west-1"}}}
	bastion, err := BastionUserData(o, &o.Regions[0], builds)
	if err != nil {
		t.Fatal(err)
	}
	shapes["bastion"] = bastion
	return shapes
}

// needTool returns the path of a tool the test needs: in CI a missing
// one fails the test (scripts/test installs it), elsewhere it skips it.
func needTool(t *testing.T, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed, and %s; scripts/test installs it", name, why)
		}
		t.Skipf("%s is not installed, and %s (scripts/test installs it)", name, why)
	}
	return path
}

// TestUserDataPassesCloudInitsSchema runs cloud-init's own schema check
// on the user data of every kind of host.
func TestUserDataPassesCloudInitsSchema(t *testing.T) {
	cloudInit := needTool(t, "cloud-init", "its schema check reads the user data")
	for name, ud := range userDataShapes(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "user-data")
			if err := os.WriteFile(file, []byte(ud), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(cloudInit, "schema", "--config-file", file).CombinedOutput()
			if err != nil {
				t.Errorf("cloud-init schema: %v\n%s\nuser data:\n%s", err, out, ud)
			}
		})
	}
}

// TestBootstrapPassesShellcheck checks bootstrap.sh as written and as
// every kind of host gets it.
func TestBootstrapPassesShellcheck(t *testing.T) {
	shellcheck := needTool(t, "shellcheck", "it checks the bootstrap script")
	scripts := map[string]string{"as written": bootstrapScript}
	for name, ud := range userDataShapes(t) {
		_, files := parseCloudConfig(t, ud)
		scripts[name] = files[BootstrapPath]
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !strings.HasPrefix(script, "#!/bin/sh\n") {
				t.Fatalf("the bootstrap script does not start with #!/bin/sh:\n%s", script)
			}
			cmd := exec.Command(shellcheck, "--shell=sh", "--severity=style", "-")
			cmd.Stdin = strings.NewReader(script)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck: %v\n%s", err, out)
			}
		})
	}
}

// TestBootstrapNamesTheBuildsAndTheBucket: the table lists each
// architecture's key and hash, and the bucket is the orbit's in the
// instance's account and region.
func TestBootstrapNamesTheBuildsAndTheBucket(t *testing.T) {
	builds := fakeAgentBuilds()
	script, err := renderBootstrap("prod", builds)
	if err != nil {
		t.Fatal(err)
	}
	for arch, goarch := range elevator.AgentArches {
		if line := arch + " " + builds[goarch].Key + " " + builds[goarch].SHA256 + "\n"; !strings.Contains(script, line) {
			t.Errorf("no build line %q in:\n%s", line, script)
		}
	}
	if want := `bucket="` + elevator.StateBucketName("${account}", "${region}", "prod") + `"`; !strings.Contains(script, want) {
		t.Errorf("no %s in:\n%s", want, script)
	}
	if strings.Contains(script, "none") {
		t.Errorf("a placeholder of bootstrap.sh is left:\n%s", script)
	}
}

// TestUserDataSizeOfTheExample reports the user data size of each service
// of examples/app.yml (go test -v shows it); EC2 takes 16 KB.
func TestUserDataSizeOfTheExample(t *testing.T) {
	a, o := releaseExample(t)
	for i := range a.Services {
		svc := &a.Services[i]
		tmpl, err := UserData(svc, a, o, fakeAgentBuilds())
		if err != nil {
			t.Fatal(err)
		}
		ud := elevator.ExpandUserData(tmpl, elevator.UserDataVars{ReleaseID: "20261123-120000-9f86d081", App: a.Name, Orbit: o.Name, Service: svc.Name, Region: "us-east-1", Version: "1.4.2"})
		t.Logf("examples/app.yml service %s: user data of %d bytes (%d as a template), %.0f%% of EC2's 16 KB", svc.Name, len(ud), len(tmpl), 100*float64(len(ud))/elevator.MaxUserData)
		if len(ud) > elevator.MaxUserData/2 {
			t.Errorf("service %s: user data of %d bytes leaves less than half of EC2's 16 KB to the app", svc.Name, len(ud))
		}
	}
}

// TestBastionLaunchTemplateRunsTheAgentInBastionMode: the bastion's launch
// template has an instance profile and user data whose agent serves SSH
// only, in its own orbit and region.
func TestBastionLaunchTemplateRunsTheAgentInBastionMode(t *testing.T) {
	for _, c := range goldenCases(t) {
		for _, s := range c.stacks {
			lt, ok := s.Template.Resources[idBastionTemplate]
			if !ok {
				continue
			}
			data := lt.Properties["LaunchTemplateData"].(Props)
			if fmt.Sprint(data["IamInstanceProfile"]) != fmt.Sprint(Props{"Arn": GetAtt(idBastionProfile, "Arn")}) {
				t.Errorf("%s %s: instance profile %v", c.name, s.Region, data["IamInstanceProfile"])
			}
			compressed, _ := data["UserData"].(string)
			ud := uncompressUserData(t, compressed)
			if want, err := BastionUserData(c.orbit, regionOf(c.orbit, s.Region), c.facts[s.Region].Agent); err != nil || ud != want {
				t.Errorf("%s %s: the launch template's user data is not the bastion's (%v):\n%s", c.name, s.Region, err, ud)
			}
			t.Logf("%s %s: bastion user data of %d bytes, %d gzipped in base64", c.name, s.Region, len(ud), len(compressed))
			cfg := agentConfig(t, ud)
			want := elevator.AgentConfig{Mode: elevator.AgentModeBastion, Orbit: c.orbit.Name, Region: s.Region,
				UsersTable: elevator.UsersTableName(c.orbit.Name), ServicesTable: elevator.ServicesTableName(c.orbit.Name)}
			if !reflect.DeepEqual(cfg, want) {
				t.Errorf("%s %s: agent.json %+v, want %+v", c.name, s.Region, cfg, want)
			}
			if strings.Contains(ud, "{{") {
				t.Errorf("%s %s: the bastion's user data has a placeholder left:\n%s", c.name, s.Region, ud)
			}
			if _, ok := s.Template.Outputs[BastionGroupOutput]; !ok {
				t.Errorf("%s %s: no %s output", c.name, s.Region, BastionGroupOutput)
			}
		}
	}
}

// uncompressUserData reads user data as compressUserData writes it.
func uncompressUserData(t *testing.T, compressed string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(compressed)
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatalf("user data does not start with gzip's magic bytes, which cloud-init looks for: % x", raw[:min(len(raw), 2)])
	}
	r, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func regionOf(o *elevator.Orbit, name string) *elevator.Region {
	for i := range o.Regions {
		if o.Regions[i].Name == name {
			return &o.Regions[i]
		}
	}
	return nil
}

func TestCompressedUserDataIsTheSameBytesEachTime(t *testing.T) {
	const ud = "#cloud-config\nruncmd:\n  - [/usr/local/lib/elevator/bootstrap.sh]\n"
	first := compressUserData(ud)
	if again := compressUserData(ud); again != first {
		t.Errorf("two compressions differ: %s and %s", first, again)
	}
	if got := uncompressUserData(t, first); got != ud {
		t.Errorf("round trip gave %q", got)
	}
}
