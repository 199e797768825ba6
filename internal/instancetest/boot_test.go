package instancetest_test

// The boot tests: an instance booted from Elevator's own user data, in a
// Debian root under systemd-nspawn (see package instancetest), against
// the test's moto server. moto stands in for AWS; FakeIMDS for the
// instance metadata service; and one stack made with CreateStack stands in
// for the app stack's outputs, because moto records no outputs for a stack
// made through change sets and has no database endpoint to give.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/crypto/ssh"

	elevator "github.com/elevatorhq/elevator"
	elevators3 "github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/instancetest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/orbit"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

const (
	region    = "us-east-1"
	orbitName = "boot"
)

// world is what a booted instance finds in moto: an orbit's state bucket
// with the agent in it, the SSH tables, the app's secrets, log group and
// (stand-in) stack outputs.
type world struct {
	acct             *emulatortest.Account
	cfg              aws.Config
	orbit            *elevator.Orbit
	builds           map[string]elevator.AgentBuild
	imds             *instancetest.FakeIMDS
	awsEnv           string
	secrets          map[string]string // NAME -> value
	aliceKey, bobKey ssh.Signer
}

func newWorld(t *testing.T, instanceID string) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{acct: emulatortest.NewAccount(t)}
	w.cfg = w.acct.Config(region)
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: "+orbitName+"\nregions:\n  "+region+": {cidr: 10.20.0.0/16}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w.orbit = o

	// The agent, built for this machine and the other architecture, as
	// scripts/setup builds it, and stored as orbit up stores it.
	dir := t.TempDir()
	for _, goarch := range elevator.AgentArches {
		out := filepath.Join(dir, "elevator-agent-linux-"+goarch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/elevatorhq/elevator/cmd/elevator-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the agent for %s: %v\n%s", goarch, err, b)
		}
	}
	t.Setenv(orbit.AgentDirEnv, dir)
	files, err := orbit.ReadAgent()
	if err != nil {
		t.Fatal(err)
	}
	w.builds = files.Builds
	bucket := elevator.StateBucketName(w.acct.ID, region, orbitName)
	s3c := s3.NewFromConfig(w.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := orbit.PublishAgent(ctx, elevators3.New(w.cfg), bucket, files); err != nil {
		t.Fatal(err)
	}

	// The SSH tables: alice may log in to app shop, bob only to app cart.
	db := dynamodb.NewFromConfig(w.cfg)
	for _, table := range []string{elevator.UsersTableName(orbitName), elevator.ServicesTableName(orbitName)} {
		_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("name"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("name"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	w.aliceKey, w.bobKey = newKey(t), newKey(t)
	put := func(table string, item map[string]ddbtypes.AttributeValue) {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }
	set := func(s ...string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberSS{Value: s} }
	put(elevator.UsersTableName(orbitName), map[string]ddbtypes.AttributeValue{"name": str("alice"), "keys": set(authorized(w.aliceKey))})
	put(elevator.UsersTableName(orbitName), map[string]ddbtypes.AttributeValue{"name": str("bob"), "keys": set(authorized(w.bobKey))})
	put(elevator.ServicesTableName(orbitName), map[string]ddbtypes.AttributeValue{"name": str("shop"), "admins": set("alice")})
	put(elevator.ServicesTableName(orbitName), map[string]ddbtypes.AttributeValue{"name": str("cart"), "admins": set("bob")})

	w.imds = instancetest.StartIMDS(t, &instancetest.FakeIMDS{InstanceID: instanceID, Region: region, AccountID: w.acct.ID,
		Role: "elevator-boot-test", AccessKeyID: w.acct.AccessKeyID, SecretAccessKey: w.acct.SecretAccessKey})
	w.awsEnv = "AWS_ENDPOINT_URL=" + emulatortest.Endpoint() + "\nAWS_EC2_METADATA_SERVICE_ENDPOINT=" + w.imds.URL + "\n"
	return w
}

func newKey(t *testing.T) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorized(s ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestAServiceInstanceBootsAndRunsTheApp boots an instance of a service
// with Elevator's own user data and checks, from outside: the agent ran,
// the service answers its health check with its secrets, DATABASE_URL,
// REDIS_URL and table in its environment, its output reached its log
// group in moto, and authorized-keys answers inside from moto's tables.
func TestAServiceInstanceBootsAndRunsTheApp(t *testing.T) {
	root := instancetest.Root(t)
	const instanceID = "i-0b00751ce0000001"
	w := newWorld(t, instanceID)
	ctx := context.Background()

	// The app's secrets, and the database's generated secret.
	token, partner, dbPassword := "tok-"+rand.Text(), "partner-"+rand.Text(), "pw-"+rand.Text()
	if _, err := ssm.NewFromConfig(w.cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/shop/api-token"),
		Value: aws.String(token), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(w.cfg)
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("shop/partner"), SecretString: aws.String(partner)}); err != nil {
		t.Fatal(err)
	}
	dbSecret, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("shop-database"),
		SecretString: aws.String(`{"username":"elevator","password":"` + dbPassword + `"}`)})
	if err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	app, err := manifest.ParseApp("app.yml", []byte(fmt.Sprintf(`name: shop
env: {LOG_LEVEL: debug}
secrets:
  API_TOKEN: {ssm: /shop/api-token}
  PARTNER_KEY: {secretsmanager: shop/partner}
services:
  web:
    runtime:
      units:
        elevator-web.service: |
          [Unit]
          Description=shop web
          [Service]
          ExecStartPre=/bin/sh -c 'mkdir -p /srv/www && echo ok > /srv/www/health'
          ExecStart=/usr/local/bin/elevator-agent exec --service web -- /usr/bin/python3 -u -m http.server %[1]d --bind 127.0.0.1 --directory /srv/www
          Restart=always
          [Install]
          WantedBy=multi-user.target
    instance_type: t3.micro
    port: %[1]d
    firewall:
      - {port: 22, from: bastion}
data:
  redis: {node_type: cache.t3.micro}
  database: {engine: postgres}
  tables:
    carts: {hash_key: {name: id, type: S}}
`, port)), orbitName)
	if err != nil {
		t.Fatal(err)
	}
	svc := &app.Services[0]

	// The app stack's outputs, as `app up` makes them on AWS.
	standIn := `{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}},"Outputs":{` +
		`"` + elevator.AppOutputDatabaseEndpoint + `":{"Value":"db.shop.internal"},` +
		`"` + elevator.AppOutputDatabasePort + `":{"Value":"5432"},` +
		`"` + elevator.AppOutputDatabaseSecret + `":{"Value":"` + aws.ToString(dbSecret.ARN) + `"},` +
		`"` + elevator.AppOutputRedisEndpoint + `":{"Value":"redis.shop.internal"},` +
		`"` + elevator.AppOutputRedisPort + `":{"Value":"6379"}}}`
	if _, err := cloudformation.NewFromConfig(w.cfg).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(app.StackName(orbitName)), TemplateBody: aws.String(standIn)}); err != nil {
		t.Fatal(err)
	}
	logs := cloudwatchlogs.NewFromConfig(w.cfg)
	logGroup := compile.LogGroupName(orbitName, app.Name, svc.Name)
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(logGroup)}); err != nil {
		t.Fatal(err)
	}

	userData, err := compile.UserData(svc, app, w.orbit, w.builds)
	if err != nil {
		t.Fatal(err)
	}
	vars := elevator.UserDataVars{ReleaseID: "r-boot-1", App: app.Name, Orbit: orbitName, Service: svc.Name, Region: region, Version: "1.0.0"}
	userData = elevator.ExpandUserData(userData, vars)

	inst := instancetest.Boot(t, root, instancetest.Seed{InstanceID: instanceID, UserData: userData,
		Files: map[string]string{elevator.AgentAWSEnvPath: w.awsEnv}})

	// The service answers its health check.
	health := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	if err := inst.Wait(3*time.Minute, func() error {
		resp, err := http.Get(health)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
			return fmt.Errorf("%s: %s %q", health, resp.Status, body)
		}
		return nil
	}); err != nil {
		t.Fatalf("the service never answered its health check: %v", err)
	}

	// The agent fetched role credentials from the metadata service, and
	// is the one Elevator stored.
	if reqs := strings.Join(w.imds.Requests(), "\n"); !strings.Contains(reqs, "/latest/meta-data/iam/security-credentials/") {
		t.Errorf("nothing read the instance's role credentials; IMDS saw:\n%s", reqs)
	}
	got, err := inst.ReadFile(elevator.AgentBinaryPath)
	if err != nil {
		t.Fatalf("no agent on the instance: %v", err)
	}
	if len(got) == 0 {
		t.Error("the agent on the instance is empty")
	}

	// The service's environment, read from outside.
	pids := inst.Processes("http.server " + strconv.Itoa(port))
	var env map[string]string
	for _, pid := range pids {
		if e, err := instancetest.Environ(pid); err == nil && strings.Contains(readCmdline(pid), "python3") && !strings.Contains(readCmdline(pid), "elevator-agent") {
			env = e
		}
	}
	if env == nil {
		t.Fatalf("no service process among %v", pids)
	}
	want := map[string]string{
		"API_TOKEN":           token,
		"PARTNER_KEY":         partner,
		"DATABASE_URL":        "postgres://elevator:" + dbPassword + "@db.shop.internal:5432/postgres",
		"REDIS_URL":           "rediss://redis.shop.internal:6379",
		"TABLE_CARTS":         compile.TableName(orbitName, app.Name, "carts"),
		"LOG_LEVEL":           "debug",
		"ELEVATOR_RELEASE_ID": "r-boot-1",
		"ELEVATOR_VERSION":    "1.0.0",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("the service's %s = %q, want %q", k, env[k], v)
		}
	}
	envFile, err := inst.Path(elevator.AgentRunDir + "/web.env")
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the environment file: %v, %v; want mode 0600", fi, err)
	}

	// Its output reached its log group, in the instance's stream.
	if err := inst.Wait(time.Minute, func() error {
		out, err := logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(logGroup), LogStreamName: aws.String(instanceID), StartFromHead: aws.Bool(true)})
		if err != nil {
			return err
		}
		for _, e := range out.Events {
			if strings.Contains(aws.ToString(e.Message), "GET /health") {
				return nil
			}
		}
		return fmt.Errorf("%d events in %s/%s, none of a health check", len(out.Events), logGroup, instanceID)
	}); err != nil {
		t.Error(err)
	}

	// authorized-keys answers inside from moto's tables, as sshd runs it.
	ctx2, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, stderr, err := inst.Exec(ctx2, elevator.AgentBinaryPath, "authorized-keys", "alice")
	if err != nil || strings.TrimSpace(out) != authorized(w.aliceKey) {
		t.Errorf("authorized-keys alice inside = %q (%v, %s); want alice's key", out, err, stderr)
	}
	out, stderr, err = inst.Exec(ctx2, elevator.AgentBinaryPath, "authorized-keys", "bob")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("authorized-keys bob on a shop host = %q (%v, %s); want nothing: bob may reach cart only", out, err, stderr)
	}

	// No secret's value in what the instance printed (cloud-init's and the
	// agent's logs reach the console), in its journal, in its units or in
	// what cloud-init kept of the user data: only in the service's
	// environment file.
	journal, _, err := inst.Exec(ctx2, "journalctl", "--no-pager", "-o", "cat")
	if err != nil || !strings.Contains(journal, "resolved secret") {
		t.Errorf("the journal holds no line of the agent's: %v", err)
	}
	places := map[string]string{"the console": inst.Console(), "the journal": journal}
	for _, dir := range []string{"/etc/systemd/system", "/var/lib/cloud/instance", "/etc/elevator"} {
		host, err := inst.Path(dir)
		if err != nil {
			t.Fatal(err)
		}
		filepath.WalkDir(host, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				b, _ := os.ReadFile(path)
				places[strings.TrimPrefix(path, host[:len(host)-len(dir)])] = string(b)
			}
			return nil
		})
	}
	if len(places) < 10 {
		t.Errorf("read only %d places to look for secrets", len(places))
	}
	for where, text := range places {
		for _, s := range []string{token, partner, dbPassword} {
			if strings.Contains(text, s) {
				t.Errorf("a secret's value is in %s", where)
			}
		}
	}
	if env, _ := os.ReadFile(envFile); !strings.Contains(string(env), token) {
		t.Error("the service's environment file does not hold its secret: the search above proves nothing")
	}
	t.Logf("user data: %d bytes; the service answered, with its environment, and logged to %s/%s", len(userData), logGroup, instanceID)
}

func readCmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// TestABastionBootsAndLetsGrantedUsersIn boots a bastion with the user
// data of the orbit stack's bastion launch template, gzipped as EC2 hands
// it over: the agent sets up sshd's AuthorizedKeysCommand and the users'
// accounts, and a real ssh login with a granted key gets in while an
// ungranted key does not.
func TestABastionBootsAndLetsGrantedUsersIn(t *testing.T) {
	root := instancetest.Root(t)
	const instanceID = "i-0b00751ce0000002"
	w := newWorld(t, instanceID)
	userData := bastionLaunchUserData(t, w)
	port := freePort(t)
	inst := instancetest.Boot(t, root, instancetest.Seed{InstanceID: instanceID, UserData: userData,
		Files: map[string]string{
			elevator.AgentAWSEnvPath: w.awsEnv,
			// The host's network is shared: sshd listens on a free port.
			"/etc/ssh/sshd_config.d/10-test-port.conf": fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\n", port),
			// What EC2 Instance Connect's package installs on Amazon Linux
			// 2023 and Ubuntu images: sshd started with its own
			// AuthorizedKeysCommand, which beats sshd_config.d. The agent
			// must mask it, or no granted user gets in.
			"/usr/lib/systemd/system/ssh.service.d/ec2-instance-connect.conf": "[Service]\nExecStart=\n" +
				`ExecStart=/usr/sbin/sshd -D $SSHD_OPTS -o "AuthorizedKeysCommand /bin/false" -o "AuthorizedKeysCommandUser nobody"` + "\n",
		}})

	login := func(user string, key ssh.Signer) error {
		c, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &ssh.ClientConfig{
			User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
		})
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			return err
		}
		defer s.Close()
		out, err := s.Output("id -un")
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(out)) != user {
			return fmt.Errorf("logged in as %q", out)
		}
		return nil
	}
	if err := inst.Wait(3*time.Minute, func() error { return login("alice", w.aliceKey) }); err != nil {
		t.Fatalf("alice, granted app shop, cannot ssh in to the bastion: %v", err)
	}
	if err := login("alice", w.bobKey); err == nil {
		t.Error("bob's key logged in as alice")
	}
	if err := login("mallory", w.bobKey); err == nil {
		t.Error("a user in no table logged in")
	}
	conf, err := inst.ReadFile("/etc/ssh/sshd_config.d/50-elevator.conf")
	if err != nil || !strings.Contains(string(conf), "AuthorizedKeysCommand "+elevator.AgentBinaryPath+" authorized-keys") {
		t.Errorf("sshd's settings from the agent: %q, %v", conf, err)
	}
	var cfg elevator.AgentConfig
	b, err := inst.ReadFile(elevator.AgentConfigPath)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil || cfg.Mode != elevator.AgentModeBastion {
		t.Errorf("the bastion's agent config: %+v, %v", cfg, err)
	}
}

