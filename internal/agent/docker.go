package agent

import (
	"bufio"
	"context"
	"os"
	"regexp"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// ensureDocker installs Docker when it is not on PATH, by the package
// manager of the distribution /etc/os-release names, and starts it. It
// returns an EINVALID error saying so for a distribution it does not know.
func (a *Agent) ensureDocker(ctx context.Context) error {
	if _, err := a.Runner.LookPath("docker"); err == nil {
		return nil
	}
	id, like := osRelease(a.Paths.Path("/etc/os-release"))
	var cmds []Command
	switch {
	case id == "amzn":
		cmds = []Command{{Name: "dnf", Args: []string{"install", "-y", "docker"}}}
	case id == "debian" || id == "ubuntu" || like["debian"] || like["ubuntu"]:
		noPrompt := []string{"DEBIAN_FRONTEND=noninteractive"}
		cmds = []Command{
			{Name: "apt-get", Args: []string{"update"}, Env: noPrompt},
			{Name: "apt-get", Args: []string{"install", "-y", "docker.io"}, Env: noPrompt},
		}
	default:
		return elevator.Errorf(elevator.EINVALID, "docker is not installed and the agent cannot install it on this image (/etc/os-release ID=%q): use Amazon Linux, Debian or Ubuntu, or an image with Docker", id)
	}
	a.Log.Info("installing docker", "os", id)
	cmds = append(cmds, Command{Name: "systemctl", Args: []string{"enable", "--now", "docker"}})
	for _, c := range cmds {
		if err := a.Runner.Run(ctx, c); err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "install docker: %w", err)
		}
	}
	return nil
}

// osRelease returns the ID of /etc/os-release and the set of its ID_LIKE.
func osRelease(path string) (id string, like map[string]bool) {
	like = map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return "", like
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			id = v
		case "ID_LIKE":
			for _, l := range strings.Fields(v) {
				like[l] = true
			}
		}
	}
	return id, like
}

// ecrHost matches the host of an ECR registry; group 1 is the region.
var ecrHost = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$`)

// ECRRegistry returns the registry host of image and its region when the
// image is in ECR, and ok false otherwise.
func ECRRegistry(image string) (host, region string, ok bool) {
	host, _, found := strings.Cut(image, "/")
	if !found {
		return "", "", false
	}
	m := ecrHost.FindStringSubmatch(host)
	if m == nil {
		return "", "", false
	}
	return host, m[1], true
}

// loginECR logs Docker in to the image's ECR registry, when it is in one:
// ecr:GetAuthorizationToken, then `docker login --password-stdin`, so the
// password is never on a command line.
func (a *Agent) loginECR(ctx context.Context, cl *Clients, image string) error {
	host, region, ok := ECRRegistry(image)
	if !ok {
		return nil
	}
	login, err := cl.Registry(region).Login(ctx)
	if err != nil {
		return err
	}
	err = a.Runner.Run(ctx, Command{Name: "docker", Args: []string{"login", "--username", login.Username, "--password-stdin", host}, Stdin: []byte(login.Password)})
	if err != nil {
		return elevator.Errorf(elevator.EAWS, "log docker in to %s: %w", host, err)
	}
	a.Log.Info("logged in to ECR", "registry", host)
	return nil
}
