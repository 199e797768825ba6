// Package notify turns the alarms CloudWatch publishes to an orbit's SNS
// topics into messages for people: a Slack incoming-webhook payload with a
// colour for the alarm's state, its name, reason, region, metric and a link
// to the alarm in the AWS console. It is pure formatting: it makes no call
// and reads no secret, so the Slack forwarder (cmd/elevator-slack-forwarder)
// and its tests share it.
//
// Any SNS message is accepted: one that is not a CloudWatch alarm, or is a
// broken one, becomes a plain-text message rather than an error, so that a
// page is never lost to a formatting problem.
package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	elevator "github.com/elevatorhq/elevator"
)

// The environment variables that tell the Slack forwarder where its webhook
// URL is kept. Exactly one is set; each holds a name, never the URL.
const (
	EnvSSMParameter = "SLACK_WEBHOOK_SSM_PARAMETER" // an SSM parameter name
	EnvSecret       = "SLACK_WEBHOOK_SECRET"        // a Secrets Manager secret name
)

// Alarm states as CloudWatch names them.
const (
	StateAlarm            = "ALARM"
	StateOK               = "OK"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Colours of the Slack attachment by alarm state.
const (
	ColourAlarm   = "#D0021B" // red
	ColourOK      = "#2EB886" // green
	ColourNoData  = "#DAA038" // amber: INSUFFICIENT_DATA
	ColourUnknown = "#9B9B9B" // grey: a state CloudWatch has not told us about
)

// Limits keep a payload well inside what Slack accepts, however long the
// message CloudWatch (or anyone else publishing to the topic) sent.
const (
	maxFieldRunes = 300
	maxTextRunes  = 2000
)

// Alarm is a CloudWatch alarm's state change, as CloudWatch publishes it to
// SNS: a metric alarm (Trigger set) or a composite alarm (AlarmRule set).
type Alarm struct {
	AlarmName        string   `json:"AlarmName"`
	AlarmDescription string   `json:"AlarmDescription"`
	AWSAccountID     string   `json:"AWSAccountId"`
	NewStateValue    string   `json:"NewStateValue"`
	NewStateReason   string   `json:"NewStateReason"`
	StateChangeTime  string   `json:"StateChangeTime"`
	Region           string   `json:"Region"` // a display name such as "US East (N. Virginia)"
	AlarmARN         string   `json:"AlarmArn"`
	OldStateValue    string   `json:"OldStateValue"`
	Trigger          *Trigger `json:"Trigger"`
	AlarmRule        string   `json:"AlarmRule"` // composite alarms only
}

// Trigger is what a metric alarm watches: one metric (MetricName set) or
// metric math (Metrics set).
type Trigger struct {
	MetricName         string      `json:"MetricName"`
	Namespace          string      `json:"Namespace"`
	Statistic          string      `json:"Statistic"`
	ExtendedStatistic  string      `json:"ExtendedStatistic"`
	Unit               string      `json:"Unit"`
	Dimensions         []Dimension `json:"Dimensions"`
	Period             json.Number `json:"Period"`
	EvaluationPeriods  json.Number `json:"EvaluationPeriods"`
	ComparisonOperator string      `json:"ComparisonOperator"`
	Threshold          json.Number `json:"Threshold"`
	Metrics            []Query     `json:"Metrics"`
}

// Dimension is one dimension of a metric. CloudWatch writes these keys in
// lower case in alarm messages.
type Dimension struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Query is one metric or expression of a metric-math alarm.
type Query struct {
	ID         string      `json:"Id"`
	Expression string      `json:"Expression"`
	Label      string      `json:"Label"`
	ReturnData bool        `json:"ReturnData"`
	MetricStat *MetricStat `json:"MetricStat"`
}

// MetricStat is a metric and the statistic taken of it.
type MetricStat struct {
	Metric struct {
		MetricName string      `json:"MetricName"`
		Namespace  string      `json:"Namespace"`
		Dimensions []Dimension `json:"Dimensions"`
	} `json:"Metric"`
	Stat string `json:"Stat"`
}

// ErrNotAnAlarm is returned by ParseAlarm for a message that is not a
// CloudWatch alarm.
var ErrNotAnAlarm = errors.New("not a CloudWatch alarm")

// ParseAlarm decodes an SNS message body as a CloudWatch alarm. It returns
// an error wrapping ErrNotAnAlarm when the body is not a JSON object with an
// alarm name and a new state.
func ParseAlarm(message string) (*Alarm, error) {
	var a Alarm
	dec := json.NewDecoder(strings.NewReader(message))
	dec.UseNumber()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotAnAlarm, err)
	}
	if a.AlarmName == "" || a.NewStateValue == "" {
		return nil, fmt.Errorf("%w: no AlarmName or NewStateValue", ErrNotAnAlarm)
	}
	return &a, nil
}

