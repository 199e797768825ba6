// This file builds release documents: an app's services, placed in each
// region of an orbit on what the app and orbit stacks made there. Like
// compiling a stack, it is a pure function of the manifests and facts
// looked up in AWS.

package compile

import (
	"fmt"
	"slices"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/manifest"
)

// ServiceOutput is the key of one of a service's outputs in its app's
// stack, such as ServiceOutput("web", "TargetGroup") = "WebTargetGroup".
func ServiceOutput(service, what string) string { return camel(service) + what }

// ServiceTier is the orbit tier an app's instances run in, in region r:
// the orbit's private tier (the tier named private, else the first private
// one, else the first isolated one), and the key of the orbit output that
// holds its subnets. It returns false when r has no such tier.
func ServiceTier(o *elevator.Orbit, r *elevator.Region) (tier, output string, ok bool) {
	b := &appBuilder{o: o, r: r}
	tier, ok = b.tierFor(rolePrivate)
	if !ok {
		return "", "", false
	}
	return tier, camel(tier) + factSubnetSuffix, true
}

// ReleaseFacts are what building a release document needs from one
// region, looked up in AWS (see internal/lookup).
type ReleaseFacts struct {
	Orbit  map[string]string // the orbit stack's outputs
	App    map[string]string // the app stack's outputs
	Images map[string]string // service name -> image id
	// SecretARNs are the full ARNs of the Secrets Manager secrets of an
	// app with ECS services, by the name or ARN the app manifest gives
	// (and the database's secret by the name the app stack outputs where
	// it outputs no ARN): ECS takes a secret by its full ARN.
	SecretARNs map[string]string
}

// ReleaseRequest says which release document to build.
type ReleaseRequest struct {
	App        *elevator.App // merged for Orbit
	Orbit      *elevator.Orbit
	Version    string
	ID         string
	CreatedAt  time.Time
	CreatedBy  string
	Sequential bool // one region at a time, in the orbit's order
	// Agent are the Elevator agent's builds by Go architecture, which the
	// user data names: the same in every region, whose state bucket the
	// caller stores them in before the release starts.
	Agent map[string]elevator.AgentBuild
}

