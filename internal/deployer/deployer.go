// Package deployer is Elevator's deployer service: the intake and the
// workers of the long-running process that drives an orbit's releases, so
// that CI only submits them.
//
// A release is submitted by writing its canonical document to the orbit's
// state bucket under elevator.SubmissionKey, with its checksum in the
// object's metadata (see Submit and PutSubmission). The orbit stack sends
// the bucket's notifications of those objects to an SQS queue, which every
// replica of the deployer consumes; a reconcile loop that lists the
// submissions prefix finds what a notification never announced (a lost
// notification, a message gone to the dead-letter queue, or an emulator
// that sends none).
//
// Coordination is SQS visibility and the release engine's DynamoDB leases,
// nothing else: a replica claims a release by taking its (app, orbit) lock
// for it before the engine runs it (the engine's Lock step then finds the
// lock its own), so that two replicas never start one release, and a
// release of an app waits while another release of the app holds the lock.
// The engine's fenced record writes keep a replica that lost its lease
// from moving the release on. A replica that dies leaves its lease to
// expire and its message to become visible again; another replica resumes
// the release.
package deployer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sqs"
	"github.com/elevatorhq/elevator/internal/release"
)

// Queue is the submissions queue, as the deployer uses it.
type Queue interface {
	Receive(ctx context.Context, url string, n int, wait, visibility time.Duration) ([]sqs.Message, error)
	Delete(ctx context.Context, url, receipt string) error
	SetVisibility(ctx context.Context, url, receipt string, d time.Duration) error
}

// Objects is the state bucket, as the deployer uses it.
type Objects interface {
	PutWithMetadata(ctx context.Context, bucket, key, contentType string, body []byte, meta map[string]string) (string, error)
	GetWithMetadata(ctx context.Context, bucket, key string) ([]byte, map[string]string, error)
	List(ctx context.Context, bucket, prefix string) ([]s3.Object, error)
	Delete(ctx context.Context, bucket, key string) error
}

// Defaults of Options.
const (
	DefaultMaxInFlight = 4
	DefaultReconcile   = 30 * time.Second
	DefaultGrace       = 30 * time.Second
	DefaultWait        = 20 * time.Second
)

// Options is what New needs. Orbit, Bucket, Objects and Engine (with its
// Store, Locker and Owner) are required.
type Options struct {
	Orbit string
	// Bucket is the state bucket of the orbit's first region, where
	// submissions are written.
	Bucket  string
	Objects Objects
	// Queue and QueueURL are the submissions queue; with no Queue the
	// deployer finds submissions by listing them only (see Reconcile).
	Queue    Queue
	QueueURL string
	// Engine is the release engine's configuration. The deployer makes an
	// engine per release it drives from it, all with its Owner; its
	// Observe, when set, sees every record they write.
	Engine release.Config
	// MaxInFlight bounds the releases this replica drives at once
	// (DefaultMaxInFlight when 0). Up to four times as many may wait for
	// their app's lock.
	MaxInFlight int
	// Reconcile is the time between two listings of the submissions
	// prefix (DefaultReconcile when 0; negative turns it off).
	Reconcile time.Duration
	// Wait is the long poll of a receive (DefaultWait when 0, at most 20s).
	Wait time.Duration
	// Grace bounds how long Run, once its context ends, lets releases
	// finish their current step (DefaultGrace when 0).
	Grace time.Duration
	// QueueLag, when set, is called after each receive that brought
	// messages with the age of the oldest (how long it waited in the
	// queue, redeliveries included).
	QueueLag func(age time.Duration)
	// Pipelines, when set, makes the deployer drive the pipeline
	// executions kept in the orbit (see pipeline.go).
	Pipelines *Pipelines
	Log       *slog.Logger // discards when nil
}

// Deployer drives the releases submitted to one orbit.
type Deployer struct {
	o       Options
	log     *slog.Logger
	store   release.Store
	locker  release.Locker
	owner   string
	lease   time.Duration
	clock   elevator.Clock
	submits *release.Engine // for Submit; releases get their own engines

	mu   sync.Mutex
	jobs map[string]*job          // by release id
	apps map[string]chan struct{} // closed when a release of the app ends here
	// waiting are the releases this replica has to run, by app, that
	// want the app's lock: each takes it in its turn (see turn).
	waiting  map[string]map[string]*elevator.ReleaseRecord
	stopping bool
	slots    chan struct{} // a token per release driven now
	wg       sync.WaitGroup
	pipes    pipelines
}

