// Package release is Elevator's release engine: it drives a release (an
// immutable request to put one version of an app into one orbit) through a
// state machine that creates new Auto Scaling Groups, waits until they are
// healthy behind their load balancers, then retires the old ones, or tears
// the new ones down and leaves the old ones serving.
//
// The state machine is a transition table (table.go). Each state is a Step
// that re-reads real state, is safe to run twice, and asks to be called
// again after a delay instead of sleeping; its row also declares whether
// it moves the release forward, obeys halts, holds the lock, how often its
// step is retried, and what happens when it fails for good. The Engine
// persists the release's record after every transition, renews the (app,
// orbit) lock's lease, obeys halts at every transition and poll, and can
// resume a release whose engine died. Every wait is bounded: a state is
// tried a bounded number of times (a halt flag it cannot read counts),
// never past the release's timeout, and a state store that stops
// answering stops the engine (ErrStoreUnreachable) with the release as
// last stored, for Resume. Its changes in AWS are fenced by the lock
// (fence.go). It talks to AWS only through the small interfaces in
// interfaces.go (Store, Locker, Cloud), and imports no AWS SDK.
//
// The paths through the table:
//
//	Validate -> Lock -> ValidateResources -> Deploy -> CheckHealthy
//	  [-> ScaleUp -> CheckHealthy]...      (canary and percent strategies)
//	  -> CutOver [-> Deploy ... -> CutOver]... (sequential regions)
//	  -> CleanUpSuccess -> Unlock -> Success
//	Validate, Lock (held by another release; or resumed after a newer
//	  release took the lock, or with a refused document) -> FailureClean
//	ValidateResources -> Unlock -> FailureClean
//	Deploy, CheckHealthy, ScaleUp, CutOver -> CleanUpFailure -> Unlock -> FailureClean
//	CleanUpSuccess, CleanUpFailure (giving up) -> Unlock -> FailureDirty
//
// A gated release (see gates.go) adds SmokeTest between CheckHealthy and
// CutOver, IntegrationTest and Bake between the last CutOver and
// CleanUpSuccess, and RollBack:
//
//	SmokeTest -> CleanUpFailure -> Unlock -> FailureClean
//	IntegrationTest, Bake -> RollBack -> CleanUpFailure -> Unlock -> FailureClean
package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elevatorhq/elevator"
)

// Defaults of Config.
const (
	DefaultPoll     = 5 * time.Second
	DefaultLease    = time.Minute
	DefaultMaxAge   = 10 * 24 * time.Hour
	DefaultMaxAhead = 2 * time.Minute
)

// Config is what an Engine needs. Store, Locker, Clouds and Owner are
// required.
type Config struct {
	Store  Store
	Locker Locker
	// Clouds has one Cloud per region the engine may release into.
	Clouds []Cloud
	Clock  elevator.Clock // elevator.SystemClock when nil
	// Owner names this engine instance in locks and records, such as
	// "host/pid/random"; it must differ between engines.
	Owner string
	// Poll is the longest time between two looks at AWS while waiting;
	// each wait is a random time between half of it and all of it.
	Poll time.Duration
	// Lease is how long a lock stays held after its last renewal.
	Lease time.Duration
	// MaxAge and MaxAhead bound a release's created_at around now, at
	// Validate; MaxAge again when a release is resumed.
	MaxAge, MaxAhead time.Duration
	// MaxAttempts, when set, replaces how many times every state is tried
	// on errors before its catch (see the table's retry column), and how
	// many times a record or audit write is tried.
	MaxAttempts int
	Log         *slog.Logger // discards when nil
	// Observe, when set, is called with a deep copy of the record after
	// every write, for progress output. It runs on the engine's goroutine.
	Observe func(elevator.ReleaseRecord)
	// ObserveRenewal, when set, is called after each renewal of a lease
	// with its outcome: RenewalOK, RenewalLost (another engine or release
	// has the lock) or RenewalError (the lock table did not answer).
	ObserveRenewal func(outcome string)
	// Random is the source of jitter in [0, 1) (math/rand/v2's when nil); it
	// must be safe for concurrent use when the Engine runs several
	// releases at once.
	Random func() float64
	// IDs is the source of the random part of the ids Rollback makes
	// (crypto/rand when nil).
	IDs io.Reader
	// Tester runs the http and command tests of releases' gates
	// (LocalTester when nil).
	Tester Tester
}

// Outcomes of a lease renewal, as Config.ObserveRenewal sees them.
const (
	RenewalOK    = "ok"
	RenewalLost  = "lost"
	RenewalError = "error"
)

// renewed tells Config.ObserveRenewal how a renewal went.
func (e *Engine) renewed(err error) {
	if e.c.ObserveRenewal == nil {
		return
	}
	switch {
	case err == nil:
		e.c.ObserveRenewal(RenewalOK)
	case errors.Is(err, ErrLockLost):
		e.c.ObserveRenewal(RenewalLost)
	default:
		e.c.ObserveRenewal(RenewalError)
	}
}

// Engine drives releases. It is safe for concurrent use by several
// releases; one Engine value is one Owner.
type Engine struct {
	c      Config
	clouds map[string]Cloud
}