// ReleaseDocument returns the release document for req: what `elevator
// deploy` writes down and hands to the release engine. Each service runs in the
// orbit's private tier with its own security group, instance profile and,
// when it has a load balancer, target group, all from the app stack's
// outputs. An ECS service runs instead in the orbit's cluster
// (elevator.ECSClusterName) as its task (ReleaseService.ECS) says, with
// its image at the release's version, its task role, execution role and
// log group from the app stack, the data stores' addresses as its
// placements' Env, and the app's secrets, the database's password with
// them, by ARN. It returns elevator.FieldErrors naming the orbit manifest
// field to add for an ECS service the orbit has no cluster (ecs) or EC2
// capacity (ecs.ec2) for. It returns an EINVALID error when the version is empty, a
// runtime cannot be rendered (see UserData) or a service's user data, its placeholders
// filled, is more than EC2 takes (elevator.MaxUserData), and an ENOTFOUND error naming what is
// missing when a region lacks an output or an image (the app is not up
// there: run `elevator app up`); and an EINTERNAL error when req.Agent
// lacks a build.
func ReleaseDocument(req ReleaseRequest, facts map[string]ReleaseFacts) (*elevator.Release, error) {
	if strings.TrimSpace(req.Version) == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "a release needs a version, such as a Docker tag: pass --version")
	}
	a, o := req.App, req.Orbit
	rel := &elevator.Release{
		ID:             req.ID,
		CreatedAt:      req.CreatedAt.UTC(),
		CreatedBy:      req.CreatedBy,
		App:            a.Name,
		Orbit:          o.Name,
		Version:        req.Version,
		Sequential:     req.Sequential,
		TimeoutSeconds: int(elevator.DefaultReleaseTimeout / time.Second),
		Images:         o.ReleaseImages(),
		ChaosOptOut:    a.ChaosOptOut,
	}
	if a.ReleaseTimeout > 0 {
		rel.TimeoutSeconds = int(a.ReleaseTimeout / time.Second)
	}
	for _, r := range o.Regions {
		rel.Regions = append(rel.Regions, r.Name)
	}
	if err := manifest.CheckECSOrbit(a, o); err != nil {
		return nil, err
	}
	if errs := checkECSSecrets(a); len(errs) > 0 {
		return nil, errs.Sorted()
	}
	var missing []string
	for i := range a.Services {
		svc := &a.Services[i]
		svc, err := withOwnImage(svc, a, o, facts, func(what string) { missing = append(missing, what) })
		if err != nil {
			return nil, err
		}
		rs := releaseService(svc)
		if svc.Runtime.ECS != nil {
			rs.ECS = ecsTask(svc)
			rs.InstanceType, rs.Hooks = "", nil
		} else if rs.UserData, err = UserData(svc, a, o, req.Agent); err != nil {
			return nil, err
		}
		for ri := range o.Regions {
			r := &o.Regions[ri]
			f := facts[r.Name]
			need := func(m map[string]string, key, what string) string {
				v := m[key]
				if v == "" {
					missing = append(missing, fmt.Sprintf("%s in %s", what, r.Name))
				}
				return v
			}
			p := elevator.ReleasePlacement{Region: r.Name}
			if svc.Runtime.ECS == nil {
				p.Image = need(f.Images, svc.Name, "the image of service "+svc.Name)
			}
			if tier, key, ok := ServiceTier(o, r); ok {
				if subnets := need(f.Orbit, key, "the orbit's output "+key); subnets != "" {
					p.Subnets = strings.Split(subnets, ",")
				}
				if tier != elevator.TierPrivate {
					p.Tier = tier
				}
			} else {
				missing = append(missing, "a private tier in "+r.Name)
			}
			if sg := need(f.App, ServiceOutput(svc.Name, "SecurityGroup"), "the security group of service "+svc.Name); sg != "" {
				p.SecurityGroups = []string{sg}
			}
			if svc.Runtime.ECS != nil {
				err := ecsPlacement(&p, svc, a, o, r, req.Version, f, need)
				if err != nil {
					return nil, err
				}
			} else {
				p.InstanceProfile = need(f.App, ServiceOutput(svc.Name, "InstanceProfile"), "the instance profile of service "+svc.Name)
			}
			if d := svc.Runtime.Docker; d != nil && d.Repository != nil {
				p.Repository = elevator.AppRepositoryName(o.Name, a.Name, svc.Name)
			}
			if svc.LoadBalancer.Type != "" && svc.LoadBalancer.Type != elevator.LoadBalancerNone {
				if tg := need(f.App, ServiceOutput(svc.Name, "TargetGroup"), "the target group of service "+svc.Name); tg != "" {
					p.TargetGroups = []string{tg}
				}
				if a.Tests != nil && len(a.Tests.Smoke) > 0 {
					p.TestListener = need(f.App, ServiceOutput(svc.Name, "TestListener"), "the test listener of service "+svc.Name)
					if dns := f.App[camel(string(svc.LoadBalancer.Type))+"LoadBalancerDns"]; dns != "" {
						p.TestURL = fmt.Sprintf("http://%s:%d", dns, TestListenerPort(a, svc))
					}
				}
				p.ServiceURL = serviceURL(svc, f.App[ServiceOutput(svc.Name, "Endpoint")])
			}
			// Release events (green is ready) go to the orbit's topic for
			// info notices.
			p.Events = f.Orbit[TopicOutput(elevator.SeverityInfo)]
			p.Alarms = cpuAlarms(svc, f.Orbit, func(key string) { missing = append(missing, "the orbit's output "+key+" in "+r.Name) })
			rs.Placements = append(rs.Placements, p)
		}
		rel.Services = append(rel.Services, rs)
	}
	rel.Tests = releaseTests(a.Tests)
	if len(missing) > 0 {
		// Each ECS service reads the data stores' outputs and secrets:
		// name each missing once.
		seen := map[string]bool{}
		missing = slices.DeleteFunc(missing, func(m string) bool { dup := seen[m]; seen[m] = true; return dup })
		return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s is not ready for a release in orbit %s: no %s; run `elevator app up` first", a.Name, o.Name, strings.Join(missing, ", no "))
	}
	if err := rel.CheckUserData(); err != nil {
		return nil, err
	}
	return rel, nil
}

// withOwnImage returns svc, or, for a Docker service that runs from its
// own repository, a copy of it whose image is that repository as the app
// stack outputs it in each region, with {{REGION}} for the region (one
// user data serves every region of the release):
// <account>.dkr.ecr.{{REGION}}.amazonaws.com/<orbit>/<app>/<service>. It
// reports a region whose stack has no such output to missing, and returns
// an EINTERNAL error for an output that is not the service's repository,
// and an EINVALID one when the orbit's regions are in different accounts.
func withOwnImage(svc *elevator.Service, a *elevator.App, o *elevator.Orbit, facts map[string]ReleaseFacts, missing func(string)) (*elevator.Service, error) {
	d := svc.Runtime.Docker
	if d == nil || d.Repository == nil {
		return svc, nil
	}
	name := elevator.AppRepositoryName(o.Name, a.Name, svc.Name)
	var image, first string
	for _, r := range o.Regions {
		uri := facts[r.Name].App[RepositoryOutput(svc.Name)]
		if uri == "" {
			missing("the repository of service " + svc.Name + " in " + r.Name)
			continue
		}
		if err := repositoryURI(uri, r.Name, name, a, o, svc); err != nil {
			return nil, err
		}
		img := strings.Replace(uri, ".dkr.ecr."+r.Name+".", ".dkr.ecr.{{REGION}}.", 1)
		switch {
		case image == "":
			image, first = img, r.Name
		case img != image:
			return nil, elevator.Errorf(elevator.EINVALID, "service %s of app %s: its repository is %s in %s but %s in %s; the regions of orbit %s must be in one account and partition",
				svc.Name, a.Name, strings.Replace(image, "{{REGION}}", first, 1), first, uri, r.Name, o.Name)
		}
	}
	own, docker := *svc, *d
	docker.Image = image
	own.Runtime.Docker = &docker
	return &own, nil
}

