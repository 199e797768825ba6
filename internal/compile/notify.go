package compile

import (
	"fmt"
	"sort"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/notify"
)

// The notifications stack subscribes PagerDuty and Slack to an orbit's alarm
// topics. It is a stack of its own, next to the orbit's, because what it
// needs comes out of the orbit stack (the topics and the state bucket, as
// parameters: never imports) and out of the build (the Slack forwarder's
// code); and because an orbit without PagerDuty or Slack has none.
//
// Secrets stay where they are kept. For PagerDuty, SNS itself must know the
// integration URL, so the subscription's Endpoint is a CloudFormation
// dynamic reference that CloudFormation resolves while it applies the stack:
// {{resolve:secretsmanager:name}}, or {{resolve:ssm:/name}} for a String
// parameter. CloudFormation does not resolve ssm-secure (SecureString)
// references in AWS::SNS::Subscription's Endpoint, so a SecureString cannot
// be used for PagerDuty; Secrets Manager is the encrypted choice. For
// Slack, the forwarder reads the URL when it runs, so either store works and
// the template holds only the name, in the function's environment.
const (
	idSlackRole       = "SlackForwarderRole"       // + <severity>
	idSlackLogGroup   = "SlackForwarderLogGroup"   // + <severity>
	idSlackFunction   = "SlackForwarder"           // + <severity>
	idSlackPermission = "SlackForwarderPermission" // + <severity>
	idPagerDutySub    = "PagerDuty"                // Subscription + <severity> + PagerDuty
	idSlackSub        = "Slack"                    // Subscription + <severity> + Slack
	paramTopicARN     = "TopicArn"                 // <Severity> + TopicArn
	paramStateBucket  = "StateBucket"
	paramSlackCodeKey = "SlackForwarderCodeKey"
	slackLogRetention = 30 // days
)

// NotificationsFacts are what the apply step found for one region's
// notifications stack: the orbit stack's outputs and where the Slack
// forwarder's code was put.
type NotificationsFacts struct {
	// TopicARNs are the orbit's alarm topics by severity.
	TopicARNs map[elevator.Severity]string
	// StateBucket is the orbit's state bucket, which holds the forwarder's
	// code; needed when a severity has Slack.
	StateBucket string
	// SlackForwarderKey is the key of the forwarder's zip in StateBucket;
	// needed when a severity has Slack.
	SlackForwarderKey string
}

// StateBucketOutput is the orbit stack's output that names its state
// bucket.
const StateBucketOutput = "StateBucket"

// TopicOutput is the orbit stack's output that holds the ARN of severity
// sev's alarm topic, such as CriticalTopic.
func TopicOutput(sev elevator.Severity) string { return camel(string(sev)) + "Topic" }

// NotificationsStackName is the stack that subscribes PagerDuty and Slack
// to orbit o's alarm topics in each region.
func NotificationsStackName(o *elevator.Orbit) string { return o.StackName() + "-notifications" }

// HasNotificationsStack reports whether any severity of o has PagerDuty or
// Slack, and so whether o has a notifications stack.
func HasNotificationsStack(o *elevator.Orbit) bool {
	for _, n := range o.Notifications {
		if !n.PagerDuty.IsZero() || !n.Slack.IsZero() {
			return true
		}
	}
	return false
}

// HasSlack reports whether any severity of o has Slack, and so whether the
// Slack forwarder's code is needed.
func HasSlack(o *elevator.Orbit) bool {
	for _, n := range o.Notifications {
		if !n.Slack.IsZero() {
			return true
		}
	}
	return false
}

// SlackFunctionName is the Lambda function that forwards the alarms of
// severity sev of orbit o to Slack, the same in every region.
func SlackFunctionName(o *elevator.Orbit, sev elevator.Severity) string {
	return "elevator-" + o.Name + "-slack-" + string(sev)
}