// New returns an Engine, or an EINVALID error when a required part of c is
// missing.
func New(c Config) (*Engine, error) {
	if c.Store == nil || c.Locker == nil || c.Owner == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "release engine: a store, a locker and an owner are required")
	}
	e := &Engine{c: c, clouds: map[string]Cloud{}}
	for _, cl := range c.Clouds {
		e.clouds[cl.Region()] = cl
	}
	if e.c.Clock == nil {
		e.c.Clock = elevator.SystemClock{}
	}
	if e.c.Poll <= 0 {
		e.c.Poll = DefaultPoll
	}
	if e.c.Lease <= 0 {
		e.c.Lease = DefaultLease
	}
	if e.c.MaxAge <= 0 {
		e.c.MaxAge = DefaultMaxAge
	}
	if e.c.MaxAhead <= 0 {
		e.c.MaxAhead = DefaultMaxAhead
	}
	if e.c.Log == nil {
		e.c.Log = slog.New(slog.DiscardHandler)
	}
	return e, nil
}

// Release is a release in flight: its document, its record, and the lock
// the engine holds for it. Steps read Doc and change Rec; the engine
// stores Rec after every transition.
type Release struct {
	Doc *elevator.Release
	Rec *elevator.ReleaseRecord

	lock   Lock
	locked bool
	// stored is the document as this engine stored it when it submitted
	// the release (see Start), so Validate need not read it back; nil
	// means read it.
	stored []byte
	// fresh says the record was stored since the engine last waited: the
	// write would have been refused had the release been halted (see
	// Store.PutRecord), so the halt flag need not be read.
	fresh bool
	// fence is the lock check of the current run of a step (see fence.go).
	fence fenceState
	mu    sync.Mutex // guards Rec.Calls and Rec.Notes while regions work in parallel
}

func (r *Release) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Rec.Notes = append(r.Rec.Notes, fmt.Sprintf(format, args...))
}

func (r *Release) count(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Rec.Calls == nil {
		r.Rec.Calls = map[string]int{}
	}
	r.Rec.Calls[name]++
}

// stateSince is when the release entered its current state.
func (r *Release) stateSince() time.Time {
	if n := len(r.Rec.Visits); n > 0 {
		return r.Rec.Visits[n-1]
	}
	return r.Rec.UpdatedAt
}

// failure is an error that retrying cannot fix, and why the release
// fails because of it.
type failure struct {
	why elevator.ReleaseFailure
	err error
}

func (f *failure) Error() string   { return f.err.Error() }
func (f *failure) Unwrap() []error { return []error{f.err, f.why} }

// fail returns a permanent error: the state's catch takes it at once, and
// a release that fails because of it says why.
func fail(why elevator.ReleaseFailure, format string, args ...any) error {
	return &failure{why: why, err: fmt.Errorf(format, args...)}
}

// failureOf is why a release fails because of err: the ReleaseFailure err
// wraps, or FailureStep.
func failureOf(err error) elevator.ReleaseFailure {
	var why elevator.ReleaseFailure
	if errors.As(err, &why) {
		return why
	}
	return elevator.FailureStep
}

// leftBehind is the error of a cleanup step: what it could not remove
// (yet), which its state's catch names in the record when it gives up.
type leftBehind struct {
	left []string
	err  error
}

func (l *leftBehind) Error() string { return l.err.Error() }
func (l *leftBehind) Unwrap() error { return l.err }

func permanent(err error) bool {
	var f *failure
	return errors.As(err, &f) || elevator.ErrorCode(err) == elevator.EINVALID
}

// abort stops the engine without writing anything: another engine is in
// charge of the release.
type abort struct{ err error }

func (a *abort) Error() string { return a.err.Error() }
func (a *abort) Unwrap() error { return a.err }

func (e *Engine) now() time.Time { return e.c.Clock.Now().UTC() }

// Submit writes a release down before anything changes: its canonical
// document and checksum, and a record that has not started. Submitting the
// same release again returns its record. It returns EINVALID for a release
// that fails Check, and ErrExists when another document has the id.
func (e *Engine) Submit(ctx context.Context, rel *elevator.Release) (*elevator.ReleaseRecord, error) {
	rec, _, err := e.submit(ctx, rel, false)
	return rec, err
}

// submit is Submit, and returns the stored document too, or nil when the
// release had been submitted before. With start, the record it writes has
// entered Validate already: one write for both.
func (e *Engine) submit(ctx context.Context, rel *elevator.Release, start bool) (*elevator.ReleaseRecord, []byte, error) {
	if err := rel.Check(); err != nil {
		return nil, nil, err
	}
	doc, err := rel.Canonical()
	if err != nil {
		return nil, nil, err
	}
	sum := elevator.ChecksumOf(doc)
	if err := e.c.Store.PutRelease(ctx, rel.ID, doc, sum); err != nil {
		return nil, nil, fmt.Errorf("store release %s: %w", rel.ID, err)
	}
	now := e.now()
	rec := &elevator.ReleaseRecord{ID: rel.ID, App: rel.App, Orbit: rel.Orbit, Revision: 1,
		State: elevator.StateValidate, Path: []State{}, Visits: []time.Time{}, Owner: e.c.Owner,
		SubmittedAt: now, UpdatedAt: now, Regions: []elevator.ReleaseRegionRecord{}}
	if start {
		rec.Path, rec.Visits, rec.Checksum = []State{elevator.StateValidate}, []time.Time{now}, sum
	}
	if err := e.c.Store.PutRecord(ctx, rec); errors.Is(err, ErrStale) {
		rec, err := e.c.Store.Record(ctx, rel.ID)
		return rec, nil, err
	} else if err != nil {
		return nil, nil, fmt.Errorf("store record of release %s: %w", rel.ID, err)
	}
	err = e.c.Store.Audit(ctx, elevator.AuditEntry{At: now, By: rel.CreatedBy, Action: elevator.AuditSubmit,
		App: rel.App, Orbit: rel.Orbit, ReleaseID: rel.ID, Outcome: "submitted",
		Detail: fmt.Sprintf("version %s, sha256 %s", rel.Version, sum)})
	if err != nil {
		return nil, nil, fmt.Errorf("audit release %s: %w", rel.ID, err)
	}
	return rec, doc, nil
}