// New returns a Deployer, or an EINVALID error when a required option is
// missing.
func New(o Options) (*Deployer, error) {
	if o.Orbit == "" || o.Bucket == "" || o.Objects == nil {
		return nil, elevator.Errorf(elevator.EINVALID, "deployer: an orbit, its state bucket and an S3 client are required")
	}
	if o.Queue != nil && o.QueueURL == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "deployer: a queue needs its URL")
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.Reconcile == 0 {
		o.Reconcile = DefaultReconcile
	}
	if o.Wait <= 0 || o.Wait > 20*time.Second {
		o.Wait = DefaultWait
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if p := o.Pipelines; p != nil {
		if p.Executions == nil || p.Drive == nil {
			return nil, elevator.Errorf(elevator.EINVALID, "deployer: pipelines need their executions and a driver")
		}
		if p.Every <= 0 {
			p.Every = DefaultPipelineEvery
		}
		if p.Recheck <= 0 {
			p.Recheck = DefaultPipelineRecheck
		}
	}
	if o.Engine.Lease <= 0 {
		o.Engine.Lease = release.DefaultLease
	}
	if o.Engine.Clock == nil {
		o.Engine.Clock = elevator.SystemClock{}
	}
	log := o.Log.With("orbit", o.Orbit, "owner", o.Engine.Owner)
	cfg := o.Engine
	cfg.Log = log
	submits, err := release.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Deployer{o: o, log: log, store: o.Engine.Store, locker: o.Engine.Locker, owner: o.Engine.Owner,
		lease: o.Engine.Lease, clock: o.Engine.Clock, submits: submits,
		jobs: map[string]*job{}, apps: map[string]chan struct{}{}, waiting: map[string]map[string]*elevator.ReleaseRecord{}, slots: make(chan struct{}, o.MaxInFlight),
		pipes: pipelines{driving: map[string]bool{}, seen: map[string]parked{}}}, nil
}

// Store is the orbit's release store, for reading records and the audit
// log.
func (d *Deployer) Store() release.Store { return d.store }

// Submit submits a release as CI does (PutSubmission), then writes its
// record down (release.Engine.Submit), so that it can be read at once; a
// replica of the deployer then drives it. It returns EINVALID for a
// release that fails Check, ErrExists when another document has the id,
// and the store's errors.
//
// The replica that was asked drives the release itself when it has room
// (its notification, when it comes, finds the release taken or ended), so
// a release submitted through the API never waits for the queue.
func (d *Deployer) Submit(ctx context.Context, rel *elevator.Release) (*elevator.ReleaseRecord, error) {
	if err := PutSubmission(ctx, d.o.Objects, d.o.Bucket, rel); err != nil {
		return nil, err
	}
	rec, err := d.submits.Submit(ctx, rel)
	if err != nil {
		return nil, err
	}
	if d.inFlight() < d.maxPending() {
		d.start(ctx, elevator.SubmissionKey(rel.ID), nil)
	}
	return rec, nil
}

// Putter writes objects with metadata: an S3 client.
type Putter interface {
	PutWithMetadata(ctx context.Context, bucket, key, contentType string, body []byte, meta map[string]string) (string, error)
}

// PutSubmission submits a release to an orbit's deployers: it writes the
// release's canonical document under elevator.SubmissionKey in bucket
// (the state bucket of the orbit's first region), with its checksum in
// the metadata elevator.SubmissionChecksumMeta. This is all a submitter
// (CI) needs to be allowed. It returns EINVALID for a release that fails
// Check, and the S3 client's errors.
func PutSubmission(ctx context.Context, objects Putter, bucket string, rel *elevator.Release) error {
	if err := rel.Check(); err != nil {
		return err
	}
	doc, err := rel.Canonical()
	if err != nil {
		return err
	}
	meta := map[string]string{elevator.SubmissionChecksumMeta: elevator.ChecksumOf(doc)}
	if _, err := objects.PutWithMetadata(ctx, bucket, elevator.SubmissionKey(rel.ID), "application/json", doc, meta); err != nil {
		return fmt.Errorf("submit release %s: %w", rel.ID, err)
	}
	return nil
}

