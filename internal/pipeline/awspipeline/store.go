// Package awspipeline keeps pipeline executions in AWS: as items of the
// releases table of the orbit of the pipeline's first stage (see
// elevator.PipelineKeyPrefix), written on condition of their revision, as
// release records are, with decisions in that orbit's audit log.
package awspipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

type itemsAPI interface {
	PutItem(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) error
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
	Query(ctx context.Context, table string, in dynamodb.QueryInput) ([]dynamodb.Item, error)
	Remove(ctx context.Context, table string, key dynamodb.Item, conds ...dynamodb.Condition) (dynamodb.Item, error)
}

// Auditor appends to an orbit's audit log; the release store
// (awsrelease.Store) is one.
type Auditor interface {
	Audit(ctx context.Context, e elevator.AuditEntry) error
}

// Store is a pipeline.Store on an orbit's releases table.
type Store struct {
	table   string
	items   itemsAPI
	auditor Auditor
	// objects and bucket keep executions' sources (see WithSources).
	objects Objects
	bucket  string
	now     func() time.Time
}

// UnwrittenGrace is how long after its id's time an index entry whose
// execution has no record yet is kept: Put writes the entry, then the
// record, so for a moment a new execution has an entry and no record.
// An entry older than this without a record is of a process that died
// between the two writes, and Running drops it. Ids are made just before
// Put, so this is minutes more than the two writes take, and more than
// the clocks of two machines differ.
const UnwrittenGrace = 5 * time.Minute

var _ pipeline.Store = (*Store)(nil)

// New returns a Store on table (elevator.ReleasesTableName of the orbit)
// through items, auditing to auditor. It makes no call.
func New(table string, items *dynamodb.Client, auditor Auditor) *Store {
	return &Store{table: table, items: items, auditor: auditor, now: time.Now}
}

// WithClock makes the store read the time from now (Running's
// UnwrittenGrace), and returns it.
func (s *Store) WithClock(now func() time.Time) *Store {
	s.now = now
	return s
}

func key(app, id string) dynamodb.Item {
	return dynamodb.Item{"app": elevator.PipelineKeyPrefix + app, "release_id": id}
}

// Put stores e on condition of its revision, or returns pipeline.ErrStale.
func (s *Store) Put(ctx context.Context, e *elevator.PipelineExecution) error {
	if e.Revision < 1 || e.ID == "" || e.App == "" {
		return elevator.Errorf(elevator.EINVALID, "store pipeline execution %q of app %q: revision %d: want an id, an app and a revision of 1 or more", e.ID, e.App, e.Revision)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return elevator.Errorf(elevator.EINTERNAL, "encode pipeline execution %s: %w", e.ID, err)
	}
	if e.Revision == 1 {
		// The index entry first: an execution is never without one
		// while it runs (a crash here leaves an entry of no execution,
		// which Running skips and drops).
		if err := s.items.PutItem(ctx, s.table, indexKey(e.App, e.ID)); err != nil {
			return fmt.Errorf("index pipeline execution %s: %w", e.ID, err)
		}
	}
	item := key(e.App, e.ID)
	item["revision"], item["state"], item["updated_at"], item["record"] = e.Revision, string(e.State), e.UpdatedAt.Unix(), string(b)
	cond := dynamodb.Equal("revision", e.Revision-1)
	if e.Revision == 1 {
		cond = dynamodb.AttributeNotExists("release_id")
	}
	err = s.items.PutItem(ctx, s.table, item, cond)
	var refused *dynamodb.ConditionFailedError
	if errors.As(err, &refused) {
		return fmt.Errorf("store revision %d of pipeline execution %s: %w", e.Revision, e.ID, pipeline.ErrStale)
	}
	if err == nil && e.State.Done() {
		s.unindex(ctx, e.App, e.ID)
	}
	return err
}

