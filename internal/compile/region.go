package compile

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Logical IDs are <Kind><Qualifier>: the resource kind, then what tells it
// apart — the tier (camel-cased), the zone suffix (see zoneSuffixes), the
// role. They never depend on a position in a list that can change, so that
// adding a tier, a zone or an email replaces nothing that exists.
const (
	idVPC              = "Vpc"
	idInternetGateway  = "InternetGateway"
	idGatewayAttach    = "InternetGatewayAttachment"
	idRouteTable       = "RouteTable" // + Public | Private<zone> | Isolated
	idDefaultRoute     = "RouteDefault"
	idSubnet           = "Subnet"                      // + <tier><zone>
	idSubnetAssoc      = "SubnetRouteTableAssociation" // + <tier><zone>
	idNATGateway       = "NatGateway"                  // + <zone>
	idNATAddress       = "EipNat"                      // + <zone>
	idBastionSG        = "SecurityGroupBastion"
	idPublicLBSG       = "SecurityGroupPublicLoadBalancer"
	idPrivateLBSG      = "SecurityGroupPrivateLoadBalancer"
	idBastionTemplate  = "LaunchTemplateBastion"
	idBastionGroup     = "AutoScalingGroupBastion"
	idBastionRole      = "RoleBastion"
	idBastionProfile   = "InstanceProfileBastion"
	idTopic            = "Topic"        // + <severity>
	idSubscription     = "Subscription" // + <severity><email>
	idStateBucket      = "BucketState"
	idUsersTable       = "TableUsers"
	idServicesTable    = "TableServices"
	idLocksTable       = "TableLocks"
	idReleasesTable    = "TableReleases"
	idImagesTable      = "TableImages"
	paramZone          = "AvailabilityZone" // + <zone>
	paramBastionAMI    = "BastionAmi"
	paramHostedZone    = "HostedZoneId"
	bucketNameMaxBytes = 63
	anywhere           = "0.0.0.0/0"
	anywhereIPv6       = "::/0"
)

// regionBuilder builds one region's template.
type regionBuilder struct {
	o *elevator.Orbit
	r *elevator.Region
	f RegionFacts
	l Layout
	t *Template
	// params holds the value of every parameter in t.
	params map[string]string
	zone   map[string]string // zone name -> logical ID suffix
	tierID map[string]string // tier name -> logical ID part
	// publicTiers, privateTiers and isolatedTiers list tier names by access.
	publicTiers, privateTiers, isolatedTiers []string
	// bastionUserData is the bastion's user data, rendered by checkFacts,
	// gzipped and in base64 (see compressUserData).
	bastionUserData string
}

func newRegionBuilder(o *elevator.Orbit, r *elevator.Region, f RegionFacts, l Layout) *regionBuilder {
	b := &regionBuilder{
		o: o, r: r, f: f, l: l,
		t: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              fmt.Sprintf("Elevator orbit %s in %s: VPC, subnets, NAT, bastion, alarm topics and Elevator's state. Managed by elevator; change the orbit manifest, not this stack.", o.Name, r.Name),
			Parameters:               map[string]Parameter{},
			Resources:                map[string]Resource{},
			Outputs:                  map[string]Output{},
		},
		params: map[string]string{},
		zone:   map[string]string{},
		tierID: map[string]string{},
	}
	for i, s := range zoneSuffixes(l.AZs) {
		b.zone[l.AZs[i]] = s
	}
	for _, t := range r.Tiers {
		b.tierID[t.Name] = camel(t.Name)
		switch t.Access {
		case elevator.AccessPublic:
			b.publicTiers = append(b.publicTiers, t.Name)
		case elevator.AccessIsolated:
			b.isolatedTiers = append(b.isolatedTiers, t.Name)
		default:
			b.privateTiers = append(b.privateTiers, t.Name)
		}
	}
	return b
}

