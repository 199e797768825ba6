package agent

import (
	"context"
	"encoding/base64"
	"reflect"
	"slices"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestDockerIsInstalledByTheImagesPackageManager(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, osRelease string
		want            []string
	}{
		{"Amazon Linux 2023 uses dnf", "NAME=\"Amazon Linux\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
			[]string{"dnf install -y docker", "systemctl enable --now docker"}},
		{"Debian uses apt-get", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
			[]string{"DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update", "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y docker.io", "systemctl enable --now docker"}},
		{"Ubuntu uses apt-get", "ID=ubuntu\nID_LIKE=debian\n",
			[]string{"DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update", "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y docker.io", "systemctl enable --now docker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, run, _ := testAgent(t, nil)
			writeFile(t, a, "/etc/os-release", tc.osRelease)
			if err := a.ensureDocker(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := run.lines(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ran %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("an image with docker only gets its daemon started", func(t *testing.T) {
		t.Parallel()
		a, run, _ := testAgent(t, nil)
		run.installed["docker"] = true
		writeFile(t, a, "/etc/os-release", "ID=amzn\n")
		want := []string{"systemctl enable --now docker"}
		if err := a.ensureDocker(context.Background()); err != nil || !slices.Equal(run.lines(), want) {
			t.Errorf("ran %q, %v; want %q", run.lines(), err, want)
		}
	})
	t.Run("an unknown distribution is a clear error", func(t *testing.T) {
		t.Parallel()
		a, run, _ := testAgent(t, nil)
		writeFile(t, a, "/etc/os-release", "ID=alpine\n")
		err := a.ensureDocker(context.Background())
		if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), `ID="alpine"`) || !strings.Contains(err.Error(), "docker is not installed") {
			t.Errorf("error %v, want EINVALID naming the distribution", err)
		}
		if len(run.lines()) != 0 {
			t.Errorf("ran %q on an unknown distribution", run.lines())
		}
	})
}

func TestECRImagesAreRecognisedByTheirRegistryHost(t *testing.T) {
	t.Parallel()
	for image, want := range map[string]string{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:{{VERSION}}": "eu-west-1",
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/shop:1":       "cn-north-1",
		"123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/a/b:1":       "us-east-1",
		"docker.io/library/nginx:1":                                     "",
		"nginx:1":                                                       "",
		"public.ecr.aws/nginx/nginx:1":                                  "",
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.com/x:1":     "",
	} {
		_, region, ok := ECRRegistry(image)
		if region != want || ok != (want != "") {
			t.Errorf("ECRRegistry(%q) = %q, %v; want %q", image, region, ok, want)
		}
	}
}

func TestBootLogsDockerInToECRWithThePasswordOnStdin(t *testing.T) {
	t.Parallel()
	awsCfg := emulatortest.Config(t, "eu-central-1")
	cl := NewClients(awsCfg)
	a, run, log := testAgent(t, cl)
	run.installed["docker"] = true
	host := emulatortest.AccountID(awsCfg) + ".dkr.ecr.eu-central-1.amazonaws.com"
	if err := a.loginECR(context.Background(), cl, host+"/shop:1.4.2"); err != nil {
		t.Fatal(err)
	}
	if len(run.commands) != 1 {
		t.Fatalf("ran %q, want one docker login", run.lines())
	}
	c := run.commands[0]
	if want := "docker login --username AWS --password-stdin " + host; c.String() != want {
		t.Errorf("ran %q, want %q", c.String(), want)
	}
	// Moto's token is base64("AWS:<password>"), as ECR's is.
	token, err := cl.Registry("eu-central-1").Login(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Stdin) == 0 || string(c.Stdin) != token.Password {
		t.Errorf("docker login's stdin %q, want the password of ECR's token", c.Stdin)
	}
	for _, arg := range c.Args {
		if strings.Contains(arg, token.Password) || strings.Contains(arg, base64.StdEncoding.EncodeToString([]byte(token.Password))) {
			t.Errorf("the password is on docker login's command line: %q", c.Args)
		}
	}
	if strings.Contains(log.String(), token.Password) {
		t.Errorf("the agent logged the password:\n%s", log)
	}

	run.commands = nil
	if err := a.loginECR(context.Background(), cl, "docker.io/library/nginx:1"); err != nil || len(run.commands) != 0 {
		t.Errorf("an image outside ECR: ran %q, %v; want nothing", run.lines(), err)
	}
}
