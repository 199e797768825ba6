package deployer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sqs"
	"github.com/elevatorhq/elevator/internal/release"
)

// job is the work of one replica on one submission: from reading it to
// the release's end, or until another replica is found driving it.
type job struct {
	d       *Deployer
	key, id string
	msg     *sqs.Message // nil for a submission found by listing
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex
	stopping bool // the deployer is shutting down
	driving  bool // the engine is running the release
	waiting  bool // the engine is between two steps, waiting
	app      string
}

// verdict is how a job ended, and so what becomes of its message.
type verdict int

const (
	ended    verdict = iota // the release has ended: delete the message and the submission
	later                   // try again after a while: the message comes back
	rejected                // refused: the message goes on to the dead-letter queue
	stopped                 // the deployer stopped: give the release to another replica now
)

// conflicts bounds how many times in a row a job finds another engine has
// moved the release on before it leaves it to the queue.
const conflicts = 5

func (j *job) run() {
	stopBeat := j.heartbeat()
	v, after, rec := j.process()
	stopBeat()
	attrs := []any{"verdict", v, "key", j.key}
	if rec != nil {
		attrs = append(attrs, "app", rec.App, "state", rec.State, "revision", rec.Revision)
	}
	switch v {
	case ended:
		j.log.Info("submission done", attrs...)
		if j.msg != nil {
			j.d.deleteMessage(*j.msg)
		}
		if rec != nil {
			// An engine of this replica that resumed the release as its
			// driver ended it may have taken the lock back and given up
			// holding it: an ended release needs no lock.
			j.unclaim(rec)
			j.d.removeSubmission(j.key, rec)
		}
	case later:
		j.log.Info("submission left for later", append(attrs, "after", after.String())...)
		if j.msg != nil {
			j.d.retryLater(*j.msg, after)
		}
	case rejected:
		if j.msg != nil {
			// Each receive counts: after elevator.SubmissionsMaxReceives
			// the queue moves the message to its dead-letter queue.
			j.d.retryLater(*j.msg, 2*time.Second)
		}
	case stopped:
		j.log.Info("release handed back", attrs...)
		if rec != nil {
			j.endLease(rec)
		}
		if j.msg != nil {
			j.d.retryLater(*j.msg, 0)
		}
	}
}

