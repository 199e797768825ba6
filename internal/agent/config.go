package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// LoadConfig reads and checks the agent's configuration at path. It
// returns an ENOTFOUND error when the file is missing and EINVALID when it
// is not a usable AgentConfig.
func LoadConfig(path string) (*elevator.AgentConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "no agent configuration at %s: user data writes it", path)
	}
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read the agent configuration: %w", err)
	}
	var cfg elevator.AgentConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&cfg); err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "agent configuration %s: %w", path, err)
	}
	if err := checkConfig(&cfg); err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "agent configuration %s: %w", path, err)
	}
	return &cfg, nil
}

func checkConfig(cfg *elevator.AgentConfig) error {
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field)
		}
	}
	need("orbit", cfg.Orbit)
	need("region", cfg.Region)
	need("users_table", cfg.UsersTable)
	need("services_table", cfg.ServicesTable)
	switch cfg.Mode {
	case elevator.AgentModeService:
		need("app", cfg.App)
		need("service", cfg.Service)
	case elevator.AgentModeBastion:
	case elevator.AgentModeBake:
		need("bake_id", cfg.BakeID)
	default:
		return errors.New(`mode must be "` + elevator.AgentModeService + `", "` + elevator.AgentModeBastion + `" or "` + elevator.AgentModeBake + `", not "` + cfg.Mode + `"`)
	}
	if len(missing) > 0 {
		return errors.New("missing " + strings.Join(missing, ", "))
	}
	if cfg.Service != "" && !validUnitPart(cfg.Service) {
		return errors.New("service " + cfg.Service + " is not a valid file name")
	}
	for _, s := range cfg.Secrets {
		if (s.SSMParameter == "") == (s.SecretsManager == "") {
			return errors.New("secret " + s.Name + ": give exactly one of ssm_parameter and secrets_manager")
		}
	}
	return nil
}

// validUnitPart reports whether s can be part of a file name in AgentRunDir.
func validUnitPart(s string) bool {
	return s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// LoadAWSEnv sets, in the agent's own environment, the variables of the
// file at path (elevator.AgentAWSEnvPath), so that the agent reaches the
// same endpoints as the bootstrap script when sshd or systemd start it
// with a clean environment. The file is shell (`set -a; . file`): one
// NAME=value a line, # comments, a value optionally in quotes. A missing
// file sets nothing. It returns the names it set.
func LoadAWSEnv(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read %s: %w", path, err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		if !ok || !envName.MatchString(name) {
			return names, elevator.Errorf(elevator.EINVALID, "%s line %d: want NAME=value", path, n)
		}
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		if err := os.Setenv(name, value); err != nil {
			return names, elevator.Errorf(elevator.EINVALID, "%s line %d: %w", path, n, err)
		}
		names = append(names, name)
	}
	return names, sc.Err()
}
