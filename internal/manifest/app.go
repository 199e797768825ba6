package manifest

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/schemas"
)

var appSchema = mustCompileSchema("https://github.com/elevatorhq/elevator/schemas/app.schema.json", schemas.App)

// Defaults of an app manifest. A service's instance type defaults to
// DefaultInstanceType, as a bastion's does.
var (
	// DefaultServiceAMI is the newest Amazon Linux 2023, as for bastions.
	DefaultServiceAMI = DefaultBastionAMI
	// DefaultListener is a load balancer's listener when it lists none.
	DefaultListener = elevator.Listener{Protocol: "HTTP", Port: 80}
	// DefaultHealthCheck is a load balancer's health check; its fields
	// default one by one.
	DefaultHealthCheck = elevator.HealthCheck{
		Path: "/", Interval: 10 * time.Second, Timeout: 5 * time.Second,
		Healthy: 2, Unhealthy: 3, SuccessCodes: "200-399",
	}
	DefaultDeregistrationDelay = 30 * time.Second
	DefaultAlarmPeriod         = time.Minute
	DefaultAlarmEvaluations    = 3
	DefaultRedis               = elevator.Redis{NodeType: "cache.t3.micro", Nodes: 1, EngineVersion: "7.1"}
	DefaultDatabaseEngine      = "postgres"
	DefaultDatabaseClass       = "db.t3.micro"
	DefaultAuroraClass         = "db.t3.medium" // Aurora has no micro classes
	DefaultDatabaseStorage     = 20             // GiB
	// DefaultStepPeriods and DefaultStepCooldown are a step scaling
	// policy's, as Odin's; its adjustment defaults to 1 above and -1
	// below.
	DefaultStepPeriods  = 2
	DefaultStepCooldown = time.Minute
	// DefaultRelease is how a service is released when its manifest says
	// nothing; the grace is the release engine's own default.
	DefaultRelease = elevator.ReleaseSettings{Strategy: elevator.StrategyAllAtOnce, HealthCheckGrace: 300 * time.Second}
	// DefaultHookHeartbeat and DefaultHookResult are a lifecycle hook's,
	// as Auto Scaling's.
	DefaultHookHeartbeat = time.Hour
	DefaultHookResult    = "ABANDON"
)

// ParseApp parses and validates an app manifest (app.yml) and returns the
// app as it is in orbit: defaults applied, and the manifest's overrides for
// orbit (orbits.<orbit>) merged over the base. orbit "" merges no override;
// the overrides of other orbits are validated against the schema but not
// applied. file names the manifest in messages.
//
// It returns elevator.FieldErrors listing every problem found, each with
// file:line:column, the field, the value and what is allowed. The positions
// of merged fields, in errors and in App.Source, are where the winning value
// is written.
func ParseApp(file string, data []byte, orbit string) (*elevator.App, error) {
	d := parseDocument(file, data)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	appSchema.validate(d)
	root, ok := d.value.(map[string]any)
	if !ok {
		return nil, d.errs.Sorted()
	}
	// The checks a schema cannot express run even when the schema found
	// problems, so that one run reports everything; a field the schema
	// already faulted gets no second message, whether the fault is in the
	// base or in the override merged over it.
	schemaErrs := len(d.errs)
	faulted := slices.Clone(d.errs)
	if orbit != "" {
		prefix := "orbits." + orbit + "."
		for _, e := range d.errs {
			if p, ok := strings.CutPrefix(e.Path, prefix); ok {
				faulted = append(faulted, &elevator.FieldError{Path: p})
			}
		}
	}
	b := &appBuilder{orbitBuilder: &orbitBuilder{d: d, root: root}}
	b.checkOverrides()
	mergeOverride(d, root, orbit)
	a := b.build(orbit)
	d.errs = append(d.errs[:schemaErrs], withoutFaulted(faulted, d.errs[schemaErrs:])...)
	hideSecrets(d.errs)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	return a, nil
}

// hideSecrets keeps values out of the messages about secrets: a user who
// pastes a secret where its reference belongs must not see it echoed into
// a terminal or a CI log. An unknown key inside a secret's reference may
// be the secret itself, so its message does not name it.
func hideSecrets(errs elevator.FieldErrors) {
	for _, e := range errs {
		secret, ok := secretField(e.Path)
		if !ok {
			continue
		}
		e.Value = nil
		if e.Path != secret && e.Path != secret+".ssm" && e.Path != secret+".secretsmanager" {
			e.Path, e.Message = secret, "unknown field; allowed here: secretsmanager, ssm"
		}
	}
}

// secretField returns the path of the secret (secrets.NAME, in the base or
// in an orbit's override) that the field path p is or lies in.
func secretField(p string) (string, bool) {
	prefix := ""
	if strings.HasPrefix(p, "orbits.") {
		parts := strings.SplitN(p, ".", 3)
		if len(parts) < 3 {
			return "", false
		}
		prefix, p = parts[0]+"."+parts[1]+".", parts[2]
	}
	name, ok := strings.CutPrefix(p, "secrets.")
	if !ok || name == "" {
		return "", false
	}
	name, _, _ = strings.Cut(name, ".")
	return prefix + "secrets." + name, true
}

// appBuilder turns a validated, merged app document into an elevator.App,
// recording every problem the schema cannot see. It reuses the orbit
// builder's readers of the fields both manifests share (errorf, ami,
// prefix).
type appBuilder struct {
	*orbitBuilder
}

// checkOverrides reports, for every orbit, overrides of services the app
// does not have.
func (b *appBuilder) checkOverrides() {
	services := b.d.keys["services"]
	for _, orbit := range b.d.keys["orbits"] {
		path := "orbits." + orbit + ".services"
		for _, name := range b.d.keys[path] {
			if !slices.Contains(services, name) {
				b.errorf(path+"."+name+"#key", name, "no such service; an override can only change one of the app's services: %s", strings.Join(services, ", "))
			}
		}
	}
}

