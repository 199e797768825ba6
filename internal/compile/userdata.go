package compile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// UserData renders a service's runtime as a cloud-config user data
// template, with the placeholders elevator.ExpandUserData fills in left in
// it. It writes an
// environment file /etc/elevator/<service>.env (the service's environment
// and ELEVATOR_RELEASE_ID, ELEVATOR_APP, ELEVATOR_ORBIT, ELEVATOR_SERVICE,
// ELEVATOR_REGION and ELEVATOR_VERSION), then the systemd units, which it
// enables and starts:
//   - Docker: one unit, elevator-<service>.service, that runs
//     image:{{VERSION}} with the service's ports, volumes, command and
//     environment file (the image must have Docker);
//   - units: the given unit files, in name order.
//
// The app's secrets are written as references only, one NAME=ssm:/path or
// NAME=secretsmanager:name per line, to /etc/elevator/<service>.secrets
// (ELEVATOR_SECRETS_FILE says where): the instance resolves them with its
// instance profile, which may read exactly those; their values never
// appear in user data.
//
// It returns an EINVALID error for an environment value with a line break
// or a runtime with neither Docker nor units.
func UserData(svc *elevator.Service, secrets ...elevator.Secret) (string, error) {
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
	secretsPath := "/etc/elevator/" + svc.Name + ".secrets"
	var secretsFile strings.Builder
	for _, sec := range secrets {
		ref := "ssm:" + sec.SSMParameter
		if sec.SecretsManager != "" {
			ref = "secretsmanager:" + sec.SecretsManager
		}
		if strings.ContainsAny(sec.Name, "=\r\n") || strings.ContainsAny(ref, "\r\n") {
			return "", elevator.Errorf(elevator.EINVALID, "service %s: secret %s: a reference cannot span lines", svc.Name, sec.Name)
		}
		fmt.Fprintf(&secretsFile, "%s=%s\n", sec.Name, ref)
	}
	if len(secrets) > 0 {
		env["ELEVATOR_SECRETS_FILE"] = secretsPath
	}
	var envFile strings.Builder
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if strings.ContainsAny(env[k], "\r\n") || strings.ContainsAny(k, "=\r\n") {
			return "", elevator.Errorf(elevator.EINVALID, "service %s: environment variable %s: a value cannot span lines", svc.Name, k)
		}
		fmt.Fprintf(&envFile, "%s=%s\n", k, env[k])
	}
	envPath := "/etc/elevator/" + svc.Name + ".env"

	units := map[string]string{}
	switch {
	case svc.Runtime.Docker != nil:
		units["elevator-"+svc.Name+".service"] = dockerUnit(svc, envPath)
	case len(svc.Runtime.Units) > 0:
		units = svc.Runtime.Units
	default:
		return "", elevator.Errorf(elevator.EINVALID, "service %s: the runtime has neither docker nor units", svc.Name)
	}

	var b strings.Builder
	b.WriteString("#cloud-config\nwrite_files:\n")
	writeFile(&b, envPath, "0600", envFile.String())
	if len(secrets) > 0 {
		writeFile(&b, secretsPath, "0600", secretsFile.String())
	}
	names := slices.Sorted(maps.Keys(units))
	for _, name := range names {
		writeFile(&b, "/etc/systemd/system/"+name, "0644", units[name])
	}
	b.WriteString("runcmd:\n  - [systemctl, daemon-reload]\n")
	for _, name := range names {
		fmt.Fprintf(&b, "  - [systemctl, enable, --now, %q]\n", name)
	}
	return b.String(), nil
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

// dockerUnit is the systemd unit that runs a Docker service.
func dockerUnit(svc *elevator.Service, envPath string) string {
	d := svc.Runtime.Docker
	name := svc.Name
	image := d.Image + ":{{VERSION}}"
	run := []string{"/usr/bin/docker", "run", "--rm", "--name", name, "--env-file", envPath}
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
ExecStartPre=-/usr/bin/docker rm -f %[1]s
ExecStartPre=/usr/bin/docker pull %[2]s
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