// TestADockerServiceGetsDockerFromTheImagesPackageManager boots a service
// with a Docker runtime on an image without Docker (this Debian root): the
// agent installs it with apt-get, as it would on Debian or Ubuntu images
// (dnf on Amazon Linux is the same path with another command, tested with
// a recording runner in internal/agent). What cannot run here is said in
// the test's log: this machine reaches no container registry, and
// dockerd inside systemd-nspawn may lack what it needs.
func TestADockerServiceGetsDockerFromTheImagesPackageManager(t *testing.T) {
	root := instancetest.Root(t)
	const instanceID = "i-0b00751ce0000003"
	w := newWorld(t, instanceID)
	ctx := context.Background()
	app, err := manifest.ParseApp("app.yml", []byte(`name: shop
services:
  web:
    runtime:
      docker:
        image: registry.example.com/acme/shop
        ports: ["8080:8080"]
    instance_type: t3.micro
    port: 8080
`), orbitName)
	if err != nil {
		t.Fatal(err)
	}
	svc := &app.Services[0]
	if _, err := cloudformation.NewFromConfig(w.cfg).CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(app.StackName(orbitName)),
		TemplateBody: aws.String(`{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}`)}); err != nil {
		t.Fatal(err)
	}
	userData, err := compile.UserData(svc, app, w.orbit, w.builds)
	if err != nil {
		t.Fatal(err)
	}
	userData = elevator.ExpandUserData(userData, elevator.UserDataVars{ReleaseID: "r-boot-3", App: app.Name, Orbit: orbitName, Service: svc.Name, Region: region, Version: "1.0.0"})
	inst := instancetest.Boot(t, root, instancetest.Seed{InstanceID: instanceID, UserData: userData,
		Files: map[string]string{elevator.AgentAWSEnvPath: w.awsEnv}})

	if err := inst.Wait(8*time.Minute, func() error {
		out, _, err := inst.Exec(ctx, "dpkg-query", "-W", "-f=${Status}", "docker.io")
		if err != nil || strings.TrimSpace(out) != "install ok installed" {
			return fmt.Errorf("docker.io: %q, %v", out, err)
		}
		return nil
	}); err != nil {
		t.Fatalf("the agent did not install Docker with apt-get: %v", err)
	}
	// Docker is installed; whether dockerd runs depends on the machine.
	// Where it cannot start, boot must say so on the console and not
	// start the service; where it can, the service's unit runs (and its
	// image pull fails here: this machine reaches no registry).
	var dockerd string
	if err := inst.Wait(2*time.Minute, func() error {
		out, _, _ := inst.Exec(ctx, "systemctl", "is-active", "docker.service")
		dockerd = strings.TrimSpace(out)
		if dockerd == "active" || strings.Contains(inst.Console(), "elevator-agent: start docker") {
			return nil
		}
		return fmt.Errorf("docker.service is %q and the agent said nothing of it", dockerd)
	}); err != nil {
		t.Fatal(err)
	}
	web, _, _ := inst.Exec(ctx, "systemctl", "is-enabled", "elevator-web.service")
	web = strings.TrimSpace(web)
	if dockerd == "active" {
		if web != "enabled" {
			t.Errorf("dockerd runs, and the service's unit is %q, want enabled", web)
		}
		t.Log("could not run here: the image pull (this machine reaches no container registry) and the container")
		return
	}
	if web == "enabled" {
		t.Error("Docker could not start, and boot still enabled the service's unit")
	}
	journal, _, _ := inst.Exec(ctx, "journalctl", "--no-pager", "-o", "cat", "-u", "docker.service")
	why := "see the journal"
	for _, line := range strings.Split(journal, "\n") {
		if strings.Contains(line, "failed to start daemon") {
			why = line
		}
	}
	t.Logf("Docker was installed with apt-get; could not run here: dockerd inside systemd-nspawn (%s), the image pull (no registry is reachable) and the container. The agent stopped and said: %s",
		why, consoleLine(inst.Console(), "elevator-agent: start docker"))
}

