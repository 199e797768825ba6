package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Environment returns the service's environment: the plain Env of cfg
// (ELEVATOR_* facts included), TABLE_<NAME> for each table, each secret
// resolved (SSM with decryption, or Secrets Manager), DATABASE_URL and
// REDIS_URL from the app stack's outputs, and ELEVATOR_INSTANCE_ID. It
// logs what it resolved by name and source, never a value. Errors name
// the secret, output or stack that failed; they never hold a value.
func Environment(ctx context.Context, log *slog.Logger, cfg *elevator.AgentConfig, cl *Clients, instanceID string) (map[string]string, error) {
	env := map[string]string{}
	for k, v := range cfg.Env {
		env[k] = v
	}
	for k, table := range cfg.Tables {
		env[TableVar(k)] = table
	}
	for _, s := range cfg.Secrets {
		source, v, err := "ssm:"+s.SSMParameter, "", error(nil)
		if s.SSMParameter != "" {
			v, err = cl.Parameters.SecureParameter(ctx, s.SSMParameter)
		} else {
			source = "secretsmanager:" + s.SecretsManager
			v, err = cl.Secrets.SecretString(ctx, s.SecretsManager)
		}
		if err != nil {
			return nil, elevator.Errorf(elevator.ErrorCode(err), "secret %s: %w", s.Name, err)
		}
		log.Info("resolved secret", "name", s.Name, "source", source)
		env[s.Name] = v
	}
	if cfg.Database != nil || cfg.Redis {
		if cfg.AppStack == "" {
			return nil, elevator.Errorf(elevator.EINVALID, "the app has a database or Redis, and the agent configuration names no app_stack to read their addresses from")
		}
		st, err := cl.Stacks.Describe(ctx, cfg.AppStack)
		if err != nil {
			return nil, err
		}
		out := func(key string) (string, error) {
			if v := st.Outputs[key]; v != "" {
				return v, nil
			}
			return "", elevator.Errorf(elevator.ENOTFOUND, "stack %s has no output %s", cfg.AppStack, key)
		}
		if cfg.Redis {
			host, err := out(elevator.AppOutputRedisEndpoint)
			if err != nil {
				return nil, err
			}
			port, err := out(elevator.AppOutputRedisPort)
			if err != nil {
				return nil, err
			}
			// ElastiCache here has transit encryption: TLS.
			env["REDIS_URL"] = "rediss://" + host + ":" + port
			log.Info("resolved data store", "name", "REDIS_URL", "stack", cfg.AppStack)
		}
		if db := cfg.Database; db != nil {
			url, err := databaseURL(ctx, cfg.AppStack, db, out, cl.Secrets)
			if err != nil {
				return nil, err
			}
			env["DATABASE_URL"] = url
			log.Info("resolved data store", "name", "DATABASE_URL", "stack", cfg.AppStack)
		}
	}
	env["ELEVATOR_INSTANCE_ID"] = instanceID
	return env, nil
}

// TableVar is the variable that names table k: k itself when it is
// already TABLE_<NAME>, else TABLE_ and k upper-cased, with every
// character other than a letter or digit made _.
func TableVar(k string) string {
	if strings.HasPrefix(k, "TABLE_") {
		return k
	}
	return "TABLE_" + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, k)
}

// databaseURL builds DATABASE_URL from the stack's outputs and the JSON
// of the database's secret.
func databaseURL(ctx context.Context, stack string, db *elevator.AgentDatabase, out func(string) (string, error), secrets Secrets) (string, error) {
	scheme, err := databaseScheme(db.Engine)
	if err != nil {
		return "", err
	}
	host, err := out(elevator.AppOutputDatabaseEndpoint)
	if err != nil {
		return "", err
	}
	port, err := out(elevator.AppOutputDatabasePort)
	if err != nil {
		return "", err
	}
	secretID, err := out(elevator.AppOutputDatabaseSecret)
	if err != nil {
		return "", err
	}
	raw, err := secrets.SecretString(ctx, secretID)
	if err != nil {
		return "", elevator.Errorf(elevator.ErrorCode(err), "the database's secret: %w", err)
	}
	var cred struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	// The JSON error would quote the secret: say only what is wrong.
	if json.Unmarshal([]byte(raw), &cred) != nil || cred.Username == "" || cred.Password == "" {
		return "", elevator.Errorf(elevator.EINVALID, "the database's secret %s (output %s of stack %s) is not JSON with a username and a password", secretID, elevator.AppOutputDatabaseSecret, stack)
	}
	return scheme + "://" + escapeUserinfo(cred.Username) + ":" + escapeUserinfo(cred.Password) + "@" + host + ":" + port + "/" + db.Name, nil
}

// databaseScheme is the URL scheme of a database engine.
func databaseScheme(engine string) (string, error) {
	switch engine {
	case "postgres", "aurora-postgresql":
		return "postgres", nil
	case "mysql", "mariadb", "aurora-mysql", "aurora":
		return "mysql", nil
	}
	return "", elevator.Errorf(elevator.EINVALID, "database engine %q: want postgres, aurora-postgresql, mysql, mariadb or aurora-mysql", engine)
}

// escapeUserinfo percent-encodes every byte of s but the unreserved ones
// (RFC 3986: letters, digits, -._~), so a user or password holding @ : /
// ? # or % reads back as it is.
func escapeUserinfo(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
