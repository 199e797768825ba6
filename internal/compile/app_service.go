package compile

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Logical IDs of a service's resources are <Kind><Service>, the service's
// name camel-cased; see appBuilder.svcID.
const (
	idServiceSG      = "SecurityGroup"
	idServiceIngress = "SecurityGroupIngress" // + <to>From<from><ports>
	idRole           = "Role"
	idInstanceProf   = "InstanceProfile"
	idLogGroup       = "LogGroup"
	policyName       = "elevator-service"
)

// service compiles what every service has: a security group with its
// firewall, an IAM role and instance profile, and a log group.
func (b *appBuilder) service(s *elevator.Service) {
	if b.svcID[s.Name] == "" {
		return // reported by checkServiceNames
	}
	if s.Runtime.ECS != nil {
		b.ecsService(s)
		return
	}
	b.serviceSecurityGroup(s)
	b.identity(s)
	b.logGroup(s)
	b.repository(s)
}

// LogGroupName is the CloudWatch Logs group of a service:
// /elevator/<orbit>/<app>/<service>.
func LogGroupName(orbit, app, service string) string {
	return elevator.AppPath(orbit, app) + service
}

// serviceSecurityGroup compiles a service's security group: traffic from
// its load balancer, and every firewall rule. Rules from another service of
// the same app are separate SecurityGroupIngress resources, so that two
// services letting each other in make no dependency cycle.
func (b *appBuilder) serviceSecurityGroup(s *elevator.Service) {
	svc := b.svcID[s.Name]
	id := idServiceSG + svc
	var ingress []any
	seen := map[string]bool{}
	inline := func(rule Props) {
		key := fmt.Sprint(rule["IpProtocol"], rule["FromPort"], rule["ToPort"], rule["CidrIp"], rule["CidrIpv6"], rule["SourceSecurityGroupId"])
		if !seen[key] {
			seen[key] = true
			ingress = append(ingress, rule)
		}
	}

	if lb := s.LoadBalancer.Type; (lb == elevator.LoadBalancerPublic || lb == elevator.LoadBalancerPrivate) && s.Port > 0 {
		sg := b.orbitLoadBalancerSG(lb)
		ports := []int{s.Port}
		if hc := s.LoadBalancer.HealthCheck.Port; hc > 0 && hc != s.Port {
			ports = append(ports, hc)
		}
		for _, p := range ports {
			inline(Props{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "SourceSecurityGroupId": sg, "Description": "From the " + string(lb) + " load balancers"})
		}
	}
	for _, fr := range s.Firewall {
		b.firewallRule(s, fr, inline)
	}

	props := Props{
		"GroupDescription": fmt.Sprintf("Service %s of app %s in orbit %s", s.Name, b.a.Name, b.o.Name),
		"VpcId":            b.vpc(),
		"SecurityGroupEgress": []any{
			Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"},
		},
		"Tags": b.tags(b.resourceName(s.Name), s.Name),
	}
	if len(ingress) > 0 {
		props["SecurityGroupIngress"] = ingress
	}
	b.add(id, s.Path, Resource{Type: "AWS::EC2::SecurityGroup", Properties: props})
	b.output(svc+"SecurityGroup", s.Path, "Security group of service "+s.Name, Ref(id))
}

// orbitLoadBalancerSG returns a Ref to the parameter holding the orbit's
// security group for load balancers of type lb.
func (b *appBuilder) orbitLoadBalancerSG(lb elevator.LoadBalancerType) any {
	if lb == elevator.LoadBalancerPublic {
		return b.param(factPublicLBSG, "AWS::EC2::SecurityGroup::Id", "The orbit's security group of public load balancers", factPublicLBSG)
	}
	return b.param(factPrivateLBSG, "AWS::EC2::SecurityGroup::Id", "The orbit's security group of private load balancers", factPrivateLBSG)
}