// heartbeat keeps the job's message invisible while the job works on it,
// and returns the function that stops it.
func (j *job) heartbeat() func() {
	if j.msg == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		vis := j.d.visibility()
		for {
			select {
			case <-done:
				return
			case <-time.After(vis / 3):
			}
			ctx, cancel := cleanup()
			err := j.d.o.Queue.SetVisibility(ctx, j.d.o.QueueURL, j.msg.ReceiptHandle, vis)
			cancel()
			if err != nil {
				j.log.Warn("message heartbeat failed", "message", j.msg.ID, "err", err)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// stop asks the job to stop at its next step boundary: at once when the
// engine is not in the middle of a step.
func (j *job) stop() {
	j.mu.Lock()
	j.stopping = true
	now := !j.driving || j.waiting
	j.mu.Unlock()
	if now {
		j.cancel()
	}
}

func (j *job) isStopping() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stopping
}

// process takes the submission as far as it can go, and says what became
// of it; after is when to look again for a later verdict.
func (j *job) process() (verdict, time.Duration, *elevator.ReleaseRecord) {
	d := j.d
	ctx := j.ctx
	defer func() {
		j.mu.Lock()
		app := j.app
		j.mu.Unlock()
		if app != "" {
			d.done(app, j.id) // however the job ends, it waits no more
		}
	}()
	if err := elevator.CheckReleaseID(j.id); err != nil {
		return j.reject(nil, nil, nil, fmt.Sprintf("key %s names no release id: %v", j.key, err)), 0, nil
	}
	for tries := 0; ; tries++ {
		if ctx.Err() != nil || j.isStopping() {
			return stopped, 0, nil
		}
		if tries >= conflicts {
			return later, d.lease, nil
		}
		rec, err := d.store.Record(ctx, j.id)
		switch {
		case err == nil && rec.State.Ended():
			// A duplicate delivery, or a release another replica ended:
			// nothing to run, and nothing ever flips an ended release back.
			return ended, 0, rec
		case err != nil && !errors.Is(err, release.ErrNotFound):
			j.log.Warn("read record failed", "err", err)
			return later, 5 * time.Second, nil
		}
		started := err == nil && len(rec.Path) > 0
		var sum string
		if !started {
			rel, body, meta, reason, err := j.read(ctx)
			if err != nil {
				j.log.Warn("read submission failed", "err", err)
				return later, 5 * time.Second, nil
			}
			if reason != "" {
				return j.reject(rel, body, meta, reason), 0, nil
			}
			sum = meta[elevator.SubmissionChecksumMeta]
			if rec == nil {
				rec, err = d.submits.Submit(ctx, rel)
				switch {
				case elevator.ErrorCode(err) == elevator.EINVALID || errors.Is(err, release.ErrExists):
					return j.reject(rel, body, meta, err.Error()), 0, nil
				case err != nil:
					j.log.Warn("submit failed", "app", rel.App, "err", err)
					return later, 5 * time.Second, nil
				}
				if len(rec.Path) > 0 {
					continue // submitted and started elsewhere in between
				}
			}
		}
		j.mu.Lock()
		j.app = rec.App
		j.mu.Unlock()
		log := j.log.With("app", rec.App)
		if !j.slot(ctx) {
			return stopped, 0, rec
		}
		if !started || rec.State == elevator.StateValidate || rec.State == elevator.StateLock {
			// Releases of the app waiting here take the lock in their
			// turn: an earlier one first.
			err := j.claimInTurn(ctx, rec)
			var busy *release.LockHeldError
			switch {
			case errors.As(err, &busy) && busy.Lock.ReleaseID == j.id:
				j.unslot()
				d.done(rec.App, j.id)
				log.Info("release driven by another replica", "state", rec.State, "driver", busy.Lock.Owner)
				return later, max(busy.Lock.Expires.Sub(d.clock.Now()), 0) + time.Second, rec
			case errors.As(err, &busy):
				// Another release of the app holds the lock: wait for it
				// here, keeping the message, and claim again when a
				// release of the app ends in this replica, or after a
				// while (the holder may be another replica's). A claim
				// that then finds this release driven elsewhere, or
				// started or ended, is sorted out by the next round.
				j.unslot()
				log.Debug("waiting for the app's lock", "state", rec.State, "holder", busy.Lock.ReleaseID)
				for errors.As(err, &busy) && busy.Lock.ReleaseID != j.id {
					if !d.waitApp(ctx, rec.App, elevator.Jitter(2*time.Second, nil)) {
						d.done(rec.App, j.id)
						return stopped, 0, rec
					}
					err = j.claimInTurn(ctx, rec)
				}
				if err == nil {
					// Claimed: release the lock for the next round to
					// claim it again with a fresh look at the record.
					j.unclaim(rec)
				}
				tries = -1
				continue
			case err != nil:
				j.unslot()
				d.done(rec.App, j.id)
				log.Warn("claim failed", "err", err)
				return later, 5 * time.Second, rec
			}
			d.done(rec.App, j.id)
		}
		out, err := j.drive(ctx, rec, started, sum)
		j.unslot()
		switch {
		case err == nil && out != nil && out.State.Ended():
			j.unclaim(out)
			d.appEnded(out.App)
			return ended, 0, out
		case errors.Is(err, release.ErrRunning):
			log.Info("release driven by another replica", "state", rec.State)
			return later, d.lease, rec
		case ctx.Err() != nil || j.isStopping():
			return stopped, 0, orRec(out, rec)
		case elevator.ErrorCode(err) == elevator.ECONFLICT:
			log.Info("release moved on elsewhere; looking again", "state", rec.State, "err", err)
			if !d.sleep(ctx, elevator.Jitter(time.Second, nil)) {
				return stopped, 0, orRec(out, rec)
			}
			continue
		case err != nil:
			log.Warn("release stopped", "state", orRec(out, rec).State, "err", err)
			return later, 5 * time.Second, orRec(out, rec)
		default:
			return later, time.Second, orRec(out, rec)
		}
	}
}

func orRec(a, b *elevator.ReleaseRecord) *elevator.ReleaseRecord {
	if a != nil {
		return a
	}
	return b
}

// slot waits for one of the replica's driving slots.
func (j *job) slot(ctx context.Context) bool {
	select {
	case j.d.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (j *job) unslot() { <-j.d.slots }

// claim takes the (app, orbit) lock for the release before the engine
// runs it, with this replica's owner: the engine's Lock step then finds
// the lock its own. Of two replicas handed one release, one gets it; a
// release of an app whose lock another release holds waits. It returns
// the *release.LockHeldError of a lock held.
//
// A lock whose lease ended while its release had not (its replica died) is
// left for a replica to resume that release, for up to resumeWindow after
// the lease's end: taking it would make the dead release roll back when
// resumed ("the lock was broken") instead of finishing.
func (j *job) claim(ctx context.Context, rec *elevator.ReleaseRecord) error {
	now := j.d.clock.Now().UTC()
	cur, err := j.d.locker.Get(ctx, rec.App, rec.Orbit)
	switch {
	case errors.Is(err, release.ErrNotFound):
	case err != nil:
		return err
	case cur.ReleaseID != rec.ID && !now.Before(cur.Expires) && now.Before(cur.Expires.Add(j.d.resumeWindow())):
		held, err := j.d.store.Record(ctx, cur.ReleaseID)
		if err != nil && !errors.Is(err, release.ErrNotFound) {
			return err
		}
		if err == nil && !held.State.Ended() {
			return &release.LockHeldError{Lock: cur}
		}
	}
	l := release.Lock{App: rec.App, Orbit: rec.Orbit, ReleaseID: rec.ID, Owner: j.d.owner, Holder: "deployer " + j.d.owner,
		Since: now, Expires: now.Add(j.d.lease)}
	_, err = j.d.locker.Acquire(ctx, l, now)
	return err
}

// claimInTurn claims the lock when it is the release's turn among those
// of its app waiting in this replica (Deployer.turn), or when the lock
// already names the release (its replica died, or it is this one's): a
// release that holds its app's lock never waits for a release made before
// it, which would wait for that very lock. Else it returns the
// *release.LockHeldError of the lock as it stands (or of an empty one),
// to wait as for a lock held.
func (j *job) claimInTurn(ctx context.Context, rec *elevator.ReleaseRecord) error {
	l, err := j.d.locker.Get(ctx, rec.App, rec.Orbit)
	if err != nil && !errors.Is(err, release.ErrNotFound) {
		return err
	}
	if l.ReleaseID == rec.ID || j.d.turn(rec) {
		return j.claim(ctx, rec)
	}
	if errors.Is(err, release.ErrNotFound) {
		l = release.Lock{App: rec.App, Orbit: rec.Orbit}
	}
	return &release.LockHeldError{Lock: l}
}

// unclaim lets go of the lock of an ended release if it is still the
// release's and this replica's (a release refused at Validate ends
// without the Unlock step); anyone else's is left alone.
func (j *job) unclaim(rec *elevator.ReleaseRecord) {
	ctx, cancel := cleanup()
	defer cancel()
	err := j.d.locker.Release(ctx, release.Lock{App: rec.App, Orbit: rec.Orbit, ReleaseID: rec.ID, Owner: j.d.owner})
	if err != nil && !errors.Is(err, release.ErrLockLost) {
		j.log.Warn("release lock release failed", "app", rec.App, "state", rec.State, "err", err)
	}
}

// endLease ends this replica's lease on a release it stops driving, so
// that another replica takes it over at once instead of at the lease's
// end. The lock itself stays: a release whose lock is gone when it is
// resumed would roll back.
func (j *job) endLease(rec *elevator.ReleaseRecord) {
	ctx, cancel := cleanup()
	defer cancel()
	l, err := j.d.locker.Get(ctx, rec.App, rec.Orbit)
	if err != nil || l.ReleaseID != rec.ID || l.Owner != j.d.owner {
		return
	}
	l.Expires = j.d.clock.Now().UTC()
	if err := j.d.locker.Renew(ctx, l); err != nil && !errors.Is(err, release.ErrLockLost) {
		j.log.Warn("end of lease failed", "app", rec.App, "state", rec.State, "err", err)
		return
	}
	j.log.Info("lease ended for another replica", "app", rec.App, "state", rec.State)
}

// drive runs the release (Run when it has not started, else Resume) on an
// engine of its own, whose clock and observer tell the job where the
// release is between steps.
func (j *job) drive(ctx context.Context, rec *elevator.ReleaseRecord, started bool, sum string) (*elevator.ReleaseRecord, error) {
	cfg := j.d.o.Engine
	cfg.Clock = &jobClock{Clock: j.d.clock, j: j}
	cfg.Log = j.d.log.With("app", rec.App)
	// The deployer's own observer (Options.Engine.Observe: its metrics)
	// sees every record too.
	also := cfg.Observe
	cfg.Observe = func(rec elevator.ReleaseRecord) {
		j.observe(rec)
		if also != nil {
			also(rec)
		}
	}
	e, err := release.New(cfg)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	if j.stopping {
		j.mu.Unlock()
		return rec, context.Canceled
	}
	j.driving = true
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.driving, j.waiting = false, false
		j.mu.Unlock()
	}()
	if !started {
		j.log.Info("release run", "app", rec.App, "state", rec.State)
		return e.Run(ctx, j.id, sum)
	}
	j.log.Info("release resume", "app", rec.App, "state", rec.State)
	return e.Resume(ctx, j.id, "deployer "+j.d.owner)
}

// observe logs each record the engine stores (release, app, orbit, state,
// revision and owner on every line), and stops a job that was asked to at
// this step boundary.
func (j *job) observe(rec elevator.ReleaseRecord) {
	j.d.log.Info("release record", "release", rec.ID, "app", rec.App, "state", rec.State, "revision", rec.Revision, "driver", rec.Owner)
	if j.isStopping() && !rec.State.Ended() {
		j.cancel()
	}
}

// jobClock is the engine's clock for one release: a wait is a step
// boundary, where a stopping job stops.
type jobClock struct {
	elevator.Clock
	j *job
}

func (c *jobClock) After(d time.Duration) <-chan time.Time {
	j := c.j
	j.mu.Lock()
	stop := j.stopping
	j.waiting = true
	j.mu.Unlock()
	if stop {
		j.cancel()
	}
	out := make(chan time.Time, 1)
	in := c.Clock.After(d)
	go func() {
		t := <-in
		j.mu.Lock()
		j.waiting = false
		j.mu.Unlock()
		out <- t
	}()
	return out
}

// read reads and checks the submission. reason says why it is refused
// ("" when it is not); err is a failure to read it worth retrying.
func (j *job) read(ctx context.Context) (rel *elevator.Release, body []byte, meta map[string]string, reason string, err error) {
	d := j.d
	body, meta, err = d.o.Objects.GetWithMetadata(ctx, d.o.Bucket, j.key)
	if errors.Is(err, s3.ErrNotFound) {
		return nil, nil, nil, "no submission object at " + j.key, nil
	}
	if err != nil {
		return nil, nil, nil, "", err
	}
	sum := meta[elevator.SubmissionChecksumMeta]
	if sum == "" {
		return nil, body, meta, "no sha256 metadata (x-amz-meta-sha256) on " + j.key, nil
	}
	if got := elevator.ChecksumOf(body); got != sum {
		return nil, body, meta, fmt.Sprintf("checksum mismatch: the document's sha256 is %s, its metadata says %s", got, sum), nil
	}
	rel, err = elevator.ParseRelease(body)
	if err != nil {
		return nil, body, meta, err.Error(), nil
	}
	switch {
	case rel.ID != j.id:
		return rel, body, meta, fmt.Sprintf("the document under %s has id %s", j.key, rel.ID), nil
	case rel.Orbit != d.o.Orbit:
		return rel, body, meta, fmt.Sprintf("release of orbit %s submitted to orbit %s", rel.Orbit, d.o.Orbit), nil
	}
	if err := rel.Check(); err != nil {
		return rel, body, meta, err.Error(), nil
	}
	return rel, body, meta, "", nil
}

// reject audits a refused submission with the reason, and moves it aside
// (under elevator.RejectedPrefix) so that it is audited once and listed no more.
// A submission already moved aside is only logged.
func (j *job) reject(rel *elevator.Release, body []byte, meta map[string]string, reason string) verdict {
	d := j.d
	ctx, cancel := cleanup()
	defer cancel()
	aside := elevator.RejectedPrefix + strings.TrimPrefix(j.key, elevator.SubmissionsPrefix)
	if body == nil {
		if _, _, err := d.o.Objects.GetWithMetadata(ctx, d.o.Bucket, aside); err == nil {
			j.log.Info("submission already rejected", "key", j.key, "state", "rejected")
			return rejected
		}
	}
	e := elevator.AuditEntry{At: d.clock.Now().UTC(), By: "deployer " + d.owner, Action: elevator.AuditSubmit, Orbit: d.o.Orbit,
		Outcome: "rejected: " + firstLine(reason), Detail: fmt.Sprintf("%s: %s", j.key, reason)}
	if elevator.CheckReleaseID(j.id) == nil {
		e.ReleaseID = j.id
	}
	if rel != nil {
		e.App, e.By = rel.App, rel.CreatedBy
	}
	if err := d.store.Audit(ctx, e); err != nil {
		j.log.Warn("audit of a rejected submission failed", "err", err)
	}
	j.log.Warn("submission rejected", "key", j.key, "app", e.App, "state", "rejected", "reason", reason)
	if body != nil {
		// The reason goes with the submission, for whoever submitted
		// it to read (a pipeline's stage fails with it).
		meta = maps.Clone(meta)
		if meta == nil {
			meta = map[string]string{}
		}
		meta[elevator.RejectedReasonMeta] = elevator.RejectedReason(reason)
		if _, err := d.o.Objects.PutWithMetadata(ctx, d.o.Bucket, aside, "application/json", body, meta); err != nil {
			j.log.Warn("move rejected submission aside failed", "err", err)
			return rejected
		}
		if err := d.o.Objects.Delete(ctx, d.o.Bucket, j.key); err != nil {
			j.log.Warn("remove rejected submission failed", "err", err)
		}
	}
	return rejected
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSuffix(s, ":")
}
