package awspipeline

// The Store against moto, on a releases table and a state bucket made
// directly with the SDK in the shape the orbit stack gives them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/manifest"
	"github.com/elevatorhq/elevator/internal/pipeline"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// stateOf makes orbit "test"'s state bucket and releases table and
// returns the release backend and a pipeline Store on them.
func stateOf(t *testing.T) (*awsrelease.Backend, *Store) {
	t.Helper()
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	bucket := elevator.StateBucketName(emulatortest.AccountID(cfg), "eu-west-1", "test")
	_, err := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).CreateBucket(ctx, &s3sdk.CreateBucketInput{
		Bucket: aws.String(bucket), CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	if err != nil {
		t.Fatal(err)
	}
	str := func(n string) ddbtypes.AttributeDefinition {
		return ddbtypes.AttributeDefinition{AttributeName: aws.String(n), AttributeType: ddbtypes.ScalarAttributeTypeS}
	}
	key := func(n string, k ddbtypes.KeyType) ddbtypes.KeySchemaElement {
		return ddbtypes.KeySchemaElement{AttributeName: aws.String(n), KeyType: k}
	}
	table := elevator.ReleasesTableName("test")
	if _, err := ddb.NewFromConfig(cfg).CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{str("app"), str("release_id")},
		KeySchema:            []ddbtypes.KeySchemaElement{key("app", ddbtypes.KeyTypeHash), key("release_id", ddbtypes.KeyTypeRange)},
		BillingMode:          ddbtypes.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
	b, err := awsrelease.New(awsrelease.Config{Orbit: "test", AWS: []aws.Config{cfg}, Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return b, New(table, dynamodb.New(cfg), b.Store).WithSources(s3.New(cfg), bucket)
}

func TestTheStoreKeepsExecutionsByRevisionApartFromReleases(t *testing.T) {
	b, s := stateOf(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	e := &elevator.PipelineExecution{ID: "20261129-120000-0000000a", App: "shop", Version: "1.0", State: elevator.ExecutionRunning,
		Stages: []elevator.StageRun{{Name: "test", State: elevator.StagePending}}, Revision: 1, UpdatedAt: at}
	if err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, e); !errors.Is(err, pipeline.ErrStale) {
		t.Fatalf("a second revision 1: %v, want ErrStale", err)
	}
	e2 := *e
	e2.Revision, e2.Stages = 2, []elevator.StageRun{{Name: "test", State: elevator.StageWaiting}}
	if err := s.Put(ctx, &e2); err != nil {
		t.Fatal(err)
	}
	e3 := e2
	e3.Revision = 4
	if err := s.Put(ctx, &e3); !errors.Is(err, pipeline.ErrStale) {
		t.Fatalf("revision 4 over 2: %v, want ErrStale", err)
	}
	got, err := s.Get(ctx, "shop", e.ID)
	if err != nil || got.Revision != 2 || got.Stages[0].State != elevator.StageWaiting || !got.UpdatedAt.Equal(at) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	if _, err := s.Get(ctx, "shop", "20261129-120000-0000000b"); !errors.Is(err, pipeline.ErrNotFound) {
		t.Fatalf("Get of a missing execution: %v, want ErrNotFound", err)
	}
	later := &elevator.PipelineExecution{ID: "20261129-130000-0000000c", App: "shop", State: elevator.ExecutionRunning, Revision: 1, UpdatedAt: at}
	other := &elevator.PipelineExecution{ID: "20261129-140000-0000000d", App: "blog", State: elevator.ExecutionRunning, Revision: 1, UpdatedAt: at}
	for _, x := range []*elevator.PipelineExecution{later, other} {
		if err := s.Put(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx, "shop", 10)
	if err != nil || len(list) != 2 || list[0].ID != later.ID || list[1].ID != e.ID {
		t.Fatalf("List = %v, %v; want the two executions of shop, newest first", list, err)
	}
	// The releases of shop in the same table are not these items.
	recs, err := b.Store.Releases(ctx, "shop", 10)
	if err != nil || len(recs) != 0 {
		t.Fatalf("Releases(shop) = %v, %v; want none", recs, err)
	}
}

// releaser and reviewer stand for the release engine and `app plan`: this
// test is about where the execution is kept, not about releases.
type releaser struct{ started []string }

func (r *releaser) Start(_ context.Context, orbit, version, token string) (string, error) {
	r.started = append(r.started, orbit)
	return "rel-" + orbit, nil
}
func (r *releaser) Status(context.Context, string, string) (pipeline.ReleaseStatus, error) {
	return pipeline.ReleaseStatus{Done: true, Succeeded: true}, nil
}

type reviewer struct{}

func (reviewer) Review(_ context.Context, orbit, _ string, _ []elevator.ChangeSetRef) ([]elevator.ChangeSetRef, error) {
	return []elevator.ChangeSetRef{{Orbit: orbit, Region: "eu-west-1", Stack: "elevator-app-" + orbit + "-shop", TemplateHash: "h"}}, nil
}

// Apply is never called: the review has no change set.
func (reviewer) Apply(context.Context, elevator.ChangeSetRef) error {
	return errors.New("no change set to apply")
}

func TestAnExecutionParkedOnMotoIsApprovedAndResumedByAnotherProcess(t *testing.T) {
	b, s := stateOf(t)
	ctx := context.Background()
	a, err := manifest.ParseApp("app.yml", []byte(`name: shop
services: {web: {runtime: {docker: {image: ghcr.io/acme/shop}}}}
pipeline:
  stages:
    - orbit: test
    - {orbit: production, auto: true, approval: {roles: [approver]}}
`), "")
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }
	rel := &releaser{}
	executor := func(owner string) *pipeline.Executor {
		return &pipeline.Executor{App: a, Store: s, Releaser: rel, Reviewer: reviewer{}, Owner: owner, Now: now,
			Sleep: func(context.Context, time.Duration) error { return nil }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	const id = "20261129-120000-00000001"
	alice, bob := "arn:aws:sts::123456789012:assumed-role/dev/alice", "arn:aws:sts::123456789012:assumed-role/ops/bob"
	if _, err := executor("one").Start(ctx, id, "1.0", alice); err != nil {
		t.Fatal(err)
	}
	e, err := executor("one").Run(ctx, id)
	if err != nil || e.Stage("production").State != elevator.StageWaiting || e.Owner != "" {
		t.Fatalf("first run: %+v, %v", e, err)
	}
	orbits := map[string]*elevator.Orbit{"test": {}, "production": {Access: []elevator.AccessRule{
		{Role: elevator.RoleApprover, Principals: []string{"arn:aws:iam::123456789012:role/ops"}}}}}
	d := &pipeline.Decider{Store: s, Orbits: deployedOrbits(orbits), Now: now}
	if _, err := d.Approve(ctx, "shop", id, "production", bob, e.Stage("production").Review, "ship it"); err != nil {
		t.Fatal(err)
	}
	e, err = executor("two").Run(ctx, id)
	if err != nil || e.State != elevator.ExecutionSucceeded || !slices.Equal(rel.started, []string{"test", "production"}) {
		t.Fatalf("resumed: %v %v, releases %v", e.State, err, rel.started)
	}
	log, err := b.Store.AuditLog(ctx, now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, x := range log {
		actions = append(actions, fmt.Sprintf("%s %s %s", x.Action, x.By, x.Outcome))
	}
	if !slices.Contains(actions, "pipeline.approve "+bob+" done") || !slices.Contains(actions, "pipeline.start "+alice+" started") {
		t.Errorf("audit log %v lacks the start or the approval", actions)
	}
}

// TestTheIndexListsTheRunningExecutionsOnly: Running finds an execution
// from its first revision to its last, through the index partition, and
// drops the entries of executions that ended or were never written.
func TestTheIndexListsTheRunningExecutionsOnly(t *testing.T) {
	_, s := stateOf(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s.WithClock(func() time.Time { return at.Add(time.Hour) })
	run := func(app, id string) *elevator.PipelineExecution {
		e := &elevator.PipelineExecution{ID: id, App: app, State: elevator.ExecutionRunning, Revision: 1, UpdatedAt: at}
		if err := s.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	ids := func() []string {
		t.Helper()
		list, err := s.Running(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.App+"/"+e.ID)
		}
		return out
	}
	shop := run("shop", "20261129-120000-00000001")
	run("blog", "20261129-120000-00000002")
	if got := ids(); !slices.Equal(got, []string{"blog/20261129-120000-00000002", "shop/20261129-120000-00000001"}) {
		t.Fatalf("Running = %v, want both", got)
	}
	done := *shop
	done.Revision, done.State = 2, elevator.ExecutionSucceeded
	if err := s.Put(ctx, &done); err != nil {
		t.Fatal(err)
	}
	// An entry of an execution never written (a crash between the two
	// puts of its first revision) is dropped too.
	if err := s.items.PutItem(ctx, s.table, indexKey("shop", "20261129-120000-00000003")); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{"blog/20261129-120000-00000002"}) {
		t.Fatalf("Running after shop's ended = %v, want blog's only", got)
	}
	items, err := s.items.Query(ctx, s.table, dynamodb.QueryInput{HashKey: "app", Value: elevator.PipelineIndexKey})
	if err != nil || len(items) != 1 {
		t.Fatalf("the index holds %v (%v); want blog's entry only", items, err)
	}
}

// TestAnEntryWhoseFirstRecordIsBeingWrittenStaysIndexed: Put writes a new
// execution's index entry, then its first record; a Running between the
// two finds an entry of no record. It keeps an entry younger than
// UnwrittenGrace, so the execution stays listed once its record is
// written, and drops it after.
func TestAnEntryWhoseFirstRecordIsBeingWrittenStaysIndexed(t *testing.T) {
	_, s := stateOf(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s.WithClock(func() time.Time { return now })
	id, err := elevator.ReleaseIDAt(now.Add(-time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Put's first write, made by hand: its second is not made yet.
	if err := s.items.PutItem(ctx, s.table, indexKey("shop", id)); err != nil {
		t.Fatal(err)
	}
	if list, err := s.Running(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Running between the two writes = %v, %v; want nothing listed yet", list, err)
	}
	e := &elevator.PipelineExecution{ID: id, App: "shop", State: elevator.ExecutionRunning, Revision: 1, UpdatedAt: now}
	item := key(e.App, e.ID)
	b, _ := json.Marshal(e)
	item["revision"], item["state"], item["updated_at"], item["record"] = e.Revision, string(e.State), e.UpdatedAt.Unix(), string(b)
	if err := s.items.PutItem(ctx, s.table, item); err != nil { // Put's second write
		t.Fatal(err)
	}
	list, err := s.Running(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("Running once the record is written = %v, %v; want execution %s (its entry kept)", list, err, id)
	}

	// An entry of no record older than UnwrittenGrace is of a process
	// that died between the writes: dropped.
	old, _ := elevator.ReleaseIDAt(now.Add(-UnwrittenGrace-time.Second), nil)
	if err := s.items.PutItem(ctx, s.table, indexKey("shop", old)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Running(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := s.items.Query(ctx, s.table, dynamodb.QueryInput{HashKey: "app", Value: elevator.PipelineIndexKey})
	if err != nil || len(items) != 1 || items[0]["release_id"] != elevator.PipelineIndexEntry("shop", id) {
		t.Fatalf("the index holds %v (%v); want the entry of %s only", items, err, id)
	}
}

// TestSourcesAreCheckedAgainstTheirSHA256: the sources an execution pins
// read back as written; an object changed behind the execution's back is
// refused, naming both sums.
func TestSourcesAreCheckedAgainstTheirSHA256(t *testing.T) {
	_, s := stateOf(t)
	ctx := context.Background()
	src := &elevator.PipelineSources{App: elevator.ManifestSource{File: "app.yml", Text: "name: shop\n"}}
	ref, err := s.PutSources(ctx, "shop", "20261129-120000-00000001", src)
	if err != nil {
		t.Fatal(err)
	}
	e := &elevator.PipelineExecution{ID: "20261129-120000-00000001", App: "shop", Sources: ref}
	got, err := s.Sources(ctx, e)
	if err != nil || got.App != src.App {
		t.Fatalf("Sources = %+v, %v; want what was put", got, err)
	}
	if ref.Key != elevator.PipelineSourcesKey("shop", e.ID) {
		t.Errorf("sources kept at %s", ref.Key)
	}
	if _, err := s.objects.PutWithMetadata(ctx, s.bucket, ref.Key, "application/json", []byte(`{"app":{"file":"app.yml","text":"name: evil\n"}}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sources(ctx, e); elevator.ErrorCode(err) != elevator.EINTERNAL || !strings.Contains(fmt.Sprint(err), "the execution recorded "+ref.SHA256) {
		t.Fatalf("Sources of a changed object: %v, want a refusal naming the recorded sum", err)
	}
	if _, err := s.Sources(ctx, &elevator.PipelineExecution{ID: "x", App: "shop"}); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Fatalf("Sources of an execution that pinned none: %v, want ENOTFOUND", err)
	}
}

func TestMain(m *testing.M) { emulatortest.Main(m) }

// deployedOrbits are orbits as deployed, held in memory.
type deployedOrbits map[string]*elevator.Orbit

func (d deployedOrbits) Deployed(_ context.Context, orbit string) (*elevator.Orbit, error) {
	if o, ok := d[orbit]; ok {
		return o, nil
	}
	return nil, fmt.Errorf("orbit %s: %w", orbit, pipeline.ErrNotDeployed)
}