// check finds the problems of the manifest that NetworkLayout does not see.
func (b *regionBuilder) check() elevator.FieldErrors {
	var errs elevator.FieldErrors
	src, r := b.o.Source, b.r

	if r.NAT != elevator.NATNone && r.NAT != "" && len(b.publicTiers) == 0 {
		errs = append(errs, src.Errorf(r.Path+".nat", string(r.NAT), "NAT gateways live in a public tier and %s has none; add a tier with access public, or set nat to none", r.Name))
	}

	byID := map[string]string{}
	for _, t := range r.Tiers {
		id := b.tierID[t.Name]
		switch other, dup := byID[id]; {
		case id == "":
			errs = append(errs, src.Errorf(fieldPath(src, t.Path, "name"), t.Name, "a tier name needs a letter or a digit"))
		case dup && other != t.Name:
			errs = append(errs, src.Errorf(fieldPath(src, t.Path, "name"), t.Name, "gives the same resource names as tier %s (%s); rename one of them", other, id))
		}
		byID[id] = t.Name
	}

	if bs := r.Bastion; bs != nil && bs.Count > 0 {
		if _, ok := b.bastionTier(); !ok {
			errs = append(errs, src.Errorf(bs.Path, nil, "a bastion runs in the tier named %s, or else in the first public tier, and %s has neither; add one of them", elevator.TierMaintenance, r.Name))
		}
		if bs.InstanceType == "" {
			errs = append(errs, src.Errorf(fieldPath(src, bs.Path, "instance_type"), nil, "a bastion needs an instance type, such as t3.micro"))
		}
	}

	// An account id has 12 digits.
	if n := len(elevator.StateBucketName("123456789012", r.Name, b.o.Name)); n > bucketNameMaxBytes {
		errs = append(errs, src.Errorf("name", b.o.Name, "makes the state bucket name in %s %d characters long, over S3's %d; use a shorter orbit name", r.Name, n, bucketNameMaxBytes))
	}
	return errs
}

// checkFacts finds facts the apply step should have looked up but did not.
func (b *regionBuilder) checkFacts() error {
	if bs := b.r.Bastion; bs != nil && bs.Count > 0 {
		if b.f.BastionAMI == "" {
			return elevator.Errorf(elevator.EINTERNAL, "compile orbit %s in %s: the bastion's image was not resolved", b.o.Name, b.r.Name)
		}
		ud, err := BastionUserData(b.o, b.r, b.f.Agent)
		if err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "compile orbit %s in %s: the bastion's user data: %w", b.o.Name, b.r.Name, err)
		}
		b.bastionUserData = compressUserData(ud)
	}
	if b.o.Domain != "" && b.f.HostedZoneID == "" {
		return elevator.Errorf(elevator.EINTERNAL, "compile orbit %s in %s: the hosted zone of %s was not looked up", b.o.Name, b.r.Name, b.o.Domain)
	}
	return nil
}

// bastionTier is the tier bastions run in: maintenance, else the first
// public tier.
func (b *regionBuilder) bastionTier() (string, bool) {
	for _, t := range b.r.Tiers {
		if t.Name == elevator.TierMaintenance {
			return t.Name, true
		}
	}
	if len(b.publicTiers) > 0 {
		return b.publicTiers[0], true
	}
	return "", false
}

func (b *regionBuilder) build() {
	b.zones()
	b.network()
	b.securityGroups()
	b.bakeSecurityGroup()
	b.bastion()
	b.topics()
	b.state()
	if b.home() {
		b.submissions()
		b.builderAccess()
		b.bakeIdentity()
	}
	b.commonOutputs()
}

// zones makes each zone a parameter, so that no zone name is hard-coded in
// a resource (cfn-lint W3010) and CloudFormation checks each value is a zone.
func (b *regionBuilder) zones() {
	for _, az := range b.l.AZs {
		id := paramZone + b.zone[az]
		b.t.Parameters[id] = Parameter{Type: "AWS::EC2::AvailabilityZone::Name", Description: "Availability zone " + b.zone[az] + " of the orbit"}
		b.params[id] = az
	}
}

