package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// buildAgent builds cmd/elevator-agent into a temporary directory and
// returns the executable's path.
func buildAgent(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "elevator-agent")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/elevatorhq/elevator/cmd/elevator-agent")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/elevator-agent: %v\n%s", err, out)
	}
	return bin
}

// Values the app's secrets hold: none may appear in the agent's own output.
const (
	ssmSecret = "ssm-secret-value-7f3a9c"
	smSecret  = "sm-secret-value-41d2e8"
	dbUser    = "shop_app"
	dbPass    = "p@ss:w/rd%41-9b7e"
)

// appWorld is a moto account holding what the agent of service shop/web
// reads: its secrets, its app stack with the data stores' outputs, the
// orbit's SSH tables, and a root directory with its configuration.
type appWorld struct {
	acct    *emulatortest.Account
	awsCfg  aws.Config
	root    string
	cfg     *elevator.AgentConfig
	bin     string
	baseEnv []string
	// instanceID is passed with --instance-id; "" leaves the agent to
	// ask IMDS.
	instanceID string
}

func newAppWorld(t testing.TB) *appWorld {
	t.Helper()
	ctx := context.Background()
	acct := emulatortest.NewAccount(t)
	awsCfg := acct.Config(testRegion)
	w := &appWorld{acct: acct, awsCfg: awsCfg, root: t.TempDir(), instanceID: "i-0agent0test0001"}

	_, err := ssmsdk.NewFromConfig(awsCfg).PutParameter(ctx, &ssmsdk.PutParameterInput{
		Name: aws.String("/prod/shop/api-key"), Value: aws.String(ssmSecret), Type: ssmtypes.ParameterTypeSecureString})
	if err != nil {
		t.Fatalf("put SSM parameter: %v", err)
	}
	sm := smsdk.NewFromConfig(awsCfg)
	if _, err := sm.CreateSecret(ctx, &smsdk.CreateSecretInput{Name: aws.String("prod/shop/token"), SecretString: aws.String(smSecret)}); err != nil {
		t.Fatalf("create secret: %v", err)
	}
	dbJSON, _ := json.Marshal(map[string]string{"username": dbUser, "password": dbPass})
	dbSecret, err := sm.CreateSecret(ctx, &smsdk.CreateSecretInput{Name: aws.String("prod/shop/db"), SecretString: aws.String(string(dbJSON))})
	if err != nil {
		t.Fatalf("create the database secret: %v", err)
	}
	tmpl, _ := json.Marshal(map[string]any{
		"Resources": map[string]any{"Handle": map[string]any{"Type": "AWS::CloudFormation::WaitConditionHandle"}},
		"Outputs": map[string]any{
			elevator.AppOutputRedisEndpoint:    map[string]any{"Value": "shop.abc123.cache.amazonaws.com"},
			elevator.AppOutputRedisPort:        map[string]any{"Value": "6379"},
			elevator.AppOutputDatabaseEndpoint: map[string]any{"Value": "shop.cluster-xyz.eu-west-1.rds.amazonaws.com"},
			elevator.AppOutputDatabasePort:     map[string]any{"Value": "5432"},
			elevator.AppOutputDatabaseSecret:   map[string]any{"Value": aws.ToString(dbSecret.ARN)},
		},
	})
	if _, err := cfn.NewFromConfig(awsCfg).CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("prod-shop"), TemplateBody: aws.String(string(tmpl))}); err != nil {
		t.Fatalf("create the app stack: %v", err)
	}
	cfg := sshTables(t, awsCfg, "prod")
	putUser(t, awsCfg, cfg.UsersTable, "alice", aliceKey)
	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "alice")
	cfg.ReleaseID, cfg.Version = "r-000042", "1.4.2"
	cfg.AppStack = "prod-shop"
	cfg.LogGroup = "/elevator/prod/shop/web"
	cfg.Env = map[string]string{"ELEVATOR_ORBIT": "prod", "ELEVATOR_APP": "shop", "ELEVATOR_SERVICE": "web", "ELEVATOR_VERSION": "1.4.2", "GREETING": "hello world"}
	cfg.Secrets = []elevator.AgentSecret{{Name: "API_KEY", SSMParameter: "/prod/shop/api-key"}, {Name: "TOKEN", SecretsManager: "prod/shop/token"}}
	cfg.Tables = map[string]string{"orders": "prod-shop-orders"}
	cfg.Database = &elevator.AgentDatabase{Engine: "aurora-postgresql", Name: "shop"}
	cfg.Redis = true
	cfg.Units = []string{"elevator-web.service"}
	w.cfg = cfg

	conf, _ := json.MarshalIndent(cfg, "", "  ")
	w.write(t, elevator.AgentConfigPath, string(conf), 0o600)
	// What an emulator's instance gets: where AWS is, and (here, as no
	// IMDS hands out the instance profile's) the account's keys.
	w.write(t, elevator.AgentAWSEnvPath, fmt.Sprintf("AWS_ENDPOINT_URL=%s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY='%s'\n",
		emulatortest.Endpoint(), acct.AccessKeyID, acct.SecretAccessKey), 0o600)
	// A clean environment, as systemd gives: nothing of the test's AWS.
	w.baseEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + w.root, "LANG=C"}
	return w
}

