package compile

import (
	"reflect"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

// notifyGoldenPrefix starts the name of every notifications golden case,
// and so of its golden file: TestGolden leaves those files to
// TestNotificationsGolden.
const notifyGoldenPrefix = "notify-"

// notifyCase is one testdata/notify/<name>.orbit.yml, compiled into the
// notifications stack of its first region. Its golden template is
// testdata/<name>.<region>.golden.yml, next to the orbit stacks' so that
// TestGoldenTemplatesPassCfnLint lints it too.
type notifyCase struct {
	name  string
	orbit *elevator.Orbit
	facts NotificationsFacts
	stack Stack
}

// notifyFacts are what the apply step would read from the orbit stack.
func notifyFacts(o *elevator.Orbit, region string) NotificationsFacts {
	f := NotificationsFacts{
		TopicARNs:         map[elevator.Severity]string{},
		StateBucket:       elevator.StateBucketName("123456789012", region, o.Name),
		SlackForwarderKey: "elevator/lambda/slack-forwarder-0123456789abcdef.zip",
	}
	for _, sev := range elevator.Severities {
		f.TopicARNs[sev] = "arn:aws:sns:" + region + ":123456789012:" + o.Name + "-" + string(sev)
	}
	return f
}

func notifyCases(t *testing.T) []notifyCase {
	t.Helper()
	var cases []notifyCase
	for _, oc := range orbitCases(t, "notify") {
		file, o := oc.file, oc.orbit
		r := &o.Regions[0]
		c := notifyCase{name: oc.name, orbit: o, facts: notifyFacts(o, r.Name)}
		if !strings.HasPrefix(c.name, notifyGoldenPrefix) {
			t.Fatalf("%s: a notifications case's name must start with %q", file, notifyGoldenPrefix)
		}
		var err error
		if c.stack, err = NotificationsStack(o, r, c.facts); err != nil {
			t.Fatalf("compile %s: %v", file, err)
		}
		cases = append(cases, c)
	}
	return cases
}

func TestNotificationsGolden(t *testing.T) {
	for _, c := range notifyCases(t) {
		t.Run(c.name, func(t *testing.T) {
			checkGolden(t, goldenPath(c.name, c.stack.Region), c.stack)
			checkBody(t, c.stack)
		})
	}
}

// TestNotificationsStacksTakeTheirValuesAsParameters checks what the golden
// templates do not show: the stack around each body, and that everything
// from the orbit stack or the build comes in as a parameter, never as an
// import or a literal.
func TestNotificationsStacksTakeTheirValuesAsParameters(t *testing.T) {
	for _, c := range notifyCases(t) {
		t.Run(c.name, func(t *testing.T) {
			s, o := c.stack, c.orbit
			if s.Name != "elevator-orbit-"+o.Name+"-notifications" || s.Region != o.Regions[0].Name {
				t.Errorf("stack %s in %s", s.Name, s.Region)
			}
			wantTags := map[string]string{elevator.TagOrbit: o.Name, elevator.TagRegion: s.Region, elevator.TagManagedBy: elevator.ManagedBy}
			if !reflect.DeepEqual(s.Tags, wantTags) {
				t.Errorf("tags %v, want %v", s.Tags, wantTags)
			}
			if len(s.Template.Parameters) != len(s.Parameters) {
				t.Errorf("%d parameters declared, %d given", len(s.Template.Parameters), len(s.Parameters))
			}
			for name := range s.Template.Parameters {
				if s.Parameters[name] == "" {
					t.Errorf("parameter %s has no value", name)
				}
			}
			body := string(s.Body)
			for _, banned := range []string{"Fn::ImportValue", c.facts.StateBucket, c.facts.SlackForwarderKey, "arn:aws:sns:"} {
				if strings.Contains(body, banned) {
					t.Errorf("the template holds %q; it must come in as a parameter", banned)
				}
			}
			for _, n := range o.Notifications {
				if n.PagerDuty.IsZero() && n.Slack.IsZero() {
					if _, ok := s.Parameters[camel(string(n.Severity))+"TopicArn"]; ok {
						t.Errorf("a topic parameter for %s, which has neither PagerDuty nor Slack", n.Severity)
					}
					continue
				}
				if got := s.Parameters[camel(string(n.Severity))+"TopicArn"]; got != c.facts.TopicARNs[n.Severity] {
					t.Errorf("%s topic parameter %q, want %q", n.Severity, got, c.facts.TopicARNs[n.Severity])
				}
			}
			for id, r := range s.Template.Resources {
				if tags, ok := r.Properties["Tags"]; ok && !reflect.DeepEqual(tags, []Tag{{elevator.TagManagedBy, elevator.ManagedBy}, {elevator.TagOrbit, o.Name}, {elevator.TagRegion, s.Region}}) {
					t.Errorf("%s tags %v", id, tags)
				}
			}
		})
	}
}

func TestNotificationsResourcesPerSeverity(t *testing.T) {
	o := &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "us-east-1"}}, Notifications: []elevator.Notification{
		{Severity: elevator.SeverityCritical, Emails: []string{"a@example.com"},
			PagerDuty: elevator.SecretRef{SSMParameter: "/pd"}, Slack: elevator.SecretRef{SSMParameter: "/slack"}},
		{Severity: elevator.SeverityWarning, Emails: []string{"b@example.com"}},
		{Severity: elevator.SeverityInfo, Slack: elevator.SecretRef{SecretsManager: "slack-info"}},
	}}
	s, err := NotificationsStack(o, &o.Regions[0], notifyFacts(o, "us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range s.Template.Resources {
		ids = append(ids, id)
	}
	want := []string{
		"SlackForwarderCritical", "SlackForwarderInfo",
		"SlackForwarderLogGroupCritical", "SlackForwarderLogGroupInfo",
		"SlackForwarderPermissionCritical", "SlackForwarderPermissionInfo",
		"SlackForwarderRoleCritical", "SlackForwarderRoleInfo",
		"SubscriptionCriticalPagerDuty", "SubscriptionCriticalSlack", "SubscriptionInfoSlack",
	}
	if !sameSet(ids, want) {
		t.Errorf("resources %v, want %v (emails stay in the orbit stack; warning has nothing here)", ids, want)
	}
	res := s.Template.Resources
	if ep := res["SubscriptionCriticalPagerDuty"].Properties["Endpoint"]; ep != "{{resolve:ssm:/pd}}" {
		t.Errorf("PagerDuty endpoint %v, want the dynamic reference {{resolve:ssm:/pd}}", ep)
	}
	env := res["SlackForwarderInfo"].Properties["Environment"].(Props)["Variables"]
	if !reflect.DeepEqual(env, Props{"SLACK_WEBHOOK_SECRET": "slack-info"}) {
		t.Errorf("info forwarder environment %v, want only the secret's name", env)
	}
	read := res["SlackForwarderRoleCritical"].Properties["Policies"].([]any)[0].(Props)["PolicyDocument"].(Props)["Statement"].([]any)[1]
	wantRead := Props{"Sid": "ReadTheWebhookURL", "Effect": "Allow", "Action": "ssm:GetParameter",
		"Resource": Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/slack")}
	if !reflect.DeepEqual(read, wantRead) {
		t.Errorf("critical forwarder may read %v, want only %v", read, wantRead)
	}
	if s.Parameters["WarningTopicArn"] != "" {
		t.Error("a WarningTopicArn parameter although warning has neither PagerDuty nor Slack")
	}
}

func TestNoNotificationsStackWithoutPagerDutyOrSlack(t *testing.T) {
	o := &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "us-east-1"}}, Notifications: []elevator.Notification{
		{Severity: elevator.SeverityCritical, Emails: []string{"a@example.com"}},
	}}
	if HasNotificationsStack(o) || HasSlack(o) {
		t.Error("an orbit with email only has a notifications stack")
	}
	_, err := NotificationsStack(o, &o.Regions[0], notifyFacts(o, "us-east-1"))
	if elevator.ErrorCode(err) != elevator.EINTERNAL {
		t.Errorf("compiling it: %v, want an EINTERNAL error", err)
	}
}