func (b *regionBuilder) network() {
	o, t := b.o, b.t
	t.add(idVPC, Resource{Type: "AWS::EC2::VPC", Properties: Props{
		"CidrBlock":          b.l.VPC.String(),
		"EnableDnsSupport":   true,
		"EnableDnsHostnames": true,
		"Tags":               b.tags(o.Name),
	}})

	hasIGW := len(b.publicTiers) > 0
	if hasIGW {
		t.add(idInternetGateway, Resource{Type: "AWS::EC2::InternetGateway", Properties: Props{
			"Tags": b.tags(o.Name),
		}})
		t.add(idGatewayAttach, Resource{Type: "AWS::EC2::VPCGatewayAttachment", Properties: Props{
			"VpcId":             Ref(idVPC),
			"InternetGatewayId": Ref(idInternetGateway),
		}})
		rt := idRouteTable + "Public"
		b.routeTable(rt, o.Name+"-public")
		t.add(idDefaultRoute+"Public", Resource{
			Type:      "AWS::EC2::Route",
			DependsOn: []string{idGatewayAttach},
			Properties: Props{
				"RouteTableId":         Ref(rt),
				"DestinationCidrBlock": anywhere,
				"GatewayId":            Ref(idInternetGateway),
			},
		})
	}

	for _, s := range b.l.Subnets {
		id := b.subnetID(s.Tier, s.AZ)
		props := Props{
			"VpcId":            Ref(idVPC),
			"CidrBlock":        s.CIDR.String(),
			"AvailabilityZone": Ref(paramZone + b.zone[s.AZ]),
			"Tags":             b.tags(o.Name+"-"+s.Tier+"-"+s.AZ, Tag{elevator.TagTier, s.Tier}),
		}
		if s.Access == elevator.AccessPublic {
			props["MapPublicIpOnLaunch"] = true
		}
		t.add(id, Resource{Type: "AWS::EC2::Subnet", Properties: props})
		t.add(idSubnetAssoc+b.tierID[s.Tier]+b.zone[s.AZ], Resource{Type: "AWS::EC2::SubnetRouteTableAssociation", Properties: Props{
			"SubnetId":     Ref(id),
			"RouteTableId": Ref(b.routeTableOf(s)),
		}})
	}

	// NAT gateways are named by the zone they serve, and the single one is
	// in the first zone, so going from single to per-az adds gateways and
	// keeps the first.
	var natZones []string
	switch b.r.NAT {
	case elevator.NATSingle:
		natZones = b.l.AZs[:1]
	case elevator.NATPerAZ:
		natZones = b.l.AZs
	}
	if len(natZones) > 0 {
		public := b.publicTiers[0]
		for _, az := range natZones {
			z := b.zone[az]
			t.add(idNATAddress+z, Resource{
				Type:      "AWS::EC2::EIP",
				DependsOn: []string{idGatewayAttach},
				Properties: Props{
					"Domain": "vpc",
					"Tags":   b.tags(o.Name + "-nat-" + az),
				},
			})
			t.add(idNATGateway+z, Resource{Type: "AWS::EC2::NatGateway", Properties: Props{
				"AllocationId": GetAtt(idNATAddress+z, "AllocationId"),
				"SubnetId":     Ref(b.subnetID(public, az)),
				"Tags":         b.tags(o.Name + "-nat-" + az),
			}})
		}
	}

	// Private tiers have a route table per zone even without NAT, so that
	// turning NAT on later adds routes and moves no subnet.
	if len(b.privateTiers) > 0 {
		for _, az := range b.l.AZs {
			z := b.zone[az]
			rt := idRouteTable + "Private" + z
			b.routeTable(rt, o.Name+"-private-"+az)
			if len(natZones) == 0 {
				continue
			}
			nat := natZones[0]
			if len(natZones) > 1 {
				nat = az
			}
			t.add(idDefaultRoute+"Private"+z, Resource{
				Type:      "AWS::EC2::Route",
				DependsOn: []string{idGatewayAttach},
				Properties: Props{
					"RouteTableId":         Ref(rt),
					"DestinationCidrBlock": anywhere,
					"NatGatewayId":         Ref(idNATGateway + b.zone[nat]),
				},
			})
		}
	}
	if len(b.isolatedTiers) > 0 {
		b.routeTable(idRouteTable+"Isolated", o.Name+"-isolated")
	}
}

