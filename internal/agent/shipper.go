package agent

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elevatorhq/elevator/internal/aws/cloudwatchlogs"
)

// CloudWatch Logs' limits on one PutLogEvents call, and what the shipper
// keeps in memory while CloudWatch cannot be reached.
const (
	// DefaultFlushEvery is the longest a line waits before it is sent.
	DefaultFlushEvery = 2 * time.Second
	maxBatchEvents    = 10_000
	maxBatchBytes     = 1 << 20 // counting eventOverhead per event
	eventOverhead     = 26
	// maxEventBytes is the longest message of one event: longer lines are
	// split. (CloudWatch takes 1 MiB events; 256 KiB keeps a batch of
	// several lines.)
	maxEventBytes = 256 << 10
	// maxBuffered bounds the lines waiting to be sent; beyond it the
	// oldest are dropped, so a logs outage never blocks the service.
	maxBufferedBytes  = 8 << 20
	maxBufferedEvents = 100_000
)

// shipper sends lines to one CloudWatch log stream in batches: every
// FlushEvery, or at once when a batch is full. Add never blocks on AWS.
type shipper struct {
	w             LogWriter
	group, stream string
	log           *slog.Logger
	now           func() time.Time
	every         time.Duration

	mu       sync.Mutex
	buf      []cloudwatchlogs.Event
	bytes    int
	dropped  int  // lines dropped since the last report
	dropSaid bool // the drop was reported
	failing  bool // the last Put failed (reported once per outage)
	full     chan struct{}
	done     chan struct{}
	stopped  chan struct{}
	started  bool
}

func newShipper(w LogWriter, group, stream string, log *slog.Logger, now func() time.Time, every time.Duration) *shipper {
	if every <= 0 {
		every = DefaultFlushEvery
	}
	return &shipper{w: w, group: group, stream: stream, log: log, now: now, every: every,
		full: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
}

// Add queues one line (without its line break). Empty lines are not sent:
// CloudWatch refuses empty events.
func (s *shipper) Add(line string) {
	if line == "" {
		return
	}
	line = strings.ToValidUTF8(line, "\uFFFD")
	t := s.now()
	s.mu.Lock()
	for len(line) > 0 {
		n := min(len(line), maxEventBytes)
		for n < len(line) && !utf8.RuneStart(line[n]) {
			n--
		}
		s.push(cloudwatchlogs.Event{Time: t, Message: line[:n]})
		line = line[n:]
	}
	ready := len(s.buf) >= maxBatchEvents || s.bytes >= maxBatchBytes
	s.mu.Unlock()
	if ready {
		select {
		case s.full <- struct{}{}:
		default:
		}
	}
}

// push appends e, dropping the oldest lines beyond the bound. s.mu is held.
func (s *shipper) push(e cloudwatchlogs.Event) {
	s.buf = append(s.buf, e)
	s.bytes += len(e.Message) + eventOverhead
	for len(s.buf) > maxBufferedEvents || s.bytes > maxBufferedBytes {
		s.bytes -= len(s.buf[0].Message) + eventOverhead
		s.buf = s.buf[1:]
		s.dropped++
	}
	if s.dropped > 0 && !s.dropSaid {
		s.dropSaid = true
		s.log.Warn("log buffer full: dropping the oldest lines until CloudWatch Logs takes them again", "group", s.group, "stream", s.stream)
	}
}

// take removes and returns the next batch: at most maxBatchEvents events
// and maxBatchBytes bytes, in time order.
func (s *shipper) take() []cloudwatchlogs.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, size := 0, 0
	for n < len(s.buf) && n < maxBatchEvents {
		sz := len(s.buf[n].Message) + eventOverhead
		if n > 0 && size+sz > maxBatchBytes {
			break
		}
		size += sz
		n++
	}
	batch := append([]cloudwatchlogs.Event(nil), s.buf[:n]...)
	s.buf = s.buf[n:]
	s.bytes -= size
	sort.SliceStable(batch, func(i, j int) bool { return batch[i].Time.Before(batch[j].Time) })
	return batch
}

// giveBack puts a batch that could not be sent back in front of the queue,
// within the bound (the oldest go first).
func (s *shipper) giveBack(batch []cloudwatchlogs.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rest := s.buf
	s.buf, s.bytes = nil, 0
	for _, e := range append(batch, rest...) {
		s.push(e)
	}
}

// flush sends everything queued, batch after batch. It returns false
// when a batch could not be sent (it is queued again).
func (s *shipper) flush(ctx context.Context) bool {
	for {
		batch := s.take()
		if len(batch) == 0 {
			return true
		}
		rejected, err := s.w.Put(ctx, s.group, s.stream, batch)
		s.mu.Lock()
		wasFailing := s.failing
		s.failing = err != nil
		dropped := s.dropped
		if err == nil {
			s.dropped, s.dropSaid = 0, false
		}
		s.mu.Unlock()
		if err != nil {
			if !wasFailing {
				s.log.Warn("cannot ship the service's output to CloudWatch Logs: keeping it and trying again", "group", s.group, "stream", s.stream, "error", err.Error())
			}
			s.giveBack(batch)
			return false
		}
		if wasFailing {
			s.log.Info("shipping the service's output to CloudWatch Logs again", "group", s.group, "stream", s.stream)
		}
		if dropped > 0 {
			s.log.Warn("lines dropped while CloudWatch Logs could not take them", "lines", dropped)
		}
		if rejected > 0 {
			s.log.Warn("CloudWatch Logs rejected lines as too old or too new", "lines", rejected)
		}
	}
}

// start sends batches in the background until Close.
func (s *shipper) start(ctx context.Context) {
	s.started = true
	go s.run(ctx)
}

func (s *shipper) run(ctx context.Context) {
	defer close(s.stopped)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.full:
		}
		s.flush(ctx)
	}
}

// Close stops the loop and sends what is left, giving up at ctx's end.
func (s *shipper) Close(ctx context.Context) {
	close(s.done)
	if s.started {
		<-s.stopped
	}
	for ctx.Err() == nil && !s.flush(ctx) {
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	s.mu.Lock()
	left := len(s.buf)
	s.mu.Unlock()
	if left > 0 {
		s.log.Warn("lines not shipped to CloudWatch Logs before the agent ended", "lines", left)
	}
}
