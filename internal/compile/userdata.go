package compile

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// BootstrapPath is where user data writes the bootstrap script, which
// cloud-init runs once: it fetches the Elevator agent and runs
// `elevator-agent boot` (see bootstrap.sh).
const BootstrapPath = "/usr/local/lib/elevator/bootstrap.sh"

// bootstrapScript is the bootstrap script as written, with a placeholder
// build table and bucket that renderBootstrap replaces. It is a file of its
// own so that shellcheck reads it as it is.
//
//go:embed bootstrap.sh
var bootstrapScript string

// The parts of bootstrap.sh that renderBootstrap replaces.
const (
	bootstrapBuilds = "builds='\nx86_64 agent/none/elevator-agent-linux-amd64 none\naarch64 agent/none/elevator-agent-linux-arm64 none\n'\n"
	bootstrapBucket = `bucket="elevator-${account}-${region}-none"` + "\n"
)

// UserData renders service svc of app a in orbit o as cloud-config user
// data, with the placeholders elevator.ExpandUserData fills in left in it.
// It writes three kinds of files, then runs the bootstrap script:
//   - elevator.AgentConfigPath (0600): the elevator.AgentConfig of the
//     service, as JSON: its plain environment (ELEVATOR_RELEASE_ID,
//     ELEVATOR_APP, ELEVATOR_ORBIT, ELEVATOR_SERVICE, ELEVATOR_REGION and
//     ELEVATOR_VERSION added), where its secrets are (never their values),
//     its tables, database and Redis, its log group and its units;
//   - BootstrapPath (0755): the bootstrap script, which fetches the agent
//     build of the instance's architecture from builds (Go architecture ->
//     build) in the orbit's state bucket, checks it and runs
//     `elevator-agent boot`; the agent resolves the secrets into
//     elevator.AgentRunDir/<service>.env and starts the units;
//   - the systemd units, under /etc/systemd/system: for Docker, one unit,
//     elevator-<service>.service, that runs image:{{VERSION}} through
//     `elevator-agent exec` (which ships its output to the log group) with
//     the service's ports, volumes, command and environment file; for
//     units, the given unit files.
//
// It returns an EINVALID error for an environment value or a secret
// reference with a line break, or a runtime with neither Docker nor units;
// and an EINTERNAL error when builds lacks an architecture of
// elevator.AgentArches.
func UserData(svc *elevator.Service, a *elevator.App, o *elevator.Orbit, builds map[string]elevator.AgentBuild) (string, error) {
	cfg, units, err := serviceAgentConfig(svc, a, o)
	if err != nil {
		return "", err
	}
	return renderUserData(cfg, o.Name, builds, units)
}

// BastionUserData renders the user data of orbit o's bastion hosts in
// region r: the agent in bastion mode, which only serves SSH access. It
// has no placeholder left. It returns an EINTERNAL error when builds lacks
// an architecture of elevator.AgentArches.
func BastionUserData(o *elevator.Orbit, r *elevator.Region, builds map[string]elevator.AgentBuild) (string, error) {
	cfg := elevator.AgentConfig{
		Mode:          elevator.AgentModeBastion,
		Orbit:         o.Name,
		Region:        r.Name,
		UsersTable:    elevator.UsersTableName(o.Name),
		ServicesTable: elevator.ServicesTableName(o.Name),
	}
	return renderUserData(cfg, o.Name, builds, nil)
}

// BakeUserData renders the user data of bake id's builder in region of
// orbit: the agent in bake mode, which downloads the bake's bundle from
// the orbit's state bucket (elevator.BakeBundleKey), copies its files,
// runs its scripts and uploads an elevator.BakeResult
// (elevator.BakeResultKey); when shutdownMinutes is not 0, it first
// schedules the builder's shutdown that many minutes later (a backstop
// against an abandoned bake). It has no placeholder left. It returns an
// EINTERNAL error when builds lacks an architecture of
// elevator.AgentArches.
func BakeUserData(orbit, region, id string, shutdownMinutes int, builds map[string]elevator.AgentBuild) (string, error) {
	cfg := elevator.AgentConfig{
		Mode:                elevator.AgentModeBake,
		Orbit:               orbit,
		Region:              region,
		BakeID:              id,
		BakeShutdownMinutes: shutdownMinutes,
		UsersTable:          elevator.UsersTableName(orbit),
		ServicesTable:       elevator.ServicesTableName(orbit),
	}
	return renderUserData(cfg, orbit, builds, nil)
}

// compressUserData returns user data gzipped, in base64, as a launch
// template takes it: cloud-init unzips user data that starts with gzip's
// magic bytes. The bastion's launch template holds its user data so, at
// less than half the size of the text: the orbit stack of a region of six
// zones is otherwise close to CloudFormation's MaxBodyBytes. The gzip
// header has no time or name, so the same user data always gives the
// same bytes and the template does not change.
func compressUserData(userData string) string {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression) // the level is valid
	w.Write([]byte(userData))                             // a bytes.Buffer does not fail
	w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// serviceAgentConfig is the agent's configuration of a service, and its