// repositoryURI returns nil when uri, the app stack's output
// RepositoryOutput(svc.Name) in region, is the URI of repository name
// there, else an EINTERNAL error naming the output.
func repositoryURI(uri, region, name string, a *elevator.App, o *elevator.Orbit, svc *elevator.Service) error {
	if repo, ok := ParseECRImage(uri); ok && repo.Region == region && repo.Name == name {
		return nil
	}
	return elevator.Errorf(elevator.EINTERNAL, "app %s in orbit %s, region %s: output %s is %q, not the URI of repository %s there",
		a.Name, o.Name, region, RepositoryOutput(svc.Name), uri, name)
}

// releaseService carries a service's capacity, scaling and hooks over from
// the manifest into the release document.
func releaseService(svc *elevator.Service) elevator.ReleaseService {
	rs := elevator.ReleaseService{
		Name:         svc.Name,
		InstanceType: svc.InstanceType,
		Capacity: elevator.ReleaseCapacity{
			Min: svc.Scaling.Min, Max: svc.Scaling.Max,
			Spread: svc.Release.Spread, MaxTerms: svc.Release.MaxTerms,
			Strategy: svc.Release.Strategy, Steps: svc.Release.Steps,
		},
		HealthCheckGraceSeconds: int(svc.Release.HealthCheckGrace / time.Second),
	}
	if svc.Scaling.TargetCPU > 0 {
		rs.Policies = append(rs.Policies, elevator.ReleasePolicy{Type: elevator.PolicyCPUTarget, Target: svc.Scaling.TargetCPU})
	}
	for _, p := range svc.Scaling.Steps {
		typ := elevator.PolicyCPUScaleUp
		if p.When == elevator.CPUBelow {
			typ = elevator.PolicyCPUScaleDown
		}
		rs.Policies = append(rs.Policies, elevator.ReleasePolicy{Type: typ, Threshold: p.Threshold, Adjustment: p.Adjustment, Periods: p.Periods, CooldownSeconds: int(p.Cooldown / time.Second)})
	}
	for _, c := range svc.Scaling.Schedule {
		rs.Schedule = append(rs.Schedule, elevator.ReleaseSchedule{Desired: c.Desired, Cron: c.Cron})
	}
	for _, h := range svc.LifecycleHooks {
		rs.Hooks = append(rs.Hooks, elevator.ReleaseHook{
			Name: h.Name, Transition: h.Transition, RoleARN: h.RoleARN, TopicARN: h.TopicARN,
			HeartbeatSeconds: int(h.Heartbeat / time.Second), DefaultResult: h.DefaultResult,
		})
	}
	return rs
}

// cpuAlarms are a service's alarms on its instances' average CPU, which
// the release engine puts on each group it makes; their actions are the
// orbit's topic for the alarm's severity in the region. (The app stack
// holds the alarms on load balancer metrics.)
func cpuAlarms(svc *elevator.Service, orbit map[string]string, missing func(key string)) []elevator.ReleaseAlarm {
	var alarms []elevator.ReleaseAlarm
	for i, a := range svc.Alarms {
		if a.Metric != elevator.MetricCPU {
			continue
		}
		key := strings.ToUpper(string(a.Severity[:1])) + string(a.Severity[1:]) + "Topic"
		topic := orbit[key]
		if topic == "" {
			missing(key)
			continue
		}
		alarms = append(alarms, elevator.ReleaseAlarm{
			Name:          fmt.Sprintf("cpu-%d", i),
			Threshold:     a.Threshold,
			PeriodSeconds: int(a.Period / time.Second),
			Evaluations:   a.Evaluations,
			Actions:       []string{topic},
		})
	}
	return alarms
}

// releaseTests carries the app's gates over into the release document.
func releaseTests(t *elevator.AppTests) *elevator.ReleaseTests {
	if t == nil {
		return nil
	}
	rt := &elevator.ReleaseTests{Smoke: t.Smoke, Integration: t.Integration, BakeSeconds: int(t.Bake / time.Second),
		Alarms: t.Alarms, MissingData: t.MissingData, RetrySeconds: int(t.RetryWindow / time.Second)}
	if !rt.Gated() {
		return nil
	}
	return rt
}

// serviceURL is the address of a load-balanced service, from its endpoint
// (the app stack's <Service>Endpoint output): https when one of its
// listeners is HTTPS, with the port when it is not the scheme's own.
func serviceURL(svc *elevator.Service, endpoint string) string {
	if endpoint == "" || len(svc.LoadBalancer.Listeners) == 0 {
		return ""
	}
	l := svc.LoadBalancer.Listeners[0]
	for _, x := range svc.LoadBalancer.Listeners {
		if strings.EqualFold(x.Protocol, "HTTPS") {
			l = x
			break
		}
	}
	scheme := strings.ToLower(l.Protocol)
	if (scheme == "https" && l.Port == 443) || (scheme == "http" && l.Port == 80) {
		return scheme + "://" + endpoint
	}
	return fmt.Sprintf("%s://%s:%d", scheme, endpoint, l.Port)
}