func (b *appBuilder) build(orbit string) *elevator.App {
	a := &elevator.App{
		Name:      str(b.root["name"]),
		Orbit:     orbit,
		Overrides: slices.Clone(b.d.keys["orbits"]),
	}
	a.ChaosOptOut = b.root["chaos"] == false
	a.ReleaseTimeout = b.duration("release.timeout", obj(b.root["release"])["timeout"], elevator.DefaultReleaseTimeout, time.Minute, 24*time.Hour)
	a.Env = b.env("env", b.root["env"])
	a.Secrets = b.secrets()
	secretNames := map[string]bool{}
	for _, s := range a.Secrets {
		secretNames[s.Name] = true
	}
	b.checkNotSecret("env", a.Env, secretNames)

	services := obj(b.root["services"])
	for _, name := range b.d.keys["services"] {
		s := b.service(name, obj(services[name]), a.Env)
		b.checkNotSecret(s.Path+".env", obj(services[name])["env"], secretNames)
		if s.Runtime.Docker != nil {
			b.checkNotSecret(s.Path+".runtime.docker.env", s.Runtime.Docker.Env, secretNames)
		}
		if s.Runtime.ECS != nil {
			b.checkNotSecret(s.Path+".runtime.ecs.env", s.Runtime.ECS.Env, secretNames)
		}
		a.Services = append(a.Services, s)
	}
	b.checkSources(a)
	b.checkSharedLoadBalancers(a)
	a.Data = b.data(obj(b.root["data"]))
	if t, ok := b.root["tests"].(map[string]any); ok {
		a.Tests = b.tests("tests", t, a)
	}
	if p, ok := b.root["pipeline"].(map[string]any); ok {
		a.Pipeline = b.pipeline("pipeline", p)
	}
	a.Source = b.d.source
	return a
}

// tests reads the tests section: the gates of the app's releases.
func (b *appBuilder) tests(path string, m map[string]any, a *elevator.App) *elevator.AppTests {
	t := &elevator.AppTests{
		Bake:         b.duration(path+".bake", m["bake"], 0, 0, 24*time.Hour),
		RetryWindow:  b.duration(path+".retry_window", m["retry_window"], 0, 0, 24*time.Hour),
		MissingData:  str(m["missing_data"]),
		ListenerPort: integer(m["listener_port"], elevator.DefaultTestListenerPort),
		Path:         path,
	}
	for i, v := range list(m["alarms"]) {
		name := str(v)
		if slices.Contains(t.Alarms, name) {
			b.errorf(fmt.Sprintf("%s.alarms[%d]", path, i), name, "is listed twice")
			continue
		}
		t.Alarms = append(t.Alarms, name)
	}
	if len(t.Alarms) > 0 && t.MissingData == "" {
		b.errorf(path+".alarms", nil, "say what missing alarm data means: add missing_data: ok (no data is fine) or missing_data: breaching (no data rolls back)")
	}
	t.Smoke = b.testList(path+".smoke", list(m["smoke"]), a)
	t.Integration = b.testList(path+".integration", list(m["integration"]), a)
	if len(t.Smoke) > 0 {
		balanced := false
		for _, s := range a.Services {
			if s.LoadBalancer.Type != "" && s.LoadBalancer.Type != elevator.LoadBalancerNone {
				balanced = true
				for _, l := range s.LoadBalancer.Listeners {
					if l.Port >= t.ListenerPort && l.Port < t.ListenerPort+len(a.Services) {
						b.errorf(path+".listener_port", t.ListenerPort, "test listeners take ports %d to %d, and service %s listens on %d; pick another listener_port",
							t.ListenerPort, t.ListenerPort+len(a.Services)-1, s.Name, l.Port)
					}
				}
			}
		}
		for i, x := range t.Smoke {
			if x.Kind == elevator.TestHTTP && x.Target != elevator.TargetServiceURL && !balanced {
				b.errorf(fmt.Sprintf("%s.smoke[%d]", path, i), x.Name, "an http smoke test runs against the test listener of a load balancer, and no service of the app has one; use kind command or ssm, or target: service")
			}
		}
	}
	return t
}

// testList reads the tests of one phase.
func (b *appBuilder) testList(path string, items []any, a *elevator.App) []elevator.ReleaseTest {
	var out []elevator.ReleaseTest
	first := map[string]int{}
	for i, v := range items {
		m := obj(v)
		tp := fmt.Sprintf("%s[%d]", path, i)
		x := elevator.ReleaseTest{
			Name:    str(m["name"]),
			Kind:    strOr(m["kind"], elevator.TestHTTP),
			Method:  str(m["method"]),
			Path:    str(m["path"]),
			Status:  integer(m["status"], 0),
			Body:    str(m["body"]),
			Target:  str(m["target"]),
			Service: str(m["service"]),
			Retries: integer(m["retries"], 0),
		}
		x.TimeoutSeconds = int(b.duration(tp+".timeout", m["timeout"], elevator.DefaultTestTimeout, time.Second, time.Hour) / time.Second)
		if hs := obj(m["headers"]); len(hs) > 0 {
			x.Headers = make(map[string]string, len(hs))
			for k, hv := range hs {
				x.Headers[k] = str(hv)
				if err := elevator.CheckTestHeader(k, x.Headers[k]); err != nil {
					b.errorf(tp+".headers."+k, x.Headers[k], "%s", strings.TrimPrefix(err.Error(), "header "+k+" "))
				}
			}
		}
		for _, c := range list(m["command"]) {
			x.Command = append(x.Command, str(c))
		}
		if j, dup := first[x.Name]; dup && x.Name != "" {
			b.errorf(tp+".name", x.Name, "is the name of %s[%d] too; each test needs its own name", path, j)
		} else {
			first[x.Name] = i
		}
		switch x.Kind {
		case elevator.TestHTTP:
			if x.Path == "" {
				x.Path = "/"
			}
			if _, err := regexp.Compile(x.Body); err != nil {
				b.errorf(tp+".body", x.Body, "not a regular expression: %v", err)
			}
			for _, f := range []string{"command", "service"} {
				if _, ok := m[f]; ok {
					b.errorf(tp+"."+f+"#key", nil, "an http test takes no %s; use kind: command or kind: ssm", f)
				}
			}
		case elevator.TestCommand, elevator.TestSSM:
			if len(x.Command) == 0 {
				b.errorf(tp, nil, "a %s test needs a command, such as command: [./smoke.sh]", x.Kind)
			}
			for _, f := range []string{"method", "path", "headers", "status", "body", "target"} {
				if _, ok := m[f]; ok {
					b.errorf(tp+"."+f+"#key", nil, "only an http test takes %s; this one is kind %s", f, x.Kind)
				}
			}
			if x.Kind == elevator.TestCommand {
				if _, ok := m["service"]; ok {
					b.errorf(tp+".service#key", nil, "a command test runs where the engine runs; only an ssm test takes service")
				}
			} else if x.Service != "" && a.Service(x.Service) == nil {
				b.errorf(tp+".service", x.Service, "no such service; the app's services are %s", strings.Join(serviceNames(a), ", "))
			} else if on := ssmTestService(a, x.Service); on != nil && on.Runtime.ECS != nil {
				field, why := tp+".service", ""
				if x.Service == "" {
					field, why = tp+".kind", " (without service, the app's first)"
				}
				b.errorf(field, nil, "an ssm test runs on an instance of its service%s, and %s runs on ECS, which has none; name a service that runs on instances, or use kind: http or command", why, on.Name)
			}
		}
		out = append(out, x)
	}
	return out
}

