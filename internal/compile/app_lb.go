package compile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Logical IDs of load balancing and DNS. <Kind> is Public or Private.
const (
	idLoadBalancer   = "LoadBalancer"              // + <Kind>
	idLoadBalancerSG = "SecurityGroupLoadBalancer" // + <Kind>: listener ports other than 80 and 443
	idListener       = "Listener"                  // + <Kind><port>
	idListenerRule   = "ListenerRule"              // + <Kind><port><service>
	idListenerCert   = "ListenerCertificate"       // + <Kind><port><service>
	idTargetGroup    = "TargetGroup"               // + <service>
	idCertificate    = "Certificate"               // + <domain>
	idRecordSet      = "RecordSet"                 // + <service>
	idTestListener   = "TestListener"              // + <Kind><service>: the test listener of release gates
	// sslPolicy is the TLS policy of HTTPS listeners: TLS 1.3 and 1.2 only.
	sslPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"
	// maxRuleValues is how many hosts and paths one listener rule matches.
	maxRuleValues = 5
)

// listener is one port of an app's load balancer and the services it
// forwards to, in manifest order: one is the default action (see
// defaultService), the others are routed to by listener rules.
type listener struct {
	port     int
	protocol string
	redirect bool
	path     string // the manifest field that opened the port
	services []*elevator.Service
	certs    []listenerCert // HTTPS: the first is the listener's default
}

type listenerCert struct {
	arn any
	svc string
}

// loadBalancers compiles one Application Load Balancer per type the app's
// services use, shared by those services.
func (b *appBuilder) loadBalancers() {
	for _, typ := range []elevator.LoadBalancerType{elevator.LoadBalancerPublic, elevator.LoadBalancerPrivate} {
		var services []*elevator.Service
		for i := range b.a.Services {
			if s := &b.a.Services[i]; s.LoadBalancer.Type == typ && b.svcID[s.Name] != "" {
				services = append(services, s)
			}
		}
		if len(services) > 0 {
			b.loadBalancer(typ, services)
		}
	}
	for _, s := range b.a.Services {
		switch s.LoadBalancer.Type {
		case "", elevator.LoadBalancerNone, elevator.LoadBalancerPublic, elevator.LoadBalancerPrivate:
		default:
			b.errorf(s.Path+".load_balancer.type", string(s.LoadBalancer.Type), "unknown load balancer type; use public, private or none")
		}
	}
}