func TestNotificationsStackNeedsTheFactsItUses(t *testing.T) {
	o := &elevator.Orbit{Name: "prod", Regions: []elevator.Region{{Name: "us-east-1"}}, Notifications: []elevator.Notification{
		{Severity: elevator.SeverityCritical, Slack: elevator.SecretRef{SSMParameter: "/s"}},
	}}
	tests := []struct {
		name  string
		facts NotificationsFacts
		want  string
	}{
		{"without the topic", NotificationsFacts{StateBucket: "b", SlackForwarderKey: "k"}, "the critical topic not looked up"},
		{"without the bucket or the code", NotificationsFacts{TopicARNs: map[elevator.Severity]string{elevator.SeverityCritical: "arn"}}, "the state bucket, the Slack forwarder's code not looked up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NotificationsStack(o, &o.Regions[0], tt.facts)
			if elevator.ErrorCode(err) != elevator.EINTERNAL || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want EINTERNAL with %q", err, tt.want)
			}
		})
	}
}

// TestTheOrbitStackDeclaresWhatTheNotificationsStackReads ties the output
// names the orbit service reads (TopicOutput, StateBucketOutput) to the
// outputs the orbit stack declares.
func TestTheOrbitStackDeclaresWhatTheNotificationsStackReads(t *testing.T) {
	for _, c := range goldenCases(t) {
		for _, s := range c.stacks {
			want := []string{StateBucketOutput}
			for _, sev := range elevator.Severities {
				want = append(want, TopicOutput(sev))
			}
			for _, key := range want {
				if _, ok := s.Template.Outputs[key]; !ok {
					t.Errorf("%s in %s has no output %s", c.name, s.Region, key)
				}
			}
		}
	}
}

func TestSlackFunctionNamesFitLambdasLimit(t *testing.T) {
	o := &elevator.Orbit{Name: strings.Repeat("a", 20)} // the longest orbit name
	for _, sev := range elevator.Severities {
		if n := len(SlackFunctionName(o, sev)); n > 64 {
			t.Errorf("%s: %d characters, over Lambda's 64", SlackFunctionName(o, sev), n)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s] == 0 {
			return false
		}
		seen[s]--
	}
	return true
}
