package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/cloudwatchlogs"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/spf13/cobra"
)

// logReader reads an app's log groups in one region.
type logReader interface {
	Groups(ctx context.Context, prefix string) ([]string, error)
	Events(ctx context.Context, group string, start, end time.Time) ([]cloudwatchlogs.Event, error)
}

// logSource is one service's log group in one region.
type logSource struct {
	region, service, group string
	logs                   logReader
}

// logEvent is one line of `elevator logs`, as --output json prints it.
type logEvent struct {
	Time    time.Time `json:"time"`
	Region  string    `json:"region"`
	Service string    `json:"service"`
	Stream  string    `json:"stream"` // the instance id
	ID      string    `json:"id"`
	Message string    `json:"message"`
}

const (
	// followInterval is how often --follow looks for new events.
	followInterval = 2 * time.Second
	// followLookback is how far before the newest event seen --follow
	// looks again: the agent ships events in batches, so an event can
	// arrive a few seconds after a later one. Events seen are skipped by
	// id.
	followLookback = 30 * time.Second
)

func newLogsCmd(g *globals) *cobra.Command {
	e := &orbitEnv{globals: g}
	var app, service string
	var since, poll time.Duration
	var follow bool
	c := &cobra.Command{
		Use:   "logs",
		Short: "Print an app's logs from CloudWatch Logs, every service and instance interleaved by time",
		Long: `Print the events of the app's log groups (one per service, ` + elevator.AppPath("<orbit>", "<app>") + `<service>,
one stream per instance, or per task of an ECS service), in every region of the orbit (or --region), in time
order, each line prefixed with its service and instance. --follow keeps
printing new events until interrupted. With --output json, each event is one
JSON object on a line of its own.`,
		Example: `  elevator logs --orbit production --app shop --since 1h
  elevator logs --orbit production --app shop --service web --follow`,
		Args: noArgs,
	}
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := e.validate(); err != nil {
			return err
		}
		if err := checkAppService(app, service, true); err != nil {
			return err
		}
		if since <= 0 {
			return elevator.Errorf(elevator.EINVALID, "--since %s: want a positive duration, such as 10m", since)
		}
		if err := checkPollInterval(cmd, poll); err != nil {
			return err
		}
		ctx := cmd.Context()
		sources, err := e.logSources(ctx, app, service)
		if err != nil {
			return err
		}
		t := &tail{g: g, sources: sources, seen: map[string]time.Time{}, multiRegion: len(e.orbit.Regions) > 1}
		start := time.Now().Add(-since)
		if err := t.read(ctx, start); err != nil {
			return err
		}
		if t.newest.IsZero() && !g.json() {
			fmt.Fprintf(g.stderr, "no events in the last %s in %d log groups of %s\n", since, len(sources), app)
		}
		if !follow {
			return nil
		}
		for {
			select {
			case <-ctx.Done():
				return nil // interrupting --follow is how it ends
			case <-time.After(poll):
			}
			from := start
			if !t.newest.IsZero() && t.newest.Add(-followLookback).After(from) {
				from = t.newest.Add(-followLookback)
			}
			if err := t.read(ctx, from); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
	e.addFlags(c)
	c.Flags().StringVar(&app, "app", "", "the app (required)")
	c.Flags().StringVar(&service, "service", "", "only this service (default: every service of the app)")
	c.Flags().DurationVar(&since, "since", 10*time.Minute, "how far back to start (a positive duration)")
	c.Flags().BoolVarP(&follow, "follow", "F", false, "keep printing new events until interrupted")
	c.Flags().DurationVar(&poll, "poll-interval", followInterval, "time between two looks for new events with --follow")
	_ = c.Flags().MarkHidden("poll-interval")
	return c
}

// logSources finds the log groups to read: the service's, or every
// service's of the app, in each region.
func (e *orbitEnv) logSources(ctx context.Context, app, service string) ([]logSource, error) {
	prefix := elevator.AppPath(e.orbit.Name, app)
	var sources []logSource
	for _, r := range e.orbit.Regions {
		cfg, err := e.configs.For(ctx, r.Name)
		if err != nil {
			return nil, err
		}
		client := cloudwatchlogs.New(cfg)
		if service != "" {
			sources = append(sources, logSource{region: r.Name, service: service, group: compile.LogGroupName(e.orbit.Name, app, service), logs: client})
			continue
		}
		groups, err := client.Groups(ctx, prefix)
		if err != nil {
			return nil, err
		}
		for _, grp := range groups {
			if svc := strings.TrimPrefix(grp, prefix); svc != "" && !strings.Contains(svc, "/") {
				sources = append(sources, logSource{region: r.Name, service: svc, group: grp, logs: client})
			}
		}
	}
	if len(sources) == 0 {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "app %s has no log groups (%s*) in orbit %s in %s: is it up (`elevator app up`)?", app, prefix, e.orbit.Name, strings.Join(regionNames(e.orbit), ", "))
	}
	return sources, nil
}

// tail reads log sources and prints each event once.
type tail struct {
	g           *globals
	sources     []logSource
	seen        map[string]time.Time // event ids printed, with their time
	newest      time.Time
	multiRegion bool
}

// read prints the events of every source from start on that it has not
// printed yet, interleaved by time, and forgets the ids of events too old
// to be read again.
func (t *tail) read(ctx context.Context, start time.Time) error {
	var events []logEvent
	for _, s := range t.sources {
		got, err := s.logs.Events(ctx, s.group, start, time.Time{})
		if errors.Is(err, cloudwatchlogs.ErrNotFound) {
			return elevator.Errorf(elevator.ENOTFOUND, "service %s has no log group %s in %s: is the app up there, with that service?", s.service, s.group, s.region)
		}
		if err != nil {
			return err
		}
		for _, ev := range got {
			key := s.region + " " + s.group + " " + ev.ID
			if _, dup := t.seen[key]; dup {
				continue
			}
			t.seen[key] = ev.Time
			events = append(events, logEvent{Time: ev.Time, Region: s.region, Service: s.service, Stream: ev.Stream, ID: ev.ID, Message: strings.TrimRight(ev.Message, "\n")})
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i], events[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.Stream < b.Stream
	})
	for _, ev := range events {
		if ev.Time.After(t.newest) {
			t.newest = ev.Time
		}
		if err := t.print(ev); err != nil {
			return err
		}
	}
	for key, at := range t.seen {
		if at.Before(t.newest.Add(-2 * followLookback)) {
			delete(t.seen, key)
		}
	}
	return nil
}

func (t *tail) print(ev logEvent) error {
	if t.g.json() {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(t.g.stdout, "%s\n", b)
		return err
	}
	prefix := ev.Time.Format("2006-01-02T15:04:05.000Z07:00") + "  "
	if t.multiRegion {
		prefix += ev.Region + "  "
	}
	_, err := fmt.Fprintf(t.g.stdout, "%s%s  %s  %s\n", prefix, ev.Service, ev.Stream, ev.Message)
	return err
}