func (b *appBuilder) loadBalancer(typ elevator.LoadBalancerType, services []*elevator.Service) {
	kind := camel(string(typ))
	lbID := idLoadBalancer + kind
	lbPath := services[0].Path + ".load_balancer.type"

	var ports []*listener
	byPort := map[int]*listener{}
	var routed []*elevator.Service // services some listener forwards to
	for _, s := range services {
		if s.Port <= 0 {
			b.errorf(s.Path+".port", nil, "a service behind a load balancer needs the port it listens on")
			continue
		}
		b.targetGroup(s)
		if len(s.LoadBalancer.Listeners) == 0 {
			b.errorf(s.Path+".load_balancer.listeners", nil, "a service behind a load balancer needs a listener, such as HTTP on port 80")
			continue
		}
		forwards := false
		for i, l := range s.LoadBalancer.Listeners {
			lpath := fmt.Sprintf("%s.load_balancer.listeners[%d]", s.Path, i)
			proto := strings.ToUpper(l.Protocol)
			switch {
			case proto != "HTTP" && proto != "HTTPS":
				b.errorf(lpath+".protocol", l.Protocol, "unknown protocol; use HTTP or HTTPS")
				continue
			case l.Port < 1 || l.Port > 65535:
				b.errorf(lpath+".port", l.Port, "a listener port runs from 1 to 65535")
				continue
			case l.RedirectHTTPS && proto == "HTTPS":
				b.errorf(lpath+".redirect_https", true, "only an HTTP listener redirects to HTTPS")
				continue
			}
			ls := byPort[l.Port]
			if ls == nil {
				ls = &listener{port: l.Port, protocol: proto, redirect: l.RedirectHTTPS, path: lpath}
				byPort[l.Port] = ls
				ports = append(ports, ls)
			} else if ls.protocol != proto || ls.redirect != l.RedirectHTTPS {
				b.errorf(lpath, fmt.Sprintf("%s %d", proto, l.Port), "port %d of the %s load balancer is already %s at %s; services that share a port share its listener",
					l.Port, typ, describeListener(ls), ls.path)
				continue
			}
			if l.RedirectHTTPS || containsService(ls.services, s) {
				continue
			}
			ls.services = append(ls.services, s)
			forwards = true
			if proto == "HTTPS" {
				if arn, ok := b.certificate(s, l, lpath); ok && !containsCert(ls.certs, arn) {
					ls.certs = append(ls.certs, listenerCert{arn: arn, svc: s.Name})
				}
			}
		}
		if !forwards {
			b.errorf(s.Path+".load_balancer.listeners", nil, "every listener of service %s only redirects; add one that forwards to it, such as HTTPS on port 443", s.Name)
			continue
		}
		routed = append(routed, s)
	}

	subnets, ok := b.subnets(map[elevator.LoadBalancerType]string{elevator.LoadBalancerPublic: rolePublic, elevator.LoadBalancerPrivate: rolePrivate}[typ],
		lbPath, "a "+string(typ)+" load balancer")
	if !ok {
		return
	}
	tests := b.testListeners(routed)
	groups := []any{b.orbitLoadBalancerSG(typ)}
	if sg := b.loadBalancerPortsSG(typ, append(slices.Clone(ports), tests...), lbPath); sg != nil {
		groups = append(groups, sg)
	}
	scheme := "internal"
	if typ == elevator.LoadBalancerPublic {
		scheme = "internet-facing"
	}
	b.add(lbID, lbPath, Resource{Type: "AWS::ElasticLoadBalancingV2::LoadBalancer", Properties: Props{
		"Type":           "application",
		"Scheme":         scheme,
		"Subnets":        subnets,
		"SecurityGroups": groups,
		"LoadBalancerAttributes": []any{
			Props{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"},
		},
		"Tags": b.tags(b.resourceName(string(typ)), ""),
	}})
	b.output(kind+"LoadBalancer", lbPath, "ARN of the app's "+string(typ)+" load balancer", Ref(lbID))
	b.output(kind+"LoadBalancerDns", lbPath, "DNS name of the app's "+string(typ)+" load balancer", GetAtt(lbID, "DNSName"))

	for _, ls := range ports {
		b.listener(kind, lbID, ls)
	}
	for _, ls := range tests {
		b.testListener(kind, lbID, ls)
	}
	for _, s := range routed {
		b.dns(s, lbID)
	}
}

func describeListener(ls *listener) string {
	if ls.redirect {
		return "an HTTP listener that redirects to HTTPS"
	}
	return ls.protocol
}

func containsService(list []*elevator.Service, s *elevator.Service) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsCert(list []listenerCert, arn any) bool {
	for _, c := range list {
		if fmt.Sprint(c.arn) == fmt.Sprint(arn) {
			return true
		}
	}
	return false
}

// loadBalancerPortsSG compiles a security group for the listener ports the
// orbit's load balancer security groups do not open (they open 80 and
// 443), and returns a Ref to it, or nil when every port is 80 or 443.
func (b *appBuilder) loadBalancerPortsSG(typ elevator.LoadBalancerType, ports []*listener, path string) any {
	var ingress []any
	for _, ls := range ports {
		if ls.port == 80 || ls.port == 443 {
			continue
		}
		if typ == elevator.LoadBalancerPublic {
			ingress = append(ingress,
				Props{"IpProtocol": "tcp", "FromPort": ls.port, "ToPort": ls.port, "CidrIp": anywhere, "Description": "Port " + strconv.Itoa(ls.port) + " from anywhere"},
				Props{"IpProtocol": "tcp", "FromPort": ls.port, "ToPort": ls.port, "CidrIpv6": anywhereIPv6, "Description": "Port " + strconv.Itoa(ls.port) + " from anywhere over IPv6"})
		} else {
			cidr := b.param(factVPCCIDR, "String", "The orbit's VPC block", factVPCCIDR)
			ingress = append(ingress, Props{"IpProtocol": "tcp", "FromPort": ls.port, "ToPort": ls.port, "CidrIp": cidr, "Description": "Port " + strconv.Itoa(ls.port) + " from the VPC"})
		}
	}
	if len(ingress) == 0 {
		return nil
	}
	id := idLoadBalancerSG + camel(string(typ))
	b.add(id, path, Resource{Type: "AWS::EC2::SecurityGroup", Properties: Props{
		"GroupDescription":     fmt.Sprintf("Listener ports of the %s load balancer of app %s in orbit %s", typ, b.a.Name, b.o.Name),
		"VpcId":                b.vpc(),
		"SecurityGroupIngress": ingress,
		"SecurityGroupEgress": []any{
			Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"},
		},
		"Tags": b.tags(b.resourceName(string(typ)+"-lb"), ""),
	}})
	return Ref(id)
}

// listener compiles one port of a load balancer: its default action, its
// certificates, and a rule per service other than the default (see
// defaultService). A service that routes by neither hosts nor paths and is
// not the default gets its name in the orbit's domain as its host. Rule
// priorities follow the manifest's order of services (1, 2, ...), so that
// an earlier service wins where hosts or paths overlap, and appending a
// service moves no existing rule.
func (b *appBuilder) listener(kind, lbID string, ls *listener) {
	if !ls.redirect && len(ls.services) == 0 {
		return // every service on it had a problem, reported already
	}
	port := strconv.Itoa(ls.port)
	id := idListener + kind + port
	props := Props{
		"LoadBalancerArn": Ref(lbID),
		"Port":            ls.port,
		"Protocol":        ls.protocol,
	}
	if ls.redirect {
		props["DefaultActions"] = []any{Props{
			"Type": "redirect",
			"RedirectConfig": Props{
				"Protocol":   "HTTPS",
				"Port":       "443",
				"Host":       "#{host}",
				"Path":       "/#{path}",
				"Query":      "#{query}",
				"StatusCode": "HTTP_301",
			},
		}}
	} else {
		props["DefaultActions"] = []any{forward(ls.defaultService())}
	}
	if ls.protocol == "HTTPS" {
		if len(ls.certs) == 0 {
			return // the certificate problem is reported
		}
		props["Certificates"] = []any{Props{"CertificateArn": ls.certs[0].arn}}
		props["SslPolicy"] = sslPolicy
	}
	b.add(id, ls.path, Resource{Type: "AWS::ElasticLoadBalancingV2::Listener", Properties: props})

	for _, c := range ls.certs[min(1, len(ls.certs)):] {
		b.add(idListenerCert+kind+port+camel(c.svc), ls.path, Resource{Type: "AWS::ElasticLoadBalancingV2::ListenerCertificate", Properties: Props{
			"ListenerArn":  Ref(id),
			"Certificates": []any{Props{"CertificateArn": c.arn}},
		}})
	}
	if ls.redirect {
		return
	}
	def := ls.defaultService()
	priority := 0
	for _, s := range ls.services {
		if s == def {
			continue
		}
		priority++
		hosts, paths := s.LoadBalancer.Hosts, s.LoadBalancer.Paths
		if len(hosts) == 0 && len(paths) == 0 {
			name := b.dnsName(s.Name)
			if name == "" {
				b.errorf(s.Path+".load_balancer", nil, "service %s shares port %d of the %s load balancer with %s, which gets what no rule matches; give %s hosts or paths to route by",
					s.Name, ls.port, strings.ToLower(kind), def.Name, s.Name)
				continue
			}
			hosts = []string{name}
		}
		if n := len(hosts) + len(paths); n > maxRuleValues {
			b.errorf(s.Path+".load_balancer", n, "a listener rule matches at most %d hosts and paths together", maxRuleValues)
			continue
		}
		var conditions []any
		if len(hosts) > 0 {
			conditions = append(conditions, Props{"Field": "host-header", "HostHeaderConfig": Props{"Values": strs(hosts)}})
		}
		if len(paths) > 0 {
			conditions = append(conditions, Props{"Field": "path-pattern", "PathPatternConfig": Props{"Values": strs(paths)}})
		}
		b.add(idListenerRule+kind+port+b.svcID[s.Name], s.Path+".load_balancer", Resource{Type: "AWS::ElasticLoadBalancingV2::ListenerRule", Properties: Props{
			"ListenerArn": Ref(id),
			"Priority":    priority,
			"Conditions":  conditions,
			"Actions":     []any{forward(s)},
		}})
	}
}

// defaultService is the service a listener forwards what no rule matches
// to: the first that routes by no host and no path, else the first.
func (ls *listener) defaultService() *elevator.Service {
	for _, s := range ls.services {
		if len(s.LoadBalancer.Hosts) == 0 && len(s.LoadBalancer.Paths) == 0 {
			return s
		}
	}
	return ls.services[0]
}

func forward(s *elevator.Service) Props {
	return Props{"Type": "forward", "TargetGroupArn": Ref(idTargetGroup + camel(s.Name))}
}

func strs(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

// certificate returns the ARN of the certificate of an HTTPS listener: the
// one the manifest gives, or a Ref to one requested from ACM with DNS
// validation in the orbit's hosted zone, for the listener's certificate
// domain or else the service's name in the orbit's domain.
func (b *appBuilder) certificate(s *elevator.Service, l elevator.Listener, path string) (any, bool) {
	if l.Certificate != "" {
		return l.Certificate, true
	}
	domain := strings.TrimSuffix(strings.ToLower(l.CertificateDomain), ".")
	switch zone := strings.TrimSuffix(strings.ToLower(b.o.Domain), "."); {
	case domain == "" && zone == "":
		b.errorf(path+".certificate", nil, "an HTTPS listener needs a certificate ARN, or a domain to request one for, and orbit %s has no domain to validate it in", b.o.Name)
		return nil, false
	case zone == "":
		b.errorf(path+".certificate.domain", l.CertificateDomain, "a requested certificate is validated in the orbit's hosted zone, and orbit %s has no domain; give a certificate ARN", b.o.Name)
		return nil, false
	case domain == "":
		domain = b.dnsName(s.Name)
	case domain != zone && !strings.HasSuffix(domain, "."+zone):
		b.errorf(path+".certificate.domain", l.CertificateDomain, "is not in the orbit's domain %s, where it would be validated; give a certificate ARN for it instead", zone)
		return nil, false
	}
	id := idCertificate + camel(strings.ReplaceAll(domain, "*", "wildcard"))
	if r, ok := b.t.Resources[id]; ok && r.Properties["DomainName"] != domain {
		id = idCertificate + shortHash(domain)
	}
	if _, ok := b.t.Resources[id]; !ok {
		b.add(id, path, Resource{Type: "AWS::CertificateManager::Certificate", Properties: Props{
			"DomainName":       domain,
			"ValidationMethod": "DNS",
			"DomainValidationOptions": []any{Props{
				"DomainName":   domain,
				"HostedZoneId": b.hostedZone(),
			}},
			"Tags": b.tags(domain, ""),
		}})
	}
	return Ref(id), true
}

func (b *appBuilder) hostedZone() any {
	return b.param(factHostedZone, "AWS::Route53::HostedZone::Id", "The hosted zone of "+b.o.Domain, factHostedZone)
}

// targetGroup compiles a service's target group. The release engine
// registers each release's Auto Scaling Group with it.
func (b *appBuilder) targetGroup(s *elevator.Service) {
	svc := b.svcID[s.Name]
	id := idTargetGroup + svc
	lb := s.LoadBalancer
	hc := lb.HealthCheck
	path := s.Path + ".load_balancer"
	props := Props{
		"Port":                s.Port,
		"Protocol":            "HTTP",
		"TargetType":          targetType(s),
		"VpcId":               b.vpc(),
		"HealthCheckEnabled":  true,
		"HealthCheckProtocol": "HTTP",
		"HealthCheckPort":     "traffic-port",
		"Tags":                b.tags(b.resourceName(s.Name), s.Name),
	}
	if hc.Port > 0 {
		props["HealthCheckPort"] = strconv.Itoa(hc.Port)
	}
	if hc.Path != "" {
		props["HealthCheckPath"] = hc.Path
	}
	if hc.Interval > 0 {
		props["HealthCheckIntervalSeconds"] = seconds(hc.Interval)
	}
	if hc.Timeout > 0 {
		props["HealthCheckTimeoutSeconds"] = seconds(hc.Timeout)
	}
	if hc.Interval > 0 && hc.Timeout >= hc.Interval {
		b.errorf(path+".health_check.timeout", hc.Timeout.String(), "a health check's timeout must be shorter than its interval (%s)", hc.Interval)
	}
	if hc.Healthy > 0 {
		props["HealthyThresholdCount"] = hc.Healthy
	}
	if hc.Unhealthy > 0 {
		props["UnhealthyThresholdCount"] = hc.Unhealthy
	}
	if hc.SuccessCodes != "" {
		props["Matcher"] = Props{"HttpCode": hc.SuccessCodes}
	}

	if d := lb.DeregistrationDelay; d < 0 || d > time.Hour {
		b.errorf(path+".deregistration_delay", d.String(), "a deregistration delay runs from 0s to 1h")
	}
	if d := lb.SlowStart; d != 0 && (d < 30*time.Second || d > 15*time.Minute) {
		b.errorf(path+".slow_start", d.String(), "slow start is 0s (off) or from 30s to 15m")
	}
	if d := lb.Stickiness; d < 0 || d > 7*24*time.Hour {
		b.errorf(path+".stickiness", d.String(), "stickiness is 0s (off) or up to 7 days (168h)")
	}
	attrs := []any{
		attr("deregistration_delay.timeout_seconds", strconv.Itoa(seconds(lb.DeregistrationDelay))),
		attr("slow_start.duration_seconds", strconv.Itoa(seconds(lb.SlowStart))),
		attr("stickiness.enabled", strconv.FormatBool(lb.Stickiness > 0)),
	}
	if lb.Stickiness > 0 {
		attrs = append(attrs,
			attr("stickiness.type", "lb_cookie"),
			attr("stickiness.lb_cookie.duration_seconds", strconv.Itoa(max(1, seconds(lb.Stickiness)))))
	}
	props["TargetGroupAttributes"] = attrs
	b.add(id, s.Path, Resource{Type: "AWS::ElasticLoadBalancingV2::TargetGroup", Properties: props})
	b.output(svc+"TargetGroup", s.Path, "ARN of the target group of service "+s.Name, Ref(id))
}

// targetType is how a service's target group takes its targets: by
// instance for an Auto Scaling Group; by IP for an ECS service, whose
// tasks each have their own address (the awsvpc network mode).
func targetType(s *elevator.Service) string {
	if s.Runtime.ECS != nil {
		return "ip"
	}
	return "instance"
}

func attr(key, value string) Props { return Props{"Key": key, "Value": value} }

func seconds(d time.Duration) int { return int(d / time.Second) }

// dns compiles a service's name in the orbit's domain, an alias of its load
// balancer, and its endpoint output. Every region of the orbit has a
// latency record of the same name, so clients reach the nearest healthy
// region.
func (b *appBuilder) dns(s *elevator.Service, lbID string) {
	svc := b.svcID[s.Name]
	name := b.dnsName(s.Name)
	if name == "" {
		b.output(svc+"Endpoint", s.Path, "DNS name of the load balancer of service "+s.Name, GetAtt(lbID, "DNSName"))
		return
	}
	b.add(idRecordSet+svc, s.Path, Resource{Type: "AWS::Route53::RecordSet", Properties: Props{
		"HostedZoneId":  b.hostedZone(),
		"Name":          name + ".",
		"Type":          "A",
		"SetIdentifier": b.r.Name,
		"Region":        b.r.Name,
		"AliasTarget": Props{
			"DNSName":              GetAtt(lbID, "DNSName"),
			"HostedZoneId":         GetAtt(lbID, "CanonicalHostedZoneID"),
			"EvaluateTargetHealth": true,
		},
	}})
	b.output(svc+"Endpoint", s.Path, "DNS name of service "+s.Name, name)
}

// testListeners are the test listeners of the services of one load
// balancer when the app has smoke tests: one HTTP port per service,
// tests.listener_port plus the service's place in the manifest. The
// release engine points one at a per-release test target group while the
// smoke tests run (CodeDeploy's test listener).
func (b *appBuilder) testListeners(routed []*elevator.Service) []*listener {
	t := b.a.Tests
	if t == nil || len(t.Smoke) == 0 {
		return nil
	}
	var out []*listener
	for _, s := range routed {
		out = append(out, &listener{port: TestListenerPort(b.a, s), protocol: "HTTP", path: t.Path, services: []*elevator.Service{s}})
	}
	return out
}

// TestListenerPort is the port of a service's test listener:
// tests.listener_port plus the service's place in the manifest.
func TestListenerPort(a *elevator.App, s *elevator.Service) int {
	port := elevator.DefaultTestListenerPort
	if a.Tests != nil && a.Tests.ListenerPort > 0 {
		port = a.Tests.ListenerPort
	}
	return port + slices.IndexFunc(a.Services, func(x elevator.Service) bool { return x.Name == s.Name })
}

// testListener compiles a test listener: it answers 503 until a release
// points it at the new groups, and its ARN is an output the release
// document carries.
func (b *appBuilder) testListener(kind, lbID string, ls *listener) {
	s := ls.services[0]
	id := idTestListener + kind + b.svcID[s.Name]
	b.add(id, ls.path, Resource{Type: "AWS::ElasticLoadBalancingV2::Listener", Properties: Props{
		"LoadBalancerArn": Ref(lbID),
		"Port":            ls.port,
		"Protocol":        "HTTP",
		"DefaultActions": []any{Props{"Type": "fixed-response", "FixedResponseConfig": Props{
			"StatusCode": "503", "ContentType": "text/plain", "MessageBody": "no release under test"}}},
	}})
	// Its URL is the load balancer's DNS name (an output already) and
	// the port: no output of its own, which would not resolve from the
	// stack's resources (see apply.Outputs).
	b.output(ServiceOutput(s.Name, "TestListener"), ls.path, "ARN of the test listener of service "+s.Name, Ref(id))
}