// firewallRule compiles one rule letting traffic in to service s: rules
// from a block, the bastion or another app go inline; rules from services
// of this app become SecurityGroupIngress resources.
func (b *appBuilder) firewallRule(s *elevator.Service, fr elevator.FirewallRule, inline func(Props)) {
	ports, portsID, ok := b.rulePorts(fr)
	if !ok {
		return
	}
	sources := 0
	for _, set := range []bool{fr.CIDR.IsValid(), fr.App != "", fr.Bastion} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		b.errorf(fr.Path, nil, "a firewall rule needs exactly one source: a cidr, an app (with a service or not), or the bastion")
		return
	}
	with := func(extra Props) Props {
		rule := make(Props, len(ports)+len(extra))
		for k, v := range ports {
			rule[k] = v
		}
		for k, v := range extra {
			rule[k] = v
		}
		return rule
	}

	switch {
	case fr.CIDR.IsValid():
		key := "CidrIp"
		if fr.CIDR.Addr().Is6() {
			key = "CidrIpv6"
		}
		inline(with(Props{key: fr.CIDR.String(), "Description": "From " + fr.CIDR.String()}))

	case fr.Bastion:
		if b.r.Bastion == nil {
			b.errorf(fr.Path, nil, "orbit %s has no bastion in %s; add one to the orbit manifest, or let a cidr in instead", b.o.Name, b.r.Name)
			return
		}
		sg := b.param(factBastionSG, "AWS::EC2::SecurityGroup::Id", "The orbit's security group of bastion hosts", factBastionSG)
		inline(with(Props{"SourceSecurityGroupId": sg, "Description": "From the bastion hosts"}))

	case fr.App == b.a.Name:
		var from []*elevator.Service
		if fr.Service == "" {
			for i := range b.a.Services {
				from = append(from, &b.a.Services[i])
			}
		} else if src := b.a.Service(fr.Service); src != nil {
			from = append(from, src)
		} else {
			b.errorf(fr.Path, fr.Service, "app %s has no such service; it has %s", b.a.Name, b.serviceNames())
			return
		}
		for _, src := range from {
			if b.svcID[src.Name] == "" {
				continue
			}
			id := idServiceIngress + b.svcID[s.Name] + "From" + b.svcID[src.Name] + portsID
			if _, dup := b.t.Resources[id]; dup {
				continue // the same rule twice
			}
			b.add(id, fr.Path, Resource{Type: "AWS::EC2::SecurityGroupIngress", Properties: with(Props{
				"GroupId":               Ref(idServiceSG + b.svcID[s.Name]),
				"SourceSecurityGroupId": Ref(idServiceSG + b.svcID[src.Name]),
				"Description":           "From service " + src.Name,
			})})
		}

	default:
		keys := b.peerServices(fr.App, fr.Service)
		if len(keys) == 0 {
			if fr.Service == "" {
				b.errorf(fr.Path, nil, "app %s has no services in orbit %s, region %s: bring it up first", fr.App, b.o.Name, b.r.Name)
			} else {
				b.errorf(fr.Path, nil, "app %s has no service %s in orbit %s, region %s: bring it up first", fr.App, fr.Service, b.o.Name, b.r.Name)
			}
			return
		}
		for _, key := range keys {
			app, svc, _ := strings.Cut(key, "/")
			inline(with(Props{"SourceSecurityGroupId": b.peerParam(key), "Description": "From app " + app + " service " + svc}))
		}
	}
}

// rulePorts returns the protocol and ports of a rule as security group rule
// properties, and a logical ID part naming them. A tcp or udp rule whose
// ToPort is 0 is for the single port FromPort; icmp rules take the type in
// FromPort and the code in ToPort (-1 is any), exactly as given.
func (b *appBuilder) rulePorts(fr elevator.FirewallRule) (Props, string, bool) {
	proto := strings.ToLower(fr.Protocol)
	switch proto {
	case "all", "-1":
		return Props{"IpProtocol": "-1"}, "All", true
	case "tcp", "udp":
		from, to := fr.FromPort, fr.ToPort
		if to == 0 {
			to = from
		}
		if from < 1 || to > 65535 || from > to {
			b.errorf(fr.Path, fmt.Sprintf("%d-%d", fr.FromPort, fr.ToPort), "%s ports run from 1 to 65535, the first no greater than the last", proto)
			return nil, "", false
		}
		id := camel(proto) + strconv.Itoa(from)
		if to != from {
			id += "To" + strconv.Itoa(to)
		}
		return Props{"IpProtocol": proto, "FromPort": from, "ToPort": to}, id, true
	case "icmp":
		if fr.FromPort < -1 || fr.FromPort > 255 || fr.ToPort < -1 || fr.ToPort > 255 {
			b.errorf(fr.Path, fmt.Sprintf("%d-%d", fr.FromPort, fr.ToPort), "icmp rules take a type and a code from 0 to 255, or -1 for any")
			return nil, "", false
		}
		num := func(n int) string {
			if n < 0 {
				return "Any"
			}
			return strconv.Itoa(n)
		}
		return Props{"IpProtocol": "icmp", "FromPort": fr.FromPort, "ToPort": fr.ToPort}, "Icmp" + num(fr.FromPort) + "Code" + num(fr.ToPort), true
	}
	b.errorf(fr.Path, fr.Protocol, "unknown protocol; use tcp, udp, icmp or all")
	return nil, "", false
}

