package compile

import (
	"slices"

	elevator "github.com/elevatorhq/elevator"
)

// The deployer's intake, in the orbit's first region only: releases are
// submitted to the state bucket of that region (the home region, where the
// release engine keeps records and locks), so only its bucket announces
// submissions, and one queue serves every deployer of the orbit.
const (
	idSubmissionsQueue  = "QueueSubmissions"
	idSubmissionsDLQ    = "QueueSubmissionsDeadLetter"
	idSubmissionsPolicy = "QueuePolicySubmissions"
	idSubmitterPolicy   = "ManagedPolicySubmitter"
	idDeployerPolicy    = "ManagedPolicyDeployer"
	idStateBucketPolicy = "BucketPolicyState"

	// SubmissionsQueueOutput is the key of the home region's orbit stack
	// output that holds the submissions queue's URL.
	SubmissionsQueueOutput = "SubmissionsQueueUrl"
	// SubmitterPolicyOutput and DeployerPolicyOutput hold the ARNs of the
	// managed policies a submitter (CI) and a deployer are given.
	SubmitterPolicyOutput = "SubmitterPolicy"
	DeployerPolicyOutput  = "DeployerPolicy"
)

// DescribeActions are the read-only actions the deployer policy allows on
// every resource ("*"): IAM cannot narrow them to resources (Describe*
// calls take no resource ARN), and sts:GetCallerIdentity needs no
// permission at all. ecr:DescribeImages (a release checks that its
// version is a tag of the own repositories of the services it runs) could
// be narrowed to repository/<orbit>/*, but that statement would take the
// policy past IAM's size limit (TestOrbitPoliciesFitIAMsLimit); it reads
// image metadata only, never an image. docs/deployer.md lists them too.
var DescribeActions = []any{
	"autoscaling:DescribeAutoScalingGroups",
	"autoscaling:DescribeLifecycleHooks",
	"autoscaling:DescribePolicies",
	"autoscaling:DescribeScheduledActions",
	"cloudwatch:DescribeAlarms",
	"ec2:DescribeAvailabilityZones",
	"ec2:DescribeImages",
	"ec2:DescribeLaunchTemplates",
	"ec2:DescribeLaunchTemplateVersions",
	"ec2:DescribeSecurityGroups",
	"ec2:DescribeSubnets",
	"ecr:DescribeImages",
	"elasticloadbalancing:DescribeTags",
	"elasticloadbalancing:DescribeTargetGroups",
	"elasticloadbalancing:DescribeTargetHealth",
	"ssm:GetCommandInvocation",
	"sts:GetCallerIdentity",
}

// home reports whether the builder's region is the orbit's first.
func (b *regionBuilder) home() bool { return b.o.Regions[0].Name == b.r.Name }