// NotificationsStack compiles orbit o's notifications stack in region r,
// given what f says of the orbit stack there. Secrets appear only as
// references: dynamic references for PagerDuty, parameter or secret names
// for Slack.
//
// It returns an *elevator.Error with code EINTERNAL when o has neither
// PagerDuty nor Slack (there is no stack to compile) or when f lacks a
// topic, the bucket or the code key that o needs.
func NotificationsStack(o *elevator.Orbit, r *elevator.Region, f NotificationsFacts) (Stack, error) {
	if !HasNotificationsStack(o) {
		return Stack{}, elevator.Errorf(elevator.EINTERNAL, "compile notifications of orbit %s in %s: no severity has pagerduty or slack", o.Name, r.Name)
	}
	b := &notificationsBuilder{
		o: o, r: r, f: f,
		t: &Template{
			AWSTemplateFormatVersion: "2010-09-09",
			Description:              fmt.Sprintf("Elevator orbit %s in %s: PagerDuty and Slack subscriptions of the alarm topics. Managed by elevator; change the orbit manifest, not this stack.", o.Name, r.Name),
			Parameters:               map[string]Parameter{},
			Resources:                map[string]Resource{},
		},
		params: map[string]string{},
	}
	if err := b.checkFacts(); err != nil {
		return Stack{}, err
	}
	b.build()
	if err := checkTags(b.t, stackTags(o, r)); err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile notifications of orbit " + o.Name + " in " + r.Name, Err: err}
	}
	body, err := b.t.Encode()
	if err != nil {
		return Stack{}, &elevator.Error{Code: elevator.ErrorCode(err), Message: "compile notifications of orbit " + o.Name + " in " + r.Name, Err: err}
	}
	return Stack{
		Name:       NotificationsStackName(o),
		Region:     r.Name,
		Body:       body,
		Parameters: b.params,
		Tags:       stackTags(o, r),
		Template:   b.t,
	}, nil
}

// notificationsBuilder builds one region's notifications template.
type notificationsBuilder struct {
	o      *elevator.Orbit
	r      *elevator.Region
	f      NotificationsFacts
	t      *Template
	params map[string]string
}

func (b *notificationsBuilder) checkFacts() error {
	var missing []string
	for _, n := range b.o.Notifications {
		if (!n.PagerDuty.IsZero() || !n.Slack.IsZero()) && b.f.TopicARNs[n.Severity] == "" {
			missing = append(missing, "the "+string(n.Severity)+" topic")
		}
	}
	if HasSlack(b.o) {
		if b.f.StateBucket == "" {
			missing = append(missing, "the state bucket")
		}
		if b.f.SlackForwarderKey == "" {
			missing = append(missing, "the Slack forwarder's code")
		}
	}
	if len(missing) > 0 {
		return elevator.Errorf(elevator.EINTERNAL, "compile notifications of orbit %s in %s: %s not looked up", b.o.Name, b.r.Name, strings.Join(missing, ", "))
	}
	return nil
}

func (b *notificationsBuilder) build() {
	for _, n := range b.o.Notifications {
		if n.PagerDuty.IsZero() && n.Slack.IsZero() {
			continue
		}
		sev := camel(string(n.Severity))
		topic := sev + paramTopicARN
		b.param(topic, "ARN of the orbit's SNS topic for "+string(n.Severity)+" alarms (the orbit stack's "+TopicOutput(n.Severity)+" output)", b.f.TopicARNs[n.Severity])
		if !n.PagerDuty.IsZero() {
			b.t.add(idSubscription+sev+idPagerDutySub, Resource{Type: "AWS::SNS::Subscription", Properties: Props{
				"TopicArn": Ref(topic),
				"Protocol": "https",
				"Endpoint": dynamicReference(n.PagerDuty),
			}})
		}
		if !n.Slack.IsZero() {
			b.slack(n, sev, topic)
		}
	}
}

