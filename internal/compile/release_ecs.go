// This file builds the release document's part of an ECS service: its
// task, and in each region its image, cluster, roles, log group, and the
// data stores' addresses and the app's secrets as its environment.

package compile

import (
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Environment variables an ECS container gets for the app's data stores
// (an instance's agent gives REDIS_URL and DATABASE_URL instead). A URL
// with the password in it cannot be a plain ECS environment value, so
// the database comes in parts, its password as a secret.
const (
	envRedisURL         = "REDIS_URL"
	envDatabaseHost     = "DATABASE_HOST"
	envDatabasePort     = "DATABASE_PORT"
	envDatabaseName     = "DATABASE_NAME"
	envDatabaseUser     = "DATABASE_USER"
	envDatabasePassword = "DATABASE_PASSWORD"
)

// ecsTask is what an ECS service's task runs, the same in every region:
// its container's settings, with the service's environment and the
// container's own over it.
func ecsTask(svc *elevator.Service) *elevator.ReleaseECS {
	e := svc.Runtime.ECS
	t := &elevator.ReleaseECS{Capacity: e.Capacity, CPU: e.CPU, Memory: e.Memory, Command: e.Command}
	if t.Capacity == "" {
		t.Capacity = elevator.ECSFargate
	}
	for _, p := range e.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = "tcp"
		}
		t.Ports = append(t.Ports, elevator.ReleasePort{Container: p.Container, Protocol: proto})
	}
	if len(svc.Env)+len(e.Env) > 0 {
		t.Env = make(map[string]string, len(svc.Env)+len(e.Env))
		for k, v := range svc.Env {
			t.Env[k] = v
		}
		for k, v := range e.Env {
			t.Env[k] = v
		}
	}
	return t
}

// ecsPlacement fills the ECS fields of an ECS service's placement p in
// region r from the app stack's outputs: the image with the release's
// version, the orbit's cluster, the task's roles and log group, the data
// stores' addresses (Env) and the app's secrets as full ARNs (Secrets),
// Secrets Manager's from f.SecretARNs. need reads a fact and reports it
// missing when it is not there. It returns an EINTERNAL error when the
// stack's outputs are not what it makes.
func ecsPlacement(p *elevator.ReleasePlacement, svc *elevator.Service, a *elevator.App, o *elevator.Orbit, r *elevator.Region, version string, f ReleaseFacts, needIn func(m map[string]string, key, what string) string) error {
	e := svc.Runtime.ECS
	need := func(key, what string) string { return needIn(f.App, key, what) }
	// A secret's full ARN, with the suffix Secrets Manager added to its
	// name, as internal/lookup found it: ECS reads a partial ARN whose
	// name ends in "-" and six characters as a full one.
	secretARN := func(id string) string {
		if strings.HasPrefix(id, "arn:") {
			return id
		}
		return needIn(f.SecretARNs, id, "ARN of secret "+id)
	}
	p.Cluster = elevator.ECSClusterName(o.Name)
	if e.Repository != nil {
		name := elevator.AppRepositoryName(o.Name, a.Name, svc.Name)
		if uri := need(RepositoryOutput(svc.Name), "the repository of service "+svc.Name); uri != "" {
			if err := repositoryURI(uri, r.Name, name, a, o, svc); err != nil {
				return err
			}
			p.Image = uri + ":" + version
		}
		// As for Docker: the engine checks that the repository holds
		// the version, and that the orbit's allow list has it.
		p.Repository = name
	} else {
		p.Image = e.Image + ":" + version
	}
	p.TaskRole = need(ServiceOutput(svc.Name, OutputTaskRole), "the task role of service "+svc.Name)
	p.ExecutionRole = need(ServiceOutput(svc.Name, OutputExecutionRole), "the task execution role of service "+svc.Name)
	p.LogGroup = need(ServiceOutput(svc.Name, OutputLogGroup), "the log group of service "+svc.Name)

	// Secrets are ARNs in the stack's account and partition: the task
	// role's ARN says which.
	account := arnAccount(p.TaskRole)
	if p.TaskRole != "" && account == "" {
		return elevator.Errorf(elevator.EINTERNAL, "app %s in orbit %s, region %s: output %s is %q, not a role ARN",
			a.Name, o.Name, r.Name, ServiceOutput(svc.Name, OutputTaskRole), p.TaskRole)
	}
	arn := func(service, resource string) string {
		return "arn:" + partition(r.Name) + ":" + service + ":" + r.Name + ":" + account + ":" + resource
	}
	for _, s := range a.Secrets {
		var from string
		switch {
		case strings.HasPrefix(s.SSMParameter, "arn:"):
			from = s.SSMParameter
		case s.SSMParameter != "":
			from = arn("ssm", "parameter/"+strings.TrimPrefix(s.SSMParameter, "/"))
		default:
			from = secretARN(s.SecretsManager)
		}
		p.Secrets = append(p.Secrets, elevator.ReleaseSecret{Name: s.Name, ValueFrom: from})
	}

	env := map[string]string{}
	if a.Data.Redis != nil {
		host := need(elevator.AppOutputRedisEndpoint, "the Redis endpoint")
		port := need(elevator.AppOutputRedisPort, "the Redis port")
		// ElastiCache here has transit encryption: TLS.
		env[envRedisURL] = "rediss://" + host + ":" + port
	}
	for _, t := range a.Data.Tables {
		env[TableEnv(t.Name)] = TableName(o.Name, a.Name, t.Name)
	}
	if db := a.Data.Database; db != nil {
		env[envDatabaseHost] = need(elevator.AppOutputDatabaseEndpoint, "the database endpoint")
		env[envDatabasePort] = need(elevator.AppOutputDatabasePort, "the database port")
		if name := defaultDatabase(db); name != "" {
			env[envDatabaseName] = name
		}
		env[envDatabaseUser] = databaseUser
		// The output is the secret's ARN where the stack made it, and
		// its name where it is a global database's replica.
		if secret := need(elevator.AppOutputDatabaseSecret, "the database's secret"); secret != "" {
			secret = secretARN(secret)
			p.Secrets = append(p.Secrets, elevator.ReleaseSecret{Name: envDatabasePassword, ValueFrom: secret + ":password::"})
		}
	}
	if len(env) > 0 {
		p.Env = env
	}
	return nil
}