func (b *regionBuilder) routeTable(id, name string) {
	b.t.add(id, Resource{Type: "AWS::EC2::RouteTable", Properties: Props{
		"VpcId": Ref(idVPC),
		"Tags":  b.tags(name),
	}})
}

func (b *regionBuilder) routeTableOf(s Subnet) string {
	switch s.Access {
	case elevator.AccessPublic:
		return idRouteTable + "Public"
	case elevator.AccessIsolated:
		return idRouteTable + "Isolated"
	default:
		return idRouteTable + "Private" + b.zone[s.AZ]
	}
}

func (b *regionBuilder) subnetID(tier, az string) string {
	return idSubnet + b.tierID[tier] + b.zone[az]
}

func (b *regionBuilder) securityGroups() {
	o := b.o
	if b.r.Bastion != nil {
		var ingress []any
		for _, c := range b.r.Bastion.AllowedCIDRs {
			ingress = append(ingress, ingressRule(22, c.String(), "SSH from "+c.String()))
		}
		b.securityGroup(idBastionSG, elevator.BastionName(o.Name), fmt.Sprintf("Bastion hosts of orbit %s: SSH from the allowed blocks", o.Name), ingress)
	}
	b.securityGroup(idPublicLBSG, o.Name+"-public-lb", fmt.Sprintf("Public load balancers of orbit %s: HTTP and HTTPS from anywhere", o.Name), []any{
		ingressRule(80, anywhere, "HTTP from anywhere"),
		ingressRule(443, anywhere, "HTTPS from anywhere"),
		ingressRule(80, anywhereIPv6, "HTTP from anywhere over IPv6"),
		ingressRule(443, anywhereIPv6, "HTTPS from anywhere over IPv6"),
	})
	vpc := b.l.VPC.String()
	b.securityGroup(idPrivateLBSG, o.Name+"-private-lb", fmt.Sprintf("Private load balancers of orbit %s: HTTP and HTTPS from the VPC", o.Name), []any{
		ingressRule(80, vpc, "HTTP from the VPC"),
		ingressRule(443, vpc, "HTTPS from the VPC"),
	})
}

func (b *regionBuilder) securityGroup(id, name, description string, ingress []any) {
	props := Props{
		"GroupDescription": description,
		"VpcId":            Ref(idVPC),
		"SecurityGroupEgress": []any{
			Props{"IpProtocol": "-1", "CidrIp": anywhere, "Description": "All traffic out"},
		},
		"Tags": b.tags(name),
	}
	if len(ingress) > 0 {
		props["SecurityGroupIngress"] = ingress
	}
	b.t.add(id, Resource{Type: "AWS::EC2::SecurityGroup", Properties: props})
}

func ingressRule(port int, cidr, description string) Props {
	rule := Props{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "Description": description}
	if strings.Contains(cidr, ":") {
		rule["CidrIpv6"] = cidr
	} else {
		rule["CidrIp"] = cidr
	}
	return rule
}