// Run receives submissions and drives them until ctx ends; then it stops
// receiving, lets the releases in flight finish their current step (for
// at most Options.Grace), ends their leases so that another replica can
// resume them at once, makes their messages visible again, and returns
// nil. It returns an error only when the queue cannot be read at all at
// the start (such as a missing queue).
func (d *Deployer) Run(ctx context.Context) error {
	d.log.Info("deployer started", "queue", d.o.QueueURL, "bucket", d.o.Bucket, "max_in_flight", d.o.MaxInFlight, "lease", d.lease.String())
	var loops sync.WaitGroup
	if d.o.Queue != nil {
		loops.Add(1)
		go func() { defer loops.Done(); d.receive(ctx) }()
	}
	if d.o.Reconcile > 0 {
		loops.Add(1)
		go func() { defer loops.Done(); d.reconcile(ctx) }()
	}
	if d.o.Pipelines != nil {
		loops.Add(1)
		go func() { defer loops.Done(); d.pipelineLoop(ctx) }()
	}
	<-ctx.Done()
	d.log.Info("deployer stopping", "in_flight", d.inFlight())
	loops.Wait()
	d.stop()
	d.wg.Wait()
	d.log.Info("deployer stopped")
	return nil
}

// Ready reports whether the deployer is taking work.
func (d *Deployer) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.stopping
}

func (d *Deployer) inFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

// maxPending bounds the releases this replica holds: driven, or waiting
// for their app's lock or a slot.
func (d *Deployer) maxPending() int { return 4 * d.o.MaxInFlight }

// receive long-polls the queue while there is room for more work.
func (d *Deployer) receive(ctx context.Context) {
	for ctx.Err() == nil {
		room := d.maxPending() - d.inFlight()
		if room <= 0 {
			d.sleep(ctx, time.Second)
			continue
		}
		msgs, err := d.o.Queue.Receive(ctx, d.o.QueueURL, min(room, 10), d.o.Wait, d.visibility())
		if ctx.Err() != nil {
			// A message received as ctx ended is left to its visibility.
			return
		}
		if err != nil {
			d.log.Warn("receive failed", "err", err)
			d.sleep(ctx, 2*time.Second)
			continue
		}
		d.observeLag(msgs)
		for _, m := range msgs {
			d.accept(ctx, m)
		}
	}
}

// resumeWindow is how long after a dead replica's lease ends its release
// is left for another replica to resume before a release of the same app
// may take the lock: the dead replica's message comes back after a
// lease, and the listing finds the submission every Reconcile.
func (d *Deployer) resumeWindow() time.Duration {
	w := 2 * d.lease
	if d.o.Reconcile > 0 {
		w += d.o.Reconcile
	}
	return w
}

// observeLag tells Options.QueueLag the age of the oldest of msgs.
func (d *Deployer) observeLag(msgs []sqs.Message) {
	if d.o.QueueLag == nil {
		return
	}
	var oldest time.Time
	for _, m := range msgs {
		if !m.Sent.IsZero() && (oldest.IsZero() || m.Sent.Before(oldest)) {
			oldest = m.Sent
		}
	}
	if !oldest.IsZero() {
		d.o.QueueLag(max(d.clock.Now().Sub(oldest), 0))
	}
}

// visibility is how long a received message stays invisible: the lease,
// so that the message of a replica that died comes back about when its
// lease ends. A live replica extends it (see heartbeat).
func (d *Deployer) visibility() time.Duration { return max(d.lease, 10*time.Second) }