// peerServices returns the "app/service" keys of the facts' security groups
// of another app's service, or of every service of that app when service
// is "", sorted.
func (b *appBuilder) peerServices(app, service string) []string {
	if service != "" {
		if b.f.ServiceSecurityGroups[app+"/"+service] != "" {
			return []string{app + "/" + service}
		}
		return nil
	}
	var keys []string
	for k, v := range b.f.ServiceSecurityGroups {
		if strings.HasPrefix(k, app+"/") && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// peerParam declares the parameter holding the security group of another
// app's service ("app/service"), and returns a Ref to it. Two keys that
// camel-case alike are told apart by a hash of the key.
func (b *appBuilder) peerParam(key string) any {
	app, svc, _ := strings.Cut(key, "/")
	name := paramPeerSG + camel(app) + camel(svc)
	if other, taken := b.owner["param:"+name]; taken && other != key {
		name = paramPeerSG + shortHash(key)
	}
	b.owner["param:"+name] = key
	if _, ok := b.t.Parameters[name]; !ok {
		b.t.Parameters[name] = Parameter{Type: "AWS::EC2::SecurityGroup::Id", Description: "Security group of service " + svc + " of app " + app + ", looked up by elevator"}
		b.params[name] = b.f.ServiceSecurityGroups[key]
	}
	return Ref(name)
}

func (b *appBuilder) serviceNames() string {
	names := make([]string, len(b.a.Services))
	for i, s := range b.a.Services {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// ec2AssumeRole is the trust policy of a role that EC2 instances assume
// through their instance profile.
func ec2AssumeRole() Props {
	return Props{
		"Version": "2012-10-17",
		"Statement": []any{Props{
			"Effect":    "Allow",
			"Principal": Props{"Service": "ec2.amazonaws.com"},
			"Action":    "sts:AssumeRole",
		}},
	}
}

// identity compiles a service's IAM role, assumed by its instances through
// its instance profile, with a least-privilege inline policy.
func (b *appBuilder) identity(s *elevator.Service) {
	svc := b.svcID[s.Name]
	path := elevator.IAMPath(b.o.Name, b.a.Name, s.Name)
	role, profile := idRole+svc, idInstanceProf+svc
	props := Props{
		"Path":                     path,
		"AssumeRolePolicyDocument": ec2AssumeRole(),
		"Policies": []any{Props{
			"PolicyName":     policyName,
			"PolicyDocument": Props{"Version": "2012-10-17", "Statement": b.policy(s)},
		}},
		"Tags": b.tags(b.resourceName(s.Name), s.Name),
	}
	if managed := b.orbitManagedPolicies(s); len(managed) > 0 {
		props["ManagedPolicyArns"] = managed
	}
	b.add(role, s.Path, Resource{Type: "AWS::IAM::Role", Properties: props})
	b.add(profile, s.Path, Resource{Type: "AWS::IAM::InstanceProfile", Properties: Props{
		"Path":  path,
		"Roles": []any{Ref(role)},
	}})
	b.output(svc+"Role", s.Path, "IAM role of service "+s.Name, Ref(role))
	b.output(svc+"InstanceProfile", s.Path, "Instance profile of service "+s.Name, Ref(profile))
	// The ARN is spelled out rather than read with Fn::GetAtt, so that it
	// can be resolved from the stack's resources (see apply.Outputs).
	b.output(svc+"InstanceProfileArn", s.Path, "ARN of the instance profile of service "+s.Name,
		Join("", []any{"arn:" + partition(b.r.Name) + ":iam::" + b.f.AccountID + ":instance-profile" + path, Ref(profile)}))
}

// policy is what a service's instances may do: read and write their own
// prefix of the orbit's state bucket, read the app's settings and the
// secrets it references, use the app's tables, write their own logs, and
// put the custom metrics their alarms watch; and what the Elevator agent
// on them needs: read the agent's builds in the state bucket, describe the
// app's stack (its data stores' addresses), read the orbit's SSH tables,
// pull the service's image when it is in ECR, and let Session Manager in.
// Nothing else.
//
// Every statement names its resources, but for the actions that take
// none, whose Resource is "*" (docs/instance-role.md lists them):
//   - ecr:GetAuthorizationToken, only for an image in ECR (the
//     service's own repository, or the one its image names);
//   - ssm:UpdateInstanceInformation and ssmmessages:CreateControlChannel,
//     CreateDataChannel, OpenControlChannel, OpenDataChannel (Session
//     Manager);
//   - cloudwatch:PutMetricData, limited by a cloudwatch:namespace
//     condition to the custom namespaces of the service's alarms.
func (b *appBuilder) policy(s *elevator.Service) []any {
	return b.rolePolicy(s, true)
}

// rolePolicy is the policy of a service's role: policy's statements for
// an instance, or, when instance is false, those of an ECS task's role:
// the same less what only an instance does. The agent's statements go
// (there is no agent in a task), and so do its own logs and the secrets:
// ECS writes a task's output and reads its secrets with the task
// execution role (see ecsExecutionPolicy).
func (b *appBuilder) rolePolicy(s *elevator.Service, instance bool) []any {
	o, a := b.o.Name, b.a.Name
	b.param(factStateBucket, "String", "The orbit's state bucket", factStateBucket)
	prefix := "apps/" + a + "/" + s.Name + "/"
	statements := []any{
		Props{
			"Sid":      "OwnStateObjects",
			"Effect":   "Allow",
			"Action":   []any{"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
			"Resource": Sub("arn:${AWS::Partition}:s3:::${" + factStateBucket + "}/" + prefix + "*"),
		},
		Props{
			"Sid":       "ListOwnStateObjects",
			"Effect":    "Allow",
			"Action":    "s3:ListBucket",
			"Resource":  Sub("arn:${AWS::Partition}:s3:::${" + factStateBucket + "}"),
			"Condition": Props{"StringLike": Props{"s3:prefix": []any{prefix + "*"}}},
		},
		Props{
			"Sid":    "AppSettings",
			"Effect": "Allow",
			"Action": []any{"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"},
			"Resource": []any{
				regionARN("ssm", "parameter"+strings.TrimSuffix(elevator.AppPath(o, a), "/")),
				regionARN("ssm", "parameter"+elevator.AppPath(o, a)+"*"),
			},
		},
	}
	if instance {
		statements = append(statements, Props{
			"Sid":      "OwnLogs",
			"Effect":   "Allow",
			"Action":   []any{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"},
			"Resource": regionARN("logs", "log-group:"+LogGroupName(o, a, s.Name)+":*"),
		})
		statements = append(statements, agentStatements(b.o.Name, b.a.Name, b.a.StackName(b.o.Name), s)...)
	}
	if st, ok := accountsStatement(s); ok {
		statements = append(statements, st)
	}
	statements = append(statements, ecsDeployerStatements(b.o, s)...)
	if !instance {
		// ECS Exec (aws ecs execute-command): the SSM agent in the task
		// opens its channels as the task role. These actions take no
		// narrower resource.
		statements = append(statements, Props{
			"Sid":    "ECSExec",
			"Effect": "Allow",
			"Action": []any{
				"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
				"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
			},
			"Resource": "*",
		})
	}

	if len(b.a.Data.Tables) > 0 {
		var tables []any
		for _, t := range b.a.Data.Tables {
			name := TableName(o, a, t.Name)
			tables = append(tables, regionARN("dynamodb", "table/"+name), regionARN("dynamodb", "table/"+name+"/index/*"))
		}
		statements = append(statements, Props{
			"Sid":    "AppTables",
			"Effect": "Allow",
			"Action": []any{
				"dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
				"dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem",
				"dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem",
			},
			"Resource": tables,
		})
	}

	if instance {
		parameters, secrets := b.secretResources()
		if len(parameters) > 0 {
			statements = append(statements, Props{
				"Sid":      "SecretParameters",
				"Effect":   "Allow",
				"Action":   []any{"ssm:GetParameter", "ssm:GetParameters"},
				"Resource": parameters,
			})
		}
		if len(secrets) > 0 {
			statements = append(statements, Props{
				"Sid":      "Secrets",
				"Effect":   "Allow",
				"Action":   []any{"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
				"Resource": secrets,
			})
		}
	}

	var namespaces []any
	seenNS := map[string]bool{}
	for _, al := range s.Alarms {
		if al.Metric == elevator.MetricCustom && al.Namespace != "" && !seenNS[al.Namespace] && !strings.HasPrefix(al.Namespace, "AWS/") {
			seenNS[al.Namespace] = true
			namespaces = append(namespaces, al.Namespace)
		}
	}
	if len(namespaces) > 0 {
		// PutMetricData takes no resource; the namespace condition is
		// what limits it.
		statements = append(statements, Props{
			"Sid":       "CustomMetrics",
			"Effect":    "Allow",
			"Action":    "cloudwatch:PutMetricData",
			"Resource":  "*",
			"Condition": Props{"StringEquals": Props{"cloudwatch:namespace": namespaces}},
		})
	}
	return statements
}

// regionARN is the ARN of a resource of service in the stack's partition,
// region and account.
func regionARN(service, resource string) any {
	return Sub("arn:${AWS::Partition}:" + service + ":${AWS::Region}:${AWS::AccountId}:" + resource)
}

// secretResources are the ARNs of the app's secrets: its SSM parameters,
// and its Secrets Manager secrets with the database's master secret. It
// reports a secret that names neither store or both.
func (b *appBuilder) secretResources() (parameters, secrets []any) {
	seen := map[string]bool{}
	for _, sec := range b.a.Secrets {
		switch {
		case (sec.SSMParameter == "") == (sec.SecretsManager == ""):
			b.errorf(sec.Path, nil, "secret %s needs exactly one of an SSM parameter and a Secrets Manager secret", sec.Name)
		case sec.SSMParameter != "" && !seen["ssm:"+sec.SSMParameter]:
			seen["ssm:"+sec.SSMParameter] = true
			if strings.HasPrefix(sec.SSMParameter, "arn:") {
				parameters = append(parameters, sec.SSMParameter)
			} else {
				parameters = append(parameters, regionARN("ssm", "parameter/"+strings.TrimPrefix(sec.SSMParameter, "/")))
			}
		case sec.SecretsManager != "" && !seen["sm:"+sec.SecretsManager]:
			seen["sm:"+sec.SecretsManager] = true
			secrets = append(secrets, secretARNs(sec.SecretsManager)...)
		}
	}
	if b.dbSecret != nil {
		if name, ok := b.dbSecret.(string); ok {
			secrets = append(secrets, secretARNs(name)...)
		} else {
			secrets = append(secrets, b.dbSecret)
		}
	}
	return parameters, secrets
}

// SessionManagerActions are the actions Session Manager needs of an
// instance's role (AWS's AmazonSSMManagedInstanceCore, less what it does
// not need: messages of the older ec2messages channel and parameters).
// None takes a resource.
var SessionManagerActions = []any{
	"ssm:UpdateInstanceInformation",
	"ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
	"ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
}

// RunCommandActions are the actions of the ec2messages channel, which an
// SSM agent that cannot take commands over ssmmessages receives Run
// Command's commands through (`elevator exec`, the release gates' ssm
// tests), as in AWS's AmazonSSMManagedInstanceCore. None takes a
// resource.
var RunCommandActions = []any{
	"ec2messages:AcknowledgeMessage", "ec2messages:DeleteMessage", "ec2messages:FailMessage",
	"ec2messages:GetEndpoint", "ec2messages:GetMessages", "ec2messages:SendReply",
}

// agentStatements are what the Elevator agent on a service's instances
// needs (see policy).
func agentStatements(orbit, appName, appStack string, s *elevator.Service) []any {
	statements := []any{
		Props{
			"Sid":      "AgentBuilds",
			"Effect":   "Allow",
			"Action":   "s3:GetObject",
			"Resource": Sub("arn:${AWS::Partition}:s3:::${" + factStateBucket + "}/" + elevator.AgentObjectPrefix + "*"),
		},
		Props{
			"Sid":      "AppStack",
			"Effect":   "Allow",
			"Action":   "cloudformation:DescribeStacks",
			"Resource": Sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/" + appStack + "/*"),
		},
		Props{
			"Sid":    "SSHAccess",
			"Effect": "Allow",
			"Action": []any{"dynamodb:GetItem", "dynamodb:BatchGetItem"},
			"Resource": []any{
				Sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + elevator.UsersTableName(orbit)),
				Sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + elevator.ServicesTableName(orbit)),
			},
		},
	}
	if d := s.Runtime.Docker; d != nil {
		statements = append(statements, ecrPullStatements(orbit, appName, s.Name, d.Image, d.Repository != nil)...)
	}
	return append(statements,
		Props{"Sid": "SessionManager", "Effect": "Allow", "Action": SessionManagerActions, "Resource": "*"},
		Props{"Sid": "RunCommand", "Effect": "Allow", "Action": RunCommandActions, "Resource": "*"})
}

// ecrPullStatements let a service pull its image: from its own
// repository in the region when own (exactly that one: not the app's
// other services'), or from the ECR repository image names. They are
// none for an image outside ECR.
func ecrPullStatements(orbit, appName, service, image string, own bool) []any {
	var pull any
	if own {
		pull = Sub("arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/" + elevator.AppRepositoryName(orbit, appName, service))
	} else if repo, ok := ParseECRImage(image); ok {
		pull = repo.ARN()
	}
	if pull == nil {
		return nil
	}
	// GetAuthorizationToken takes no resource: the token it gives is
	// good for the pulls granted below.
	return []any{
		Props{"Sid": "ECRLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
		Props{
			"Sid":      "ECRPull",
			"Effect":   "Allow",
			"Action":   ecrPullActions,
			"Resource": pull,
		},
	}
}

// ecrPullActions are what pulling an image from an ECR repository takes.
var ecrPullActions = []any{"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"}

// ECRRepository is an ECR repository an image is in.
type ECRRepository struct {
	Account, Region, Name string
	China                 bool // in the aws-cn partition
}

// ARN is the repository's ARN.
func (r ECRRepository) ARN() string {
	partition := "aws"
	if r.China {
		partition = "aws-cn"
	}
	return "arn:" + partition + ":ecr:" + r.Region + ":" + r.Account + ":repository/" + r.Name
}

// ecrImage matches an image in ECR: <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>,
// with no tag or digest.
var ecrImage = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/([a-z0-9][a-z0-9._/-]*)$`)

// ParseECRImage returns the ECR repository of a Docker image (without a
// tag), and false when the image is not in ECR.
func ParseECRImage(image string) (ECRRepository, bool) {
	m := ecrImage.FindStringSubmatch(image)
	if m == nil {
		return ECRRepository{}, false
	}
	return ECRRepository{Account: m[1], Region: m[2], China: m[3] != "", Name: m[4]}, true
}

// secretARNs are the ARN patterns of a Secrets Manager secret given by
// name or ARN. Secrets Manager adds a dash and six random characters to a
// secret's name in its ARN, so a name, or an ARN without them, gets the
// -?????? wildcard. An ARN that may already end in them is also granted as
// is: a name can end in six characters after a dash too.
func secretARNs(ref string) []any {
	if !strings.HasPrefix(ref, "arn:") {
		return []any{Sub("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + ref + "-??????")}
	}
	if hasSecretSuffix(ref) {
		return []any{ref, ref + "-??????"}
	}
	return []any{ref + "-??????"}
}

// hasSecretSuffix reports whether a secret ARN ends like the six random
// characters Secrets Manager adds: -XXXXXX.
func hasSecretSuffix(arn string) bool {
	i := strings.LastIndexByte(arn, '-')
	if i < 0 || len(arn)-i-1 != 6 {
		return false
	}
	for _, c := range arn[i+1:] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// logGroup compiles the log group of a service; like tables, it outlives
// the stack in a protected orbit.
func (b *appBuilder) logGroup(s *elevator.Service) {
	svc := b.svcID[s.Name]
	id := idLogGroup + svc
	policy := b.dataPolicy()
	b.add(id, s.Path, Resource{Type: "AWS::Logs::LogGroup", DeletionPolicy: policy, UpdateReplacePolicy: policy, Properties: Props{
		"LogGroupName":    LogGroupName(b.o.Name, b.a.Name, s.Name),
		"RetentionInDays": logRetentionDays,
		"Tags":            b.tags("", s.Name),
	}})
	b.output(ServiceOutput(s.Name, OutputLogGroup), s.Path, "Log group of service "+s.Name, Ref(id))
}