// ssmTestService is the service whose instance runs an ssm test that
// names service: that one, or the app's first when "".
func ssmTestService(a *elevator.App, service string) *elevator.Service {
	if service == "" {
		if len(a.Services) == 0 {
			return nil
		}
		return &a.Services[0]
	}
	return a.Service(service)
}

func serviceNames(a *elevator.App) []string {
	var out []string
	for _, s := range a.Services {
		out = append(out, s.Name)
	}
	return out
}

// env reads a mapping of environment variables; values are strings,
// integers or booleans, kept as text.
func (b *appBuilder) env(path string, v any) map[string]string {
	m := obj(v)
	if m == nil {
		return nil
	}
	env := make(map[string]string, len(m))
	for name, val := range m {
		switch val := val.(type) {
		case string:
			env[name] = val
		case int64:
			env[name] = strconv.FormatInt(val, 10)
		case bool:
			env[name] = strconv.FormatBool(val)
		case float64:
			b.errorf(childPath(path, name), val, "is a decimal number; quote it so that the value stays as written")
		}
	}
	return env
}

// checkNotSecret reports the names of an env mapping that are also secrets.
func (b *appBuilder) checkNotSecret(path string, env any, secrets map[string]bool) {
	var names []string
	switch env := env.(type) {
	case map[string]string:
		names = slices.Collect(maps.Keys(env))
	case map[string]any:
		names = slices.Collect(maps.Keys(env))
	}
	for _, name := range names {
		if secrets[name] {
			b.errorf(childPath(path, name)+"#key", name, "is also a secret (secrets.%s); a variable is either plain env or a secret, not both", name)
		}
	}
}

func (b *appBuilder) secrets() []elevator.Secret {
	m := obj(b.root["secrets"])
	var out []elevator.Secret
	for _, name := range b.d.keys["secrets"] {
		path := "secrets." + name
		ref := obj(m[name])
		s := elevator.Secret{Name: name, SSMParameter: str(ref["ssm"]), SecretsManager: str(ref["secretsmanager"]), Path: path}
		if _, isMap := m[name].(map[string]any); isMap && (s.SSMParameter == "") == (s.SecretsManager == "") {
			b.errorf(path, nil, "give exactly one of ssm (a parameter name) or secretsmanager (a secret name or ARN)")
		}
		out = append(out, s)
	}
	return out
}

func (b *appBuilder) service(name string, m map[string]any, appEnv map[string]string) elevator.Service {
	path := "services." + name
	s := elevator.Service{
		Name:         name,
		InstanceType: strOr(m["instance_type"], DefaultInstanceType),
		AMI:          DefaultServiceAMI,
		Port:         integer(m["port"], 0),
		Path:         path,
	}
	if v, ok := m["ami"]; ok {
		s.AMI = b.ami(path+".ami", obj(v))
		if p := s.AMI.SSMParameter; p != "" && !elevator.ImageParameterAllowed(p) {
			b.errorf(path+".ami.ssm", p, "an image parameter must be one of AWS's, under %s, or the account's under %s, such as %s%s/%s: "+
				"compiling a release reads it with the orbit's submitter policy, which may read no other parameter (the others may hold secrets)",
				elevator.AWSParameterPrefix, elevator.ImageParameterPrefix, elevator.ImageParameterPrefix, b.root["name"], name)
		}
	}
	s.Runtime = b.runtime(path, m)
	if own := b.env(path+".env", m["env"]); appEnv != nil || own != nil {
		s.Env = maps.Clone(appEnv)
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		maps.Copy(s.Env, own)
	}
	if e := s.Runtime.ECS; e != nil {
		b.ecsService(path, m, &s, e)
	}
	if d := s.Runtime.Docker; d != nil && s.Port != 0 && len(d.Ports) > 0 {
		var hostPorts []string
		found := false
		for _, p := range d.Ports {
			host, _, _ := strings.Cut(p, ":")
			hostPorts = append(hostPorts, host)
			found = found || host == strconv.Itoa(s.Port)
		}
		if !found {
			b.errorf(path+".port", s.Port, "is not a host port of runtime.docker.ports (%s); the load balancer and firewall reach the instance's port", strings.Join(hostPorts, ", "))
		}
	}
	s.LoadBalancer = b.loadBalancer(path, &s, obj(m["load_balancer"]))
	if e := s.Runtime.ECS; e != nil && s.LoadBalancer.Type != elevator.LoadBalancerNone && s.Port != 0 &&
		slices.Contains(e.Ports, elevator.ECSPort{Container: s.Port, Protocol: "udp"}) &&
		!slices.Contains(e.Ports, elevator.ECSPort{Container: s.Port, Protocol: "tcp"}) {
		field := path + ".port"
		if _, given := m["port"]; !given {
			field = path + ".runtime.ecs.ports[0]"
		}
		b.errorf(field, nil, "port %d is udp only, and the load balancer reaches the service over tcp; give port a tcp container port, such as %d/tcp in runtime.ecs.ports", s.Port, s.Port)
	}
	for i, r := range list(m["firewall"]) {
		s.Firewall = append(s.Firewall, b.firewallRule(fmt.Sprintf("%s.firewall[%d]", path, i), obj(r)))
	}
	for i, al := range list(m["alarms"]) {
		s.Alarms = append(s.Alarms, b.alarm(fmt.Sprintf("%s.alarms[%d]", path, i), obj(al), &s))
	}
	s.Scaling = b.scaling(path+".scaling", obj(m["scaling"]))
	s.Release = b.releaseSettings(path+".release", obj(m["release"]))
	s.LifecycleHooks = b.lifecycleHooks(path+".lifecycle_hooks", list(m["lifecycle_hooks"]))
	for _, p := range list(m["orbit_policies"]) {
		if p, ok := p.(string); ok && slices.Contains(elevator.OrbitPolicies, elevator.OrbitPolicy(p)) {
			s.OrbitPolicies = append(s.OrbitPolicies, elevator.OrbitPolicy(p)) // anything else, the schema has faulted
		}
	}
	return s
}