// Run starts a submitted release and drives it to an end state, which it
// returns in the record; the error is nil whenever the release ended, even
// in failure. checksum is the checksum of the release the caller means:
// the release fails Validate when the stored document's differs (replay
// protection). Run returns ECONFLICT when the release already started (use
// Resume), and stops with ctx's error (leaving the release to Resume) when
// ctx ends.
func (e *Engine) Run(ctx context.Context, id, checksum string) (*elevator.ReleaseRecord, error) {
	rec, err := e.c.Store.Record(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read record of release %s: %w", id, err)
	}
	return e.run(ctx, &Release{Rec: rec}, checksum)
}

// Start submits a release and runs it, as Submit then Run do, without
// reading back what it has just stored: the record it wrote, and the
// document, which Validate checks as this engine stored it.
func (e *Engine) Start(ctx context.Context, rel *elevator.Release) (*elevator.ReleaseRecord, error) {
	rec, doc, err := e.submit(ctx, rel, true)
	if err != nil {
		return nil, err
	}
	if doc == nil { // submitted before: run it as Run would
		sum, err := rel.Checksum()
		if err != nil {
			return nil, err
		}
		return e.run(ctx, &Release{Rec: rec}, sum)
	}
	r := &Release{Rec: rec, stored: doc, fresh: true}
	e.observe(r)
	return e.drive(ctx, r)
}

func (e *Engine) run(ctx context.Context, r *Release, checksum string) (*elevator.ReleaseRecord, error) {
	if len(r.Rec.Path) > 0 {
		return r.Rec, elevator.Errorf(elevator.ECONFLICT, "release %s already started (it is in %s); resume it instead", r.Rec.ID, r.Rec.State)
	}
	r.Rec.Checksum = checksum
	if err := e.enter(ctx, r, elevator.StateValidate); err != nil {
		return r.Rec, err
	}
	return e.drive(ctx, r)
}

// ErrRunning is the cause of the ECONFLICT error Resume returns while
// another engine's lease on the release is live; once the lease ends (its
// engine died), Resume can take over.
var ErrRunning = errors.New("its lease is live")

// running is the error of a release whose lock l another engine holds
// for it.
func running(id string, l Lock) error {
	return &elevator.Error{Code: elevator.ECONFLICT, Err: ErrRunning,
		Message: fmt.Sprintf("release %s is being run by engine %s (lease until %s)", id, l.Owner, l.Expires.Format(time.RFC3339))}
}

// Resume continues a release whose engine stopped, from the state it last
// stored, and drives it to an end state like Run. An ended release is
// returned as it is. While another engine's lease on the release is live,
// Resume changes nothing and returns ECONFLICT wrapping ErrRunning; of two
// engines resuming at once, one proceeds and the other returns ECONFLICT.
// by is who asked, for the audit log.
//
// A resumed release gets the checks a new one gets (replay protection)
// before it moves forward again: its stored document must still match its
// checksum and be valid, and its created_at must be within MaxAge; and,
// when it stopped before it held the lock, no release of its app in its
// orbit made after it may have taken the lock since, or moving on would
// put an older version over a newer one. A release that fails them is
// turned back by its state's failure transition: it cleans up what it
// made (found by its id, without trusting a refused document) and ends
// FailureClean, saying why (FailureInvalid, FailureSuperseded).
func (e *Engine) Resume(ctx context.Context, id, by string) (*elevator.ReleaseRecord, error) {
	rec, err := e.c.Store.Record(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read record of release %s: %w", id, err)
	}
	if rec.State.Ended() {
		return rec, nil
	}
	if len(rec.Path) == 0 {
		return rec, elevator.Errorf(elevator.ECONFLICT, "release %s has not started; run it", id)
	}
	r := &Release{Rec: rec}
	var refused error
	if rec.State != elevator.StateValidate {
		if r.Doc, err = e.load(ctx, id, rec.Checksum); err != nil {
			if !permanent(err) {
				return rec, err
			}
			refused, r.Doc = err, standIn(rec, by)
		}
	}
	if rec.State == elevator.StateLock {
		// The dead engine may have taken the lock just before it died:
		// wait for its lease as in any state that holds the lock.
		l, err := e.locker(r).Get(ctx, rec.App, rec.Orbit)
		switch {
		case err == nil && l.ReleaseID == id && l.Owner != e.c.Owner && e.now().Before(l.Expires):
			return rec, running(id, l)
		case err != nil && !errors.Is(err, ErrNotFound):
			return rec, fmt.Errorf("read the lock of %s in %s: %w", rec.App, rec.Orbit, err)
		}
	}
	if table[rec.State].locked {
		if err := e.reclaim(ctx, r); err != nil {
			return r.Rec, err
		}
	}
	err = e.c.Store.Audit(ctx, elevator.AuditEntry{At: e.now(), By: by, Action: elevator.AuditResume,
		App: rec.App, Orbit: rec.Orbit, ReleaseID: id, Outcome: "resumed", Detail: fmt.Sprintf("in %s by engine %s", rec.State, e.c.Owner)})
	if err != nil {
		return r.Rec, fmt.Errorf("audit resume of release %s: %w", id, err)
	}
	if err := e.recheck(ctx, r, refused); err != nil {
		return r.Rec, err
	}
	return e.drive(ctx, r)
}