// Message is one SNS notification, as the forwarder receives it.
type Message struct {
	Subject  string // may be empty
	Body     string // the SNS Message: an alarm's JSON, or any text
	TopicARN string // the topic it came through
	// Region is the region to link to when neither the alarm nor the topic
	// names one (the forwarder's own region).
	Region string
}

// Payload is a Slack incoming-webhook message.
type Payload struct {
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is a Slack message attachment: the coloured bar and its fields.
type Attachment struct {
	Fallback  string  `json:"fallback"`
	Color     string  `json:"color"`
	Title     string  `json:"title"`
	TitleLink string  `json:"title_link,omitempty"`
	Text      string  `json:"text,omitempty"`
	Fields    []Field `json:"fields,omitempty"`
	Footer    string  `json:"footer,omitempty"`
}

// Field is a titled value in an attachment.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Slack formats m for a Slack incoming webhook. A CloudWatch alarm gets an
// attachment coloured by its new state (ColourAlarm, ColourOK, ColourNoData,
// else ColourUnknown) with the reason, region, metric and a console link;
// any other message is passed on as plain text. It never fails: every
// message gives a payload with text.
func Slack(m Message) Payload {
	a, err := ParseAlarm(m.Body)
	if err != nil {
		return plain(m)
	}
	region := alarmRegion(a, m)
	name := clip(a.AlarmName, maxFieldRunes)
	state := clip(a.NewStateValue, 40)
	headline := fmt.Sprintf("%s %s: %s", stateEmoji(state), state, name)
	att := Attachment{
		Fallback: escape(headline),
		Color:    colour(state),
		Title:    escape(headline),
		Text:     escape(clip(a.NewStateReason, maxTextRunes)),
		Footer:   escape(footer(a)),
	}
	if link := consoleLink(a, region); link != "" {
		att.TitleLink = link
	}
	if a.OldStateValue != "" {
		att.Fields = append(att.Fields, Field{Title: "State", Value: escape(clip(a.OldStateValue, 40) + " → " + state), Short: true})
	}
	if r := regionField(a, region); r != "" {
		att.Fields = append(att.Fields, Field{Title: "Region", Value: escape(r), Short: true})
	}
	if metric := describeTrigger(a); metric != "" {
		att.Fields = append(att.Fields, Field{Title: "Metric", Value: escape(clip(metric, maxTextRunes))})
	}
	if a.AlarmRule != "" {
		att.Fields = append(att.Fields, Field{Title: "Rule", Value: escape(clip(a.AlarmRule, maxTextRunes))})
	}
	if d := strings.TrimSpace(a.AlarmDescription); d != "" {
		att.Fields = append(att.Fields, Field{Title: "Description", Value: escape(clip(d, maxTextRunes))})
	}
	return Payload{Text: escape(headline), Attachments: []Attachment{att}}
}

// plain passes on a message that is not an alarm, subject first.
func plain(m Message) Payload {
	var parts []string
	if s := strings.TrimSpace(m.Subject); s != "" {
		parts = append(parts, clip(s, maxFieldRunes))
	}
	if b := strings.TrimSpace(m.Body); b != "" {
		parts = append(parts, clip(b, maxTextRunes))
	}
	if len(parts) == 0 {
		parts = append(parts, "(an empty notification)")
	}
	text := strings.Join(parts, "\n")
	if t := topicName(m.TopicARN); t != "" {
		text += "\n(from SNS topic " + clip(t, maxFieldRunes) + ")"
	}
	return Payload{Text: escape(text)}
}

func stateEmoji(state string) string {
	switch state {
	case StateAlarm:
		return ":red_circle:"
	case StateOK:
		return ":large_green_circle:"
	case StateInsufficientData:
		return ":large_yellow_circle:"
	default:
		return ":white_circle:"
	}
}

func colour(state string) string {
	switch state {
	case StateAlarm:
		return ColourAlarm
	case StateOK:
		return ColourOK
	case StateInsufficientData:
		return ColourNoData
	default:
		return ColourUnknown
	}
}

func footer(a *Alarm) string {
	var parts []string
	if a.AWSAccountID != "" {
		parts = append(parts, "account "+clip(a.AWSAccountID, 40))
	}
	if a.StateChangeTime != "" {
		parts = append(parts, clip(a.StateChangeTime, 60))
	}
	return strings.Join(parts, " · ")
}

// alarmRegion finds the alarm's region code: from its ARN, else from the
// topic's ARN, else the forwarder's own region.
func alarmRegion(a *Alarm, m Message) string {
	for _, candidate := range []string{arnPart(a.AlarmARN, 3), arnPart(m.TopicARN, 3), m.Region} {
		if elevator.IsRegionName(candidate) {
			return candidate
		}
	}
	return ""
}

func regionField(a *Alarm, code string) string {
	name := clip(strings.TrimSpace(a.Region), 60)
	switch {
	case name != "" && code != "" && name != code:
		return name + " (" + code + ")"
	case code != "":
		return code
	default:
		return name
	}
}

// arnPart returns part i of an ARN (arn:partition:service:region:account:
// resource), or "".
func arnPart(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

func topicName(arn string) string {
	if name := arnPart(arn, 5); name != "" {
		return name
	}
	return ""
}

// consoleLink links to the alarm in the CloudWatch console of its
// partition, or returns "" when the region is unknown.
func consoleLink(a *Alarm, region string) string {
	if region == "" {
		return ""
	}
	host := "console.aws.amazon.com"
	switch arnPart(a.AlarmARN, 1) {
	case "aws-cn":
		host = "console.amazonaws.cn"
	case "aws-us-gov":
		host = "console.amazonaws-us-gov.com"
	}
	return fmt.Sprintf("https://%s.%s/cloudwatch/home?region=%s#alarmsV2:alarm/%s", region, host, region, url.PathEscape(a.AlarmName))
}

// describeTrigger says what a metric alarm watches and when it fires, such
// as "AWS/EC2 CPUUtilization (InstanceId=i-0abc) Average over 60s >= 90".
func describeTrigger(a *Alarm) string {
	t := a.Trigger
	if t == nil {
		return ""
	}
	var b strings.Builder
	switch {
	case t.MetricName != "":
		b.WriteString(metricName(t.Namespace, t.MetricName, t.Dimensions))
		if stat := firstOf(t.ExtendedStatistic, titleCase(t.Statistic)); stat != "" {
			b.WriteString(" " + stat)
		}
		if p := t.Period.String(); p != "" && p != "0" {
			b.WriteString(" over " + p + "s")
		}
	case len(t.Metrics) > 0:
		var exprs, metrics []string
		for _, q := range t.Metrics {
			switch {
			case q.Expression != "" && q.ReturnData:
				exprs = append(exprs, firstOf(q.Label, q.ID)+" = "+q.Expression)
			case q.MetricStat != nil:
				ms := q.MetricStat
				metrics = append(metrics, q.ID+" = "+metricName(ms.Metric.Namespace, ms.Metric.MetricName, ms.Metric.Dimensions)+" "+ms.Stat)
			}
		}
		b.WriteString(strings.Join(append(exprs, metrics...), "; "))
	}
	switch op := t.ComparisonOperator; op {
	case "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold":
		if t.Threshold != "" {
			b.WriteString(" " + comparisons[op] + " " + number(t.Threshold))
		}
	default:
		if band, ok := comparisons[op]; ok {
			b.WriteString(" " + band)
		}
	}
	return strings.TrimSpace(b.String())
}

func metricName(namespace, name string, dims []Dimension) string {
	s := strings.TrimSpace(namespace + " " + name)
	if len(dims) > 0 {
		pairs := make([]string, len(dims))
		for i, d := range dims {
			pairs[i] = d.Name + "=" + d.Value
		}
		s += " (" + strings.Join(pairs, ", ") + ")"
	}
	return s
}

// comparisons reads CloudWatch's comparison operators: thresholds as
// symbols, anomaly detection bands in words.
var comparisons = map[string]string{
	"GreaterThanOrEqualToThreshold":            ">=",
	"GreaterThanThreshold":                     ">",
	"LessThanThreshold":                        "<",
	"LessThanOrEqualToThreshold":               "<=",
	"LessThanLowerOrGreaterThanUpperThreshold": "outside the anomaly band",
	"GreaterThanUpperThreshold":                "above the anomaly band",
	"LessThanLowerThreshold":                   "below the anomaly band",
}

// number writes a threshold as short as it reads: 90.0 as 90.
func number(n json.Number) string {
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil {
		return n.String()
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// titleCase turns CloudWatch's "AVERAGE" in alarm messages into "Average".
func titleCase(s string) string {
	if s == "" || strings.ToUpper(s) != s {
		return s
	}
	return s[:1] + strings.ToLower(s[1:])
}

// clip makes s valid UTF-8 and cuts it to at most n runes, marking the cut.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "�")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}

// escape escapes the three characters Slack gives meaning to in text, so
// that an alarm name or reason can neither format nor link.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