func (b *appBuilder) runtime(path string, m map[string]any) elevator.Runtime {
	var r elevator.Runtime
	v, ok := m["runtime"]
	if !ok {
		b.errorf(path, nil, "missing required field %q (how the service runs: docker, units or ecs)", "runtime")
		return r
	}
	rm, isMap := v.(map[string]any)
	if !isMap {
		return r // faulted by the schema
	}
	path += ".runtime"
	var given []string
	for _, k := range []string{"docker", "units", "ecs"} {
		if _, ok := rm[k]; ok {
			given = append(given, k)
		}
	}
	if len(given) != 1 {
		has := "none"
		if len(given) > 1 {
			has = strings.Join(given, " and ")
		}
		b.errorf(path, nil, "give exactly one of docker (a container on instances), units (systemd units) or ecs (an ECS service); this has %s", has)
	}
	_, docker := rm["docker"]
	_, units := rm["units"]
	if v, ok := rm["ecs"]; ok {
		r.ECS = b.ecs(path+".ecs", obj(v))
	}
	if docker {
		r.Docker = b.docker(path+".docker", obj(rm["docker"]))
	}
	if units {
		um := obj(rm["units"])
		r.Units = make(map[string]string, len(um))
		for name, content := range um {
			r.Units[name] = str(content)
		}
	}
	return r
}

func (b *appBuilder) docker(path string, m map[string]any) *elevator.Docker {
	d := &elevator.Docker{Image: str(m["image"]), Env: b.env(path+".env", m["env"])}
	_, hasImage := m["image"]
	if rv, hasRepo := m["repository"]; hasRepo && hasImage {
		b.errorf(path+".repository#key", nil, "only a service without image has its own repository; remove image to run from the app's ECR repository, or repository to keep %s", d.Image)
	} else if !hasImage {
		d.Repository = b.repository(path, rv, hasRepo)
	}
	if i := strings.LastIndex(d.Image, "/") + 1; strings.Contains(d.Image[i:], ":") {
		repo := d.Image[:i] + d.Image[i:strings.Index(d.Image[i:], ":")+i]
		b.errorf(path+".image", d.Image, "has a tag; give the repository only, such as %s: a release adds :VERSION", repo)
	}
	seen := map[string]int{}
	for i, v := range list(m["ports"]) {
		p := str(v)
		d.Ports = append(d.Ports, p)
		spec, proto, _ := strings.Cut(p, "/")
		host, container, _ := strings.Cut(spec, ":")
		for _, port := range []string{host, container} {
			if n, err := strconv.Atoi(port); err == nil && (n < 1 || n > 65535) {
				b.errorf(fmt.Sprintf("%s.ports[%d]", path, i), p, "port %d is out of range; want host:container with ports from 1 to 65535", n)
				break
			}
		}
		if proto == "" {
			proto = "tcp"
		}
		key := host + "/" + proto
		if first, dup := seen[key]; dup {
			b.errorf(fmt.Sprintf("%s.ports[%d]", path, i), p, "publishes host port %s/%s again (first in ports[%d]); a host port takes one container port", host, proto, first)
		}
		seen[key] = i
	}
	for _, v := range list(m["command"]) {
		d.Command = append(d.Command, str(v))
	}
	for _, v := range list(m["volumes"]) {
		d.Volumes = append(d.Volumes, str(v))
	}
	return d
}

// repository reads the settings of a Docker service's own repository
// (v, at the docker runtime's field repository, when given). Its Path is
// the repository field's, or the runtime's when the manifest has none.
func (b *appBuilder) repository(dockerPath string, v any, given bool) *elevator.Repository {
	r := &elevator.Repository{KeepUntagged: elevator.DefaultKeepUntagged, Path: dockerPath}
	if !given {
		return r
	}
	path := dockerPath + ".repository"
	r.Path = path
	if v, ok := obj(v)["keep_untagged"]; ok {
		n := integer(v, 0)
		if n < 1 || n > elevator.MaxKeepUntagged {
			b.errorf(path+".keep_untagged", v, "want a whole number from 1 to %d: how many untagged images the repository keeps", elevator.MaxKeepUntagged)
		}
		r.KeepUntagged = n
	}
	return r
}

// loadBalancerFields lists a load balancer's fields besides type, in the
// order they are checked.
var loadBalancerFields = []string{"listeners", "health_check", "deregistration_delay", "slow_start", "stickiness", "hosts", "paths"}

func (b *appBuilder) loadBalancer(servicePath string, s *elevator.Service, m map[string]any) elevator.LoadBalancer {
	path := servicePath + ".load_balancer"
	lb := elevator.LoadBalancer{Type: elevator.LoadBalancerType(strOr(m["type"], string(elevator.LoadBalancerNone)))}
	if lb.Type == elevator.LoadBalancerNone {
		why := "the type is none"
		if _, ok := m["type"]; !ok {
			why = "without a type, there is no load balancer"
		}
		for _, f := range loadBalancerFields {
			if _, ok := m[f]; ok {
				b.errorf(path+"."+f+"#key", nil, "only a load balancer of type public or private takes %s; %s", f, why)
			}
		}
		return lb
	}
	if s.Port == 0 {
		b.errorf(servicePath, nil, "missing required field %q (a service behind a load balancer needs the port it listens on, such as 8080)", "port")
	}
	lb.Listeners = b.listeners(path+".listeners", m)
	hc := obj(m["health_check"])
	hcPath := path + ".health_check"
	lb.HealthCheck = elevator.HealthCheck{
		Path:         strOr(hc["path"], DefaultHealthCheck.Path),
		Port:         integer(hc["port"], DefaultHealthCheck.Port),
		Interval:     b.duration(hcPath+".interval", hc["interval"], DefaultHealthCheck.Interval, 5*time.Second, 5*time.Minute),
		Timeout:      b.duration(hcPath+".timeout", hc["timeout"], DefaultHealthCheck.Timeout, 2*time.Second, 2*time.Minute),
		Healthy:      integer(hc["healthy"], DefaultHealthCheck.Healthy),
		Unhealthy:    integer(hc["unhealthy"], DefaultHealthCheck.Unhealthy),
		SuccessCodes: strOr(hc["success_codes"], DefaultHealthCheck.SuccessCodes),
	}
	if h := lb.HealthCheck; h.Timeout >= h.Interval {
		p := hcPath + ".timeout"
		if _, ok := hc["timeout"]; !ok {
			p = hcPath + ".interval"
		}
		b.errorf(p, nil, "the timeout (%s) must be less than the interval (%s)", shortDuration(h.Timeout), shortDuration(h.Interval))
	}
	b.checkSuccessCodes(hcPath+".success_codes", lb.HealthCheck.SuccessCodes)
	lb.DeregistrationDelay = b.duration(path+".deregistration_delay", m["deregistration_delay"], DefaultDeregistrationDelay, 0, time.Hour)
	lb.SlowStart = b.duration(path+".slow_start", m["slow_start"], 0, 0, 15*time.Minute)
	if lb.SlowStart > 0 && lb.SlowStart < 30*time.Second {
		b.errorf(path+".slow_start", m["slow_start"], "must be 0s (off) or between 30s and 15m")
	}
	lb.Stickiness = b.duration(path+".stickiness", m["stickiness"], 0, 0, 7*24*time.Hour)
	for _, v := range list(m["hosts"]) {
		lb.Hosts = append(lb.Hosts, str(v))
	}
	for _, v := range list(m["paths"]) {
		lb.Paths = append(lb.Paths, str(v))
	}
	return lb
}

