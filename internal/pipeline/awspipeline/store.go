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

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

type itemsAPI interface {
	PutItem(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) error
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
	Query(ctx context.Context, table string, in dynamodb.QueryInput) ([]dynamodb.Item, error)
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
}

var _ pipeline.Store = (*Store)(nil)

// New returns a Store on table (elevator.ReleasesTableName of the orbit)
// through items, auditing to auditor. It makes no call.
func New(table string, items *dynamodb.Client, auditor Auditor) *Store {
	return &Store{table: table, items: items, auditor: auditor}
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
