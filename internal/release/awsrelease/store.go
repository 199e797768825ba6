package awsrelease

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/release"
)

type objectsAPI interface {
	PutIfAbsent(ctx context.Context, bucket, key, contentType string, body []byte) (bool, error)
	Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error)
	Get(ctx context.Context, bucket, key string) ([]byte, string, error)
	List(ctx context.Context, bucket, prefix string) ([]s3.Object, error)
}

type recordsAPI interface {
	PutItem(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) error
	PutItemChecked(ctx context.Context, table string, item dynamodb.Item, conds []dynamodb.Condition, checks ...dynamodb.Check) error
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
	UpdateItem(ctx context.Context, table string, key, set dynamodb.Item, conds ...dynamodb.Condition) (dynamodb.Item, error)
	Query(ctx context.Context, table string, in dynamodb.QueryInput) ([]dynamodb.Item, error)
}

// Store is the release engine's release.Store in an orbit's home region:
// release documents, their checksums, halts and the audit log are objects
// in the orbit's state bucket, and records are items of its releases
// table, written on condition of their revision.
//
// The bucket holds, for release <id>:
//
//	releases/<id>/release.json         the document, exactly as submitted
//	releases/<id>/release.json.sha256  its checksum (hex SHA-256)
//
// and one object per audit entry, under
// audit/<yyyy>/<mm>/<dd>/<time>-<app>-<action>-<random>.json, so entries
// sort by time and two writes never collide. The releases table (hash key
// app, range key release_id) holds one item per release: the record as
// JSON in "record", with revision, state and updated_at beside it for
// queries and conditions, and the first halt asked for, as JSON in "halt".
// Keeping the halt on the record's item lets the conditional write of a
// record refuse to miss a halt, so the engine reads the flag only while it
// waits, not at every transition. The locks table (locks) is in the same
// region, so that a record can be written on condition of the lock in one
// transaction (PutLockedRecord).
type Store struct {
	orbit, bucket, table, locks string
	objects                     objectsAPI
	records                     recordsAPI
	now                         func() time.Time

	mu   sync.Mutex
	apps map[string]string // release id -> app, to find a record's key
}

var _ release.Store = (*Store)(nil)

func docKey(id string) string { return elevator.ReleasesPrefix + id + "/release.json" }
func sumKey(id string) string { return docKey(id) + ".sha256" }

// AuditPrefix is the prefix of the audit log's objects in the state
// bucket.
const AuditPrefix = elevator.AuditPrefix

func (s *Store) remember(id, app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[id] = app
}

// PutRelease stores a release document and its checksum, once: the same
// document again is nil, a different one under the id release.ErrExists.
// The document is written first; a crash before the checksum leaves a
// release that Release reports as not found until PutRelease is called
// again.
func (s *Store) PutRelease(ctx context.Context, id string, doc []byte, checksum string) error {
	app, err := appOf(doc)
	if err != nil {
		return err
	}
	for _, o := range []struct {
		key, contentType string
		body             []byte
	}{{docKey(id), "application/json", doc}, {sumKey(id), "text/plain", []byte(checksum)}} {
		stored, err := s.objects.PutIfAbsent(ctx, s.bucket, o.key, o.contentType, o.body)
		if err != nil {
			return err
		}
		if stored {
			continue
		}
		// Something was there: the same bytes (a retry, or a write
		// whose answer was lost) or another release's.
		have, _, err := s.objects.Get(ctx, s.bucket, o.key)
		if err != nil {
			return err
		}
		if !bytes.Equal(have, o.body) {
			return fmt.Errorf("store release %s in s3://%s/%s: %w", id, s.bucket, o.key, release.ErrExists)
		}
	}
	s.remember(id, app)
	return nil
}