func (w *appWorld) write(t testing.TB, abs, content string, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(w.root, abs)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// command returns the agent as a process, with the test's hidden flags.
func (w *appWorld) command(args ...string) *exec.Cmd {
	all := []string{"--root", w.root, "--record-commands", filepath.Join(w.root, "commands.log")}
	if w.instanceID != "" {
		all = append(all, "--instance-id", w.instanceID)
	}
	all = append(all, args...)
	cmd := exec.Command(w.bin, all...)
	cmd.Env = w.baseEnv
	return cmd
}

// run runs the agent and returns its stdout, stderr and exit status.
func (w *appWorld) run(t testing.TB, args ...string) (string, string, int) {
	t.Helper()
	cmd := w.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run the agent: %v", err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
}

func (w *appWorld) secrets() []string {
	return []string{ssmSecret, smSecret, dbPass, escapeUserinfo(dbPass)}
}

func TestTheAgentBootsAndRunsTheServiceWithItsSecretsAndShipsItsOutput(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.bin = buildAgent(t)

	stdout, stderr, code := w.run(t, "boot")
	t.Logf("boot's log:\n%s", stderr)
	if code != 0 {
		t.Fatalf("boot exited %d:\n%s", code, stderr)
	}
	if leak := containsAny(stdout+stderr, w.secrets()...); leak != "" {
		t.Errorf("boot's own output holds the secret value %q", leak)
	}

	// The environment file: root only, on the run directory.
	envPath := filepath.Join(w.root, elevator.AgentRunDir, "web.env")
	if fi, err := os.Stat(envPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file %s: %v, mode %v; want 0600", envPath, err, fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Dir(envPath)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("run dir: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}

	// What boot would have run, in order.
	rec, err := os.ReadFile(filepath.Join(w.root, "commands.log"))
	if err != nil {
		t.Fatal(err)
	}
	ran := strings.Split(strings.TrimSpace(string(rec)), "\n")
	for _, want := range []string{
		"systemctl daemon-reload",
		"systemctl try-restart sshd",
		"systemctl try-restart ssh",
		"groupadd --system elevator",
		"useradd -m -s /bin/bash -G elevator alice",
		"systemctl daemon-reload",
		"systemctl enable --now elevator-agent-users.timer",
		"systemctl enable --now elevator-web.service",
	} {
		if !hasLine(ran, want) {
			t.Errorf("boot did not run %q; it ran:\n%s", want, rec)
		}
	}
	if n := len(ran); n < 2 || ran[n-1] != "systemctl enable --now elevator-web.service" {
		t.Errorf("the service's unit is not started after everything else is ready:\n%s", rec)
	}
	sshd, err := os.ReadFile(filepath.Join(w.root, "/etc/ssh/sshd_config.d/50-elevator.conf"))
	if err != nil || !strings.Contains(string(sshd), "AuthorizedKeysCommand /usr/local/bin/elevator-agent authorized-keys %u") {
		t.Errorf("sshd drop-in: %v\n%s", err, sshd)
	}

	// The service, as its unit runs it.
	childEnv := filepath.Join(t.TempDir(), "child.env")
	script := `env > "$1"; echo "web is listening on 8080"; echo "web warming up" >&2`
	stdout, stderr, code = w.run(t, "exec", "--service", "web", "--", "sh", "-c", script, "sh", childEnv)
	t.Logf("exec's stdout:\n%s\nexec's stderr:\n%s", stdout, stderr)
	if code != 0 {
		t.Fatalf("exec exited %d", code)
	}
	if !strings.Contains(stdout, "web is listening on 8080\n") || !strings.Contains(stderr, "web warming up\n") {
		t.Errorf("the service's lines did not reach the agent's stdout and stderr")
	}
	if leak := containsAny(stdout+stderr, w.secrets()...); leak != "" {
		t.Errorf("exec's output holds the secret value %q", leak)
	}

	data, err := os.ReadFile(childEnv)
	if err != nil {
		t.Fatalf("the service did not run: %v", err)
	}
	got := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"API_KEY":              ssmSecret,
		"TOKEN":                smSecret,
		"DATABASE_URL":         "postgres://shop_app:p%40ss%3Aw%2Frd%2541-9b7e@shop.cluster-xyz.eu-west-1.rds.amazonaws.com:5432/shop",
		"REDIS_URL":            "rediss://shop.abc123.cache.amazonaws.com:6379",
		"TABLE_ORDERS":         "prod-shop-orders",
		"ELEVATOR_ORBIT":       "prod",
		"ELEVATOR_APP":         "shop",
		"ELEVATOR_SERVICE":     "web",
		"ELEVATOR_VERSION":     "1.4.2",
		"ELEVATOR_INSTANCE_ID": "i-0agent0test0001",
		"GREETING":             "hello world",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("the service's %s = %q, want %q", k, got[k], v)
		}
	}

	// The service's lines, in the log group, stream = the instance id.
	out, err := cwl.NewFromConfig(w.awsCfg).GetLogEvents(context.Background(), &cwl.GetLogEventsInput{
		LogGroupName: aws.String(w.cfg.LogGroup), LogStreamName: aws.String("i-0agent0test0001"), StartFromHead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("read the log stream: %v", err)
	}
	var msgs []string
	for _, e := range out.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	for _, line := range []string{"web is listening on 8080", "web warming up"} {
		if !hasLine(msgs, line) {
			t.Errorf("log stream holds %q; want the line %q", msgs, line)
		}
	}

	// The service's exit status is the agent's.
	if _, _, code := w.run(t, "exec", "--service", "web", "--", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("a service that exits 3: the agent exited %d", code)
	}
}

