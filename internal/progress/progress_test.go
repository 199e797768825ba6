package progress

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
)

func TestPlainLinesCarryTimeRegionResourceAndStatus(t *testing.T) {
	var buf bytes.Buffer
	p := Plain(&buf)
	p.now = func() time.Time { return time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC) }
	p.Note("us-east-1", "applying 3 change(s)")
	p.Event("us-west-2", cloudformation.Event{LogicalID: "Vpc", Type: "AWS::EC2::VPC", Status: "CREATE_FAILED", Reason: "limit exceeded"})
	p.Done()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "2026-11-23T14:00:00Z us-east-1") || !strings.HasSuffix(lines[0], "applying 3 change(s)") {
		t.Errorf("note line: %q", lines[0])
	}
	for _, want := range []string{"us-west-2", "Vpc", "AWS::EC2::VPC", "CREATE_FAILED", "limit exceeded"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("event line lacks %q: %q", want, lines[1])
		}
	}
	if strings.Contains(buf.String(), "\033") {
		t.Error("plain output has escape codes")
	}
}

func TestLiveModeRedrawsOneStatusLine(t *testing.T) {
	var buf bytes.Buffer
	p := Plain(&buf)
	p.live = true
	p.Note("us-east-1", "applying")
	p.Event("us-east-1", cloudformation.Event{LogicalID: "stack", Type: "AWS::CloudFormation::Stack", Status: "CREATE_COMPLETE"})
	p.Done()
	out := buf.String()
	if strings.Count(out, "\r\033[K") != 2 {
		t.Errorf("want the status line erased before each new line and at the end:\n%q", out)
	}
	if !strings.Contains(out, "us-east-1: CREATE_COMPLETE") || !strings.Contains(out, "\033[32mCREATE_COMPLETE") {
		t.Errorf("status line or colour missing:\n%q", out)
	}
}

func TestPrinterIsSafeForConcurrentRegions(t *testing.T) {
	var buf bytes.Buffer
	p := Plain(&buf)
	var wg sync.WaitGroup
	for _, r := range []string{"us-east-1", "eu-west-1", "ap-south-1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				p.Note(r, "step")
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(buf.String(), "\n"); n != 300 {
		t.Errorf("%d lines, want 300", n)
	}
}