// load reads a release document that passed Validate. A document that
// no longer matches its checksum, or no longer parses, is a permanent
// FailureInvalid error.
func (e *Engine) load(ctx context.Context, id, checksum string) (*elevator.Release, error) {
	doc, sum, err := e.c.Store.Release(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fail(elevator.FailureInvalid, "no release document is stored under id %s any more", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read release %s: %w", id, err)
	}
	if got := elevator.ChecksumOf(doc); got != sum || sum != checksum {
		return nil, fail(elevator.FailureInvalid, "the stored document changed after it was validated (sha256 %s, stored %s, released %s)", got, sum, checksum)
	}
	rel, err := elevator.ParseRelease(doc)
	if err == nil && rel.ID != id {
		err = fmt.Errorf("the document stored under id %s has id %s", id, rel.ID)
	}
	if err != nil {
		return nil, fail(elevator.FailureInvalid, "the stored document no longer reads: %w", err)
	}
	return rel, nil
}

// standInTimeout is the timeout of a stand-in release (see standIn): how
// long its cleanup waits for old groups to serve again.
const standInTimeout = 10 * time.Minute

// standIn is what the engine knows of a release whose stored document it
// refused, from its record alone: its id, app, orbit and regions, which is
// all cleanup needs (groups are found by the release's id, old groups are
// in the record). by, who resumed it, stands for whoever made it.
func standIn(rec *elevator.ReleaseRecord, by string) *elevator.Release {
	rel := &elevator.Release{ID: rec.ID, App: rec.App, Orbit: rec.Orbit, CreatedBy: by,
		TimeoutSeconds: int(standInTimeout / time.Second)}
	for _, rr := range rec.Regions {
		rel.Regions = append(rel.Regions, rr.Region)
	}
	return rel
}

// recheck turns back a resumed release that may not move forward (see
// Resume): refused is why its stored document was refused, if it was.
// States from cleanup on go on: they only finish what the release
// started, and need no more of the document than a stand-in gives.
func (e *Engine) recheck(ctx context.Context, r *Release, refused error) error {
	t := table[r.Rec.State]
	if r.Rec.Failed || (!t.forward && r.Rec.State != elevator.StateLock && r.Rec.State != elevator.StateValidate) {
		if refused != nil {
			r.note("resumed with a stand-in for its refused document: %v", refused)
		}
		return nil
	}
	why := refused
	if why == nil && r.Doc != nil {
		if age := e.now().Sub(r.Doc.CreatedAt); age > e.c.MaxAge {
			why = fail(elevator.FailureInvalid, "created_at %s is %s old; releases older than %s are not resumed (replay protection): make a new release",
				r.Doc.CreatedAt.Format(time.RFC3339), age.Round(time.Second), e.c.MaxAge)
		}
	}
	if why == nil && !t.locked {
		newer, err := e.overtaken(ctx, r)
		if err != nil {
			return err
		}
		if newer != nil {
			why = fail(elevator.FailureSuperseded, "release %s of %s in %s, made after this one, took the lock (at %s) while this one was stopped; resuming it would put an older release over a newer one",
				newer.ID, r.Rec.App, r.Rec.Orbit, newer.LockedAt.Format(time.RFC3339))
		}
	}
	if why == nil {
		return nil
	}
	r.Rec.Failed = true
	r.Rec.Error = fmt.Sprintf("%s: resume refused: %v", r.Rec.State, why)
	r.Rec.Failure = failureOf(why)
	return e.enter(ctx, r, t.fail)
}

// overtaken returns a release of r's app in its orbit, made after r (a
// later id stamp, or the same stamp and submitted later: see
// elevator.ReleaseIDStamp), that took the lock; nil when there is none.
func (e *Engine) overtaken(ctx context.Context, r *Release) (*elevator.ReleaseRecord, error) {
	id := r.Rec.ID
	stamp := elevator.ReleaseIDStamp(id)
	// Every id with this stamp or a later one sorts after the stamp.
	recs, err := e.store(r).ReleasesAfter(ctx, r.Rec.App, stamp)
	if err != nil {
		return nil, fmt.Errorf("find releases of %s in %s made after %s: %w", r.Rec.App, r.Rec.Orbit, id, err)
	}
	for _, o := range recs {
		later := elevator.ReleaseIDStamp(o.ID) != stamp || o.SubmittedAt.After(r.Rec.SubmittedAt)
		if o.ID != id && later && !o.LockedAt.IsZero() {
			return o, nil
		}
	}
	return nil, nil
}

// reclaim takes the lock back for a resumed release past Lock. A lease of
// the same release that expired is taken over; a lock that was broken or
// taken by another release while the engine was down turns a release that
// was moving forward back (it may no longer own what it was changing).
func (e *Engine) reclaim(ctx context.Context, r *Release) error {
	now := e.now()
	want := e.lockOf(r, now)
	prev, err := e.c.Locker.Acquire(ctx, want, now)
	var held *LockHeldError
	switch {
	case errors.As(err, &held) && held.Lock.ReleaseID == r.Rec.ID:
		return running(r.Rec.ID, held.Lock)
	case held != nil && r.Rec.State == elevator.StateUnlock:
		r.note("lock of %s in %s was already taken by release %s; nothing to release", r.Rec.App, r.Rec.Orbit, held.Lock.ReleaseID)
		return nil
	case held != nil:
		return elevator.Errorf(elevator.ECONFLICT, "cannot resume release %s: %v; resume once it has ended", r.Rec.ID, held)
	case err != nil:
		return fmt.Errorf("take the lock back for release %s: %w", r.Rec.ID, err)
	}
	r.lock, r.locked = want, true
	// Another engine may have moved the release on (and even ended it)
	// between reading the record and taking the lock.
	if cur, err := e.store(r).Record(ctx, r.Rec.ID); err != nil || cur.Revision != r.Rec.Revision {
		if rerr := e.locker(r).Release(ctx, want); rerr != nil {
			e.c.Log.Warn("release lock release failed", "release", r.Rec.ID, "err", rerr)
		}
		r.locked = false
		if err != nil {
			return fmt.Errorf("read record of release %s: %w", r.Rec.ID, err)
		}
		return elevator.Errorf(elevator.ECONFLICT, "release %s was moved on by engine %s while resuming; nothing done", r.Rec.ID, cur.Owner)
	}
	if prev.ReleaseID == r.Rec.ID {
		if prev.Owner != e.c.Owner {
			r.note("engine %s took over from engine %s, whose lease ended at %s", e.c.Owner, prev.Owner, prev.Expires.Format(time.RFC3339))
		}
		return nil
	}
	lost := "the lock was broken while no engine ran the release"
	if prev.ReleaseID != "" {
		lost = fmt.Sprintf("release %s took the lock (lease ended at %s) while no engine ran this one", prev.ReleaseID, prev.Expires.Format(time.RFC3339))
	}
	r.note("%s", lost)
	if !table[r.Rec.State].forward {
		return nil
	}
	r.Rec.Failed = true
	r.Rec.Error = lost + "; rolled back"
	r.Rec.Failure = elevator.FailureLockLost
	return e.enter(ctx, r, table[r.Rec.State].fail)
}

// lockOf is the lock the engine holds for r, with a lease from now.
func (e *Engine) lockOf(r *Release, now time.Time) Lock {
	since := r.Rec.LockedAt
	if since.IsZero() {
		since = now
	}
	return Lock{App: r.Doc.App, Orbit: r.Doc.Orbit, ReleaseID: r.Doc.ID, Owner: e.c.Owner,
		Holder: r.Doc.CreatedBy, Since: since, Expires: now.Add(e.c.Lease)}
}

// drive runs the state machine until the release ends, ctx ends, or
// another engine takes over.
func (e *Engine) drive(ctx context.Context, r *Release) (*elevator.ReleaseRecord, error) {
	for {
		state := r.Rec.State
		if state.Ended() {
			return r.Rec, nil
		}
		if err := ctx.Err(); err != nil {
			return r.Rec, err
		}
		t := table[state]
		halted, err := e.halted(ctx, r, t)
		if errors.Is(err, errHaltUnknown) {
			if ctx.Err() != nil {
				return r.Rec, ctx.Err()
			}
			// Not knowing is a failed attempt like any other: the state's
			// attempts and the release's timeout bound it. The engine then
			// stops where the store last saw the release, for a resume.
			r.Rec.Attempts++
			if r.Rec.Attempts >= e.attempts(t.retry) || e.overdue(r) {
				return r.Rec, e.unreachable(r, state, err)
			}
			// The lock table may answer while the releases table does not:
			// keep the lease while waiting to look again.
			if err := e.renew(ctx, r); err != nil {
				return r.Rec, err
			}
			if err := e.wait(ctx, r, e.backoff(t.retry, r.Rec.Attempts)); err != nil {
				return r.Rec, err
			}
			continue
		}
		if err != nil {
			return r.Rec, err
		}
		if halted {
			continue
		}
		if err := e.renew(ctx, r); err != nil {
			return r.Rec, err
		}
		r.armFence()
		out, err := t.step(e, ctx, r)
		if ctx.Err() != nil {
			return r.Rec, ctx.Err()
		}
		var stop *abort
		if errors.As(err, &stop) {
			return r.Rec, stop.err
		}
		if err != nil {
			r.Rec.Attempts++
			e.c.Log.Warn("release step failed", "release", r.Rec.ID, "state", state, "attempt", r.Rec.Attempts, "err", err)
			if permanent(err) || r.Rec.Attempts >= e.attempts(t.retry) || e.overdue(r) {
				if err := e.enter(ctx, r, e.giveUp(r, t, err)); err != nil {
					return r.Rec, err
				}
				continue
			}
			if err := e.wait(ctx, r, e.backoff(t.retry, r.Rec.Attempts)); err != nil {
				return r.Rec, err
			}
			continue
		}
		if out.Next == "" {
			if out.Save {
				if err := e.save(ctx, r); err != nil {
					return r.Rec, err
				}
			}
			if err := e.wait(ctx, r, out.After); err != nil {
				return r.Rec, err
			}
			continue
		}
		if !slices.Contains(t.next, out.Next) {
			// A bug: the table does not allow it. Fail safely.
			r.Rec.Failed = true
			r.Rec.Error = fmt.Sprintf("%s: internal error: no transition to %s", state, out.Next)
			r.Rec.Failure = elevator.FailureInternal
			out.Next = t.fail
			if out.Next == "" {
				out.Next = elevator.StateUnlock
			}
		}
		if err := e.enter(ctx, r, out.Next); err != nil {
			return r.Rec, err
		}
	}
}

// errHaltUnknown says the halt flag could not be read.
var errHaltUnknown = errors.New("halt flag unreadable")

// halted checks for a halt in a state that obeys halts: a halt sends the
// release down the failure path. The flag is read only when the engine
// has waited since it last stored the record; a halt asked for in a state
// that does not obey halts is met by the next record write (see persist).
func (e *Engine) halted(ctx context.Context, r *Release, t transition) (bool, error) {
	if !t.halts {
		return false, nil
	}
	if r.Rec.Halt == nil && !r.fresh {
		h, err := e.store(r).Halt(ctx, r.Rec.ID)
		if err != nil {
			// Not knowing whether an operator halted the release is no
			// reason to move it forward: look again before the step.
			e.c.Log.Warn("release halt check failed", "release", r.Rec.ID, "attempt", r.Rec.Attempts+1, "err", err)
			return false, fmt.Errorf("%w: %w", errHaltUnknown, err)
		}
		r.Rec.Halt = h
	}
	h := r.Rec.Halt
	if h == nil {
		return false, nil
	}
	r.Rec.Failed = true
	r.Rec.Error = haltMessage(*h)
	r.Rec.Failure = elevator.FailureHalted
	return true, e.enter(ctx, r, t.fail)
}

// overdue says whether the release has been in its state for longer than
// any state may last: its timeout (elevator.DefaultReleaseTimeout before
// its document is read), or, in cleanup, cleanupBound. The steps that
// wait check their own bound; this one ends retries in every state.
func (e *Engine) overdue(r *Release) bool {
	bound := elevator.DefaultReleaseTimeout
	if r.Doc != nil {
		bound = r.Doc.Timeout()
		if s := r.Rec.State; s == elevator.StateCleanUpSuccess || s == elevator.StateCleanUpFailure {
			bound = cleanupBound(r.Doc)
		}
	}
	return e.now().Sub(r.stateSince()) >= bound
}

// ErrStoreUnreachable is the cause of the EAWS error with which the engine
// stops when the orbit's state store (its bucket and table) does not
// answer after a state's attempts: the release is left as last stored,
// for Resume once the store answers again. Nothing about the release is
// decided (and no end state stored) while the store cannot be read.
var ErrStoreUnreachable = errors.New("the release's state store does not answer")

// unreachable is the error the engine stops with when the store failed
// for good in state: the release stays there, as last stored.
func (e *Engine) unreachable(r *Release, state State, err error) error {
	return &elevator.Error{Code: elevator.EAWS, Err: storeDown{err},
		Message: fmt.Sprintf("release %s stopped in %s, as last stored, because the orbit's state store does not answer; resume it with `elevator release resume %s --orbit %s` once it does",
			r.Rec.ID, state, r.Rec.ID, r.Rec.Orbit)}
}

// storeDown is the cause of unreachable's error: the store's last error,
// which is also ErrStoreUnreachable.
type storeDown struct{ err error }

func (s storeDown) Error() string   { return s.err.Error() }
func (s storeDown) Unwrap() []error { return []error{ErrStoreUnreachable, s.err} }

// renew extends the lease when a third of it is gone.
func (e *Engine) renew(ctx context.Context, r *Release) error {
	if !r.locked {
		return nil
	}
	now := e.now()
	if now.Before(r.lock.Expires.Add(-e.c.Lease * 2 / 3)) {
		return nil
	}
	l := r.lock
	l.Expires = now.Add(e.c.Lease)
	err := e.locker(r).Renew(ctx, l)
	e.renewed(err)
	switch {
	case errors.Is(err, ErrLockLost):
		return lockLost(r, l)
	case err != nil && !now.Before(r.lock.Expires):
		// The lock table is the store's: the lease ran out unrenewed.
		return e.unreachable(r, r.Rec.State, fmt.Errorf("renew the lease: %w", err))
	case err != nil:
		e.c.Log.Warn("release lease renewal failed", "release", r.Rec.ID, "err", err)
		return nil
	}
	r.lock = l
	return nil
}

// enter moves the release to next and stores the record. An end state is
// audited first, so that a crash in between audits it again rather than
// never.
func (e *Engine) enter(ctx context.Context, r *Release, next State) error {
	now := e.now()
	from := r.Rec.State
	// A failed write leaves the record as last stored, so that what the
	// engine returns when it stops is what a resume will find.
	stored := *r.Rec
	unmove := func() {
		r.Rec.State, r.Rec.Path, r.Rec.Visits = stored.State, stored.Path, stored.Visits
		r.Rec.Attempts, r.Rec.UpdatedAt, r.Rec.Owner = stored.Attempts, stored.UpdatedAt, stored.Owner
		r.Rec.EndedAt, r.Rec.Revision = stored.EndedAt, stored.Revision
	}
	r.Rec.State = next
	r.Rec.Path = append(r.Rec.Path, next)
	r.Rec.Visits = append(r.Rec.Visits, now)
	r.Rec.Attempts = 0
	r.Rec.UpdatedAt = now
	r.Rec.Owner = e.c.Owner
	e.c.Log.Info("release state", "release", r.Rec.ID, "state", next)
	if next.Ended() {
		r.Rec.EndedAt = now
		who := r.Rec.Owner
		if r.Doc != nil && r.Doc.CreatedBy != "" {
			who = r.Doc.CreatedBy
		}
		detail := r.Rec.Error
		if len(r.Rec.Leftovers) > 0 {
			detail += "; left behind: " + strings.Join(r.Rec.Leftovers, "; ")
		}
		entry := elevator.AuditEntry{At: now, By: who, Action: elevator.AuditRelease, App: r.Rec.App, Orbit: r.Rec.Orbit,
			ReleaseID: r.Rec.ID, Outcome: string(next), Detail: detail}
		if err := e.retry(ctx, r, func() error { return e.store(r).Audit(ctx, entry) }); err != nil {
			unmove()
			return e.lost(ctx, r, from, fmt.Errorf("audit the end of release %s: %w", r.Rec.ID, err))
		}
	}
	err := e.persist(ctx, r)
	var halt *HaltedError
	if !errors.As(err, &halt) {
		if err != nil {
			unmove()
		}
		return e.lost(ctx, r, from, err)
	}
	// The store refused the record: the release was halted since the
	// engine last looked.
	r.Rec.Halt = &halt.Halt
	if t := table[from]; t.halts && !table[next].halts && next != t.fail {
		// On the way out of a state that obeys halts into one that does
		// not (into cut-over): turn back instead.
		r.Rec.State = from
		r.Rec.Path = r.Rec.Path[:len(r.Rec.Path)-1]
		r.Rec.Visits = r.Rec.Visits[:len(r.Rec.Visits)-1]
		r.Rec.Failed = true
		r.Rec.Error = haltMessage(halt.Halt)
		r.Rec.Failure = elevator.FailureHalted
		return e.enter(ctx, r, t.fail)
	}
	if !table[next].halts && !r.Rec.Failed {
		r.note("halted by %s at %s (%s) after cut-over began; the release finishes", halt.Halt.By, halt.Halt.At.Format(time.RFC3339), halt.Halt.Reason)
	}
	// A state that obeys halts acts on it before its step (see halted).
	return e.lost(ctx, r, from, e.persist(ctx, r))
}

// lost turns a write the store failed for good (after its retries) into
// the engine's stop (see unreachable); it passes conflicts (another
// engine wrote the record), refusals of what was written, and the
// context's end through.
func (e *Engine) lost(ctx context.Context, r *Release, from State, err error) error {
	if code := elevator.ErrorCode(err); err == nil || ctx.Err() != nil || code == elevator.ECONFLICT || code == elevator.EINVALID {
		return err
	}
	return e.unreachable(r, from, err)
}

func haltMessage(h elevator.ReleaseHalt) string {
	return fmt.Sprintf("halted by %s at %s: %s", h.By, h.At.Format(time.RFC3339), h.Reason)
}

// persist stores the record, conditional on its revision.
func (e *Engine) persist(ctx context.Context, r *Release) error {
	r.Rec.Revision++
	stale, lost := false, false
	err := e.retry(ctx, r, func() error {
		var err error
		if r.locked {
			// Fenced: refused once the lock is no longer ours (see fence.go).
			err = e.store(r).PutLockedRecord(ctx, r.Rec, r.lock)
		} else {
			err = e.store(r).PutRecord(ctx, r.Rec)
		}
		var halt *HaltedError
		if errors.As(err, &halt) {
			return &abort{err} // enter decides where a halted release goes
		}
		if errors.Is(err, ErrLockLost) {
			lost = true
			return &abort{lockLost(r, r.lock)}
		}
		if !errors.Is(err, ErrStale) {
			return err
		}
		// An earlier attempt may have been stored though it reported an
		// error; then the stored record is ours.
		got, gerr := e.store(r).Record(ctx, r.Rec.ID)
		if gerr != nil {
			// Not knowing whose the stored record is proves nothing:
			// write again (a retry reads back again), never give up the
			// lock on it.
			return fmt.Errorf("read back record of release %s: %w", r.Rec.ID, gerr)
		}
		if got.Revision == r.Rec.Revision && got.Owner == e.c.Owner && got.State == r.Rec.State {
			if r.Rec.Halt == nil {
				r.Rec.Halt = got.Halt
			}
			return nil
		}
		stale = true
		return &abort{elevator.Errorf(elevator.ECONFLICT, "release %s: another engine advanced it; stopping", r.Rec.ID)}
	})
	if stale && r.locked {
		// A lock this engine took after the other engine let go must not
		// wait for its lease; Release leaves anyone else's alone.
		if rerr := e.locker(r).Release(ctx, r.lock); rerr != nil && !errors.Is(rerr, ErrLockLost) {
			e.c.Log.Warn("release lock release failed", "release", r.Rec.ID, "err", rerr)
		}
		r.locked = false
	}
	var halt *HaltedError
	if errors.As(err, &halt) || lost {
		r.Rec.Revision-- // nothing was stored
		r.locked = r.locked && !lost
		return err
	}
	if err != nil {
		return err
	}
	r.fresh = true
	e.observe(r)
	return nil
}

// save stores the record in the middle of a state (see Outcome.Save). A
// halt the store reports is kept for the state's next look (see halted).
func (e *Engine) save(ctx context.Context, r *Release) error {
	err := e.persist(ctx, r)
	var halt *HaltedError
	if errors.As(err, &halt) {
		r.Rec.Halt = &halt.Halt
		return nil
	}
	return e.lost(ctx, r, r.Rec.State, err)
}

// observe hands a copy of the stored record to Config.Observe.
func (e *Engine) observe(r *Release) {
	if e.c.Observe != nil {
		// A deep copy: the engine goes on changing its record.
		var cp elevator.ReleaseRecord
		if b, err := json.Marshal(r.Rec); err == nil && json.Unmarshal(b, &cp) == nil {
			e.c.Observe(cp)
		}
	}
}

// giveUp takes a step that failed for good (its attempts ran out, or err
// is permanent) down its state's catch, and returns the state to enter.
func (e *Engine) giveUp(r *Release, t transition, err error) State {
	state := r.Rec.State
	switch t.catch {
	case leaveBehind:
		var lb *leftBehind
		if errors.As(err, &lb) {
			r.Rec.Leftovers = lb.left
		}
		if len(r.Rec.Leftovers) == 0 {
			// It failed before it could tell what remains: never call
			// that clean.
			r.Rec.Leftovers = []string{fmt.Sprintf("whatever %s could not tell apart (%v); `elevator gc --orbit %s --app %s` finds what an ended release left",
				state, err, r.Rec.Orbit, r.Rec.App)}
		}
		tries := "attempts"
		if r.Rec.Attempts == 1 {
			tries = "attempt"
		}
		r.Rec.Error = strings.TrimPrefix(r.Rec.Error+"; ", "; ") + fmt.Sprintf("%s gave up after %d %s: %v", state, r.Rec.Attempts, tries, err)
		if r.Rec.Failure == "" {
			r.Rec.Failure = elevator.FailureLeftBehind
		}
		return t.fail
	case leaveToLease:
		r.note("gave up releasing the lock (%v); its lease ends at %s", err, r.lock.Expires.Format(time.RFC3339))
		r.locked = false
		return ending(r)
	}
	if r.Rec.Failed {
		// Failing on the way back (RollBack): keep why it turned back.
		r.Rec.Error = strings.TrimPrefix(r.Rec.Error+"; ", "; ") + fmt.Sprintf("%s: %v", state, err)
		return t.fail
	}
	r.Rec.Failed = true
	r.Rec.Error = fmt.Sprintf("%s: %v", state, err)
	r.Rec.Failure = failureOf(err)
	return t.fail
}

// storeWrites is the retry policy of record and audit writes.
var storeWrites = steady

// retry calls fn until it succeeds, returns an abort, or runs out of the
// attempts of storeWrites.
func (e *Engine) retry(ctx context.Context, r *Release, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		var stop *abort
		if err == nil || errors.As(err, &stop) {
			if stop != nil {
				return stop.err
			}
			return nil
		}
		if attempt >= e.attempts(storeWrites) {
			return err
		}
		if werr := e.wait(ctx, r, e.backoff(storeWrites, attempt)); werr != nil {
			return werr
		}
	}
}

// attempts is how many times p tries: its own number, unless
// Config.MaxAttempts replaces it.
func (e *Engine) attempts(p retry) int {
	if e.c.MaxAttempts > 0 {
		return e.c.MaxAttempts
	}
	return p.attempts
}

// backoff is p's wait after the n-th failed attempt: p.first polls,
// doubled after each further failure, at most p.most polls.
func (e *Engine) backoff(p retry, n int) time.Duration {
	d, most := time.Duration(p.first)*e.c.Poll, time.Duration(p.most)*e.c.Poll
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// wait waits d, jittered by elevator.Jitter and no longer than a third of
// the lease while the lock is held, on the injected clock.
func (e *Engine) wait(ctx context.Context, r *Release, d time.Duration) error {
	if r.locked {
		d = min(d, e.c.Lease/3)
	}
	d = elevator.Jitter(d, e.c.Random)
	r.fresh = false
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.c.Clock.After(d):
		return nil
	}
}
