package compile

import (
	"sort"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

const idAlarm = "Alarm" // + <service><metric>[<name>]

// comparisons maps the comparisons an alarm may name to CloudWatch's; ""
// is the default.
var comparisons = map[string]string{
	">":                             "GreaterThanThreshold",
	">=":                            "GreaterThanOrEqualToThreshold",
	"<":                             "LessThanThreshold",
	"<=":                            "LessThanOrEqualToThreshold",
	"GreaterThanThreshold":          "GreaterThanThreshold",
	"GreaterThanOrEqualToThreshold": "GreaterThanOrEqualToThreshold",
	"LessThanThreshold":             "LessThanThreshold",
	"LessThanOrEqualToThreshold":    "LessThanOrEqualToThreshold",
	"":                              "GreaterThanOrEqualToThreshold",
}

// comparisonSymbols writes CloudWatch's comparisons in alarm descriptions.
var comparisonSymbols = map[string]string{
	"GreaterThanThreshold":          ">",
	"GreaterThanOrEqualToThreshold": ">=",
	"LessThanThreshold":             "<",
	"LessThanOrEqualToThreshold":    "<=",
}

// statistics are the simple statistics CloudWatch alarms take; percentiles
// such as p99 are extended statistics.
var statistics = map[string]bool{"Average": true, "Sum": true, "Minimum": true, "Maximum": true, "SampleCount": true}

// alarmSettings are what every alarm has besides its metric.
type alarmSettings struct {
	comparison  string
	period      int // seconds
	evaluations int
}

// alarms compiles a service's alarms, each wired to the orbit's topic for
// its severity, both when it fires and when it recovers.
//
// Load balancer alarms watch the service's target group. cpu alarms are
// not compiled: EC2 reports CPU per Auto Scaling Group, and each release
// has its own group, so the release engine creates them with the group.
func (b *appBuilder) alarms(s *elevator.Service) {
	svc := b.svcID[s.Name]
	if svc == "" {
		return
	}
	for _, al := range s.Alarms {
		set, ok := b.alarmSettings(al)
		if al.Metric == elevator.MetricCPU {
			continue
		}
		props, suffix, ok2 := b.alarmMetric(s, al, set.period)
		if !ok || !ok2 {
			continue
		}
		id := idAlarm + svc + camel(string(al.Metric)) + suffix
		name := "elevator-" + b.o.Name + "-" + b.a.Name + "-" + s.Name + "-" + string(al.Metric)
		if suffix != "" {
			name += "-" + strings.ToLower(suffix)
		}
		if _, dup := b.t.Resources[id]; dup {
			// Two alarms on one metric: tell them apart by their field.
			h := shortHash(al.Path)
			id += h
			name += "-" + h
		}
		topic := b.param(camel(string(al.Severity))+factTopicSuffix, "String", "The orbit's topic for "+string(al.Severity)+" alarms", camel(string(al.Severity))+factTopicSuffix)
		props["AlarmName"] = name
		props["AlarmDescription"] = "Service " + s.Name + " of app " + b.a.Name + ": " + describeAlarm(al, set.comparison)
		props["ComparisonOperator"] = set.comparison
		props["Threshold"] = al.Threshold
		props["EvaluationPeriods"] = set.evaluations
		props["AlarmActions"] = []any{topic}
		props["OKActions"] = []any{topic}
		props["Tags"] = b.tags("", s.Name)
		b.add(id, al.Path, Resource{Type: "AWS::CloudWatch::Alarm", Properties: props})
	}
}

// alarmSettings checks what every alarm has. A zero Period is a minute;
// zero Evaluations is one.
func (b *appBuilder) alarmSettings(al elevator.Alarm) (alarmSettings, bool) {
	ok := true
	switch al.Severity {
	case elevator.SeverityCritical, elevator.SeverityWarning, elevator.SeverityInfo:
	default:
		b.errorf(al.Path+".severity", string(al.Severity), "unknown severity; use critical, warning or info")
		ok = false
	}
	period := al.Period
	if period == 0 {
		period = time.Minute
	}
	if p := seconds(period); period%time.Second != 0 || !(p == 10 || p == 20 || p == 30 || p > 0 && p%60 == 0) {
		b.errorf(al.Path+".period", al.Period.String(), "an alarm period is 10s, 20s, 30s or a whole number of minutes")
		ok = false
	}
	comparison := comparisons[al.Comparison]
	if comparison == "" {
		b.errorf(al.Path+".comparison", al.Comparison, "unknown comparison; use >, >=, < or <=")
		ok = false
	}
	return alarmSettings{comparison: comparison, period: seconds(period), evaluations: max(al.Evaluations, 1)}, ok
}

// alarmMetric returns what an alarm watches as alarm properties, and a
// logical ID suffix for custom metrics.
func (b *appBuilder) alarmMetric(s *elevator.Service, al elevator.Alarm, period int) (Props, string, bool) {
	svc := b.svcID[s.Name]
	if al.Metric == elevator.MetricCustom {
		if al.Namespace == "" || al.MetricName == "" {
			b.errorf(al.Path, nil, "a custom alarm needs a namespace and a metric name")
			return nil, "", false
		}
		props := Props{
			"Namespace":        al.Namespace,
			"MetricName":       al.MetricName,
			"Period":           period,
			"TreatMissingData": "missing",
		}
		if len(al.Dimensions) > 0 {
			names := make([]string, 0, len(al.Dimensions))
			for k := range al.Dimensions {
				names = append(names, k)
			}
			sort.Strings(names)
			dims := make([]any, len(names))
			for i, k := range names {
				dims[i] = Props{"Name": k, "Value": al.Dimensions[k]}
			}
			props["Dimensions"] = dims
		}
		switch stat := al.Statistic; {
		case stat == "":
			props["Statistic"] = "Average"
		case statistics[stat]:
			props["Statistic"] = stat
		case isPercentile(stat):
			props["ExtendedStatistic"] = stat
		default:
			b.errorf(al.Path+".statistic", stat, "unknown statistic; use Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99")
			return nil, "", false
		}
		return props, camel(al.MetricName), true
	}

	switch al.Metric {
	case elevator.MetricUnhealthyHosts, elevator.Metric5xxRate, elevator.MetricP99Latency:
	default:
		b.errorf(al.Path+".metric", string(al.Metric), "unknown metric; use cpu, unhealthy_hosts, 5xx_rate, p99_latency or custom")
		return nil, "", false
	}
	lbType := s.LoadBalancer.Type
	if lbType != elevator.LoadBalancerPublic && lbType != elevator.LoadBalancerPrivate {
		b.errorf(al.Path+".metric", string(al.Metric), "watches the service's load balancer, and service %s has none", s.Name)
		return nil, "", false
	}
	if _, ok := b.t.Resources[idTargetGroup+svc]; !ok {
		return nil, "", false // the service's load balancing has a problem, reported already
	}
	dimensions := []any{
		Props{"Name": "TargetGroup", "Value": GetAtt(idTargetGroup+svc, "TargetGroupFullName")},
		Props{"Name": "LoadBalancer", "Value": GetAtt(idLoadBalancer+camel(string(lbType)), "LoadBalancerFullName")},
	}
	elb := func(metric string) Props {
		return Props{"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dimensions}
	}
	switch al.Metric {
	case elevator.MetricUnhealthyHosts:
		props := elb("UnHealthyHostCount")
		props["Statistic"] = "Maximum"
		props["Period"] = period
		props["TreatMissingData"] = "notBreaching"
		return props, "", true
	case elevator.MetricP99Latency:
		props := elb("TargetResponseTime")
		props["ExtendedStatistic"] = "p99"
		props["Period"] = period
		props["TreatMissingData"] = "notBreaching"
		return props, "", true
	default: // 5xx_rate: the percentage of requests the targets failed
		stat := func(id, metric string) Props {
			return Props{"Id": id, "ReturnData": false, "MetricStat": Props{"Metric": elb(metric), "Period": period, "Stat": "Sum"}}
		}
		return Props{
			"Metrics": []any{
				Props{"Id": "rate", "Label": "Target 5xx responses in percent of requests", "Expression": "100 * FILL(errors, 0) / requests", "ReturnData": true},
				stat("errors", "HTTPCode_Target_5XX_Count"),
				stat("requests", "RequestCount"),
			},
			"TreatMissingData": "notBreaching",
		}, "", true
	}
}

func isPercentile(stat string) bool {
	rest, ok := strings.CutPrefix(stat, "p")
	if !ok || rest == "" {
		return false
	}
	f, err := strconv.ParseFloat(rest, 64)
	return err == nil && f > 0 && f < 100
}

func describeAlarm(al elevator.Alarm, comparison string) string {
	what := map[elevator.AlarmMetric]string{
		elevator.MetricUnhealthyHosts: "unhealthy hosts",
		elevator.Metric5xxRate:        "target 5xx responses in percent of requests",
		elevator.MetricP99Latency:     "p99 target response time in seconds",
	}[al.Metric]
	if al.Metric == elevator.MetricCustom {
		what = al.Namespace + " " + al.MetricName
	}
	return what + " " + comparisonSymbols[comparison] + " " + strconv.FormatFloat(al.Threshold, 'g', -1, 64) + " (" + string(al.Severity) + ")"
}
