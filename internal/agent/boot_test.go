package agent

import (
	"context"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestBootOfADockerServiceInstallsDockerAndLogsInBeforeTheUnitStarts(t *testing.T) {
	t.Parallel()
	awsCfg := emulatortest.Config(t, testRegion)
	cfg := sshTables(t, awsCfg, "prod")
	host := emulatortest.AccountID(awsCfg) + ".dkr.ecr." + testRegion + ".amazonaws.com"
	cfg.Docker = &elevator.AgentDocker{Image: host + "/shop:1.4.2"}
	cfg.Units = []string{"elevator-web.service"}
	cfg.Env = map[string]string{"ELEVATOR_APP": "shop"}
	a, run, _ := testAgent(t, NewClients(awsCfg))
	writeFile(t, a, "/etc/os-release", "ID=\"amzn\"\nVERSION_ID=\"2023\"\n")
	writeFile(t, a, "/etc/group", AdminGroup+":x:999:\n")

	if err := a.Boot(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"dnf install -y docker",
		"systemctl enable --now docker",
		"docker login --username AWS --password-stdin " + host,
		"systemctl daemon-reload",
		"systemctl try-restart sshd",
		"systemctl try-restart ssh",
		"systemctl daemon-reload",
		"systemctl enable elevator-agent.service",
		"systemctl enable --now elevator-agent-users.timer",
		"systemctl enable --now elevator-web.service",
	}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("boot ran\n%q\nwant\n%q", got, want)
	}
	data, err := os.ReadFile(a.Paths.EnvFile("web"))
	if err != nil || !strings.Contains(string(data), "ELEVATOR_APP=shop\n") || !strings.Contains(string(data), "ELEVATOR_INSTANCE_ID=i-0123456789abcdef0\n") {
		t.Errorf("env file: %v\n%s", err, data)
	}
	dropIn, err := os.ReadFile(a.Paths.Path("/etc/systemd/system/elevator-web.service.d/50-elevator-agent.conf"))
	if err != nil || !strings.Contains(string(dropIn), "After=elevator-agent.service") {
		t.Errorf("the unit is not ordered after the agent's boot unit, which reads its environment again at a reboot: %v\n%s", err, dropIn)
	}

	// At a later boot, elevator-agent.service runs boot --again: the
	// environment is written again, and nothing is started (the units wait
	// for it).
	if err := os.Remove(a.Paths.EnvFile("web")); err != nil {
		t.Fatal(err)
	}
	before := len(run.lines())
	if err := a.Boot(context.Background(), cfg, true); err != nil {
		t.Fatal(err)
	}
	for _, line := range run.lines()[before:] {
		if strings.HasPrefix(line, "systemctl") && (strings.Contains(line, "elevator-web") || strings.Contains(line, "elevator-agent")) {
			t.Errorf("boot --again ran %q: the units wait for it and start on their own", line)
		}
	}
	if _, err := os.Stat(a.Paths.EnvFile("web")); err != nil {
		t.Errorf("boot --again did not write the environment again: %v", err)
	}
}

func TestBootOfABastionSetsUpSSHOnly(t *testing.T) {
	t.Parallel()
	awsCfg := emulatortest.Config(t, testRegion)
	cfg := sshTables(t, awsCfg, "prod")
	cfg.Mode, cfg.App, cfg.Service = elevator.AgentModeBastion, "", ""
	putAdmins(t, awsCfg, cfg.ServicesTable, "shop", "alice")
	a, run, _ := testAgent(t, NewClients(awsCfg))
	writeFile(t, a, "/etc/group", AdminGroup+":x:999:\n")
	if err := a.Boot(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"systemctl daemon-reload",
		"systemctl try-restart sshd",
		"systemctl try-restart ssh",
		"useradd -m -s /bin/bash -G elevator alice",
		"systemctl daemon-reload",
		"systemctl enable elevator-agent.service",
		"systemctl enable --now elevator-agent-users.timer",
	}
	if got := run.lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("boot ran\n%q\nwant\n%q", got, want)
	}
	if _, err := os.Stat(a.Paths.Path(elevator.AgentRunDir)); !os.IsNotExist(err) {
		t.Errorf("a bastion has a run directory: %v", err)
	}
	for path, want := range map[string]string{
		"/etc/sudoers.d/elevator":                          "%elevator ALL=(ALL) NOPASSWD:ALL",
		"/etc/systemd/system/elevator-agent-users.timer":   "OnUnitActiveSec=1min",
		"/etc/systemd/system/elevator-agent-users.service": "ExecStart=/usr/local/bin/elevator-agent sync-users",
		"/etc/ssh/sshd_config.d/50-elevator.conf":          "AuthorizedKeysCommandUser root",
	} {
		data, err := os.ReadFile(a.Paths.Path(path))
		if err != nil || !strings.Contains(string(data), want) {
			t.Errorf("%s: %v; want it to hold %q:\n%s", path, err, want, data)
		}
	}
	if fi, err := os.Stat(a.Paths.Path("/etc/sudoers.d/elevator")); err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("sudoers drop-in: %v, want mode 0440", err)
	}
}

