package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	logs "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// putEvents writes messages into a stream of a service's log group,
// creating both when needed, each message at its time.
func putEvents(t *testing.T, acct *emulatortest.Account, region, group, stream string, at []time.Time, messages ...string) {
	t.Helper()
	ctx := context.Background()
	c := logs.NewFromConfig(acct.Config(region))
	if _, err := c.CreateLogGroup(ctx, &logs.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		t.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &logs.CreateLogStreamInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream)}); err != nil && !strings.Contains(err.Error(), "AlreadyExists") {
		t.Fatal(err)
	}
	var events []logstypes.InputLogEvent
	for i, m := range messages {
		events = append(events, logstypes.InputLogEvent{Message: aws.String(m), Timestamp: aws.Int64(at[i].UnixMilli())})
	}
	if _, err := c.PutLogEvents(ctx, &logs.PutLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String(stream), LogEvents: events}); err != nil {
		t.Fatal(err)
	}
}

// TestLogsInterleaveServicesAndInstancesByTime puts events into two
// services' log groups, one of them in two streams (instances), and reads
// them back through `elevator logs`: in time order, each with its service
// and instance, only those within --since.
func TestLogsInterleaveServicesAndInstancesByTime(t *testing.T) {
	acct := inAccount(t)
	file, orbit := manifest(t, "regions:\n  us-east-1: {}\n")
	web, worker := compile.LogGroupName(orbit, "shop", "web"), compile.LogGroupName(orbit, "shop", "worker")
	now := time.Now().UTC().Truncate(time.Millisecond)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	putEvents(t, acct, "us-east-1", web, "i-0aaaaaaaaaaaaaaaa", []time.Time{ago(2 * time.Hour), ago(50 * time.Second), ago(10 * time.Second)}, "too old", "web a first", "web a third")
	putEvents(t, acct, "us-east-1", web, "i-0bbbbbbbbbbbbbbbb", []time.Time{ago(30 * time.Second)}, "web b second")
	putEvents(t, acct, "us-east-1", worker, "i-0cccccccccccccccc", []time.Time{ago(5 * time.Second)}, "worker fourth\n")
	o := []string{"--orbit", orbit, "--orbit-file", file}

	r := elevator(t, "", append([]string{"logs", "--app", "shop", "--since", "1h"}, o...)...)
	mustSucceed(t, r)
	want := []string{
		"  web  i-0aaaaaaaaaaaaaaaa  web a first",
		"  web  i-0bbbbbbbbbbbbbbbb  web b second",
		"  web  i-0aaaaaaaaaaaaaaaa  web a third",
		"  worker  i-0cccccccccccccccc  worker fourth",
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("logs --since 1h printed %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], w) || !strings.HasPrefix(lines[i], now.Format("2006-01-02")[:4]) {
			t.Errorf("line %d: %q, want it to end with %q", i, lines[i], w)
		}
	}

	r = elevator(t, "", append([]string{"logs", "--app", "shop", "--service", "web", "--since", "20s", "-o", "json"}, o...)...)
	mustSucceed(t, r)
	var ev struct {
		Service, Stream, Message, Region string
		Time                             time.Time
	}
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &ev) != nil ||
		ev.Service != "web" || ev.Stream != "i-0aaaaaaaaaaaaaaaa" || ev.Message != "web a third" || ev.Region != "us-east-1" || !ev.Time.Equal(ago(10*time.Second)) {
		t.Errorf("logs --service web --since 20s -o json: %+v\n%s", ev, r.stdout)
	}

	r = elevator(t, "", append([]string{"logs", "--app", "shop", "--service", "api"}, o...)...)
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "service api has no log group "+compile.LogGroupName(orbit, "shop", "api")) {
		t.Errorf("logs of a service without a log group: exit %d\n%s", r.code, r.stderr)
	}
	r = elevator(t, "", append([]string{"logs", "--app", "cart"}, o...)...)
	if r.code != cli.ExitNotFound || !strings.Contains(r.stderr, "app cart has no log groups") {
		t.Errorf("logs of an app without log groups: exit %d\n%s", r.code, r.stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to write from one goroutine and read
// from another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until out holds want, failing the test if the command
// ends first or a minute goes by.
func waitFor(t *testing.T, out *syncBuffer, want string, done <-chan int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for !strings.Contains(out.String(), want) {
		select {
		case code := <-done:
			t.Fatalf("the command ended (exit %d) before printing %q:\n%s", code, want, out.String())
		case <-deadline:
			t.Fatalf("no %q after a minute:\n%s", want, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLogsFollowPrintsNewEventsOnce follows a log group, adds an event, and
// checks that it shows up, once, and that an interrupted --follow exits 0.
func TestLogsFollowPrintsNewEventsOnce(t *testing.T) {
	acct := inAccount(t)
	file, orbit := manifest(t, "regions:\n  us-east-1: {}\n")
	group := compile.LogGroupName(orbit, "shop", "web")
	now := time.Now().UTC()
	putEvents(t, acct, "us-east-1", group, "i-0aaaaaaaaaaaaaaaa", []time.Time{now.Add(-time.Minute)}, "before")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs syncBuffer
	done := make(chan int, 1)
	args := []string{"logs", "--app", "shop", "--service", "web", "--follow", "--poll-interval", "100ms", "--orbit", orbit, "--orbit-file", file, "--endpoint-url", emulatortest.Endpoint()}
	go func() { done <- cli.Run(ctx, args, strings.NewReader(""), &out, &errs) }()
	waitFor(t, &out, "before", done)
	putEvents(t, acct, "us-east-1", group, "i-0bbbbbbbbbbbbbbbb", []time.Time{time.Now()}, "after")
	waitFor(t, &out, "i-0bbbbbbbbbbbbbbbb  after", done)
	// Two more looks at least: neither prints an event again.
	putEvents(t, acct, "us-east-1", group, "i-0bbbbbbbbbbbbbbbb", []time.Time{time.Now()}, "marker")
	waitFor(t, &out, "marker", done)
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("an interrupted --follow exited %d: %s", code, errs.String())
	}
	for _, m := range []string{"before", "after", "marker"} {
		if n := strings.Count(out.String(), m); n != 1 {
			t.Errorf("%q printed %d times:\n%s", m, n, out.String())
		}
	}
}
