package agent

import (
	"context"
	"os"

	elevator "github.com/elevatorhq/elevator"
)

// Boot prepares the instance and starts the service, as user data's
// bootstrap script asks (`elevator-agent boot`). In service mode: Docker
// installed and logged in to ECR when the runtime needs it, the service's
// environment resolved and written to AgentRunDir/<service>.env, SSH
// access set up, then `systemctl daemon-reload` and `systemctl enable
// --now` of each unit and of the sync-users timer. In bastion mode: SSH
// access only. In bake mode: the bake (see Bake), and nothing else. Syncing the users once may fail (the timer tries again
// every minute): that is logged, not returned. It returns the first error
// that stops the service from running.
//
// The environment lives on tmpfs and cloud-init runs user data once, so
// Boot also installs bootUnit, enabled, which runs `elevator-agent boot
// --again` at every later boot, with a drop-in ordering each of the
// service's units after it: after a reboot the secrets are read again
// before the service starts. With again set, Boot starts nothing itself:
// the units are enabled and wait for it.
func (a *Agent) Boot(ctx context.Context, cfg *elevator.AgentConfig, again bool) error {
	cl, err := a.Clients(ctx, cfg)
	if err != nil {
		return err
	}
	a.Log.Info("booting", "mode", cfg.Mode, "orbit", cfg.Orbit, "app", cfg.App, "service", cfg.Service, "release", cfg.ReleaseID)
	if cfg.Mode == elevator.AgentModeBake {
		// A builder becomes an image: it runs the bake and nothing else
		// (no SSH access, no boot unit, no service).
		return a.Bake(ctx, cfg, cl)
	}
	if cfg.Mode == elevator.AgentModeService {
		if cfg.Docker != nil {
			if err := a.ensureDocker(ctx); err != nil {
				return err
			}
			if err := a.loginECR(ctx, cl, cfg.Docker.Image); err != nil {
				return err
			}
		}
		id, err := a.instanceID(ctx, cl)
		if err != nil {
			return err
		}
		env, err := Environment(ctx, a.Log, cfg, cl, id)
		if err != nil {
			return err
		}
		path := a.Paths.EnvFile(cfg.Service)
		if err := WriteEnvFile(path, env); err != nil {
			return err
		}
		a.Log.Info("wrote the service's environment", "path", path, "variables", len(env))
	}
	if err := a.setupSSH(ctx); err != nil {
		return err
	}
	if err := a.SyncUsers(ctx, cfg, cl.Tables); err != nil {
		a.Log.Warn("could not sync SSH users now; the timer tries again every minute", "error", err.Error())
	}
	// The boot unit is wanted by the service's units: the marker, on
	// tmpfs, keeps it from running the whole boot again on the first
	// boot, and is gone at the next.
	if err := writeAtomic(a.Paths.Path(bootMarker), nil, 0o600); err != nil {
		return err
	}
	if again {
		return nil
	}
	if err := a.installBootUnit(cfg); err != nil {
		return err
	}
	if err := a.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	if err := a.systemctl(ctx, "enable", bootUnit+".service"); err != nil {
		return err
	}
	// The timer first: a service unit that fails to start (a slow image
	// pull) must not keep later grants from making their accounts.
	for _, u := range append([]string{usersUnit + ".timer"}, cfg.Units...) {
		if err := a.systemctl(ctx, "enable", "--now", u); err != nil {
			return err
		}
		a.Log.Info("started unit", "unit", u)
	}
	return nil
}

func (a *Agent) systemctl(ctx context.Context, args ...string) error {
	if err := a.Runner.Run(ctx, Command{Name: "systemctl", Args: args}); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "%w", err)
	}
	return nil
}

// bootUnit runs the agent's boot again at each later boot of the instance.
const bootUnit = "elevator-agent"

// bootMarker says this boot of the instance has been through Boot.
const bootMarker = "/run/elevator-agent.booted"

// bootService tries again every 10 s when AWS or the network is not there
// yet: the service's units wait for it.
var bootService = `[Unit]
Description=Elevator: the service's environment and SSH access, read again at boot
Wants=network-online.target
After=network-online.target
ConditionPathExists=!` + bootMarker + `

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=` + elevator.AgentBinaryPath + ` boot --again
Restart=on-failure
RestartSec=10s

[Install]
WantedBy=multi-user.target
`

// unitAfterBoot is the drop-in that makes a service's unit wait for
// bootUnit, and want it.
var unitAfterBoot = `[Unit]
Wants=` + bootUnit + `.service
After=` + bootUnit + `.service
`

// installBootUnit writes bootUnit and, for each of the service's units, a
// drop-in ordering it after bootUnit.
func (a *Agent) installBootUnit(cfg *elevator.AgentConfig) error {
	if err := writeAtomic(a.Paths.Path(systemdDir+"/"+bootUnit+".service"), []byte(bootService), 0o644); err != nil {
		return err
	}
	for _, u := range cfg.Units {
		dir := a.Paths.Path(systemdDir + "/" + u + ".d")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "write a drop-in for %s: %w", u, err)
		}
		if err := writeAtomic(dir+"/50-elevator-agent.conf", []byte(unitAfterBoot), 0o644); err != nil {
			return err
		}
	}
	return nil
}