func (b *appBuilder) listeners(path string, m map[string]any) []elevator.Listener {
	items, ok := m["listeners"]
	if !ok {
		return []elevator.Listener{DefaultListener}
	}
	var out []elevator.Listener
	first := map[int]int{}
	https := false
	for _, item := range list(items) {
		https = https || obj(item)["protocol"] == "HTTPS"
	}
	for i, item := range list(items) {
		lm := obj(item)
		lp := fmt.Sprintf("%s[%d]", path, i)
		l := elevator.Listener{Protocol: str(lm["protocol"]), Port: integer(lm["port"], 0), RedirectHTTPS: lm["redirect_https"] == true}
		if j, dup := first[l.Port]; dup && l.Port != 0 {
			b.errorf(lp+".port", l.Port, "duplicate listener port (first in listeners[%d]); each listener needs its own port", j)
		} else {
			first[l.Port] = i
		}
		cert, hasCert := lm["certificate"]
		switch {
		case l.Protocol == "HTTPS" && !hasCert:
			b.errorf(lp, nil, "an HTTPS listener needs a certificate: {domain: shop.example.com} or {arn: arn:aws:acm:...}")
		case l.Protocol == "HTTP" && hasCert:
			b.errorf(lp+".certificate#key", nil, "only an HTTPS listener takes a certificate")
		case hasCert:
			cm := obj(cert)
			l.Certificate, l.CertificateDomain = str(cm["arn"]), str(cm["domain"])
			if (l.Certificate == "") == (l.CertificateDomain == "") {
				b.errorf(lp+".certificate", nil, "give exactly one of domain (a certificate is requested) or arn (an existing certificate)")
			}
		}
		if l.RedirectHTTPS && l.Protocol == "HTTPS" {
			b.errorf(lp+".redirect_https", true, "only an HTTP listener redirects to HTTPS")
		} else if l.RedirectHTTPS && !https {
			b.errorf(lp+".redirect_https", true, "there is no HTTPS listener to redirect to; add one such as {protocol: HTTPS, port: 443, certificate: {domain: shop.example.com}}")
		}
		out = append(out, l)
	}
	return out
}

// checkSuccessCodes checks codes such as "200", "200-399" or "200,204":
// every code between 200 and 499, ranges in order.
func (b *appBuilder) checkSuccessCodes(path, codes string) {
	for _, part := range strings.Split(codes, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			return // faulted by the schema
		}
		if l < 200 || h > 499 || l > h {
			b.errorf(path, codes, "%s is not a code or an ascending range of codes between 200 and 499", part)
			return
		}
	}
}

func (b *appBuilder) firewallRule(path string, m map[string]any) elevator.FirewallRule {
	r := elevator.FirewallRule{Protocol: strOr(m["protocol"], "tcp"), Path: path}
	_, port := m["port"]
	_, ports := m["ports"]
	switch {
	case r.Protocol == "icmp" || r.Protocol == "all":
		r.FromPort, r.ToPort = -1, -1
		for _, f := range []string{"port", "ports"} {
			if _, ok := m[f]; ok {
				b.errorf(path+"."+f, m[f], "protocol %s takes no port; it lets in every %s", r.Protocol, map[string]string{"icmp": "ICMP type", "all": "port of every protocol"}[r.Protocol])
			}
		}
	case port && ports:
		b.errorf(path, nil, "give exactly one of port or ports, not both")
	case port:
		r.FromPort = integer(m["port"], 0)
		r.ToPort = r.FromPort
	case ports:
		r.FromPort, r.ToPort = b.portRange(path+".ports", str(m["ports"]))
	default:
		b.errorf(path, nil, "give exactly one of port (such as 8080) or ports (such as 9000-9100)")
	}
	switch from := m["from"].(type) {
	case string:
		r.Bastion = from == "bastion"
	case map[string]any:
		r.App, r.Service = str(from["app"]), str(from["service"])
		cidr, hasCIDR := from["cidr"]
		switch {
		case hasCIDR && (r.App != "" || r.Service != ""):
			b.errorf(path+".from", nil, "give exactly one source: cidr, app (with or without service), service, or bastion; not cidr and app or service")
		case hasCIDR:
			r.CIDR = b.prefix(path+".from.cidr", cidr, netip.Prefix{})
		case r.App == "" && r.Service == "":
			b.errorf(path+".from", nil, "give a source: {cidr: 10.0.0.0/8}, {app: billing, service: api}, {service: web} or bastion")
		}
	}
	return r
}

// portRange parses "a-b" with a <= b, both between 0 and 65535.
func (b *appBuilder) portRange(path, s string) (int, int) {
	lo, hi, _ := strings.Cut(s, "-")
	from, err1 := strconv.Atoi(lo)
	to, err2 := strconv.Atoi(hi)
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0 // faulted by the schema
	case from > 65535 || to > 65535:
		b.errorf(path, s, "ports go from 0 to 65535")
	case from > to:
		b.errorf(path, s, "the range is backwards; did you mean %d-%d?", to, from)
	}
	return from, to
}

// checkSources reports firewall sources that name a service this app does
// not have, and makes {service: x} name this app.
func (b *appBuilder) checkSources(a *elevator.App) {
	var names []string
	for _, s := range a.Services {
		names = append(names, s.Name)
	}
	for i := range a.Services {
		for j := range a.Services[i].Firewall {
			r := &a.Services[i].Firewall[j]
			if r.App == "" && r.Service != "" {
				r.App = a.Name
			}
			if r.App == a.Name && r.Service != "" && a.Service(r.Service) == nil {
				b.errorf(r.Path+".from.service", r.Service, "no such service in this app; services are: %s", strings.Join(names, ", "))
			}
		}
	}
}

