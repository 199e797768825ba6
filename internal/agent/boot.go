package agent

import (
	"context"

	elevator "github.com/elevatorhq/elevator"
)

// Boot prepares the instance and starts the service, as user data's
// bootstrap script asks (`elevator-agent boot`). In service mode: Docker
// installed and logged in to ECR when the runtime needs it, the service's
// environment resolved and written to AgentRunDir/<service>.env, SSH
// access set up, then `systemctl daemon-reload` and `systemctl enable
// --now` of each unit and of the sync-users timer. In bastion mode: SSH
// access only. Syncing the users once may fail (the timer tries again
// every minute): that is logged, not returned. It returns the first error
// that stops the service from running.
func (a *Agent) Boot(ctx context.Context, cfg *elevator.AgentConfig) error {
	cl, err := a.Clients(ctx, cfg)
	if err != nil {
		return err
	}
	a.Log.Info("booting", "mode", cfg.Mode, "orbit", cfg.Orbit, "app", cfg.App, "service", cfg.Service, "release", cfg.ReleaseID)
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
	if err := a.systemctl(ctx, "daemon-reload"); err != nil {
		return err
	}
	for _, u := range append(append([]string{}, cfg.Units...), usersUnit+".timer") {
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
