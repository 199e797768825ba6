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
	if _, err := a.Runner.LookPath("docker"); err != nil {
		if err := a.installDocker(ctx); err != nil {
			return err
		}
	}
	// Installed or not by the agent, the daemon must run: docker login
	// and the service's unit talk to it.
	if err := a.Runner.Run(ctx, Command{Name: "systemctl", Args: []string{"enable", "--now", "docker"}}); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "start docker (see journalctl -u docker): %w", err)
	}
	return nil
}

// installDocker installs Docker with the image's package manager.
func (a *Agent) installDocker(ctx context.Context) error {
	id, like := osRelease(a.Paths.Path("/etc/os-release"))
	var cmds []Command
	switch {
	case id == "amzn":
		cmds = []Command{{Name: "dnf", Args: []string{"install", "-y", "docker"}}}
	case id == "debian" || id == "ubuntu" || like["debian"] || like["ubuntu"]:
		// On a first boot, apt's daily timers may hold dpkg's lock: wait
		// for it rather than fail.
		noPrompt := []string{"DEBIAN_FRONTEND=noninteractive"}
		wait := []string{"-o", "DPkg::Lock::Timeout=300"}
		cmds = []Command{
			{Name: "apt-get", Args: append(append([]string{}, wait...), "update"), Env: noPrompt},
			{Name: "apt-get", Args: append(append([]string{}, wait...), "install", "-y", "docker.io"), Env: noPrompt},
		}
	default:
		return elevator.Errorf(elevator.EINVALID, "docker is not installed and the agent cannot install it on this image (/etc/os-release ID=%q): use Amazon Linux, Debian or Ubuntu, or an image with Docker", id)
	}
	a.Log.Info("installing docker", "os", id)
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
