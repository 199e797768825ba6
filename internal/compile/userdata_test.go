package compile

import (
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	yaml "go.yaml.in/yaml/v4"
)

var vars = elevator.UserDataVars{ReleaseID: "20261123-120000-9f86d081", App: "shop", Orbit: "prod", Service: "web", Region: "eu-west-1", Version: "1.4.2"}

func TestUserDataRendersEachRuntimeWithTheReleasesValues(t *testing.T) {
	tests := []struct {
		name string
		svc  elevator.Service
		want string
	}{
		{"a docker service runs image:version as a systemd unit",
			elevator.Service{Name: "web",
				Env: map[string]string{"LOG_LEVEL": "info", "GREETING": "hello from {{APP}}"},
				Runtime: elevator.Runtime{Docker: &elevator.Docker{
					Image:   "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop",
					Ports:   []string{"80:8080"},
					Volumes: []string{"/var/log/shop:/logs:rw"},
					Env:     map[string]string{"LOG_LEVEL": "debug"},
					Command: []string{"serve", "--motd", "50% off $today"},
				}}},
			`#cloud-config
write_files:
  - path: /etc/elevator/web.env
    permissions: "0600"
    content: |2
      ELEVATOR_APP=shop
      ELEVATOR_ORBIT=prod
      ELEVATOR_REGION=eu-west-1
      ELEVATOR_RELEASE_ID=20261123-120000-9f86d081
      ELEVATOR_SERVICE=web
      ELEVATOR_VERSION=1.4.2
      GREETING=hello from shop
      LOG_LEVEL=debug
  - path: /etc/systemd/system/elevator-web.service
    permissions: "0644"
    content: |2
      [Unit]
      Description=shop web 1.4.2 (release 20261123-120000-9f86d081)
      After=docker.service
      Requires=docker.service

      [Service]
      Restart=always
      RestartSec=5
      ExecStartPre=-/usr/bin/docker rm -f web
      ExecStartPre=/usr/bin/docker pull 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2
      ExecStart=/usr/bin/docker run --rm --name web --env-file /etc/elevator/web.env -p 80:8080 -v /var/log/shop:/logs:rw 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:1.4.2 serve --motd "50%% off $$today"
      ExecStop=/usr/bin/docker stop web

      [Install]
      WantedBy=multi-user.target
runcmd:
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, "elevator-web.service"]
`},
		{"raw units are written as given, in name order",
			elevator.Service{Name: "web",
				Runtime: elevator.Runtime{Units: map[string]string{
					"web.service":  "[Service]\nEnvironmentFile=/etc/elevator/web.env\nExecStart=/opt/shop/bin/web --region {{REGION}} --version {{VERSION}}\n",
					"backup.timer": "  [Timer]\nOnCalendar=daily\n",
				}}},
			`#cloud-config
write_files:
  - path: /etc/elevator/web.env
    permissions: "0600"
    content: |2
      ELEVATOR_APP=shop
      ELEVATOR_ORBIT=prod
      ELEVATOR_REGION=eu-west-1
      ELEVATOR_RELEASE_ID=20261123-120000-9f86d081
      ELEVATOR_SERVICE=web
      ELEVATOR_VERSION=1.4.2
  - path: /etc/systemd/system/backup.timer
    permissions: "0644"
    content: |2
        [Timer]
      OnCalendar=daily
  - path: /etc/systemd/system/web.service
    permissions: "0644"
    content: |2
      [Service]
      EnvironmentFile=/etc/elevator/web.env
      ExecStart=/opt/shop/bin/web --region eu-west-1 --version 1.4.2
runcmd:
  - [systemctl, daemon-reload]
  - [systemctl, enable, --now, "backup.timer"]
  - [systemctl, enable, --now, "web.service"]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := UserData(&tt.svc)
			if err != nil {
				t.Fatal(err)
			}
			got := elevator.ExpandUserData(tmpl, vars)
			if got != tt.want {
				t.Errorf("user data:\n%s\nwant:\n%s", got, tt.want)
			}
			// cloud-init must read back exactly the files meant.
			var doc struct {
				WriteFiles []struct{ Path, Content string } `yaml:"write_files"`
				RunCmd     [][]string                       `yaml:"runcmd"`
			}
			if err := yaml.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			for _, f := range doc.WriteFiles {
				if name, ok := strings.CutPrefix(f.Path, "/etc/systemd/system/"); ok && tt.svc.Runtime.Units != nil {
					if want := elevator.ExpandUserData(tt.svc.Runtime.Units[name], vars); f.Content != want {
						t.Errorf("%s reads back as %q, want %q", f.Path, f.Content, want)
					}
				}
			}
			if len(doc.RunCmd) == 0 || doc.RunCmd[len(doc.RunCmd)-1][2] != "--now" {
				t.Errorf("runcmd %v", doc.RunCmd)
			}
		})
	}
}

func TestUserDataRefusesWhatCannotBeWritten(t *testing.T) {
	tests := []struct {
		name string
		svc  elevator.Service
	}{
		{"an environment value on two lines", elevator.Service{Name: "web", Env: map[string]string{"A": "x\ny"}, Runtime: elevator.Runtime{Units: map[string]string{"a.service": ""}}}},
		{"a runtime with neither docker nor units", elevator.Service{Name: "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UserData(&tt.svc); elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("UserData = %v, want an invalid-input error", err)
			}
		})
	}
}

func TestUserDataCarriesSecretReferencesNotValues(t *testing.T) {
	svc := &elevator.Service{Name: "web", Runtime: elevator.Runtime{Docker: &elevator.Docker{Image: "ghcr.io/acme/shop"}}}
	tmpl, err := UserData(svc,
		elevator.Secret{Name: "DATABASE_URL", SSMParameter: "/elevator/prod/shop/database-url"},
		elevator.Secret{Name: "STRIPE_KEY", SecretsManager: "shop/stripe"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"path: /etc/elevator/web.secrets",
		"DATABASE_URL=ssm:/elevator/prod/shop/database-url",
		"STRIPE_KEY=secretsmanager:shop/stripe",
		"ELEVATOR_SECRETS_FILE=/etc/elevator/web.secrets",
	} {
		if !strings.Contains(tmpl, want) {
			t.Errorf("user data lacks %q:\n%s", want, tmpl)
		}
	}
	if _, err := UserData(svc, elevator.Secret{Name: "X", SSMParameter: "/a\nb"}); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("a reference over two lines: %v", err)
	}
	plain, _ := UserData(svc)
	if strings.Contains(plain, ".secrets") {
		t.Error("an app without secrets gets a secrets file")
	}
}