func TestBootRefusesASecretAnEnvFileCannotCarryWithoutSayingIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg := emulatortest.Config(t, testRegion)
	const value = "line one of a secret\nline two"
	if _, err := ssmsdk.NewFromConfig(awsCfg).PutParameter(ctx, &ssmsdk.PutParameterInput{Name: aws.String("/multi"), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	cfg := sshTables(t, awsCfg, "prod")
	cfg.Secrets = []elevator.AgentSecret{{Name: "PEM", SSMParameter: "/multi"}}
	cfg.Units = []string{"elevator-web.service"}
	a, run, log := testAgent(t, NewClients(awsCfg))
	err := a.Boot(ctx, cfg, false)
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "PEM") || !strings.Contains(err.Error(), "line break") {
		t.Fatalf("boot: %v; want EINVALID naming PEM and the line break", err)
	}
	if strings.Contains(err.Error(), "line one") || strings.Contains(log.String(), "line one") {
		t.Errorf("the value leaked: %v\n%s", err, log)
	}
	for _, l := range run.lines() {
		if strings.Contains(l, "elevator-web") {
			t.Errorf("the service was started without its environment: %q", run.lines())
		}
	}
}

func TestEnvironmentFailsClearlyOnAMissingSecretOrAMalformedDatabaseSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	awsCfg := emulatortest.Config(t, testRegion)
	cl := NewClients(awsCfg)
	a, _, _ := testAgent(t, cl)

	cfg := &elevator.AgentConfig{Secrets: []elevator.AgentSecret{{Name: "TOKEN", SecretsManager: "nowhere/token"}}}
	_, err := Environment(ctx, a.Log, cfg, cl, "i-1")
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "TOKEN") || !strings.Contains(err.Error(), "nowhere/token") {
		t.Errorf("missing secret: %v; want ENOTFOUND naming TOKEN and the secret", err)
	}

	const notJSON = "hunter2-not-json"
	sec, err := smsdk.NewFromConfig(awsCfg).CreateSecret(ctx, &smsdk.CreateSecretInput{Name: aws.String("db"), SecretString: aws.String(notJSON)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{elevator.AppOutputDatabaseEndpoint: "h", elevator.AppOutputDatabasePort: "3306", elevator.AppOutputDatabaseSecret: aws.ToString(sec.ARN)}
	_, err = databaseURL(ctx, "stack", &elevator.AgentDatabase{Engine: "mysql", Name: "d"}, func(k string) (string, error) { return out[k], nil }, cl.Secrets)
	if elevator.ErrorCode(err) != elevator.EINVALID || strings.Contains(err.Error(), notJSON) {
		t.Errorf("a database secret that is not JSON: %v; want EINVALID without the value", err)
	}
	if _, err := databaseScheme("oracle-ee"); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("engine oracle-ee: %v, want EINVALID", err)
	}
	for engine, scheme := range map[string]string{"postgres": "postgres", "aurora-postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "aurora-mysql": "mysql"} {
		if got, _ := databaseScheme(engine); got != scheme {
			t.Errorf("engine %s: scheme %q, want %q", engine, got, scheme)
		}
	}
	if got := TableVar("order-items"); got != "TABLE_ORDER_ITEMS" {
		t.Errorf("TableVar(order-items) = %q", got)
	}
	if got := TableVar("TABLE_ORDERS"); got != "TABLE_ORDERS" {
		t.Errorf("TableVar(TABLE_ORDERS) = %q", got)
	}
}