// appOf reads the app of a release document.
func appOf(doc []byte) (string, error) {
	var d struct {
		App string `json:"app"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.App == "" {
		return "", elevator.Errorf(elevator.EINVALID, "release document names no app: %v", err)
	}
	return d.App, nil
}

// Release returns a stored document and the checksum stored with it,
// exactly as stored, or release.ErrNotFound when either is missing.
func (s *Store) Release(ctx context.Context, id string) ([]byte, string, error) {
	doc, _, err := s.objects.Get(ctx, s.bucket, docKey(id))
	if err != nil {
		return nil, "", missing(err)
	}
	sum, _, err := s.objects.Get(ctx, s.bucket, sumKey(id))
	if err != nil {
		return nil, "", missing(err)
	}
	if app, err := appOf(doc); err == nil {
		s.remember(id, app)
	}
	return doc, string(sum), nil
}

// missing turns the adapters' "not found" into release.ErrNotFound.
func missing(err error) error {
	if errors.Is(err, s3.ErrNotFound) || errors.Is(err, dynamodb.ErrNotFound) {
		return engineNotFound{err}
	}
	return err
}

// engineNotFound is an adapter's not-found error that is also
// release.ErrNotFound, with the adapter's message and code.
type engineNotFound struct{ error }

func (e engineNotFound) Unwrap() []error { return []error{e.error, release.ErrNotFound} }

// PutRecord stores rec if the stored record has revision rec.Revision-1
// (or there is none and rec.Revision is 1), in one conditional write;
// otherwise it returns release.ErrStale.
func (s *Store) PutRecord(ctx context.Context, rec *elevator.ReleaseRecord) error {
	return s.putRecord(ctx, rec, nil)
}

// PutLockedRecord is PutRecord on condition that the lock of rec.App (an
// item of the locks table, see Locker) has l's owner and release too: one
// transaction that writes the record and checks the lock, a single request
// like PutRecord's. It returns release.ErrLockLost when only the lock's
// condition failed. A retried write needs no token: the revision condition
// refuses a second copy, and the engine then reads its own record back.
func (s *Store) PutLockedRecord(ctx context.Context, rec *elevator.ReleaseRecord, l release.Lock) error {
	if l.App != rec.App || l.Orbit != s.orbit || l.ReleaseID != rec.ID {
		return elevator.Errorf(elevator.EINVALID, "store record of release %s under the lock of release %s of %s in %s: not its lock", rec.ID, l.ReleaseID, l.App, l.Orbit)
	}
	return s.putRecord(ctx, rec, &l)
}

func (s *Store) putRecord(ctx context.Context, rec *elevator.ReleaseRecord, l *release.Lock) error {
	if rec.Revision < 1 || rec.ID == "" || rec.App == "" {
		return elevator.Errorf(elevator.EINVALID, "store record %q of app %q: revision %d: want an id, an app and a revision of 1 or more", rec.ID, rec.App, rec.Revision)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode record of release %s: %w", rec.ID, err)
	}
	item := dynamodb.Item{
		"app": rec.App, "release_id": rec.ID, "orbit": rec.Orbit,
		"revision": rec.Revision, "state": string(rec.State), "owner": rec.Owner,
		"updated_at": rec.UpdatedAt.Unix(), "record": string(b),
	}
	cond := dynamodb.Equal("revision", rec.Revision-1)
	if rec.Revision == 1 {
		cond = dynamodb.AttributeNotExists("release_id")
	}
	if rec.Halt != nil {
		h, err := json.Marshal(rec.Halt)
		if err != nil {
			return elevator.Errorf(elevator.EINTERNAL, "encode halt of release %s: %w", rec.ID, err)
		}
		item["halt"] = string(h)
	} else {
		cond = dynamodb.And(cond, dynamodb.AttributeNotExists("halt"))
	}
	if l == nil {
		err = s.records.PutItem(ctx, s.table, item, cond)
	} else {
		err = s.records.PutItemChecked(ctx, s.table, item, []dynamodb.Condition{cond},
			dynamodb.Check{Table: s.locks, Key: lockKey(l.App), Conds: []dynamodb.Condition{mine(*l)}})
	}
	var refused *dynamodb.ConditionFailedError
	if errors.As(err, &refused) && refused.Check != nil {
		return fmt.Errorf("store revision %d of release %s: the lock of %s is held by release %v of engine %v: %w",
			rec.Revision, rec.ID, rec.App, refused.Current["release_id"], refused.Current["owner"], release.ErrLockLost)
	}
	if errors.As(err, &refused) {
		if h, herr := haltOf(refused.Current); herr == nil && h != nil && rec.Halt == nil && revisionOf(refused.Current) == rec.Revision-1 {
			return &release.HaltedError{Halt: *h}
		}
		return fmt.Errorf("store revision %d of release %s: %w", rec.Revision, rec.ID, release.ErrStale)
	}
	if err != nil {
		return err
	}
	s.remember(rec.ID, rec.App)
	return nil
}

// Record returns the stored record of a release, or release.ErrNotFound.
func (s *Store) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	key, err := s.recordKey(ctx, id)
	if err != nil {
		return nil, err
	}
	item, err := s.records.GetItem(ctx, s.table, key)
	if err != nil {
		return nil, missing(err)
	}
	return decodeRecord(item)
}

// recordKey is the key of a release's record item. The table is keyed by
// app; a release this Store has not seen yet costs one more read, of its
// document, to learn its app.
func (s *Store) recordKey(ctx context.Context, id string) (dynamodb.Item, error) {
	s.mu.Lock()
	app, ok := s.apps[id]
	s.mu.Unlock()
	if !ok {
		doc, _, err := s.objects.Get(ctx, s.bucket, docKey(id))
		if err != nil {
			return nil, missing(err)
		}
		if app, err = appOf(doc); err != nil {
			return nil, err
		}
		s.remember(id, app)
	}
	return dynamodb.Item{"app": app, "release_id": id}, nil
}

// decodeRecord reads a record from its item, with the halt asked for the
// release when the record does not carry it yet.
func decodeRecord(item dynamodb.Item) (*elevator.ReleaseRecord, error) {
	raw, _ := item["record"].(string)
	var rec elevator.ReleaseRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "decode record of release %v: %w", item["release_id"], err)
	}
	if rec.Halt == nil {
		h, err := haltOf(item)
		if err != nil {
			return nil, err
		}
		rec.Halt = h
	}
	return &rec, nil
}

// haltOf reads the halt of a record's item, or nil when there is none.
func haltOf(item dynamodb.Item) (*elevator.ReleaseHalt, error) {
	raw, ok := item["halt"].(string)
	if !ok {
		return nil, nil
	}
	var h elevator.ReleaseHalt
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "decode halt of release %v: %w", item["release_id"], err)
	}
	return &h, nil
}

// revisionOf reads the revision of a record's item (0 when there is none).
func revisionOf(item dynamodb.Item) int64 {
	switch v := item["revision"].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		return int64(v)
	}
	return 0
}

// Releases returns the records of an app's releases in the orbit, newest
// first, at most limit of them (all when limit
// is 0), for `elevator release list`.
func (s *Store) Releases(ctx context.Context, app string, limit int) ([]*elevator.ReleaseRecord, error) {
	out, err := s.query(ctx, dynamodb.QueryInput{HashKey: "app", Value: app, Descending: true, Limit: limit})
	if err != nil {
		return nil, err
	}
	// Ids sort by the time they were made (see ReleaseIDStamp); ids made
	// in one millisecond by two processes (or one second, for ids of the
	// old form) are ordered by submission time.
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if elevator.ReleaseIDStamp(a.ID) != elevator.ReleaseIDStamp(b.ID) {
			return a.ID > b.ID
		}
		return a.SubmittedAt.After(b.SubmittedAt)
	})
	return out, nil
}

// Page returns one page of an app's releases in the orbit, newest first
// in id order: at most limit records whose ids sort before before (""
// for the newest), read with one query of the app's partition, never the
// whole of it. next is the id to pass as before for the page after: the
// last id of a full page, "" when the page is not full (a full page that
// happens to be the last is followed by an empty one). It returns an
// EINVALID error for a limit below 1.
func (s *Store) Page(ctx context.Context, app string, limit int, before string) (recs []*elevator.ReleaseRecord, next string, err error) {
	if limit < 1 {
		return nil, "", elevator.Errorf(elevator.EINVALID, "a page of the releases of %s: limit %d, want 1 or more", app, limit)
	}
	in := dynamodb.QueryInput{HashKey: "app", Value: app, Descending: true, Limit: limit}
	if before != "" {
		in.RangeKey, in.Before = "release_id", before
	}
	if recs, err = s.query(ctx, in); err != nil {
		return nil, "", err
	}
	if len(recs) == limit {
		next = recs[len(recs)-1].ID
	}
	return recs, next, nil
}

// ReleasesAfter returns the records of an app's releases in the orbit
// whose ids sort after after, in id order: one query of the app's
// partition from after on.
func (s *Store) ReleasesAfter(ctx context.Context, app, after string) ([]*elevator.ReleaseRecord, error) {
	return s.query(ctx, dynamodb.QueryInput{HashKey: "app", Value: app, RangeKey: "release_id", After: after})
}

// query returns the records of the releases table's items that in selects.
func (s *Store) query(ctx context.Context, in dynamodb.QueryInput) ([]*elevator.ReleaseRecord, error) {
	items, err := s.records.Query(ctx, s.table, in)
	if err != nil {
		return nil, err
	}
	out := make([]*elevator.ReleaseRecord, 0, len(items))
	for _, it := range items {
		rec, err := decodeRecord(it)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// PutHalt asks a release to stop: it sets the halt on the release's
// record item, unless one is there already (a release halted before keeps
// its first halt). It returns release.ErrNotFound when the release has no
// record.
func (s *Store) PutHalt(ctx context.Context, id string, h elevator.ReleaseHalt) error {
	b, err := json.Marshal(h)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode halt of release %s: %w", id, err)
	}
	key, err := s.recordKey(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.records.UpdateItem(ctx, s.table, key, dynamodb.Item{"halt": string(b)},
		dynamodb.Equal("release_id", id), dynamodb.AttributeNotExists("halt"))
	var refused *dynamodb.ConditionFailedError
	if errors.As(err, &refused) {
		if refused.Current == nil {
			return fmt.Errorf("halt release %s: %w", id, release.ErrNotFound)
		}
		return nil // halted before: the first halt stands
	}
	return err
}

// Halt returns the halt asked for a release, or nil and no error.
func (s *Store) Halt(ctx context.Context, id string) (*elevator.ReleaseHalt, error) {
	key, err := s.recordKey(ctx, id)
	if err != nil {
		return nil, err
	}
	item, err := s.records.GetItem(ctx, s.table, key)
	if errors.Is(err, dynamodb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return haltOf(item)
}

// Audit appends an entry to the orbit's audit log: one new object.
func (s *Store) Audit(ctx context.Context, e elevator.AuditEntry) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode audit entry: %w", err)
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "name audit entry: %w", err)
	}
	at := e.At.UTC()
	key := fmt.Sprintf("%s%s/%s-%s-%s-%s.json", AuditPrefix, at.Format("2006/01/02"), at.Format("20060102T150405.000000000Z"),
		e.App, e.Action, hex.EncodeToString(suffix))
	_, err = s.objects.Put(ctx, s.bucket, key, "application/json", b)
	return err
}

// AuditLog returns the audit entries of the days from since to now, oldest
// first (one list per day, and one read per entry).
func (s *Store) AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error) {
	var out []elevator.AuditEntry
	now := s.now().UTC()
	for day := since.UTC().Truncate(24 * time.Hour); !day.After(now); day = day.Add(24 * time.Hour) {
		objs, err := s.objects.List(ctx, s.bucket, AuditPrefix+day.Format("2006/01/02")+"/")
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			b, _, err := s.objects.Get(ctx, s.bucket, o.Key)
			if err != nil {
				return nil, err
			}
			var e elevator.AuditEntry
			if err := json.Unmarshal(b, &e); err != nil {
				return nil, elevator.Errorf(elevator.EINTERNAL, "decode audit entry %s: %w", strings.TrimPrefix(o.Key, AuditPrefix), err)
			}
			if !e.At.Before(since) {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

// retryKey is the object of a request to retry a release's tests, one per
// round: releases/<id>/retry-tests/<round>.json.
func retryKey(id string, round int) string {
	return fmt.Sprintf("%s%s/retry-tests/%d.json", elevator.ReleasesPrefix, id, round)
}

// PutTestRetry stores a request to retry a release's failed tests as
// round round, unless one is stored for that round already.
func (s *Store) PutTestRetry(ctx context.Context, id string, round int, t elevator.TestRetry) error {
	if err := elevator.CheckReleaseID(id); err != nil {
		return err
	}
	b, err := json.Marshal(t)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode test retry of release %s: %w", id, err)
	}
	_, err = s.objects.PutIfAbsent(ctx, s.bucket, retryKey(id, round), "application/json", b)
	return err
}

// TestRetry returns the request to retry a round of a release's tests, or
// nil and no error.
func (s *Store) TestRetry(ctx context.Context, id string, round int) (*elevator.TestRetry, error) {
	b, _, err := s.objects.Get(ctx, s.bucket, retryKey(id, round))
	if errors.Is(err, s3.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var t elevator.TestRetry
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "decode test retry of release %s: %w", id, err)
	}
	return &t, nil
}

// releaseToken is the object under elevator.ReleaseTokenKey.
type releaseToken struct {
	Token     string `json:"token"`
	ReleaseID string `json:"release_id"`
}

// ClaimToken binds token to release id unless it is bound already (a
// conditional write: the first claim wins), and returns the id the token
// is bound to: id, or the one an earlier claim stored.
func (s *Store) ClaimToken(ctx context.Context, token, id string) (string, error) {
	if err := elevator.CheckReleaseID(id); err != nil {
		return "", err
	}
	key := elevator.ReleaseTokenKey(token)
	b, err := json.Marshal(releaseToken{Token: token, ReleaseID: id})
	if err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "encode release token: %w", err)
	}
	stored, err := s.objects.PutIfAbsent(ctx, s.bucket, key, "application/json", b)
	if err != nil || stored {
		return id, err
	}
	b, _, err = s.objects.Get(ctx, s.bucket, key)
	if err != nil {
		return "", err
	}
	var have releaseToken
	if err := json.Unmarshal(b, &have); err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "release token in s3://%s/%s is not a token document: %v", s.bucket, key, err)
	}
	if have.Token != token {
		return "", elevator.Errorf(elevator.EINTERNAL, "release token in s3://%s/%s is of token %q, not %q", s.bucket, key, have.Token, token)
	}
	if err := elevator.CheckReleaseID(have.ReleaseID); err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "release token in s3://%s/%s for %q names no release: %v", s.bucket, key, token, err)
	}
	return have.ReleaseID, nil
}