// accept starts a job for the release a message announces.
func (d *Deployer) accept(ctx context.Context, m sqs.Message) {
	m2 := m
	keys, err := parseNotification(m.Body)
	log := d.log.With("message", m.ID, "receives", m.Receives)
	switch {
	case errors.Is(err, errTestEvent):
		log.Info("test event dropped")
		d.deleteMessage(m2)
		return
	case err != nil:
		log.Warn("message is not a bucket notification; left for the dead-letter queue", "err", err)
		d.retryLater(m2, time.Second)
		return
	}
	for _, key := range keys {
		if !strings.HasPrefix(key, elevator.SubmissionsPrefix) {
			log.Warn("notification of a key outside the submissions prefix dropped", "key", key)
			continue
		}
		if !d.start(ctx, key, &m2) {
			// Held by a job already (a duplicate delivery): that job
			// deletes its own message; this copy comes back later (at
			// once for another replica when this one is stopping).
			after := d.visibility()
			if !d.Ready() {
				after = 0
			}
			d.retryLater(m2, after)
		}
		return // S3 sends one record per message; a job owns the message
	}
	d.deleteMessage(m2)
}

// reconcile lists the submissions prefix every Options.Reconcile and
// starts a job for every submission no job holds and whose release has
// not ended; it removes the submissions of ended releases.
func (d *Deployer) reconcile(ctx context.Context) {
	for {
		d.reconcileOnce(ctx)
		if !d.sleep(ctx, elevator.Jitter(d.o.Reconcile, nil)) {
			return
		}
	}
}

func (d *Deployer) reconcileOnce(ctx context.Context) {
	objs, err := d.o.Objects.List(ctx, d.o.Bucket, elevator.SubmissionsPrefix)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("list submissions failed", "err", err)
		}
		return
	}
	for _, o := range objs {
		if ctx.Err() != nil || d.inFlight() >= d.maxPending() {
			return
		}
		if d.o.Queue != nil && d.clock.Now().Sub(o.Modified) < d.visibility() {
			// Its notification is on its way, or held by a replica
			// (which extends its visibility): the listing is the safety
			// net for what the queue lost, not a second intake.
			continue
		}
		d.mu.Lock()
		_, held := d.jobs[idOf(o.Key)]
		d.mu.Unlock()
		if held {
			continue
		}
		if id, ok := elevator.SubmissionID(o.Key); ok && elevator.CheckReleaseID(id) == nil {
			rec, err := d.store.Record(ctx, id)
			if err == nil && rec.State.Ended() {
				d.removeSubmission(o.Key, rec)
				continue
			}
			if err == nil && len(rec.Path) > 0 && !d.resumable(ctx, rec) {
				continue
			}
			if err == nil && len(rec.Path) == 0 && d.o.Queue != nil && d.clock.Now().Sub(rec.UpdatedAt) < 5*d.visibility() {
				// Written down by a replica that holds its message (it
				// waits for the app's lock): not lost.
				continue
			}
		}
		if d.start(ctx, o.Key, nil) {
			d.log.Info("submission found by listing", "key", o.Key)
		}
	}
}

// resumable says whether a started release may be resumed now: its lock
// is not held by a live lease for it (another replica drives it).
func (d *Deployer) resumable(ctx context.Context, rec *elevator.ReleaseRecord) bool {
	l, err := d.locker.Get(ctx, rec.App, rec.Orbit)
	if err != nil {
		return errors.Is(err, release.ErrNotFound)
	}
	return l.ReleaseID != rec.ID || !d.clock.Now().Before(l.Expires) || l.Owner == d.owner
}

// idOf is the job key of a submission key: the release id, or the key
// when it names none.
func idOf(key string) string {
	if id, ok := elevator.SubmissionID(key); ok {
		return id
	}
	return key
}

// start starts a job for key unless one holds it, and reports whether it
// did.
func (d *Deployer) start(ctx context.Context, key string, m *sqs.Message) bool {
	id := idOf(key)
	d.mu.Lock()
	if d.stopping || d.jobs[id] != nil {
		d.mu.Unlock()
		return false
	}
	j := &job{d: d, key: key, id: id, msg: m, log: d.log.With("release", id)}
	j.ctx, j.cancel = context.WithCancel(context.WithoutCancel(ctx))
	d.jobs[id] = j
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		defer func() {
			d.mu.Lock()
			delete(d.jobs, id)
			d.mu.Unlock()
			j.cancel()
		}()
		j.run()
	}()
	return true
}

