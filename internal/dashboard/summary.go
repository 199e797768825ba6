package dashboard

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// The overview and an app's first page of history render from a summary
// the dashboard keeps, never from the store on the request path: the
// groups of the orbit, and per app the first page of its unfiltered
// history (newest first, which holds its newest release). The summary is
// read once on first use, then again every Options.Refresh in the
// background (one listing of groups per region and one page per app, the
// documents of what is new), and it takes at once every record the
// dashboard sees: the ones its pages and live updates read, and the ones
// handed to Server.Observe (a deployer's own writes). A failed refresh
// keeps the last summary, and the pages say how old it is.

// summary is what the overview and an app's first page show.
type summary struct {
	mu     sync.Mutex
	loaded bool
	groups []Group
	apps   map[string]*appPage
	asOf   time.Time // of the last refresh that succeeded
	failed time.Time // of the last refresh, when it failed (logged)
	// seen are the records observed while a refresh reads, which may
	// be newer than what it read; nil when none reads.
	seen []*elevator.ReleaseRecord

	load    sync.Mutex // one refresh at a time
	started sync.Once  // the background refresh
}

// appPage is the first page of an app's history: its newest records,
// newest first, and the cursor of the page after.
type appPage struct {
	recs []*elevator.ReleaseRecord
	next string
}

// freshness is how fresh what a page shows is.
type freshness struct {
	AsOf   time.Time
	Age    time.Duration // at the time of the page
	Failed time.Time     // when the last refresh failed (its log says why), after AsOf
}

// Refresh reads the summary again now, as the background refresh does
// every Options.Refresh: the groups, then one page per app of the groups
// and the access rules, with the documents the pages show (documents
// never change, so only new ones are read). On an error it keeps the
// summary it had, and the pages say how old that is.
func (s *Server) Refresh(ctx context.Context) error {
	return s.read(ctx, false)
}

// read refreshes the summary; first says to do so only when it was
// never read (the first requests wait for one read, not one each).
func (s *Server) read(ctx context.Context, first bool) error {
	s.sum.load.Lock()
	defer s.sum.load.Unlock()
	if first {
		s.sum.mu.Lock()
		loaded := s.sum.loaded
		s.sum.mu.Unlock()
		if loaded {
			return nil
		}
	}
	began := s.o.Now()
	s.sum.mu.Lock()
	s.sum.seen = []*elevator.ReleaseRecord{}
	s.sum.mu.Unlock()
	err := s.readSummary(ctx, began)
	s.sum.mu.Lock()
	s.sum.seen = nil
	s.sum.mu.Unlock()
	if err != nil {
		s.sum.mu.Lock()
		s.sum.failed = s.o.Now()
		s.sum.mu.Unlock()
		s.o.Log.Warn("dashboard refresh failed; the pages show the last summary", "error", err)
	}
	return err
}

func (s *Server) readSummary(ctx context.Context, began time.Time) error {
	groups, err := s.o.Source.Groups(ctx)
	if err != nil {
		return err
	}
	names := s.appNames(groups)
	pages := make([]*appPage, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, overviewReaders)
	var wg sync.WaitGroup
	for i, app := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			recs, next, err := s.o.Source.Page(ctx, app, s.o.PageSize, "")
			if err != nil {
				errs[i] = err
				return
			}
			pages[i] = &appPage{recs: recs, next: next}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var recs []*elevator.ReleaseRecord
	for _, p := range pages {
		recs = append(recs, p.recs...)
	}
	for _, g := range groups {
		if g.ReleaseID != "" {
			recs = append(recs, &elevator.ReleaseRecord{ID: g.ReleaseID})
		}
	}
	s.prefetch(ctx, recs)
	s.sum.mu.Lock()
	defer s.sum.mu.Unlock()
	s.sum.apps = map[string]*appPage{}
	for i, app := range names {
		s.sum.apps[app] = pages[i]
	}
	// A record seen while the pages were read may be newer than what
	// they hold.
	for _, rec := range s.sum.seen {
		if p := s.sum.apps[rec.App]; p != nil {
			s.sum.apps[rec.App] = p.with(rec, s.o.PageSize)
		}
	}
	s.sum.groups, s.sum.asOf, s.sum.loaded = groups, began, true
	s.sum.failed = time.Time{}
	return nil
}

// appNames are the apps of the overview: those that have groups, and
// those the access rules name.
func (s *Server) appNames(groups []Group) []string {
	apps := map[string]bool{}
	for _, g := range groups {
		if elevator.CheckName("app", g.App) == nil {
			apps[g.App] = true
		}
	}
	for _, rule := range s.o.Orbit.Access {
		for _, a := range rule.Apps {
			apps[a] = true
		}
	}
	names := make([]string, 0, len(apps))
	for a := range apps {
		names = append(names, a)
	}
	sort.Strings(names)
	return names
}

// with returns the page with rec in it, in id order, when rec is newer
// than what the page holds of it (by revision) and belongs in the first
// size records; p itself never changes (templates may be reading it).
func (p *appPage) with(rec *elevator.ReleaseRecord, size int) *appPage {
	out := &appPage{next: p.next}
	placed := false
	for _, r := range p.recs {
		switch {
		case r.ID == rec.ID:
			if rec.Revision >= r.Revision {
				r = rec
			}
			placed = true
		case !placed && rec.ID > r.ID:
			out.recs = append(out.recs, rec)
			placed = true
		}
		out.recs = append(out.recs, r)
	}
	if !placed && p.next == "" {
		out.recs = append(out.recs, rec) // older than all, on the only page
	}
	if len(out.recs) > size {
		out.next = out.recs[size-1].ID
		out.recs = out.recs[:size]
	}
	return out
}

// Observe takes a record the dashboard learns of (a deployer's own
// writes) into the summary at once, so that a page never shows a release
// older than the dashboard has seen it. It is safe for concurrent use.
func (s *Server) Observe(rec *elevator.ReleaseRecord) {
	if rec == nil || rec.App == "" {
		return
	}
	s.sum.mu.Lock()
	defer s.sum.mu.Unlock()
	if s.sum.seen != nil {
		s.sum.seen = append(s.sum.seen, rec)
	}
	if !s.sum.loaded {
		return // the first read will have it
	}
	p := s.sum.apps[rec.App]
	if p == nil {
		return // an app the overview does not show until the next refresh
	}
	s.sum.apps[rec.App] = p.with(rec, s.o.PageSize)
}

// current returns the summary, reading it first on first use and then
// starting the background refresh, which runs until the context given
// to New ends or Close is called.
func (s *Server) current(ctx context.Context) (groups []Group, apps map[string]*appPage, f freshness, err error) {
	s.sum.mu.Lock()
	loaded := s.sum.loaded
	s.sum.mu.Unlock()
	if !loaded {
		if err := s.read(ctx, true); err != nil {
			return nil, nil, f, err
		}
	}
	s.sum.started.Do(func() { go s.refreshEvery() })
	s.sum.mu.Lock()
	defer s.sum.mu.Unlock()
	f = freshness{AsOf: s.sum.asOf, Age: s.o.Now().Sub(s.sum.asOf), Failed: s.sum.failed}
	return s.sum.groups, s.sum.apps, f, nil
}

// refreshEvery refreshes the summary every Refresh.
func (s *Server) refreshEvery() {
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.life, max(s.o.Refresh, time.Minute))
		_ = s.Refresh(ctx)
		cancel()
	}
}

// Close stops the background refresh.
func (s *Server) Close() error {
	s.stop()
	return nil
}