// checkSharedLoadBalancers checks the services that share one of the app's
// load balancers: they must agree on each port's protocol, and only one of
// them may take every request on a port (the others route by hosts or
// paths).
func (b *appBuilder) checkSharedLoadBalancers(a *elevator.App) {
	type use struct {
		service  string
		protocol string
	}
	protocols := map[elevator.LoadBalancerType]map[int]use{}
	catchAll := map[elevator.LoadBalancerType]map[int]string{}
	for _, s := range a.Services {
		lb := s.LoadBalancer
		if lb.Type == elevator.LoadBalancerNone {
			continue
		}
		if protocols[lb.Type] == nil {
			protocols[lb.Type], catchAll[lb.Type] = map[int]use{}, map[int]string{}
		}
		for i, l := range lb.Listeners {
			lp := s.Path + ".load_balancer"
			if _, ok := b.d.source.Positions[lp+".listeners"]; ok {
				lp = fmt.Sprintf("%s.listeners[%d]", lp, i)
			}
			u, ok := protocols[lb.Type][l.Port]
			if ok && u.service == s.Name {
				continue // a duplicate listener port, reported as such
			}
			if ok && u.protocol != l.Protocol {
				b.errorf(lp, nil, "port %d of the app's %s load balancer is %s for service %s; services sharing a load balancer must agree on each port's protocol", l.Port, lb.Type, u.protocol, u.service)
				continue
			}
			protocols[lb.Type][l.Port] = use{s.Name, l.Protocol}
			if l.RedirectHTTPS || len(lb.Hosts) > 0 || len(lb.Paths) > 0 {
				continue
			}
			if other, ok := catchAll[lb.Type][l.Port]; ok {
				b.errorf(lp, nil, "services %s and %s would both take every request on port %d of the app's %s load balancer; give one of them hosts or paths", other, s.Name, l.Port, lb.Type)
				continue
			}
			catchAll[lb.Type][l.Port] = s.Name
		}
	}
}

// customAlarmFields lists the fields only a custom alarm takes; the first
// four it needs.
var customAlarmFields = []string{"namespace", "name", "statistic", "comparison", "dimensions"}