func (b *regionBuilder) bastion() {
	bs := b.r.Bastion
	if bs == nil || bs.Count <= 0 {
		return
	}
	o := b.o
	name := elevator.BastionName(o.Name)
	b.t.Parameters[paramBastionAMI] = Parameter{Type: "AWS::EC2::Image::Id", Description: "The bastion's machine image, resolved by elevator"}
	b.params[paramBastionAMI] = b.f.BastionAMI
	b.bastionIdentity(name)
	b.t.add(idBastionTemplate, Resource{Type: "AWS::EC2::LaunchTemplate", Properties: Props{
		"LaunchTemplateData": Props{
			"ImageId":            Ref(paramBastionAMI),
			"InstanceType":       bs.InstanceType,
			"IamInstanceProfile": Props{"Arn": GetAtt(idBastionProfile, "Arn")},
			"UserData":           b.bastionUserData,
			"MetadataOptions": Props{
				"HttpTokens":   "required",
				"HttpEndpoint": "enabled",
			},
			"SecurityGroupIds": []any{Ref(idBastionSG)},
			"TagSpecifications": []any{
				Props{"ResourceType": "instance", "Tags": b.tags(name)},
				Props{"ResourceType": "volume", "Tags": b.tags(name)},
			},
		},
		"TagSpecifications": []any{
			Props{"ResourceType": "launch-template", "Tags": b.tags(name)},
		},
	}})

	tier, _ := b.bastionTier()
	var subnets []any
	for _, s := range b.l.TierSubnets(tier) {
		subnets = append(subnets, Ref(b.subnetID(tier, s.AZ)))
	}
	count := strconv.Itoa(bs.Count)
	// The group's tags describe the group; instances get theirs from the
	// launch template, so they are not propagated twice.
	var tags []any
	for _, tag := range b.tags(name) {
		tags = append(tags, Props{"Key": tag.Key, "Value": tag.Value, "PropagateAtLaunch": false})
	}
	b.t.add(idBastionGroup, Resource{Type: "AWS::AutoScaling::AutoScalingGroup", Properties: Props{
		"MinSize":           count,
		"MaxSize":           count,
		"DesiredCapacity":   count,
		"VPCZoneIdentifier": subnets,
		"LaunchTemplate": Props{
			"LaunchTemplateId": Ref(idBastionTemplate),
			"Version":          GetAtt(idBastionTemplate, "LatestVersionNumber"),
		},
		"Tags": tags,
	}})
}

// bastionIdentity compiles the bastion hosts' role and instance profile.
// The Elevator agent on them (in bastion mode) reads the SSH tables to
// answer sshd's AuthorizedKeysCommand: a user with a key who may reach
// any app or service of the orbit may pass through, so it scans the
// services table. It fetches its own build from the state bucket, and
// Session Manager may reach the hosts.
func (b *regionBuilder) bastionIdentity(name string) {
	b.t.add(idBastionRole, Resource{Type: "AWS::IAM::Role", Properties: Props{
		"AssumeRolePolicyDocument": ec2AssumeRole(),
		"Policies": []any{Props{
			"PolicyName": "elevator-bastion",
			"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
				Props{
					"Sid":      "SSHUsers",
					"Effect":   "Allow",
					"Action":   []any{"dynamodb:GetItem", "dynamodb:BatchGetItem"},
					"Resource": GetAtt(idUsersTable, "Arn"),
				},
				Props{
					"Sid":      "SSHServices",
					"Effect":   "Allow",
					"Action":   []any{"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan"},
					"Resource": GetAtt(idServicesTable, "Arn"),
				},
				Props{
					"Sid":      "AgentBuilds",
					"Effect":   "Allow",
					"Action":   "s3:GetObject",
					"Resource": Sub("arn:${AWS::Partition}:s3:::${" + idStateBucket + "}/" + elevator.AgentObjectPrefix + "*"),
				},
				Props{"Sid": "SessionManager", "Effect": "Allow", "Action": SessionManagerActions, "Resource": "*"},
			}},
		}},
		"Tags": b.tags(name),
	}})
	b.t.add(idBastionProfile, Resource{Type: "AWS::IAM::InstanceProfile", Properties: Props{
		"Roles": []any{Ref(idBastionRole)},
	}})
}

func (b *regionBuilder) topics() {
	for _, n := range b.o.Notifications {
		sev := camel(string(n.Severity))
		topic := idTopic + sev
		b.t.add(topic, Resource{Type: "AWS::SNS::Topic", Properties: Props{
			"TopicName": b.o.Name + "-" + string(n.Severity),
			"Tags":      b.tags(""),
		}})
		for _, email := range dedupe(n.Emails) {
			b.t.add(subscriptionID(sev, email, n.Emails), Resource{Type: "AWS::SNS::Subscription", Properties: Props{
				"TopicArn": Ref(topic),
				"Protocol": "email",
				"Endpoint": email,
			}})
		}
		b.output(sev+"Topic", "ARN of the SNS topic for "+string(n.Severity)+" alarms", Ref(topic))
	}
}

