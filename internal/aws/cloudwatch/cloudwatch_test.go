package cloudwatch

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cloudwatchsdk "github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func cpuAlarm(name, group string, threshold float64) Alarm {
	return Alarm{
		Name: name, Namespace: "AWS/EC2", Metric: "CPUUtilization",
		Dimensions: map[string]string{"AutoScalingGroupName": group},
		Period:     time.Minute, EvaluationPeriods: 3, Threshold: threshold, Comparison: GreaterThan,
		Actions: []string{"arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x:autoScalingGroupName/" + group + ":policyName/up"},
	}
}

func TestAlarmsArePutFoundByPrefixReplacedAndDeleted(t *testing.T) {
	ctx := context.Background()
	c := New(emulatortest.Config(t, "eu-west-1"))
	for _, a := range []Alarm{cpuAlarm("shop-prod-web-1-policy-0", "shop-prod-web-1", 70), cpuAlarm("shop-prod-web-1-policy-1", "shop-prod-web-1", 20), cpuAlarm("blog-prod-web-2-policy-0", "blog-prod-web-2", 70)} {
		if err := c.PutAlarm(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// Putting an alarm again with another threshold replaces it.
	if err := c.PutAlarm(ctx, cpuAlarm("shop-prod-web-1-policy-0", "shop-prod-web-1", 80)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Alarms(ctx, "shop-prod-web-1-")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "shop-prod-web-1-policy-0" || got[0].Threshold != 80 || got[1].Threshold != 20 {
		t.Fatalf("alarms = %+v, want shop's two, the first at 80", got)
	}
	a := got[0]
	if a.Metric != "CPUUtilization" || a.Namespace != "AWS/EC2" || a.Period != time.Minute || a.EvaluationPeriods != 3 ||
		a.Comparison != GreaterThan || a.Dimensions["AutoScalingGroupName"] != "shop-prod-web-1" || len(a.Actions) != 1 {
		t.Errorf("alarm read back as %+v", a)
	}
	if err := c.DeleteAlarms(ctx, []string{"shop-prod-web-1-policy-0", "shop-prod-web-1-policy-1", "no-such-alarm"}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Alarms(ctx, "shop-"); err != nil || len(got) != 0 {
		t.Errorf("after delete: %+v, %v", got, err)
	}
	if got, err := c.Alarms(ctx, "blog-"); err != nil || len(got) != 1 {
		t.Errorf("another app's alarm: %+v, %v", got, err)
	}
}

func TestBadRequestsAreRefusedBeforeTheyAreSent(t *testing.T) {
	c := &Client{region: "us-east-1"} // no api: nothing may be sent
	tests := []struct {
		name string
		call func() error
	}{
		{"an alarm without a period of a minute", func() error {
			a := cpuAlarm("x", "g", 1)
			a.Period = 10 * time.Second
			return c.PutAlarm(context.Background(), a)
		}},
		{"an alarm without evaluation periods", func() error {
			a := cpuAlarm("x", "g", 1)
			a.EvaluationPeriods = 0
			return c.PutAlarm(context.Background(), a)
		}},
		{"listing alarms without a prefix", func() error {
			_, err := c.Alarms(context.Background(), "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		})
	}
}

// TestTheSDKsDefaultProtocolIsNotUnderstoodByTheEmulator documents why New
// switches to awsQuery: if moto ever learns CBOR, this test says so and
// the switch can be reconsidered.
func TestTheSDKsDefaultProtocolIsNotUnderstoodByTheEmulator(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	cfg.RetryMaxAttempts = 1
	ctx := context.Background()
	_, err := cloudwatchsdk.NewFromConfig(cfg).DescribeAlarms(ctx, &cloudwatchsdk.DescribeAlarmsInput{AlarmNamePrefix: aws.String("x")})
	if err == nil {
		t.Fatal("moto answered the default (CBOR) protocol; QueryProtocol may no longer be needed")
	}
	t.Logf("default protocol: %v", err)
	_, err = cloudwatchsdk.NewFromConfig(cfg, QueryProtocol).DescribeAlarms(ctx, &cloudwatchsdk.DescribeAlarmsInput{AlarmNamePrefix: aws.String("x")})
	if err != nil {
		t.Fatalf("awsQuery: %v", err)
	}
}
