package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// sample reads one of the alarm messages in testdata: each is a message as
// CloudWatch publishes it to SNS (the Message of the SNS notification),
// with its fields, nulls and number formats.
func sample(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSlackFormatsCloudWatchAlarms(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		topic      string
		colour     string
		title      string
		link       string
		fields     map[string]string // title -> value
		noFields   []string          // titles that must be absent
		textPrefix string
	}{
		{
			name:   "a metric alarm that fires is red, with its metric, threshold and a console link",
			file:   "ec2-cpu-alarm.json",
			colour: ColourAlarm,
			title:  ":red_circle: ALARM: prod-web-cpu-high",
			link:   "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#alarmsV2:alarm/prod-web-cpu-high",
			fields: map[string]string{
				"State":       "OK → ALARM",
				"Region":      "US East (N. Virginia) (us-east-1)",
				"Metric":      "AWS/EC2 CPUUtilization (AutoScalingGroupName=prod-web-blue) Average over 60s &gt;= 90",
				"Description": "CPU of the web fleet is above 90% for a minute",
			},
			textPrefix: "Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434",
		},
		{
			name:   "an alarm back to OK is green and has no description field when the alarm has none",
			file:   "alb-5xx-ok.json",
			colour: ColourOK,
			title:  ":large_green_circle: OK: prod-web-5xx",
			link:   "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/prod-web-5xx",
			fields: map[string]string{
				"State":  "ALARM → OK",
				"Region": "EU (Ireland) (eu-west-1)",
				"Metric": "AWS/ApplicationELB HTTPCode_Target_5XX_Count (LoadBalancer=app/prod-web/50dc6c495c0c9188) Sum over 60s &gt; 10",
			},
			noFields:   []string{"Description", "Rule"},
			textPrefix: "Threshold Crossed: 5 out of the last 5 datapoints",
		},
		{
			name:   "an alarm without data is amber and shows its percentile",
			file:   "queue-insufficient-data.json",
			colour: ColourNoData,
			title:  ":large_yellow_circle: INSUFFICIENT_DATA: prod-worker-queue-age",
			link:   "https://ap-southeast-2.console.aws.amazon.com/cloudwatch/home?region=ap-southeast-2#alarmsV2:alarm/prod-worker-queue-age",
			fields: map[string]string{
				"State":  "OK → INSUFFICIENT_DATA",
				"Region": "Asia Pacific (Sydney) (ap-southeast-2)",
				"Metric": "AWS/SQS ApproximateAgeOfOldestMessage (QueueName=prod-worker) p99 over 300s &gt;= 600",
			},
			textPrefix: "Insufficient Data: 3 datapoints were unknown.",
		},
		{
			name:   "a metric-math alarm shows its expression and the metrics it reads",
			file:   "metric-math-alarm.json",
			colour: ColourAlarm,
			title:  ":red_circle: ALARM: prod-web-error-rate",
			link:   "https://us-west-2.console.aws.amazon.com/cloudwatch/home?region=us-west-2#alarmsV2:alarm/prod-web-error-rate",
			fields: map[string]string{
				"Metric": "Error rate (%) = 100*errors/requests; errors = AWS/ApplicationELB HTTPCode_Target_5XX_Count (LoadBalancer=app/prod-web/50dc6c495c0c9188) Sum; requests = AWS/ApplicationELB RequestCount (LoadBalancer=app/prod-web/50dc6c495c0c9188) Sum &gt; 5",
			},
		},
		{
			name:   "a composite alarm shows its rule instead of a metric",
			file:   "composite-alarm.json",
			colour: ColourAlarm,
			title:  ":red_circle: ALARM: prod-web-down",
			link:   "https://eu-central-1.console.aws.amazon.com/cloudwatch/home?region=eu-central-1#alarmsV2:alarm/prod-web-down",
			fields: map[string]string{
				"Rule":   `ALARM("prod-web-5xx") AND ALARM("prod-web-latency")`,
				"Region": "EU (Frankfurt) (eu-central-1)",
			},
			noFields:   []string{"Metric"},
			textPrefix: "arn:aws:cloudwatch:eu-central-1:111122223333:alarm:prod-web-5xx transitioned to ALARM",
		},
		{
			name:   "an anomaly detection alarm names its band rather than a threshold",
			file:   "anomaly-band-alarm.json",
			colour: ColourAlarm,
			title:  ":red_circle: ALARM: prod-web-requests-anomaly",
			link:   "https://us-east-2.console.aws.amazon.com/cloudwatch/home?region=us-east-2#alarmsV2:alarm/prod-web-requests-anomaly",
			fields: map[string]string{
				"Metric": "RequestCount (expected) = ANOMALY_DETECTION_BAND(m1, 2); m1 = AWS/ApplicationELB RequestCount (LoadBalancer=app/prod-web/50dc6c495c0c9188) Sum outside the anomaly band",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Slack(Message{Subject: "ALARM: whatever", Body: sample(t, tt.file), TopicARN: tt.topic, Region: "eu-north-1"})
			if len(p.Attachments) != 1 {
				t.Fatalf("got %d attachments, want 1: %+v", len(p.Attachments), p)
			}
			a := p.Attachments[0]
			if a.Color != tt.colour {
				t.Errorf("colour %s, want %s", a.Color, tt.colour)
			}
			if a.Title != tt.title || p.Text != tt.title || a.Fallback != tt.title {
				t.Errorf("title %q, text %q, fallback %q; want all %q", a.Title, p.Text, a.Fallback, tt.title)
			}
			if a.TitleLink != tt.link {
				t.Errorf("link %q, want %q", a.TitleLink, tt.link)
			}
			got := map[string]string{}
			for _, f := range a.Fields {
				got[f.Title] = f.Value
			}
			for title, want := range tt.fields {
				if got[title] != want {
					t.Errorf("field %s = %q, want %q", title, got[title], want)
				}
			}
			for _, title := range tt.noFields {
				if v, ok := got[title]; ok {
					t.Errorf("field %s = %q, want none", title, v)
				}
			}
			if !strings.HasPrefix(a.Text, tt.textPrefix) {
				t.Errorf("text %q, want it to start with %q", a.Text, tt.textPrefix)
			}
			if !strings.Contains(a.Footer, "account 111122223333") {
				t.Errorf("footer %q lacks the account", a.Footer)
			}
		})
	}
}