// subscriptionID names an email's subscription after the address itself,
// not its position, so that removing one address does not re-subscribe the
// others (each would get a confirmation email again). Addresses that camel-
// case alike, or very long ones, get a hash of the address instead.
func subscriptionID(sev, email string, all []string) string {
	id := camel(email)
	clash := len(id) > 64
	for _, other := range all {
		if other != email && camel(other) == id {
			clash = true
		}
	}
	if clash {
		id = "Email" + shortHash(email)
	}
	return idSubscription + sev + id
}

func dedupe(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// state adds Elevator's own state: the bucket of release records and the
// tables of SSH access, locks and releases. With termination protection
// they outlive the stack; without it, `orbit down` removes them with it.
func (b *regionBuilder) state() {
	o := b.o
	policy := "Delete"
	if o.Protect {
		policy = "Retain"
	}
	bucket := Resource{
		Type:                "AWS::S3::Bucket",
		DeletionPolicy:      policy,
		UpdateReplacePolicy: policy,
		Properties: Props{
			"BucketName":              Sub(elevator.StateBucketName("${AWS::AccountId}", "${AWS::Region}", o.Name)),
			"VersioningConfiguration": Props{"Status": "Enabled"},
			"BucketEncryption": Props{"ServerSideEncryptionConfiguration": []any{
				Props{"ServerSideEncryptionByDefault": Props{"SSEAlgorithm": "AES256"}},
			}},
			"PublicAccessBlockConfiguration": Props{
				"BlockPublicAcls":       true,
				"BlockPublicPolicy":     true,
				"IgnorePublicAcls":      true,
				"RestrictPublicBuckets": true,
			},
			"Tags": b.tags(""),
		},
	}
	if b.home() {
		// S3 checks it may send to the queue when the notification is
		// set: the queue's policy comes first (see submissions).
		bucket.Properties["NotificationConfiguration"] = submissionsNotification()
		bucket.DependsOn = []string{idSubmissionsPolicy}
	}
	// The bucket owns every object, whoever wrote it: a submission a
	// builder of another account puts is then the orbit's to read and
	// delete, and ACLs play no part.
	bucket.Properties["OwnershipControls"] = Props{"Rules": []any{Props{"ObjectOwnership": "BucketOwnerEnforced"}}}
	b.t.add(idStateBucket, bucket)
	table := func(id, name string, key []any, attrs []any, extra Props) {
		props := Props{
			"TableName":            name,
			"BillingMode":          "PAY_PER_REQUEST",
			"KeySchema":            key,
			"AttributeDefinitions": attrs,
			"PointInTimeRecoverySpecification": Props{
				"PointInTimeRecoveryEnabled": true,
			},
			"Tags": b.tags(""),
		}
		for k, v := range extra {
			props[k] = v
		}
		b.t.add(id, Resource{Type: "AWS::DynamoDB::Table", DeletionPolicy: policy, UpdateReplacePolicy: policy, Properties: props})
	}
	hash := func(name string) Props { return Props{"AttributeName": name, "KeyType": "HASH"} }
	rangeKey := func(name string) Props { return Props{"AttributeName": name, "KeyType": "RANGE"} }
	str := func(name string) Props { return Props{"AttributeName": name, "AttributeType": "S"} }

	table(idUsersTable, elevator.UsersTableName(o.Name), []any{hash("name")}, []any{str("name")}, nil)
	table(idServicesTable, elevator.ServicesTableName(o.Name), []any{hash("name")}, []any{str("name")}, nil)
	table(idLocksTable, elevator.LocksTableName(o.Name), []any{hash("id")}, []any{str("id")}, Props{
		"TimeToLiveSpecification": Props{"AttributeName": "expires_at", "Enabled": true},
	})
	table(idReleasesTable, elevator.ReleasesTableName(o.Name), []any{hash("app"), rangeKey("release_id")}, []any{str("app"), str("release_id")}, b.releasesTablePolicy())
	// The image allow list: an item per app and image a release may use.
	// It is a table of its own so that who may allow images (write it) is
	// granted apart from who may release (write the locks and releases
	// tables, read this one); the app leads the key, so IAM's
	// dynamodb:LeadingKeys can limit a principal to one app's images.
	table(idImagesTable, elevator.ImagesTableName(o.Name), []any{hash(elevator.ImagesKeyApp), rangeKey(elevator.ImagesKeyImage)},
		[]any{str(elevator.ImagesKeyApp), str(elevator.ImagesKeyImage)}, nil)
}

// commonOutputs declares what app stacks and the release engine read. Each
// value is a literal, a Ref or a Fn::Join of those (a security group's Ref
// is its id), so it can be resolved from the stack's resources where a
// CloudFormation implementation records no outputs (see apply.Outputs).
func (b *regionBuilder) commonOutputs() {
	b.output("VpcId", "The VPC", Ref(idVPC))
	b.output("VpcCidr", "The VPC's block", b.l.VPC.String())
	var zones []any
	for _, az := range b.l.AZs {
		zones = append(zones, Ref(paramZone+b.zone[az]))
	}
	b.output("AvailabilityZones", "The orbit's availability zones, comma-separated", Join(",", zones))
	for _, t := range b.r.Tiers {
		var ids []any
		for _, s := range b.l.TierSubnets(t.Name) {
			ids = append(ids, Ref(b.subnetID(t.Name, s.AZ)))
		}
		b.output(b.tierID[t.Name]+"Subnets", "Subnets of tier "+t.Name+", comma-separated in zone order", Join(",", ids))
	}
	if b.r.Bastion != nil {
		b.output("BastionSecurityGroup", "Security group of the bastion hosts", Ref(idBastionSG))
	}
	if bs := b.r.Bastion; bs != nil && bs.Count > 0 {
		b.output(BastionGroupOutput, "Auto Scaling Group of the bastion hosts", Ref(idBastionGroup))
	}
	b.output("PublicLoadBalancerSecurityGroup", "Security group of public load balancers", Ref(idPublicLBSG))
	b.output("PrivateLoadBalancerSecurityGroup", "Security group of private load balancers", Ref(idPrivateLBSG))
	b.output(StateBucketOutput, "Elevator's state bucket", Ref(idStateBucket))
	b.output("UsersTable", "SSH users table", Ref(idUsersTable))
	b.output("ServicesTable", "SSH services table", Ref(idServicesTable))
	b.output("LocksTable", "Elevator's locks table", Ref(idLocksTable))
	b.output("ReleasesTable", "Elevator's releases table", Ref(idReleasesTable))
	b.output("ImagesTable", "Elevator's image allow list", Ref(idImagesTable))
	if b.o.Domain != "" {
		b.t.Parameters[paramHostedZone] = Parameter{Type: "AWS::Route53::HostedZone::Id", Description: "The hosted zone of " + b.o.Domain + ", looked up by elevator"}
		b.params[paramHostedZone] = b.f.HostedZoneID
		b.output("HostedZoneId", "Route53 hosted zone of the orbit's domain", Ref(paramHostedZone))
		b.output("Domain", "The orbit's domain", b.o.Domain)
	}
}

// BastionGroupOutput is the key of the orbit stack's output that names
// the bastion hosts' Auto Scaling Group, in a region with a bastion.
const BastionGroupOutput = "BastionAutoScalingGroup"

// output adds an output exported as elevator-<orbit>-<key>; exports are
// per region, so every region's stack exports the same names.
func (b *regionBuilder) output(key, description string, value any) {
	if _, dup := b.t.Outputs[key]; dup {
		panic("compile: two outputs named " + key)
	}
	b.t.Outputs[key] = Output{
		Description: description,
		Value:       value,
		Export:      &Export{Name: "elevator-" + b.o.Name + "-" + key},
	}
}

// tags returns the elevator tags, a Name tag when name is not "", and extra,
// sorted by key.
func (b *regionBuilder) tags(name string, extra ...Tag) []Tag {
	tags := make([]Tag, 0, 4+len(extra))
	if name != "" {
		tags = append(tags, Tag{"Name", name})
	}
	tags = append(tags,
		Tag{elevator.TagManagedBy, elevator.ManagedBy},
		Tag{elevator.TagOrbit, b.o.Name},
		Tag{elevator.TagRegion, b.r.Name},
	)
	tags = append(tags, extra...)
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}