// stop makes every job stop at its next step boundary, and all of them
// once Options.Grace has passed.
func (d *Deployer) stop() {
	d.mu.Lock()
	d.stopping = true
	jobs := make([]*job, 0, len(d.jobs))
	for _, j := range d.jobs {
		jobs = append(jobs, j)
	}
	d.mu.Unlock()
	for _, j := range jobs {
		j.stop()
	}
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d.o.Grace):
		d.log.Warn("grace period over; stopping releases mid-step", "grace", d.o.Grace.String())
		for _, j := range jobs {
			j.cancel()
		}
	}
}

// waitApp waits until a release of app ends in this replica, d passes,
// or ctx ends, and reports whether ctx is still live.
func (d *Deployer) waitApp(ctx context.Context, app string, dur time.Duration) bool {
	d.mu.Lock()
	ch := d.apps[app]
	if ch == nil {
		ch = make(chan struct{})
		d.apps[app] = ch
	}
	d.mu.Unlock()
	select {
	case <-ctx.Done():
		return false
	case <-ch:
		return true
	case <-d.clock.After(dur):
		return true
	}
}

// turn says whether the release rec may claim its app's lock now: no
// other release of the app waiting in this replica was made before it.
// Releases are ordered as the engine orders them (see release.Engine's
// Resume): by the second of their id, then by when they were submitted,
// then by id. It notes rec as waiting until done forgets it.
func (d *Deployer) turn(rec *elevator.ReleaseRecord) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.waiting[rec.App]
	if w == nil {
		w = map[string]*elevator.ReleaseRecord{}
		d.waiting[rec.App] = w
	}
	w[rec.ID] = rec
	for id, o := range w {
		if id != rec.ID && madeBefore(o, rec) {
			return false
		}
	}
	return true
}

// done forgets a release noted by turn: it holds its app's lock, or no
// longer waits for it here.
func (d *Deployer) done(app, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if w := d.waiting[app]; w != nil {
		delete(w, id)
		if len(w) == 0 {
			delete(d.waiting, app)
		}
	}
}

// madeBefore orders two releases of an app as their turns come: by the
// time in their ids, then (ids made in one millisecond by two processes)
// by when they were submitted.
func madeBefore(a, b *elevator.ReleaseRecord) bool {
	sa, sb := elevator.ReleaseIDStamp(a.ID), elevator.ReleaseIDStamp(b.ID)
	switch {
	case sa != sb:
		return sa < sb
	case !a.SubmittedAt.Equal(b.SubmittedAt):
		return a.SubmittedAt.Before(b.SubmittedAt)
	}
	return a.ID < b.ID
}

// appEnded wakes the jobs waiting for app's lock in this replica.
func (d *Deployer) appEnded(app string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch := d.apps[app]; ch != nil {
		close(ch)
		delete(d.apps, app)
	}
}

// sleep waits d or until ctx ends, and reports whether d passed.
func (d *Deployer) sleep(ctx context.Context, dur time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-d.clock.After(dur):
		return true
	}
}

// cleanup is a context for the calls a job makes once its own ended.
func cleanup() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (d *Deployer) deleteMessage(m sqs.Message) {
	ctx, cancel := cleanup()
	defer cancel()
	if err := d.o.Queue.Delete(ctx, d.o.QueueURL, m.ReceiptHandle); err != nil {
		d.log.Warn("delete message failed", "message", m.ID, "err", err)
	}
}

// retryLater makes a message visible again after after: another receive
// (here or in another replica) takes it then.
func (d *Deployer) retryLater(m sqs.Message, after time.Duration) {
	ctx, cancel := cleanup()
	defer cancel()
	if err := d.o.Queue.SetVisibility(ctx, d.o.QueueURL, m.ReceiptHandle, after); err != nil {
		d.log.Warn("change message visibility failed", "message", m.ID, "err", err)
	}
}

// removeSubmission deletes the submission of an ended release: the
// submissions prefix keeps what is pending only (the engine keeps the
// document under releases/).
func (d *Deployer) removeSubmission(key string, rec *elevator.ReleaseRecord) {
	ctx, cancel := cleanup()
	defer cancel()
	if err := d.o.Objects.Delete(ctx, d.o.Bucket, key); err != nil {
		d.log.Warn("remove submission failed", "release", rec.ID, "app", rec.App, "state", rec.State, "err", err)
	}
}