// unit files by name.
func serviceAgentConfig(svc *elevator.Service, a *elevator.App, o *elevator.Orbit) (elevator.AgentConfig, map[string]string, error) {
	env := maps.Clone(svc.Env)
	if env == nil {
		env = map[string]string{}
	}
	if d := svc.Runtime.Docker; d != nil {
		maps.Copy(env, d.Env)
	}
	for k, v := range map[string]string{"RELEASE_ID": "{{RELEASE_ID}}", "APP": "{{APP}}", "ORBIT": "{{ORBIT}}",
		"SERVICE": "{{SERVICE}}", "REGION": "{{REGION}}", "VERSION": "{{VERSION}}"} {
		env["ELEVATOR_"+k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		// docker --env-file, and the agent's environment file, hold one
		// variable a line.
		if strings.ContainsAny(env[k], "\r\n") || strings.ContainsAny(k, "=\r\n") {
			return elevator.AgentConfig{}, nil, elevator.Errorf(elevator.EINVALID, "service %s: environment variable %s: a value cannot span lines", svc.Name, k)
		}
	}
	cfg := elevator.AgentConfig{
		Mode:          elevator.AgentModeService,
		Orbit:         "{{ORBIT}}",
		Region:        "{{REGION}}",
		App:           "{{APP}}",
		Service:       "{{SERVICE}}",
		ReleaseID:     "{{RELEASE_ID}}",
		Version:       "{{VERSION}}",
		UsersTable:    elevator.UsersTableName(o.Name),
		ServicesTable: elevator.ServicesTableName(o.Name),
		AppStack:      a.StackName(o.Name),
		LogGroup:      LogGroupName(o.Name, a.Name, svc.Name),
		Env:           env,
	}
	for _, sec := range a.Secrets {
		if strings.ContainsAny(sec.Name, "=\r\n") || strings.ContainsAny(sec.SSMParameter+sec.SecretsManager, "\r\n") {
			return elevator.AgentConfig{}, nil, elevator.Errorf(elevator.EINVALID, "service %s: secret %s: a reference cannot span lines", svc.Name, sec.Name)
		}
		cfg.Secrets = append(cfg.Secrets, elevator.AgentSecret{Name: sec.Name, SSMParameter: sec.SSMParameter, SecretsManager: sec.SecretsManager})
	}
	if len(a.Data.Tables) > 0 {
		cfg.Tables = map[string]string{}
		for _, t := range a.Data.Tables {
			cfg.Tables[TableEnv(t.Name)] = TableName(o.Name, a.Name, t.Name)
		}
	}
	if db := a.Data.Database; db != nil {
		cfg.Database = &elevator.AgentDatabase{Engine: databaseEngine(db), Name: defaultDatabase(db)}
	}
	cfg.Redis = a.Data.Redis != nil

	units := map[string]string{}
	switch {
	case svc.Runtime.Docker != nil && svc.Runtime.Docker.Image == "":
		return elevator.AgentConfig{}, nil, elevator.Errorf(elevator.EINTERNAL, "service %s: it runs from its own repository, whose URI the release document gives (see ReleaseDocument)", svc.Name)
	case svc.Runtime.Docker != nil:
		units["elevator-"+svc.Name+".service"] = dockerUnit(svc)
		cfg.Docker = &elevator.AgentDocker{Image: svc.Runtime.Docker.Image + ":{{VERSION}}"}
	case len(svc.Runtime.Units) > 0:
		units = svc.Runtime.Units
	default:
		return elevator.AgentConfig{}, nil, elevator.Errorf(elevator.EINVALID, "service %s: the runtime has neither docker nor units", svc.Name)
	}
	cfg.Units = slices.Sorted(maps.Keys(units))
	return cfg, units, nil
}

// TableEnv is the environment variable that holds the name of an app's
// table: TABLE_ and the table's name in upper case, each character other
// than a letter or a digit an underscore (orders -> TABLE_ORDERS,
// line-items -> TABLE_LINE_ITEMS).
func TableEnv(table string) string {
	b := []byte("TABLE_" + strings.ToUpper(table))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// databaseEngine is the engine of an app's database as RDS names it.
func databaseEngine(db *elevator.Database) string {
	switch {
	case !db.Aurora:
		return db.Engine
	case db.Engine == "mysql":
		return "aurora-mysql"
	default:
		return "aurora-postgresql"
	}
}

// defaultDatabase is the database a service connects to: Elevator creates
// none of its own, so it is the one the engine always has (postgres), or
// none for MySQL.
func defaultDatabase(db *elevator.Database) string {
	if db.Engine == "mysql" {
		return ""
	}
	return "postgres"
}

// renderUserData writes cfg, the bootstrap script and the units as
// cloud-config.
func renderUserData(cfg elevator.AgentConfig, orbit string, builds map[string]elevator.AgentBuild, units map[string]string) (string, error) {
	script, err := renderBootstrap(orbit, builds)
	if err != nil {
		return "", err
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(cfg); err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "encode the agent's configuration: %w", err)
	}
	var b strings.Builder
	b.WriteString("#cloud-config\nwrite_files:\n")
	writeFile(&b, elevator.AgentConfigPath, "0600", js.String())
	writeFile(&b, BootstrapPath, "0755", script)
	for _, name := range slices.Sorted(maps.Keys(units)) {
		writeFile(&b, "/etc/systemd/system/"+name, "0644", units[name])
	}
	fmt.Fprintf(&b, "runcmd:\n  - [%s]\n", BootstrapPath)
	return b.String(), nil
}

// renderBootstrap fills bootstrap.sh's build table and bucket in: the
// bucket is elevator.StateBucketName of the instance's account and region,
// which the script reads from the instance's metadata.
func renderBootstrap(orbit string, builds map[string]elevator.AgentBuild) (string, error) {
	var table strings.Builder
	table.WriteString("builds='\n")
	for _, arch := range slices.Sorted(maps.Keys(elevator.AgentArches)) {
		goarch := elevator.AgentArches[arch]
		b, ok := builds[goarch]
		if sum, err := hex.DecodeString(b.SHA256); !ok || err != nil || len(sum) != 32 || b.Key != elevator.AgentObjectKey(b.SHA256, goarch) {
			return "", elevator.Errorf(elevator.EINTERNAL, "the Elevator agent's linux/%s build was not looked up", goarch)
		}
		fmt.Fprintf(&table, "%s %s %s\n", arch, b.Key, b.SHA256)
	}
	table.WriteString("'\n")
	script := bootstrapScript
	for _, r := range []struct{ old, new string }{
		{bootstrapBuilds, table.String()},
		{bootstrapBucket, `bucket="` + elevator.StateBucketName("${account}", "${region}", orbit) + `"` + "\n"},
	} {
		if strings.Count(script, r.old) != 1 {
			panic("compile: bootstrap.sh lacks " + r.old)
		}
		script = strings.Replace(script, r.old, r.new, 1)
	}
	// Its comments are for whoever reads bootstrap.sh; an instance's
	// 16 KB of user data has better uses.
	var kept strings.Builder
	for i, line := range strings.SplitAfter(script, "\n") {
		if trimmed := strings.TrimLeft(line, " \t"); i > 0 && strings.HasPrefix(trimmed, "#") && !strings.HasPrefix(trimmed, "# shellcheck ") {
			continue
		}
		kept.WriteString(line)
	}
	return kept.String(), nil
}

// writeFile adds a write_files entry whose content is a YAML literal
// block with an explicit indentation, so any text fits.
func writeFile(b *strings.Builder, path, mode, content string) {
	fmt.Fprintf(b, "  - path: %s\n    permissions: %q\n    content: |2\n", path, mode)
	for _, line := range strings.SplitAfter(strings.TrimSuffix(content, "\n"), "\n") {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("      " + line + "\n")
	}
}

// AgentEnvFile is the environment file the agent writes for a service:
// its plain environment and its secrets, resolved, on tmpfs.
func AgentEnvFile(service string) string { return elevator.AgentRunDir + "/" + service + ".env" }

// dockerUnit is the systemd unit that runs a Docker service through the
// agent, which gives the container its environment file and ships its
// output to the service's log group. The agent installs Docker and logs
// in to ECR before it starts the unit. A failed pull does not stop a
// restart of an image already there (an ECR login lasts 12 hours).
func dockerUnit(svc *elevator.Service) string {
	d := svc.Runtime.Docker
	name := svc.Name
	image := d.Image + ":{{VERSION}}"
	run := []string{elevator.AgentBinaryPath, "exec", "--service", name, "--",
		"/usr/bin/docker", "run", "--rm", "--name", name, "--log-driver", "none", "--env-file", AgentEnvFile(name)}
	for _, p := range d.Ports {
		run = append(run, "-p", p)
	}
	for _, v := range d.Volumes {
		run = append(run, "-v", v)
	}
	run = append(run, image)
	run = append(run, d.Command...)
	quoted := make([]string, len(run))
	for i, a := range run {
		quoted[i] = systemdQuote(a)
	}
	return fmt.Sprintf(`[Unit]
Description={{APP}} %[1]s {{VERSION}} (release {{RELEASE_ID}})
After=docker.service
Requires=docker.service

[Service]
Restart=always
RestartSec=5
TimeoutStartSec=15min
ExecStartPre=-/usr/bin/docker rm -f %[1]s
ExecStartPre=-/usr/bin/docker pull %[2]s
ExecStart=%[3]s
ExecStop=/usr/bin/docker stop %[1]s

[Install]
WantedBy=multi-user.target
`, name, systemdQuote(image), strings.Join(quoted, " "))
}

// systemdQuote quotes a command-line argument for a unit's Exec lines:
// systemd splits on spaces, expands $ and %, and unquotes double quotes.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;") {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
