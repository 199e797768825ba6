package cloudwatchlogs

// These tests run against a real moto server (emulatortest), each in an
// account of its own.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	logs "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

func TestGroupsByPrefixAndEventsFromAStartTime(t *testing.T) {
	ctx := context.Background()
	cfg := emulatortest.Config(t, "us-east-1")
	sdk := logs.NewFromConfig(cfg)
	now := time.Now().UTC().Truncate(time.Millisecond)
	shop := elevator.AppPath("prod", "shop")
	for _, g := range []string{shop + "web", shop + "worker", elevator.AppPath("prod", "blog") + "web"} {
		if _, err := sdk.CreateLogGroup(ctx, &logs.CreateLogGroupInput{LogGroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	group := shop + "web"
	if _, err := sdk.CreateLogStream(ctx, &logs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String("i-0a")}); err != nil {
		t.Fatal(err)
	}
	var events []logstypes.InputLogEvent
	for i := range 5 {
		events = append(events, logstypes.InputLogEvent{Message: aws.String(fmt.Sprint("line ", i)), Timestamp: aws.Int64(now.Add(time.Duration(i-5) * time.Minute).UnixMilli())})
	}
	if _, err := sdk.PutLogEvents(ctx, &logs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("i-0a"), LogEvents: events}); err != nil {
		t.Fatal(err)
	}

	c := New(cfg)
	groups, err := c.Groups(ctx, shop)
	if err != nil || !slices.Equal(groups, []string{shop + "web", shop + "worker"}) {
		t.Errorf("groups %q, %v", groups, err)
	}
	got, err := c.Events(ctx, group, now.Add(-150*time.Second), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, e := range got {
		messages = append(messages, e.Message)
		if e.Stream != "i-0a" || e.Group != group || e.ID == "" {
			t.Errorf("event %+v", e)
		}
	}
	if !slices.Equal(messages, []string{"line 3", "line 4"}) || !got[1].Time.Equal(now.Add(-time.Minute)) {
		t.Errorf("events since 150s ago: %+v", got)
	}
	_, err = c.Events(ctx, shop+"api", now, time.Time{})
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrNotFound) {
		t.Errorf("events of a missing group: %v", err)
	}
}