// Get returns the execution, or pipeline.ErrNotFound.
func (s *Store) Get(ctx context.Context, app, id string) (*elevator.PipelineExecution, error) {
	item, err := s.items.GetItem(ctx, s.table, key(app, id))
	if errors.Is(err, dynamodb.ErrNotFound) {
		return nil, fmt.Errorf("pipeline execution %s of app %s: %w", id, app, pipeline.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return decode(item)
}

// List returns the app's executions, newest first (ids start with their
// start time), at most limit.
func (s *Store) List(ctx context.Context, app string, limit int) ([]*elevator.PipelineExecution, error) {
	items, err := s.items.Query(ctx, s.table, dynamodb.QueryInput{HashKey: "app", Value: elevator.PipelineKeyPrefix + app, Descending: true, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]*elevator.PipelineExecution, 0, len(items))
	for _, it := range items {
		e, err := decode(it)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Audit appends e to the orbit's audit log.
func (s *Store) Audit(ctx context.Context, e elevator.AuditEntry) error {
	return s.auditor.Audit(ctx, e)
}

func decode(item dynamodb.Item) (*elevator.PipelineExecution, error) {
	raw, _ := item["record"].(string)
	var e elevator.PipelineExecution
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "decode pipeline execution %v: %w", item["release_id"], err)
	}
	return &e, nil
}

func indexKey(app, id string) dynamodb.Item {
	return dynamodb.Item{"app": elevator.PipelineIndexKey, "release_id": elevator.PipelineIndexEntry(app, id)}
}

// unindex drops the index entry of an execution that ended. An entry left
// behind (the call failed) costs a read: Running drops it the next time.
func (s *Store) unindex(ctx context.Context, app, id string) {
	_, _ = s.items.Remove(ctx, s.table, indexKey(app, id))
}

// Running returns the executions that have not ended, as their records
// are now, in the order of their entries (by app, then id): one Query of the index partition
// (elevator.PipelineIndexKey), whose items are a few bytes each, then a
// GetItem per execution. Entries of executions that ended are dropped
// from the index, and so are those of none when their id is older than
// UnwrittenGrace (a younger one may be of an execution whose first
// record is being written).
func (s *Store) Running(ctx context.Context) ([]*elevator.PipelineExecution, error) {
	items, err := s.items.Query(ctx, s.table, dynamodb.QueryInput{HashKey: "app", Value: elevator.PipelineIndexKey})
	if err != nil {
		return nil, fmt.Errorf("list running pipeline executions: %w", err)
	}
	var out []*elevator.PipelineExecution
	for _, it := range items {
		entry, _ := it["release_id"].(string)
		app, id, ok := elevator.ParsePipelineIndexEntry(entry)
		if !ok {
			continue
		}
		e, err := s.Get(ctx, app, id)
		switch {
		case errors.Is(err, pipeline.ErrNotFound):
			if at, ok := elevator.ReleaseIDTime(id); !ok || s.now().Sub(at) > UnwrittenGrace {
				s.unindex(ctx, app, id)
			}
			continue
		case err != nil:
			return nil, err
		case e.State.Done():
			s.unindex(ctx, app, id)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// Objects reads and writes the state bucket's objects: an S3 client.
type Objects interface {
	PutWithMetadata(ctx context.Context, bucket, key, contentType string, body []byte, meta map[string]string) (string, error)
	GetWithMetadata(ctx context.Context, bucket, key string) ([]byte, map[string]string, error)
}

// WithSources makes the store keep executions' sources in bucket (the
// state bucket of the orbit's home region) through objects, and returns
// it.
func (s *Store) WithSources(objects Objects, bucket string) *Store {
	s.objects, s.bucket = objects, bucket
	return s
}

// PutSources stores the sources of execution id of app and returns the
// reference the execution keeps. It returns an EINTERNAL error when the
// store keeps no sources, and the S3 client's errors.
func (s *Store) PutSources(ctx context.Context, app, id string, src *elevator.PipelineSources) (*elevator.PipelineSourcesRef, error) {
	if s.objects == nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "store the sources of pipeline %s: no state bucket", id)
	}
	b, err := json.Marshal(src)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "encode the sources of pipeline %s: %w", id, err)
	}
	ref := &elevator.PipelineSourcesRef{Key: elevator.PipelineSourcesKey(app, id), SHA256: elevator.ChecksumOf(b)}
	if _, err := s.objects.PutWithMetadata(ctx, s.bucket, ref.Key, "application/json", b, map[string]string{elevator.SubmissionChecksumMeta: ref.SHA256}); err != nil {
		return nil, fmt.Errorf("store the sources of pipeline %s: %w", id, err)
	}
	return ref, nil
}

// Sources reads the sources an execution names and checks them against
// its sha256. It returns an ENOTFOUND error when the execution keeps none
// (it started before they were kept), and an EINTERNAL error naming both
// sums when the object is not what the execution recorded.
func (s *Store) Sources(ctx context.Context, e *elevator.PipelineExecution) (*elevator.PipelineSources, error) {
	if e.Sources == nil {
		return nil, elevator.Errorf(elevator.ENOTFOUND, "pipeline %s keeps no sources (it started before executions kept them)", e.ID)
	}
	if s.objects == nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "read the sources of pipeline %s: no state bucket", e.ID)
	}
	b, _, err := s.objects.GetWithMetadata(ctx, s.bucket, e.Sources.Key)
	if err != nil {
		return nil, fmt.Errorf("read the sources of pipeline %s: %w", e.ID, err)
	}
	if got := elevator.ChecksumOf(b); got != e.Sources.SHA256 {
		return nil, elevator.Errorf(elevator.EINTERNAL, "the sources of pipeline %s at s3://%s/%s have sha256 %s, the execution recorded %s: refusing to ship them", e.ID, s.bucket, e.Sources.Key, got, e.Sources.SHA256)
	}
	var src elevator.PipelineSources
	if err := json.Unmarshal(b, &src); err != nil {
		return nil, elevator.Errorf(elevator.EINTERNAL, "decode the sources of pipeline %s: %w", e.ID, err)
	}
	return &src, nil
}
