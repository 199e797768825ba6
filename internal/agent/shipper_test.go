package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/cloudwatchlogs"
)

// fakeLogs is a log stream that stores what it is given, and refuses
// everything while down is set.
type fakeLogs struct {
	mu      sync.Mutex
	down    bool
	events  []cloudwatchlogs.Event
	batches []int
}

func (f *fakeLogs) Put(_ context.Context, _, _ string, events []cloudwatchlogs.Event) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errors.New("CloudWatch Logs is unreachable")
	}
	f.events = append(f.events, events...)
	f.batches = append(f.batches, len(events))
	return 0, nil
}

func (f *fakeLogs) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.events))
	for i, e := range f.events {
		out[i] = e.Message
	}
	return out
}

func TestTheShipperKeepsLinesThroughAnOutageWithinItsBound(t *testing.T) {
	t.Parallel()
	logs := &fakeLogs{down: true}
	var log bytes.Buffer
	s := newShipper(logs, "g", "s", slog.New(slog.NewTextHandler(&log, nil)), time.Now, time.Hour)

	// More lines than the bound holds, while CloudWatch is down: Add
	// never blocks, and the oldest go.
	start := time.Now()
	total := maxBufferedEvents + 500
	for i := range total {
		s.Add(fmt.Sprintf("line %d", i))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Logf("adding %d lines took %v", total, d) // not asserted: no timing in tests
	}
	if s.flush(context.Background()) {
		t.Fatal("flush reported success while CloudWatch is down")
	}
	if n := strings.Count(log.String(), "dropping the oldest lines"); n != 1 {
		t.Errorf("the drop was reported %d times, want once:\n%s", n, log.String())
	}
	if n := strings.Count(log.String(), "cannot ship"); n != 1 {
		t.Errorf("the outage was reported %d times, want once", n)
	}
	s.flush(context.Background()) // still down: not reported again
	if n := strings.Count(log.String(), "cannot ship"); n != 1 {
		t.Errorf("the outage was reported %d times after two failures, want once", n)
	}

	logs.mu.Lock()
	logs.down = false
	logs.mu.Unlock()
	if !s.flush(context.Background()) {
		t.Fatal("flush failed with CloudWatch back")
	}
	got := logs.messages()
	if len(got) != maxBufferedEvents {
		t.Fatalf("shipped %d lines, want the newest %d", len(got), maxBufferedEvents)
	}
	if got[0] != "line 500" || got[len(got)-1] != fmt.Sprintf("line %d", total-1) {
		t.Errorf("shipped %q ... %q, want line 500 ... line %d (the oldest dropped)", got[0], got[len(got)-1], total-1)
	}
	for _, n := range logs.batches {
		if n > maxBatchEvents {
			t.Errorf("a batch of %d events, over CloudWatch's %d", n, maxBatchEvents)
		}
	}
	if !strings.Contains(log.String(), "shipping the service's output to CloudWatch Logs again") || !strings.Contains(log.String(), "lines=500") {
		t.Errorf("the recovery and the count dropped are not logged:\n%s", log.String())
	}
}

func TestTheShipperSplitsLongLinesAndSkipsEmptyOnes(t *testing.T) {
	t.Parallel()
	logs := &fakeLogs{}
	s := newShipper(logs, "g", "s", slog.New(slog.DiscardHandler), time.Now, time.Hour)
	long := strings.Repeat("é", maxEventBytes) // two bytes a rune: splits mid-line, never mid-rune
	s.Add(long)
	s.Add("")
	s.Add("bad \xff byte")
	s.Close(context.Background())
	got := logs.messages()
	if len(got) != 3 {
		t.Fatalf("shipped %d events, want 2 pieces of the long line and the last line", len(got))
	}
	if got[0]+got[1] != long || len(got[0]) > maxEventBytes {
		t.Errorf("the long line came back changed or in too long a piece (%d bytes)", len(got[0]))
	}
	if got[2] != "bad \uFFFD byte" {
		t.Errorf("invalid UTF-8 shipped as %q", got[2])
	}
}

func TestCopyLinesCopiesEveryLineToBothPlaces(t *testing.T) {
	t.Parallel()
	logs := &fakeLogs{}
	s := newShipper(logs, "g", "s", slog.New(slog.DiscardHandler), time.Now, time.Hour)
	var out bytes.Buffer
	var mu sync.Mutex
	copyLines(strings.NewReader("one\ntwo\r\n\nthree"), &out, &mu, s)
	s.Close(context.Background())
	if out.String() != "one\ntwo\n\nthree\n" {
		t.Errorf("copied %q", out.String())
	}
	if got := strings.Join(logs.messages(), "|"); got != "one|two|three" {
		t.Errorf("shipped %q", got)
	}
}
