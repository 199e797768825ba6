// Package progress shows people what a long operation is doing: on a
// terminal, a line per resource event in colour under a live status line
// per region; elsewhere (CI, a pipe, a file), plain timestamped lines. It
// writes to the writer it is given, never to stdout, so that
// `--output json` stays clean.
package progress

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"golang.org/x/term"
)

// Printer reports events and notes. It is safe for concurrent use: regions
// report from their own goroutines.
type Printer struct {
	mu    sync.Mutex
	w     io.Writer
	fd    int  // w's file descriptor when it is a terminal
	live  bool // a terminal: colours and a redrawn status line
	now   func() time.Time
	state map[string]string // region -> latest status, for the live line
	drawn bool
}

// New returns a printer writing to w. Live mode is used when w is a terminal
// and neither CI nor NO_COLOR is set.
func New(w io.Writer) *Printer {
	p := Plain(w)
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("CI") == "" && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" {
		p.live, p.fd = true, int(f.Fd())
	}
	return p
}

// Plain returns a printer that writes plain lines only.
func Plain(w io.Writer) *Printer {
	return &Printer{w: w, now: time.Now, state: map[string]string{}}
}

// Discard is a printer that prints nothing.
func Discard() *Printer { return Plain(io.Discard) }

// Event reports one stack event.
func (p *Printer) Event(region string, e cloudformation.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("%-14s %-34s %-38s %s", region, e.LogicalID, e.Type, p.colour(e.Status))
	if e.Reason != "" {
		line += "  " + e.Reason
	}
	if e.Type == "AWS::CloudFormation::Stack" {
		p.state[region] = e.Status
	}
	p.print(line)
}

// Note reports a step or a warning in a region.
func (p *Printer) Note(region, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state[region] = message
	p.print(fmt.Sprintf("%-14s %s", region, message))
}

// Done clears the live status line.
func (p *Printer) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Printer) print(line string) {
	if !p.live {
		fmt.Fprintf(p.w, "%s %s\n", p.now().UTC().Format(time.RFC3339), line)
		return
	}
	p.clear()
	fmt.Fprintf(p.w, "%s %s\n", p.now().Format("15:04:05"), line)
	p.drawStatus()
}

// clear erases the live line drawn last.
func (p *Printer) clear() {
	if p.live && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *Printer) drawStatus() {
	regions := make([]string, 0, len(p.state))
	for r := range p.state {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	parts := make([]string, len(regions))
	for i, r := range regions {
		parts[i] = r + ": " + p.state[r]
	}
	line := "… " + strings.Join(parts, " · ")
	if width, _, err := term.GetSize(p.fd); err == nil && width > 4 && len(line) > width-1 {
		line = line[:width-2] + "…"
	}
	fmt.Fprint(p.w, "\033[2m"+line+"\033[0m")
	p.drawn = true
}

func (p *Printer) colour(status string) string {
	if !p.live {
		return status
	}
	switch {
	case strings.HasSuffix(status, "_FAILED") || strings.Contains(status, "ROLLBACK"):
		return "\033[31m" + status + "\033[0m"
	case strings.HasSuffix(status, "_COMPLETE"):
		return "\033[32m" + status + "\033[0m"
	default:
		return "\033[33m" + status + "\033[0m"
	}
}