func (b *appBuilder) alarm(path string, m map[string]any, s *elevator.Service) elevator.Alarm {
	al := elevator.Alarm{
		Metric:      elevator.AlarmMetric(str(m["metric"])),
		Threshold:   number(m["threshold"]),
		Period:      b.duration(path+".period", m["period"], DefaultAlarmPeriod, 10*time.Second, 24*time.Hour),
		Evaluations: integer(m["evaluations"], DefaultAlarmEvaluations),
		Severity:    elevator.Severity(str(m["severity"])),
		Path:        path,
	}
	if p := al.Period; p != 10*time.Second && p != 30*time.Second && p%time.Minute != 0 {
		b.errorf(path+".period", m["period"], "must be 10s, 30s or a multiple of 60s")
	} else if p*time.Duration(al.Evaluations) > 24*time.Hour {
		b.errorf(path+".evaluations", al.Evaluations, "%d periods of %s are more than a day, the longest CloudWatch evaluates", al.Evaluations, shortDuration(p))
	}
	if al.Metric == elevator.MetricCustom {
		var missing []string
		for _, f := range customAlarmFields[:4] {
			if _, ok := m[f]; !ok {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			b.errorf(path, nil, "a custom alarm needs %s", strings.Join(missing, ", "))
		}
		al.Namespace, al.MetricName, al.Statistic, al.Comparison = str(m["namespace"]), str(m["name"]), str(m["statistic"]), str(m["comparison"])
		if dims := obj(m["dimensions"]); len(dims) > 0 {
			al.Dimensions = make(map[string]string, len(dims))
			for k, v := range dims {
				al.Dimensions[k] = str(v)
			}
		}
		return al
	}
	al.Comparison = ">="
	for _, f := range customAlarmFields {
		if _, ok := m[f]; ok && al.Metric != "" {
			b.errorf(path+"."+f+"#key", nil, "only a custom alarm takes %s; %s is a built-in metric", f, al.Metric)
		}
	}
	switch al.Metric {
	case elevator.MetricCPU, elevator.Metric5xxRate:
		if al.Threshold < 0 || al.Threshold > 100 {
			b.errorf(path+".threshold", m["threshold"], "%s is a percentage; want 0 to 100", al.Metric)
		}
	case elevator.MetricUnhealthyHosts, elevator.MetricP99Latency:
		if al.Threshold <= 0 {
			b.errorf(path+".threshold", m["threshold"], "must be more than 0, or the alarm is always set off")
		}
	}
	switch al.Metric {
	case elevator.MetricUnhealthyHosts, elevator.Metric5xxRate, elevator.MetricP99Latency:
		if s.LoadBalancer.Type == elevator.LoadBalancerNone {
			b.errorf(path+".metric", string(al.Metric), "is measured by the load balancer, and service %s has none", s.Name)
		}
	}
	return al
}

func (b *appBuilder) scaling(path string, m map[string]any) elevator.Scaling {
	sc := elevator.Scaling{Min: integer(m["min"], 1), TargetCPU: number(m["target_cpu"])}
	sc.Max = integer(m["max"], max(sc.Min, 1))
	bounded := sc.Min <= sc.Max
	if !bounded && sc.Max >= 1 { // a max below 1 is the schema's to report
		b.errorf(path+".min", sc.Min, "is more than max (%d); want min <= max", sc.Max)
	}
	for i, v := range list(m["step"]) {
		sc.Steps = append(sc.Steps, b.stepPolicy(fmt.Sprintf("%s.step[%d]", path, i), obj(v)))
	}
	b.checkStepThresholds(sc.Steps)
	for i, v := range list(m["schedule"]) {
		entries := b.schedule(fmt.Sprintf("%s.schedule[%d]", path, i), str(v))
		for j, e := range entries {
			if bounded && (e.Desired < sc.Min || e.Desired > sc.Max) {
				entry := ""
				if len(entries) > 1 {
					entry = fmt.Sprintf("entry %d: ", j+1)
				}
				b.errorf(e.Path, str(v), "%sdesired %d is not between min (%d) and max (%d)", entry, e.Desired, sc.Min, sc.Max)
			}
		}
		sc.Schedule = append(sc.Schedule, entries...)
	}
	return sc
}

// stepPolicy reads one of scaling.step: {when: cpu_above, threshold: 70,
// adjust: 2, periods: 2, cooldown: 60s}.
func (b *appBuilder) stepPolicy(path string, m map[string]any) elevator.StepPolicy {
	p := elevator.StepPolicy{
		When:      elevator.StepCondition(str(m["when"])),
		Threshold: number(m["threshold"]),
		Periods:   integer(m["periods"], DefaultStepPeriods),
		Cooldown:  b.duration(path+".cooldown", m["cooldown"], DefaultStepCooldown, 0, time.Hour),
		Path:      path,
	}
	if _, ok := m["threshold"]; ok && p.Threshold == 0 {
		b.errorf(path+".threshold", m["threshold"], "must be more than 0, or the policy acts always (cpu_above) or never (cpu_below)")
	}
	adjust, given := m["adjust"]
	switch p.When {
	case elevator.CPUAbove:
		p.Adjustment = integer(adjust, 1)
		if given && p.Adjustment <= 0 {
			b.errorf(path+".adjust", adjust, "cpu_above adds instances; want a positive adjust, such as 2")
		}
	case elevator.CPUBelow:
		p.Adjustment = integer(adjust, -1)
		if given && p.Adjustment >= 0 {
			b.errorf(path+".adjust", adjust, "cpu_below removes instances; want a negative adjust, such as -1")
		}
	}
	return p
}

// checkStepThresholds reports a cpu_below threshold that is not below
// every cpu_above threshold: the two policies would undo each other.
func (b *appBuilder) checkStepThresholds(steps []elevator.StepPolicy) {
	// A threshold out of range is reported already.
	valid := func(p elevator.StepPolicy) bool { return p.Threshold > 0 && p.Threshold <= 100 }
	lowest := -1 // the cpu_above policy with the lowest threshold
	for i, p := range steps {
		if p.When == elevator.CPUAbove && valid(p) && (lowest < 0 || p.Threshold < steps[lowest].Threshold) {
			lowest = i
		}
	}
	if lowest < 0 {
		return
	}
	above := steps[lowest]
	for _, p := range steps {
		if p.When == elevator.CPUBelow && valid(p) && p.Threshold >= above.Threshold {
			b.errorf(p.Path+".threshold", p.Threshold, "is not below the cpu_above threshold of step[%d] (%v); the two policies would undo each other", lowest, above.Threshold)
		}
	}
}

// schedule reads one of scaling.schedule: desired@cron in Asiaq's
// notation, or several of them joined with ':'. elevator.ParseSchedule
// decides; the messages say which part is wrong.
func (b *appBuilder) schedule(path, s string) []elevator.ScheduledCapacity {
	parsed, err := elevator.ParseSchedule(s)
	if err == nil {
		out := make([]elevator.ScheduledCapacity, len(parsed))
		for i, p := range parsed {
			out[i] = elevator.ScheduledCapacity{Desired: p.Desired, Cron: p.Cron, Path: path}
		}
		return out
	}
	if s == "" {
		return nil // faulted by the schema
	}
	parts := strings.Split(s, ":")
	for i, part := range parts {
		entry := ""
		if len(parts) > 1 {
			entry = fmt.Sprintf("entry %d: ", i+1)
		}
		desired, cron, ok := strings.Cut(strings.TrimSpace(part), "@")
		if n, convErr := strconv.Atoi(strings.TrimSpace(desired)); !ok || convErr != nil || n < 0 {
			b.errorf(path, s, "%swant desired@cron, such as 4@0 8 * * 1-5 (4 instances at 08:00 UTC on weekdays)", entry)
			return nil
		}
		if cronErr := elevator.CheckCron(strings.Join(strings.Fields(cron), " ")); cronErr != nil {
			b.errorf(path, s, "%s%v", entry, cronErr)
			return nil
		}
	}
	b.errorf(path, s, "%v", err) // a problem the parts above do not show
	return nil
}

// releaseSettings reads a service's release settings. A strategy the
// schema faults gets no message about its steps.
func (b *appBuilder) releaseSettings(path string, m map[string]any) elevator.ReleaseSettings {
	r := DefaultRelease
	r.Strategy = strOr(m["strategy"], r.Strategy)
	r.Spread = number(m["spread"])
	r.MaxTerms = integer(m["max_terms"], r.MaxTerms)
	r.HealthCheckGrace = b.duration(path+".health_check_grace", m["health_check_grace"], r.HealthCheckGrace, 0, 2*time.Hour)
	if r.Spread >= 1 {
		b.errorf(path+".spread", m["spread"], "must be less than 1: a group launches desired x (1 + spread) instances and is healthy with desired x (1 - spread)")
	}
	items, hasSteps := m["steps"]
	switch r.Strategy {
	case elevator.StrategyAllAtOnce, elevator.StrategyCanary:
		if hasSteps {
			why := "the strategy is " + r.Strategy
			if _, ok := m["strategy"]; !ok {
				why = "without a strategy, a release is " + elevator.StrategyAllAtOnce
			}
			b.errorf(path+".steps#key", nil, "only the %s strategy takes steps; %s", elevator.StrategyPercent, why)
		}
	case elevator.StrategyPercent:
		if !hasSteps {
			b.errorf(path, nil, "the %s strategy needs steps: increasing percentages of the desired capacity, ending at 100, such as [25, 50, 100]", elevator.StrategyPercent)
		}
		r.Steps = b.percentSteps(path+".steps", list(items))
	}
	return r
}

// percentSteps reads a percent strategy's steps: increasing, ending at
// 100. An item the schema faults (not a whole number from 1 to 100) ends
// the checks, so that one mistake gets one message.
func (b *appBuilder) percentSteps(path string, items []any) []int {
	var steps []int
	for i, v := range items {
		n := integer(v, 0)
		if n < 1 || n > 100 {
			return nil // faulted by the schema
		}
		if i > 0 && n <= steps[i-1] {
			b.errorf(fmt.Sprintf("%s[%d]", path, i), n, "is not more than the step before it (%d); steps increase", steps[i-1])
			return nil
		}
		steps = append(steps, n)
	}
	if last := len(steps) - 1; last >= 0 && steps[last] != 100 {
		b.errorf(fmt.Sprintf("%s[%d]", path, last), steps[last], "the last step must be 100, when the new group has its full size")
		return nil
	}
	return steps
}

// hookTransitions maps a manifest's transitions to Auto Scaling's.
var hookTransitions = map[string]string{"launching": elevator.HookLaunching, "terminating": elevator.HookTerminating}

func (b *appBuilder) lifecycleHooks(path string, items []any) []elevator.LifecycleHook {
	var hooks []elevator.LifecycleHook
	first := map[string]int{}
	for i, v := range items {
		m := obj(v)
		hp := fmt.Sprintf("%s[%d]", path, i)
		h := elevator.LifecycleHook{
			Name:          str(m["name"]),
			Transition:    hookTransitions[str(m["transition"])],
			Heartbeat:     b.duration(hp+".heartbeat", m["heartbeat"], DefaultHookHeartbeat, 30*time.Second, 2*time.Hour),
			DefaultResult: strOr(m["default_result"], DefaultHookResult),
			TopicARN:      str(obj(m["topic"])["arn"]),
			RoleARN:       str(obj(m["role"])["arn"]),
			Path:          hp,
		}
		if j, dup := first[h.Name]; dup && h.Name != "" {
			b.errorf(hp+".name", h.Name, "is the name of lifecycle_hooks[%d] too; each hook needs its own name", j)
		} else {
			first[h.Name] = i
		}
		_, topic := m["topic"]
		_, role := m["role"]
		if topic != role {
			b.errorf(hp, nil, "give both topic (where notices go) and role (what Auto Scaling publishes them as), or neither")
		}
		hooks = append(hooks, h)
	}
	return hooks
}

func (b *appBuilder) data(m map[string]any) elevator.Data {
	var d elevator.Data
	if v, ok := m["redis"]; ok {
		rm := obj(v)
		r := DefaultRedis
		r.Path = "data.redis"
		r.NodeType = strOr(rm["node_type"], r.NodeType)
		r.Nodes = integer(rm["nodes"], r.Nodes)
		r.EngineVersion = strOr(rm["engine_version"], r.EngineVersion)
		r.MaintenanceWindow = str(rm["maintenance_window"])
		b.checkMaintenanceWindow("data.redis.maintenance_window", r.MaintenanceWindow)
		d.Redis = &r
	}
	if v, ok := m["database"]; ok {
		d.Database = b.database("data.database", obj(v))
	}
	tables := obj(m["tables"])
	for _, name := range b.d.keys["data.tables"] {
		d.Tables = append(d.Tables, b.table("data.tables."+name, name, obj(tables[name])))
	}
	return d
}

// checkMaintenanceWindow checks a weekly window such as
// sun:05:00-sun:06:00: real times, at least an hour and at most a day.
func (b *appBuilder) checkMaintenanceWindow(path, w string) {
	if w == "" {
		return
	}
	start, end, _ := strings.Cut(w, "-")
	from, ok1 := weekMinute(start)
	to, ok2 := weekMinute(end)
	if !ok1 || !ok2 {
		b.errorf(path, w, "not a window of real times; want ddd:hh:mm-ddd:hh:mm with hh 00 to 23 and mm 00 to 59, such as sun:05:00-sun:06:00")
		return
	}
	length := (to - from + 7*24*60) % (7 * 24 * 60)
	if length < 60 || length > 24*60 {
		b.errorf(path, w, "lasts %dh%02dm; a maintenance window lasts from 1 hour to 24 hours", length/60, length%60)
	}
}

// weekMinute turns ddd:hh:mm into minutes since Monday 00:00.
func weekMinute(s string) (int, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, false
	}
	day := slices.Index([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, parts[0])
	h, err1 := strconv.Atoi(parts[1])
	m, err2 := strconv.Atoi(parts[2])
	if day < 0 || err1 != nil || err2 != nil || h > 23 || m > 59 {
		return 0, false
	}
	return day*24*60 + h*60 + m, true
}

func (b *appBuilder) database(path string, m map[string]any) *elevator.Database {
	db := &elevator.Database{
		Engine:  strOr(m["engine"], DefaultDatabaseEngine),
		Version: str(m["version"]),
		MultiAZ: m["multi_az"] == true,
		Public:  m["public"] == true,
		Aurora:  m["aurora"] == true,
		Global:  m["global"] == true,
		Path:    path,
	}
	if db.Aurora {
		db.Class = strOr(m["class"], DefaultAuroraClass)
		if v, ok := m["storage"]; ok {
			b.errorf(path+".storage", v, "Aurora manages its own storage; remove storage, or set aurora: false")
		}
	} else {
		db.Class = strOr(m["class"], DefaultDatabaseClass)
		db.Storage = integer(m["storage"], DefaultDatabaseStorage)
	}
	if db.Global && !db.Aurora {
		b.errorf(path+".global", true, "a global database needs aurora: true")
	}
	return db
}

func (b *appBuilder) table(path, name string, m map[string]any) elevator.Table {
	t := elevator.Table{Name: name, OnDemand: strOr(m["billing"], "on_demand") == "on_demand", Path: path}
	if v, ok := m["hash_key"]; ok {
		t.HashKey = tableKey(v)
	} else {
		b.errorf(path, nil, "missing required field %q (a key attribute: {name: id, type: S})", "hash_key")
	}
	if v, ok := m["range_key"]; ok {
		k := tableKey(v)
		t.RangeKey = &k
		if k.Name != "" && k.Name == t.HashKey.Name {
			b.errorf(path+".range_key.name", k.Name, "is also the hash key; the range key needs another attribute")
		}
	}
	if t.OnDemand {
		for _, f := range []string{"read", "write"} {
			if v, ok := m[f]; ok {
				b.errorf(path+"."+f, v, "only provisioned billing takes %s; billing is on_demand", f)
			}
		}
		return t
	}
	t.Read, t.Write = integer(m["read"], 0), integer(m["write"], 0)
	var missing []string
	for _, f := range []string{"read", "write"} {
		if _, ok := m[f]; !ok {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		b.errorf(path, nil, "provisioned billing needs %s capacity units, such as read: 5, write: 5", strings.Join(missing, " and "))
	}
	return t
}

func tableKey(v any) elevator.Key {
	m := obj(v)
	return elevator.Key{Name: str(m["name"]), Type: str(m["type"])}
}

// duration reads a Go duration such as "30s": whole seconds between least
// and most. It returns def when the field is absent or wrong, so that one
// mistake gets one message.
func (b *appBuilder) duration(path string, v any, def, least, most time.Duration) time.Duration {
	s, ok := v.(string)
	if !ok {
		return def // absent, or faulted by the schema
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		b.errorf(path, s, "not a duration; want one such as 30s, 5m or 1h")
		return def
	case d%time.Second != 0:
		b.errorf(path, s, "not whole seconds; did you mean %s?", shortDuration(d.Round(time.Second)))
		return def
	case d < least || d > most:
		b.errorf(path, s, "must be between %s and %s", shortDuration(least), shortDuration(most))
		return def
	}
	return d
}

// shortDuration formats a duration without trailing zero units: 5m, not
// 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// integer reads an integer field, or def when it is absent or not an
// integer. YAML may give a whole number as a float (2.0).
func integer(v any, def int) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int(n)
		}
	}
	return def
}

// number reads a numeric field, or 0.
func number(v any) float64 {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case float64:
		return n
	}
	return 0
}