func TestSlackFindsTheRegionToLinkTo(t *testing.T) {
	const noARN = `{"AlarmName":"a b/c","NewStateValue":"ALARM","Region":"EU (Stockholm)"}`
	tests := []struct {
		name  string
		msg   Message
		link  string
		field string
	}{
		{"from the topic when the alarm has no ARN",
			Message{Body: noARN, TopicARN: "arn:aws:sns:eu-north-1:111122223333:prod-critical"},
			"https://eu-north-1.console.aws.amazon.com/cloudwatch/home?region=eu-north-1#alarmsV2:alarm/a%20b%2Fc", "EU (Stockholm) (eu-north-1)"},
		{"from the forwarder's own region when neither names one",
			Message{Body: noARN, Region: "eu-north-1"},
			"https://eu-north-1.console.aws.amazon.com/cloudwatch/home?region=eu-north-1#alarmsV2:alarm/a%20b%2Fc", "EU (Stockholm) (eu-north-1)"},
		{"nowhere, and then there is no link rather than a wrong one",
			Message{Body: noARN, TopicARN: "arn:aws:sns:not a region:1:t", Region: "../evil"},
			"", "EU (Stockholm)"},
		{"in China, on the China console",
			Message{Body: `{"AlarmName":"x","NewStateValue":"OK","AlarmArn":"arn:aws-cn:cloudwatch:cn-north-1:111122223333:alarm:x"}`},
			"https://cn-north-1.console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/x", "cn-north-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Slack(tt.msg)
			if len(p.Attachments) != 1 {
				t.Fatalf("not formatted as an alarm: %+v", p)
			}
			a := p.Attachments[0]
			if a.TitleLink != tt.link {
				t.Errorf("link %q, want %q", a.TitleLink, tt.link)
			}
			var region string
			for _, f := range a.Fields {
				if f.Title == "Region" {
					region = f.Value
				}
			}
			if region != tt.field {
				t.Errorf("region field %q, want %q", region, tt.field)
			}
		})
	}
}