// bastionLaunchUserData compiles the world's orbit with a bastion and
// returns the user data of its launch template, decoded from base64 as
// EC2 decodes it: gzip, which cloud-init unzips.
func bastionLaunchUserData(t *testing.T, w *world) string {
	t.Helper()
	o, err := manifest.ParseOrbit("orbit.yml", []byte("name: "+orbitName+"\nregions:\n  "+region+": {cidr: 10.20.0.0/16}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n"))
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := compile.OrbitStacks(o, map[string]compile.RegionFacts{region: {
		AZs: []string{region + "a", region + "b"}, BastionAMI: "ami-0123456789abcdef0", Agent: w.builds}})
	if err != nil {
		t.Fatal(err)
	}
	var lt *compile.Resource
	for id, r := range stacks[0].Template.Resources {
		if r.Type == "AWS::EC2::LaunchTemplate" {
			lt = &r
			t.Logf("the bastion's launch template: %s", id)
		}
	}
	if lt == nil {
		t.Fatal("the orbit stack has no launch template")
	}
	encoded, ok := lt.Properties["LaunchTemplateData"].(compile.Props)["UserData"].(string)
	if !ok {
		t.Fatalf("the launch template's user data is %T, want base64 text", lt.Properties["LaunchTemplateData"].(compile.Props)["UserData"])
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		t.Fatal("the bastion's user data is not gzipped: this test would not show that cloud-init unzips it")
	}
	return string(raw)
}

// consoleLine returns the first line of console holding s.
func consoleLine(console, s string) string {
	for _, line := range strings.Split(console, "\n") {
		if i := strings.Index(line, s); i >= 0 {
			return strings.TrimSpace(line[i:])
		}
	}
	return ""
}