func TestExecPassesSignalsToTheService(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.bin = buildAgent(t)
	w.cfg.LogGroup = "" // the journal only
	conf, _ := json.Marshal(w.cfg)
	w.write(t, elevator.AgentConfigPath, string(conf), 0o600)
	w.write(t, elevator.AgentRunDir+"/web.env", "GREETING=hi\n", 0o600)

	cmd := w.command("exec", "--service", "web", "--", "sh", "-c", `trap 'echo "got TERM"; exit 0' TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("first line %q, want ready", lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "got TERM" {
		t.Errorf("after SIGTERM the service wrote %q, want got TERM", lines.Text())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the agent ended with %v; want status 0, the service's", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the agent did not end after its service did")
	}
}

func TestAuthorizedKeysAsSSHDRunsIt(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.bin = buildAgent(t)
	stdout, stderr, code := w.run(t, "authorized-keys", "alice")
	if code != 0 || stdout != aliceKey+"\n" {
		t.Errorf("authorized-keys alice: status %d, stdout %q, stderr %q; want her key", code, stdout, stderr)
	}
	stdout, stderr, code = w.run(t, "authorized-keys", "mallory")
	if code != 0 || stdout != "" {
		t.Errorf("authorized-keys mallory: status %d, stdout %q, stderr %q; want nothing, status 0", code, stdout, stderr)
	}
	// AWS failing is status 1 and a line on stderr (sshd logs it).
	w.write(t, elevator.AgentAWSEnvPath, "AWS_ENDPOINT_URL=http://127.0.0.1:1\nAWS_ACCESS_KEY_ID=x\nAWS_SECRET_ACCESS_KEY=y\nAWS_MAX_ATTEMPTS=1\n", 0o600)
	stdout, stderr, code = w.run(t, "authorized-keys", "alice")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "elevator-agent: ") {
		t.Errorf("authorized-keys with AWS unreachable: status %d, stdout %q, stderr %q; want status 1 and one line", code, stdout, stderr)
	}
}

func TestBootAsksTheInstanceMetadataServiceForTheInstanceID(t *testing.T) {
	t.Parallel()
	w := newAppWorld(t)
	w.bin = buildAgent(t)
	w.instanceID = ""
	// A double of IMDSv2, named as such: a token first, then the id.
	const token = "imds-token-1"
	imds := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			rw.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			fmt.Fprint(rw, token)
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/instance-id" && r.Header.Get("X-Aws-Ec2-Metadata-Token") == token:
			fmt.Fprint(rw, "i-0fromimds000001")
		default:
			http.Error(rw, "not here", http.StatusNotFound)
		}
	}))
	defer imds.Close()
	env, err := os.ReadFile(filepath.Join(w.root, elevator.AgentAWSEnvPath))
	if err != nil {
		t.Fatal(err)
	}
	w.write(t, elevator.AgentAWSEnvPath, string(env)+"AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds.URL+"\n", 0o600)

	if _, stderr, code := w.run(t, "boot"); code != 0 {
		t.Fatalf("boot exited %d:\n%s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(w.root, elevator.AgentRunDir, "web.env"))
	if err != nil || !strings.Contains(string(data), "ELEVATOR_INSTANCE_ID=i-0fromimds000001\n") {
		t.Errorf("env file: %v; want the instance id IMDS gave", err)
	}
}