// arnAccount is the account of an ARN, or "" when it is not an ARN with
// one.
func arnAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || len(parts[4]) != 12 {
		return ""
	}
	return parts[4]
}

// checkECSSecrets reports, for an app with ECS services, each secret
// named like a variable the containers' environment has already (a data
// store's, an ELEVATOR_* one, or an env key of an ECS service or its
// container): ECS would get one name twice.
func checkECSSecrets(a *elevator.App) elevator.FieldErrors {
	var ecs []*elevator.Service
	for i := range a.Services {
		if a.Services[i].Runtime.ECS != nil {
			ecs = append(ecs, &a.Services[i])
		}
	}
	if len(ecs) == 0 {
		return nil
	}
	taken := map[string]string{
		envRedisURL:         "the Redis address",
		envDatabaseHost:     "the database's host",
		envDatabasePort:     "the database's port",
		envDatabaseName:     "the database's name",
		envDatabaseUser:     "the database's user",
		envDatabasePassword: "the database's password",
	}
	for _, t := range a.Data.Tables {
		taken[TableEnv(t.Name)] = "table " + t.Name
	}
	for _, s := range ecs {
		for k := range s.Env {
			taken[k] = "an env key of service " + s.Name
		}
		for k := range s.Runtime.ECS.Env {
			taken[k] = "an env key of service " + s.Name + "'s container (runtime.ecs.env)"
		}
	}
	var errs elevator.FieldErrors
	for _, s := range a.Secrets {
		at := s.Path + "#key"
		if _, ok := a.Source.Positions[at]; !ok {
			at = s.Path
		}
		switch what, ok := taken[s.Name]; {
		case strings.HasPrefix(s.Name, "ELEVATOR_"):
			errs = append(errs, a.Source.Errorf(at, s.Name, "ELEVATOR_* names are Elevator's own variables in the containers of ECS services; name the secret otherwise"))
		case ok:
			errs = append(errs, a.Source.Errorf(at, s.Name, "is already a variable of the containers of ECS services: %s; name the secret otherwise", what))
		}
	}
	return errs
}