func TestSlackPassesOnAnythingElseAsPlainText(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{"a text message, subject first, with the topic it came through",
			Message{Subject: "Hello", Body: "Hello from SNS!", TopicARN: "arn:aws:sns:us-east-1:111122223333:prod-info"},
			"Hello\nHello from SNS!\n(from SNS topic prod-info)"},
		{"an alarm cut short in transit",
			Message{Body: `{"AlarmName":"prod-web-cpu-high","NewStateValue":"ALA`},
			`{"AlarmName":"prod-web-cpu-high","NewStateValue":"ALA`},
		{"a JSON list", Message{Body: `[1,2,3]`}, `[1,2,3]`},
		{"JSON that is not an alarm", Message{Body: `{"Type":"Notification","hello":"world"}`}, `{"Type":"Notification","hello":"world"}`},
		{"an alarm whose trigger has the wrong shape",
			Message{Body: `{"AlarmName":"x","NewStateValue":"ALARM","Trigger":"CPU"}`},
			`{"AlarmName":"x","NewStateValue":"ALARM","Trigger":"CPU"}`},
		{"an alarm whose threshold is not a number",
			Message{Body: `{"AlarmName":"x","NewStateValue":"ALARM","Trigger":{"Threshold":"high"}}`},
			`{"AlarmName":"x","NewStateValue":"ALARM","Trigger":{"Threshold":"high"}}`},
		{"nothing at all", Message{}, "(an empty notification)"},
		{"Slack's control characters, escaped so they cannot mention or link",
			Message{Body: "<!channel> & <https://evil.example|click>"},
			"&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"},
		{"bytes that are not UTF-8, replaced", Message{Body: "ok \xff\xfe done"}, "ok \uFFFD done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Slack(tt.msg)
			if len(p.Attachments) != 0 {
				t.Errorf("formatted as an alarm: %+v", p.Attachments)
			}
			if p.Text != tt.want {
				t.Errorf("text %q, want %q", p.Text, tt.want)
			}
		})
	}
}

func TestSlackEscapesAndClipsWhatAnAlarmSays(t *testing.T) {
	long := strings.Repeat("é", 5000)
	body, _ := json.Marshal(map[string]any{
		"AlarmName":      "<@U123> & friends",
		"NewStateValue":  "ALARM",
		"NewStateReason": long,
		"AlarmArn":       "arn:aws:cloudwatch:us-east-1:111122223333:alarm:<@U123> & friends",
	})
	p := Slack(Message{Body: string(body)})
	a := p.Attachments[0]
	if a.Title != ":red_circle: ALARM: &lt;@U123&gt; &amp; friends" {
		t.Errorf("title %q", a.Title)
	}
	if !strings.HasSuffix(a.TitleLink, "#alarmsV2:alarm/%3C@U123%3E%20&%20friends") {
		t.Errorf("link %q does not escape the name", a.TitleLink)
	}
	if n := utf8.RuneCountInString(a.Text); n != maxTextRunes || !strings.HasSuffix(a.Text, "…") {
		t.Errorf("reason of %d runes ending %q, want %d ending with …", n, a.Text[len(a.Text)-3:], maxTextRunes)
	}
}

func TestParseAlarmSaysWhyAMessageIsNotAnAlarm(t *testing.T) {
	for _, body := range []string{"", "null", `{"AlarmName":"x"}`, `{"NewStateValue":"OK"}`, "plain"} {
		if a, err := ParseAlarm(body); err == nil {
			t.Errorf("ParseAlarm(%q) = %+v, want ErrNotAnAlarm", body, a)
		}
	}
	a, err := ParseAlarm(sample(t, "ec2-cpu-alarm.json"))
	if err != nil || a.Trigger == nil || a.Trigger.Threshold.String() != "90.0" || a.Trigger.Dimensions[0].Name != "AutoScalingGroupName" {
		t.Errorf("ParseAlarm(ec2-cpu-alarm.json) = %+v, %v", a, err)
	}
}

// FuzzSlack checks that no message panics, and that every payload is one
// Slack takes: valid UTF-8 JSON with text, of bounded size.
func FuzzSlack(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err == nil {
			f.Add("ALARM: x", string(data), "arn:aws:sns:us-east-1:1:t")
		}
	}
	f.Add("", `{"AlarmName":"x","NewStateValue":"ALARM","Trigger":{"Metrics":[{"Id":"m","MetricStat":null}]}}`, "")
	f.Add("s", `{"AlarmName":"\u0000","NewStateValue":"\xff","AlarmArn":"arn:::::"}`, "arn:aws:sns")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, subject, body, topic string) {
		p := Slack(Message{Subject: subject, Body: body, TopicARN: topic, Region: "us-east-1"})
		if p.Text == "" {
			t.Fatal("a payload without text")
		}
		data, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("payload does not encode: %v", err)
		}
		if !utf8.Valid(data) {
			t.Fatal("payload is not UTF-8")
		}
		// Every field is clipped; a few dozen of them cannot pass 64 KiB.
		if len(data) > 64<<10 {
			t.Fatalf("payload of %d bytes", len(data))
		}
	})
}