// submissions adds the submissions queue and its dead-letter queue, the
// policy that lets the state bucket send to it, the bucket's notification
// of objects created under elevator.SubmissionsPrefix (added to the
// bucket by state), and the submitter and deployer managed policies.
//
// The queue policy names the bucket by its ARN built from its name, not
// by a Ref: the bucket depends on the policy (S3 checks it may send when
// the notification is set), so a Ref back would be a circular dependency.
func (b *regionBuilder) submissions() {
	o := b.o
	bucket := elevator.StateBucketName("${AWS::AccountId}", "${AWS::Region}", o.Name)
	bucketARN := "arn:${AWS::Partition}:s3:::" + bucket
	b.t.add(idSubmissionsDLQ, Resource{Type: "AWS::SQS::Queue", Properties: Props{
		"QueueName":              elevator.SubmissionsDLQName(o.Name),
		"MessageRetentionPeriod": 1209600, // 14 days, the most SQS keeps
		"SqsManagedSseEnabled":   true,
		"Tags":                   b.tags(""),
	}})
	b.t.add(idSubmissionsQueue, Resource{Type: "AWS::SQS::Queue", Properties: Props{
		"QueueName":                     elevator.SubmissionsQueueName(o.Name),
		"VisibilityTimeout":             60,
		"ReceiveMessageWaitTimeSeconds": 20,
		"MessageRetentionPeriod":        345600, // 4 days
		"SqsManagedSseEnabled":          true,
		"RedrivePolicy": Props{
			"deadLetterTargetArn": GetAtt(idSubmissionsDLQ, "Arn"),
			"maxReceiveCount":     elevator.SubmissionsMaxReceives,
		},
		"Tags": b.tags(""),
	}})
	b.t.add(idSubmissionsPolicy, Resource{Type: "AWS::SQS::QueuePolicy", Properties: Props{
		"Queues": []any{Ref(idSubmissionsQueue)},
		"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{Props{
			"Sid":       "StateBucketNotifications",
			"Effect":    "Allow",
			"Principal": Props{"Service": "s3.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  GetAtt(idSubmissionsQueue, "Arn"),
			"Condition": Props{
				"ArnEquals":    Props{"aws:SourceArn": Sub(bucketARN)},
				"StringEquals": Props{"aws:SourceAccount": Ref("AWS::AccountId")},
			},
		}}},
	}})

	objects := func(prefix string) any { return Sub(bucketARN + "/" + prefix + "*") }
	table := func(name string) any {
		return Sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + name)
	}
	releases, locks := table(elevator.ReleasesTableName(o.Name)), table(elevator.LocksTableName(o.Name))
	b.t.add(idSubmitterPolicy, Resource{Type: "AWS::IAM::ManagedPolicy", Properties: Props{
		"Description":       "Elevator: submit releases to the deployers of orbit " + o.Name + ", and read their records and the audit log",
		"ManagedPolicyName": elevator.OrbitPolicyName(o.Name, elevator.OrbitPolicySubmitter),
		"Path":              elevator.OrbitPath(o.Name),
		"PolicyDocument": Props{"Version": "2012-10-17", "Statement": append([]any{
			Props{"Sid": "Submit", "Effect": "Allow", "Action": "s3:PutObject", "Resource": objects(elevator.SubmissionsPrefix)},
			Props{"Sid": "ReadRecords", "Effect": "Allow", "Action": []any{"dynamodb:GetItem", "dynamodb:Query"}, "Resource": releases},
			// The orbit's settings as `orbit up` applied them and the
			// submissions its deployers rejected: another orbit's deployer
			// checks a pipeline's starter against the one and fails a stage
			// whose release was rejected with the other's reason.
			Props{"Sid": "ReadDocumentsAndAudit", "Effect": "Allow", "Action": "s3:GetObject",
				"Resource": []any{objects(elevator.ReleasesPrefix), objects(elevator.AuditPrefix), objects(elevator.RejectedPrefix), Sub(bucketARN + "/" + elevator.OrbitSettingsKey)}},
			// Without ListBucket, S3 answers a GetObject of a missing key
			// 403, not 404: a release not written yet must read as missing.
			Props{"Sid": "ListDocumentsAndAudit", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": Sub(bucketARN),
				"Condition": Props{"StringLike": Props{"s3:prefix": []any{elevator.ReleasesPrefix + "*", elevator.AuditPrefix + "*", elevator.RejectedPrefix + "*", elevator.OrbitSettingsKey}}}},
			// What compiling a release for the orbit reads and stores, and
			// the orbit's topics: a pipeline driven by another orbit's
			// deployer submits its stages' releases here (docs/pipelines.md).
			Props{"Sid": "OrbitStack", "Effect": "Allow", "Action": []any{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources"},
				"Resource": Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/" + o.StackName() + "/*")},
			Props{"Sid": "OrbitTopics", "Effect": "Allow", "Action": "sns:Publish",
				"Resource": Sub("arn:${AWS::Partition}:sns:*:${AWS::AccountId}:" + o.Name + "-*")},
		}, compileStatements(o)...)},
	}})

	orbitTag := "aws:ResourceTag/" + elevator.TagOrbit
	groups := Sub("arn:${AWS::Partition}:autoscaling:*:${AWS::AccountId}:autoScalingGroup:*") // every group's ARN: autoScalingGroup:<id>:autoScalingGroupName/<name>
	launchTemplates := Sub("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:launch-template/*")
	testTargetGroups := Sub("arn:${AWS::Partition}:elasticloadbalancing:*:${AWS::AccountId}:targetgroup/t-*/*")
	b.t.add(idDeployerPolicy, Resource{Type: "AWS::IAM::ManagedPolicy", Properties: Props{
		"Description":       "Elevator: the deployer service of orbit " + o.Name + ": take submissions from its queue and drive releases",
		"ManagedPolicyName": elevator.OrbitPolicyName(o.Name, elevator.OrbitPolicyDeployer),
		"Path":              elevator.OrbitPath(o.Name),
		// The policy is near IAM's size limit (TestOrbitPoliciesFitIAMsLimit):
		// statements with the same condition share one statement, each
		// action naming its own resources among them.
		"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
			Props{"Sid": "Submissions", "Effect": "Allow",
				"Action":   []any{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"},
				"Resource": GetAtt(idSubmissionsQueue, "Arn")},
			Props{"Sid": "ReadSubmissions", "Effect": "Allow", "Action": []any{"s3:GetObject", "s3:DeleteObject"}, "Resource": objects(elevator.SubmissionsPrefix)},
			Props{"Sid": "ReleaseState", "Effect": "Allow", "Action": []any{"s3:GetObject", "s3:PutObject"},
				"Resource": []any{objects(elevator.RejectedPrefix), objects(elevator.ReleasesPrefix), objects(elevator.AuditPrefix)}},
			// pipelines/: the manifests of the pipeline executions it
			// drives (docs/pipelines.md, "The deployer's part"), which
			// `pipeline start` writes; the deployer only reads them.
			Props{"Sid": "ReadPipelines", "Effect": "Allow", "Action": "s3:GetObject", "Resource": objects(elevator.PipelinesPrefix)},
			// Without ListBucket, S3 answers a GetObject of a missing key
			// 403, not 404.
			Props{"Sid": "ListState", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": Sub(bucketARN),
				"Condition": Props{"StringLike": Props{"s3:prefix": []any{elevator.SubmissionsPrefix + "*", elevator.AuditPrefix + "*", elevator.ReleasesPrefix + "*", elevator.PipelinesPrefix + "*"}}}},
			Props{"Sid": "Records", "Effect": "Allow",
				"Action":   []any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:ConditionCheckItem"},
				"Resource": releases},
			// The only items it deletes in the releases table: the index
			// entries of pipeline executions that ended.
			Props{"Sid": "PipelineIndex", "Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": releases,
				"Condition": Props{"ForAllValues:StringEquals": Props{"dynamodb:LeadingKeys": []any{elevator.PipelineIndexKey}}}},
			Props{"Sid": "Locks", "Effect": "Allow",
				"Action":   []any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
				"Resource": locks},
			Props{"Sid": "ImageAllowList", "Effect": "Allow", "Action": []any{"dynamodb:GetItem", "dynamodb:BatchGetItem"},
				"Resource": Sub("arn:${AWS::Partition}:dynamodb:*:${AWS::AccountId}:table/" + elevator.ImagesTableName(o.Name))},
			Props{"Sid": "OrbitStack", "Effect": "Allow", "Action": []any{"cloudformation:DescribeStacks", "cloudformation:DescribeStackResources", "cloudformation:GetTemplate"},
				"Resource": Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/" + o.StackName() + "/*")},
			// A pipeline stage's review and update of the app's stacks
			// (docs/pipelines.md, "Its IAM"): CloudFormation then makes
			// the app's resources with the deployer's own rights, which
			// this policy does not give.
			Props{"Sid": "AppStacks", "Effect": "Allow", "Action": append(slices.Clone(ReviewActions), "cloudformation:ExecuteChangeSet"),
				"Resource": appStackResources(o)},
			// Made only when tagged with the orbit; ec2:CreateTags and
			// elasticloadbalancing:AddTags tag them as they are made.
			Props{"Sid": "CreateTagged", "Effect": "Allow",
				"Action": []any{"autoscaling:CreateAutoScalingGroup", "ec2:CreateLaunchTemplate", "ec2:CreateTags",
					"elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:AddTags"},
				"Resource":  []any{groups, launchTemplates, testTargetGroups},
				"Condition": Props{"StringEquals": Props{"aws:RequestTag/" + elevator.TagOrbit: o.Name}}},
			Props{"Sid": "ChangeTagged", "Effect": "Allow",
				"Action": []any{"autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup", "autoscaling:AttachLoadBalancerTargetGroups",
					"autoscaling:DetachLoadBalancerTargetGroups", "autoscaling:PutScalingPolicy", "autoscaling:PutScheduledUpdateGroupAction",
					"autoscaling:PutLifecycleHook", "autoscaling:CreateOrUpdateTags", "ec2:DeleteLaunchTemplate", "elasticloadbalancing:DeleteTargetGroup"},
				"Resource":  []any{groups, launchTemplates, testTargetGroups},
				"Condition": Props{"StringEquals": Props{orbitTag: o.Name}}},
			// Auto Scaling launches the groups' instances with the caller's
			// permission to run them from their launch templates.
			Props{"Sid": "RunInstances", "Effect": "Allow", "Action": "ec2:RunInstances",
				"Resource": []any{Sub("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:*"), Sub("arn:${AWS::Partition}:ec2:*::image/*")}},
			Props{"Sid": "InstanceProfiles", "Effect": "Allow", "Action": "iam:GetInstanceProfile",
				"Resource": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:instance-profile/*")},
			Props{"Sid": "PassServiceRoles", "Effect": "Allow", "Action": "iam:PassRole",
				"Resource":  Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role" + elevator.OrbitPath(o.Name) + "*"),
				"Condition": Props{"StringEquals": Props{"iam:PassedToService": "ec2.amazonaws.com"}}},
			Props{"Sid": "GroupAlarms", "Effect": "Allow", "Action": []any{"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"},
				"Resource": Sub("arn:${AWS::Partition}:cloudwatch:*:${AWS::AccountId}:alarm:*-" + o.Name + "-*")},
			// Release gates (docs/release-gates.md): a test target group per
			// release and service (made and deleted above), the test
			// listener pointed at it, ssm tests on a new instance, and
			// "green is ready" on the orbit's topics.
			Props{"Sid": "TestListeners", "Effect": "Allow", "Action": "elasticloadbalancing:ModifyListener",
				"Resource": Sub("arn:${AWS::Partition}:elasticloadbalancing:*:${AWS::AccountId}:listener/app/*")},
			Props{"Sid": "SSMTests", "Effect": "Allow", "Action": "ssm:SendCommand",
				"Resource":  []any{Sub("arn:${AWS::Partition}:ssm:*::document/AWS-RunShellScript"), Sub("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*")},
				"Condition": Props{"StringEqualsIfExists": Props{"ssm:resourceTag/" + elevator.TagOrbit: o.Name}}},
			Props{"Sid": "OrbitTopics", "Effect": "Allow", "Action": "sns:Publish",
				"Resource": Sub("arn:${AWS::Partition}:sns:*:${AWS::AccountId}:" + o.Name + "-*")},
			Props{"Sid": "Describe", "Effect": "Allow", "Action": DescribeActions, "Resource": "*"},
		}},
	}})
	b.output(SubmissionsQueueOutput, "The queue of release submissions (the state bucket's notifications)", Ref(idSubmissionsQueue))
	// No output of the queue's ARN: every output must resolve from the
	// stack's resources where outputs are not recorded (see
	// apply.Outputs), and a GetAtt does not; the ARN is
	// arn:<partition>:sqs:<region>:<account>:<elevator.SubmissionsQueueName>.
	b.output(SubmitterPolicyOutput, "Managed policy of who submits releases (CI): put submissions, read records and the audit log", Ref(idSubmitterPolicy))
	b.output(DeployerPolicyOutput, "Managed policy of the orbit's deployer service", Ref(idDeployerPolicy))
}

// submissionsNotification is the state bucket's notification of objects
// created under elevator.SubmissionsPrefix, sent to the submissions queue.
func submissionsNotification() Props {
	return Props{"QueueConfigurations": []any{Props{
		"Event":  "s3:ObjectCreated:*",
		"Queue":  GetAtt(idSubmissionsQueue, "Arn"),
		"Filter": Props{"S3Key": Props{"Rules": []any{Props{"Name": "prefix", "Value": elevator.SubmissionsPrefix}}}},
	}}}
}

// BuilderActions are what an orbit's builders (principals of other
// accounts, see elevator.Orbit.Builders) may do in its home region, by
// resource: put submissions; read release documents and the audit log,
// and list them; read release records. docs/deployer.md lists
// them too.
var (
	BuilderSubmitActions = []any{"s3:PutObject"}
	BuilderReadActions   = []any{"s3:GetObject"}
	BuilderListActions   = []any{"s3:ListBucket"}
	BuilderRecordActions = []any{"dynamodb:GetItem", "dynamodb:Query"}
)

// builders is the Principal of the builders' statements.
func (b *regionBuilder) builders() Props {
	var ps []any
	for _, p := range b.o.Builders {
		ps = append(ps, p)
	}
	return Props{"AWS": ps}
}

// builderAccess adds the state bucket's policy that lets the orbit's
// builders (in other accounts) submit releases and read their documents
// and the audit log. Only the home region has one, and only when the
// orbit names builders: in the deploy account itself the submitter
// managed policy is the way.
func (b *regionBuilder) builderAccess() {
	if len(b.o.Builders) == 0 {
		return
	}
	bucketARN := "arn:${AWS::Partition}:s3:::" + elevator.StateBucketName("${AWS::AccountId}", "${AWS::Region}", b.o.Name)
	objects := func(prefix string) any { return Sub(bucketARN + "/" + prefix + "*") }
	b.t.add(idStateBucketPolicy, Resource{Type: "AWS::S3::BucketPolicy", Properties: Props{
		"Bucket": Ref(idStateBucket),
		"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
			Props{"Sid": "BuildersSubmit", "Effect": "Allow", "Principal": b.builders(),
				"Action": BuilderSubmitActions, "Resource": objects(elevator.SubmissionsPrefix)},
			Props{"Sid": "BuildersReadDocumentsAndAudit", "Effect": "Allow", "Principal": b.builders(),
				"Action": BuilderReadActions, "Resource": []any{objects(elevator.ReleasesPrefix), objects(elevator.AuditPrefix)}},
			// Listing what they read: a missing document answers 404, not 403.
			Props{"Sid": "BuildersListDocumentsAndAudit", "Effect": "Allow", "Principal": b.builders(),
				"Action": BuilderListActions, "Resource": Sub(bucketARN),
				"Condition": Props{"StringLike": Props{"s3:prefix": []any{elevator.ReleasesPrefix + "*", elevator.AuditPrefix + "*"}}}},
		}},
	}})
}

// releasesTablePolicy is the resource policy of the home region's
// releases table when the orbit names builders: they may read the records
// of releases (GetItem, Query), with the table's ARN as its name, and
// nothing else. nil elsewhere.
func (b *regionBuilder) releasesTablePolicy() Props {
	if len(b.o.Builders) == 0 || !b.home() {
		return nil
	}
	return Props{"ResourcePolicy": Props{"PolicyDocument": Props{"Version": "2012-10-17", "Statement": []any{
		Props{"Sid": "BuildersReadRecords", "Effect": "Allow", "Principal": b.builders(),
			"Action":   BuilderRecordActions,
			"Resource": Sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + elevator.ReleasesTableName(b.o.Name))},
	}}}}
}

// ReviewActions are what reviewing an app's infrastructure in an orbit
// calls on its stacks (elevator-app-<orbit>-*): the stack and its
// template as they are, then a change set made, read, listed and, once
// superseded or left over, deleted. Making a change set changes no
// resource (it is a plan), so the submitter policy has them as well as
// the deployer policy; only the deployer's adds
// cloudformation:ExecuteChangeSet. docs/deployer.md lists them too.
//
// Not granted: cloudformation:DeleteStack, which a review calls only to
// drop the stack in REVIEW_IN_PROGRESS that a failed first change set of
// a new app leaves. IAM cannot tell that stack from a running app's, so
// such a stack is left for `elevator app up` or `app down` to clear.
var ReviewActions = []any{
	"cloudformation:CreateChangeSet",
	"cloudformation:DeleteChangeSet",
	"cloudformation:DescribeChangeSet",
	"cloudformation:DescribeStackEvents",
	"cloudformation:DescribeStackResources",
	"cloudformation:DescribeStacks",
	"cloudformation:GetTemplate",
	"cloudformation:ListChangeSets",
}

// appStackResources are the app stacks of orbit o, and the change sets
// Elevator makes (named elevator-<time>, apply.Engine.Plan): the change
// set calls are authorized on the stack, and naming the change set too
// covers the calls that name it alone.
func appStackResources(o *elevator.Orbit) []any {
	appStacks := (&elevator.App{}).StackName(o.Name) // elevator-app-<orbit>-, the app's name follows
	return []any{
		Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/" + appStacks + "*/*"),
		Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:changeSet/elevator-*/*"),
	}
}

// compileStatements are what compiling a release for orbit o, and
// reviewing its app's stacks, reads and stores besides the orbit stack,
// as `deploy` and `pipeline start` do: the app stacks (their outputs, and
// the change sets of a review), the security groups of the other apps
// the app's firewall names, the services' images (by id or name, and
// their parameters: AWS's public ones and the account's under
// elevator.ImageParameterPrefix), and the
// Elevator agent's builds in every region's state bucket. The submitter
// policy has them.
func compileStatements(o *elevator.Orbit) []any {
	buckets := "arn:${AWS::Partition}:s3:::" + elevator.StateBucketName("${AWS::AccountId}", "*", o.Name)
	return []any{
		Props{"Sid": "AppStacks", "Effect": "Allow", "Action": ReviewActions, "Resource": appStackResources(o)},
		Props{"Sid": "Describe", "Effect": "Allow", "Action": []any{"ec2:DescribeImages", "ec2:DescribeSecurityGroups"}, "Resource": "*"},
		// Not parameter/*: that would read every parameter of the
		// account, SecureString secrets included (the aws/ssm key
		// decrypts them with no grant of its own).
		Props{"Sid": "ImageParameters", "Effect": "Allow", "Action": "ssm:GetParameter",
			"Resource": []any{Sub("arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter" + elevator.ImageParameterPrefix + "*"), Sub("arn:${AWS::Partition}:ssm:*::parameter" + elevator.AWSParameterPrefix + "*")}},
		Props{"Sid": "AgentBuilds", "Effect": "Allow", "Action": []any{"s3:GetObject", "s3:PutObject"},
			"Resource": Sub(buckets + "/" + elevator.AgentObjectPrefix + "*")},
		// Without ListBucket, S3 answers a HeadObject of a missing build
		// 403, not 404.
		Props{"Sid": "ListAgentBuilds", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": Sub(buckets),
			"Condition": Props{"StringLike": Props{"s3:prefix": []any{elevator.AgentObjectPrefix + "*"}}}},
	}
}