// slack adds the forwarder of one severity: its log group, a role that may
// write there and read the one parameter or secret, the function, SNS's
// permission to invoke it from the topic, and the subscription.
func (b *notificationsBuilder) slack(n elevator.Notification, sev, topic string) {
	o := b.o
	name := SlackFunctionName(o, n.Severity)
	b.param(paramStateBucket, "Elevator's state bucket, which holds the Slack forwarder's code (the orbit stack's StateBucket output)", b.f.StateBucket)
	b.param(paramSlackCodeKey, "Key of the Slack forwarder's zip in the state bucket, named by its hash", b.f.SlackForwarderKey)

	logGroup, role, fn := idSlackLogGroup+sev, idSlackRole+sev, idSlackFunction+sev
	// The forwarder's logs say what was forwarded, never a secret; they go
	// with the stack.
	b.t.add(logGroup, Resource{Type: "AWS::Logs::LogGroup", DeletionPolicy: "Delete", UpdateReplacePolicy: "Delete", Properties: Props{
		"LogGroupName":    "/aws/lambda/" + name,
		"RetentionInDays": slackLogRetention,
		"Tags":            b.tags(),
	}})

	read := Props{"Sid": "ReadTheWebhookURL", "Effect": "Allow"}
	env := Props{}
	if p := n.Slack.SSMParameter; p != "" {
		read["Action"] = "ssm:GetParameter"
		read["Resource"] = Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter" + p)
		env[notify.EnvSSMParameter] = p
	} else {
		// A secret's ARN ends in '-' and six random characters.
		read["Action"] = "secretsmanager:GetSecretValue"
		read["Resource"] = Sub("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:" + n.Slack.SecretsManager + "-??????")
		env[notify.EnvSecret] = n.Slack.SecretsManager
	}
	b.t.add(role, Resource{Type: "AWS::IAM::Role", Properties: Props{
		"Description": fmt.Sprintf("Lambda function %s: writes its logs and reads the Slack webhook URL from %s", name, n.Slack),
		"AssumeRolePolicyDocument": Props{
			"Version": "2012-10-17",
			"Statement": []any{Props{
				"Effect":    "Allow",
				"Principal": Props{"Service": "lambda.amazonaws.com"},
				"Action":    "sts:AssumeRole",
			}},
		},
		"Policies": []any{Props{
			"PolicyName": "slack-forwarder",
			"PolicyDocument": Props{
				"Version": "2012-10-17",
				"Statement": []any{
					Props{
						"Sid":      "WriteItsLogs",
						"Effect":   "Allow",
						"Action":   []any{"logs:CreateLogStream", "logs:PutLogEvents"},
						"Resource": GetAtt(logGroup, "Arn"),
					},
					read,
				},
			},
		}},
		"Tags": b.tags(),
	}})

	b.t.add(fn, Resource{Type: "AWS::Lambda::Function", Properties: Props{
		"FunctionName":  name,
		"Description":   fmt.Sprintf("Forwards the %s alarms of orbit %s to Slack", n.Severity, o.Name),
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"MemorySize":    128,
		"Timeout":       15,
		"Role":          GetAtt(role, "Arn"),
		"Code": Props{
			"S3Bucket": Ref(paramStateBucket),
			"S3Key":    Ref(paramSlackCodeKey),
		},
		"Environment": Props{"Variables": env},
		"Tags":        b.tags(),
	}})
	b.t.add(idSlackPermission+sev, Resource{Type: "AWS::Lambda::Permission", Properties: Props{
		"Action":        "lambda:InvokeFunction",
		"FunctionName":  Ref(fn),
		"Principal":     "sns.amazonaws.com",
		"SourceArn":     Ref(topic),
		"SourceAccount": Ref("AWS::AccountId"),
	}})
	b.t.add(idSubscription+sev+idSlackSub, Resource{
		Type: "AWS::SNS::Subscription",
		// SNS checks it may invoke the function when it subscribes it.
		DependsOn: []string{idSlackPermission + sev},
		Properties: Props{
			"TopicArn": Ref(topic),
			"Protocol": "lambda",
			"Endpoint": GetAtt(fn, "Arn"),
		},
	})
}

// dynamicReference is the CloudFormation dynamic reference to a secret,
// which CloudFormation resolves while it applies the stack and never shows.
func dynamicReference(ref elevator.SecretRef) string {
	if ref.SSMParameter != "" {
		return "{{resolve:ssm:" + ref.SSMParameter + "}}"
	}
	return "{{resolve:secretsmanager:" + ref.SecretsManager + "}}"
}

// param declares a String parameter with its value; declaring one twice
// keeps the first.
func (b *notificationsBuilder) param(name, description, value string) {
	if _, ok := b.t.Parameters[name]; ok {
		return
	}
	b.t.Parameters[name] = Parameter{Type: "String", Description: description}
	b.params[name] = value
}

// tags returns the elevator tags, sorted by key.
func (b *notificationsBuilder) tags() []Tag {
	tags := []Tag{
		{elevator.TagManagedBy, elevator.ManagedBy},
		{elevator.TagOrbit, b.o.Name},
		{elevator.TagRegion, b.r.Name},
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	return tags
}
