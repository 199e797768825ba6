package awsrelease

// The Store and the Locker against moto, on a state bucket and tables made
// directly with the SDK in the shape the orbit stack gives them.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
)

// stateOf makes orbit "prod"'s state bucket and tables in a fresh account
// and returns a backend on them.
func stateOf(t *testing.T) (*Backend, aws.Config) {
	t.Helper()
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	bucket := elevator.StateBucketName(emulatortest.AccountID(cfg), "eu-west-1", "prod")
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
	db := ddb.NewFromConfig(cfg)
	for _, in := range []*ddb.CreateTableInput{
		{TableName: aws.String(elevator.LocksTableName("prod")), AttributeDefinitions: []ddbtypes.AttributeDefinition{str("id")},
			KeySchema: []ddbtypes.KeySchemaElement{key("id", ddbtypes.KeyTypeHash)}},
		{TableName: aws.String(elevator.ReleasesTableName("prod")), AttributeDefinitions: []ddbtypes.AttributeDefinition{str("app"), str("release_id")},
			KeySchema: []ddbtypes.KeySchemaElement{key("app", ddbtypes.KeyTypeHash), key("release_id", ddbtypes.KeyTypeRange)}},
	} {
		in.BillingMode = ddbtypes.BillingModePayPerRequest
		if _, err := db.CreateTable(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	b, err := New(Config{Orbit: "prod", AWS: []aws.Config{cfg}, Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return b, cfg
}

func doc(t *testing.T, app, id string) ([]byte, string) {
	t.Helper()
	rel := &elevator.Release{ID: id, App: app, Orbit: "prod", CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	b, err := rel.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b, elevator.ChecksumOf(b)
}

func TestTheStoreKeepsDocumentsOnceAndRecordsByRevision(t *testing.T) {
	b, cfg := stateOf(t)
	s := b.Store
	ctx := context.Background()
	const id = "20261123-120000-0000000a"
	d, sum := doc(t, "shop", id)

	t.Run("a document is stored once; the same again is nil, another is refused", func(t *testing.T) {
		if err := s.PutRelease(ctx, id, d, sum); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRelease(ctx, id, d, sum); err != nil {
			t.Errorf("the same document again: %v", err)
		}
		other, osum := doc(t, "blog", id)
		if err := s.PutRelease(ctx, id, other, osum); !errors.Is(err, release.ErrExists) {
			t.Errorf("another document under the id: %v, want ErrExists", err)
		}
		got, gsum, err := s.Release(ctx, id)
		if err != nil || string(got) != string(d) || gsum != sum {
			t.Errorf("read back %q %s %v", got, gsum, err)
		}
		if _, _, err := s.Release(ctx, "20261123-120000-ffffffff"); !errors.Is(err, release.ErrNotFound) {
			t.Errorf("a release never stored: %v, want ErrNotFound", err)
		}
	})
	t.Run("records are written on condition of their revision", func(t *testing.T) {
		rec := &elevator.ReleaseRecord{ID: id, App: "shop", Orbit: "prod", Revision: 1, State: elevator.StateValidate}
		if err := s.PutRecord(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRecord(ctx, rec); !errors.Is(err, release.ErrStale) {
			t.Errorf("revision 1 again: %v, want ErrStale", err)
		}
		rec.Revision, rec.State = 3, elevator.StateDeploy
		if err := s.PutRecord(ctx, rec); !errors.Is(err, release.ErrStale) {
			t.Errorf("revision 3 over 1: %v, want ErrStale", err)
		}
		rec.Revision = 2
		if err := s.PutRecord(ctx, rec); err != nil {
			t.Errorf("revision 2 over 1: %v", err)
		}
	})
	t.Run("a store that never saw the release finds its record through the document", func(t *testing.T) {
		fresh, err := New(Config{Orbit: "prod", AWS: []aws.Config{cfg}, Bucket: s.bucket})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fresh.Store.Record(ctx, id)
		if err != nil || got.Revision != 2 || got.State != elevator.StateDeploy {
			t.Errorf("record %+v, %v", got, err)
		}
		if _, err := fresh.Store.Record(ctx, "20261123-120000-ffffffff"); !errors.Is(err, release.ErrNotFound) {
			t.Errorf("record of a release never stored: %v, want ErrNotFound", err)
		}
	})
	t.Run("a halt is kept as first asked", func(t *testing.T) {
		if h, err := s.Halt(ctx, id); h != nil || err != nil {
			t.Fatalf("halt before any: %v, %v", h, err)
		}
		first := elevator.ReleaseHalt{By: "bob", At: time.Date(2026, 11, 23, 12, 1, 0, 0, time.UTC), Reason: "first"}
		for _, h := range []elevator.ReleaseHalt{first, {By: "carol", Reason: "second"}} {
			if err := s.PutHalt(ctx, id, h); err != nil {
				t.Fatal(err)
			}
		}
		if h, err := s.Halt(ctx, id); err != nil || h == nil || *h != first {
			t.Errorf("halt %+v, %v; want bob's", h, err)
		}
	})
	t.Run("a record that misses the halt is refused with it; one that carries it is stored", func(t *testing.T) {
		rec, err := s.Record(ctx, id)
		if err != nil || rec.Halt == nil || rec.Halt.By != "bob" {
			t.Fatalf("record read after the halt: %+v, %v; want bob's halt in it", rec, err)
		}
		rec.Halt = nil
		rec.Revision++
		var halted *release.HaltedError
		if err := s.PutRecord(ctx, rec); !errors.As(err, &halted) || halted.Halt.By != "bob" {
			t.Fatalf("record without the halt: %v, want a HaltedError with bob's halt", err)
		}
		rec.Halt = &halted.Halt
		if err := s.PutRecord(ctx, rec); err != nil {
			t.Fatalf("record with the halt: %v", err)
		}
		if err := s.PutRecord(ctx, rec); !errors.Is(err, release.ErrStale) {
			t.Errorf("the same revision again, halt and all: %v, want ErrStale", err)
		}
		if h, err := s.Halt(ctx, id); err != nil || h == nil || h.By != "bob" {
			t.Errorf("halt after the record was stored with it: %+v, %v", h, err)
		}
	})
	t.Run("halting a release that has no record is not found", func(t *testing.T) {
		other := "20261123-120000-0000abcd"
		if err := s.PutRelease(ctx, other, []byte(`{"app":"shop"}`), "x"); err != nil {
			t.Fatal(err)
		}
		if err := s.PutHalt(ctx, other, elevator.ReleaseHalt{By: "bob"}); !errors.Is(err, release.ErrNotFound) {
			t.Errorf("halt of a release without a record: %v, want ErrNotFound", err)
		}
	})
}

func TestReleasesAreListedNewestFirst(t *testing.T) {
	b, _ := stateOf(t)
	s := b.Store
	ctx := context.Background()
	for i := range 5 {
		for _, app := range []string{"shop", "blog"} {
			id := fmt.Sprintf("2026112%d-120000-0000000%d", i, i)
			rec := &elevator.ReleaseRecord{ID: id, App: app, Orbit: "prod", Revision: 1, State: elevator.StateSuccess}
			if err := s.PutRecord(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		limit int
		want  int
	}{
		{"all of them", 0, 5},
		{"the newest two", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Releases(ctx, "shop", tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range got {
				if r.App != "shop" {
					t.Errorf("release %s of %s listed for shop", r.ID, r.App)
				}
				ids = append(ids, r.ID)
			}
			if len(ids) != tt.want || !slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }) || ids[0] != "20261124-120000-00000004" {
				t.Errorf("ids %v: want the newest %d, newest first", ids, tt.want)
			}
		})
	}
}

func TestTheLockIsHeldByOneReleaseAtATime(t *testing.T) {
	b, _ := stateOf(t)
	l := b.Locker
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	lock := func(rel, owner string, expires time.Time) release.Lock {
		return release.Lock{App: "shop", Orbit: "prod", ReleaseID: rel, Owner: owner, Holder: "alice", Since: now, Expires: expires}
	}
	a := lock("r1", "engine-a", now.Add(time.Minute))

	steps := []struct {
		name string
		do   func(t *testing.T)
	}{
		{"a free lock is taken, with nothing before it", func(t *testing.T) {
			prev, err := l.Acquire(ctx, a, now)
			if err != nil || prev != (release.Lock{}) {
				t.Fatalf("acquire: %+v, %v", prev, err)
			}
		}},
		{"another release is refused while the lease runs, and told who holds it", func(t *testing.T) {
			_, err := l.Acquire(ctx, lock("r2", "engine-b", now.Add(2*time.Minute)), now.Add(30*time.Second))
			var held *release.LockHeldError
			if !errors.As(err, &held) || held.Lock != a {
				t.Fatalf("got %v, want a LockHeldError with %+v", err, a)
			}
		}},
		{"the holder takes it again", func(t *testing.T) {
			prev, err := l.Acquire(ctx, a, now.Add(10*time.Second))
			if err != nil || prev != a {
				t.Fatalf("acquire again: %+v, %v", prev, err)
			}
		}},
		{"the holder renews it to the nanosecond; another engine cannot", func(t *testing.T) {
			renewed := a
			renewed.Expires = now.Add(90*time.Second + 123)
			if err := l.Renew(ctx, renewed); err != nil {
				t.Fatal(err)
			}
			if err := l.Renew(ctx, lock("r1", "engine-b", now.Add(time.Hour))); !errors.Is(err, release.ErrLockLost) {
				t.Errorf("renew by another engine: %v, want ErrLockLost", err)
			}
			got, err := l.Get(ctx, "shop", "prod")
			if err != nil || !got.Expires.Equal(renewed.Expires) {
				t.Errorf("get: %+v, %v; want the lease to end at %s", got, err, renewed.Expires)
			}
			a = renewed
		}},
		{"an expired lease is taken over, and the lock it replaced returned", func(t *testing.T) {
			prev, err := l.Acquire(ctx, lock("r2", "engine-b", now.Add(5*time.Minute)), now.Add(2*time.Minute))
			if err != nil || prev != a {
				t.Fatalf("take over: %+v, %v; want %+v", prev, err, a)
			}
		}},
		{"the engine that lost it cannot release it", func(t *testing.T) {
			if err := l.Release(ctx, a); !errors.Is(err, release.ErrLockLost) {
				t.Errorf("release by the loser: %v, want ErrLockLost", err)
			}
		}},
		{"the holder releases it, and releasing no lock is nil", func(t *testing.T) {
			b := lock("r2", "engine-b", now.Add(5*time.Minute))
			for range 2 {
				if err := l.Release(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.Get(ctx, "shop", "prod"); !errors.Is(err, release.ErrNotFound) {
				t.Errorf("get after release: %v, want ErrNotFound", err)
			}
		}},
		{"a lock is broken whoever holds it, and breaking none is ErrNotFound", func(t *testing.T) {
			c := lock("r3", "engine-c", now.Add(time.Hour))
			if _, err := l.Acquire(ctx, c, now); err != nil {
				t.Fatal(err)
			}
			got, err := l.Break(ctx, "shop", "prod")
			if err != nil || got != c {
				t.Errorf("break: %+v, %v", got, err)
			}
			if _, err := l.Break(ctx, "shop", "prod"); !errors.Is(err, release.ErrNotFound) {
				t.Errorf("break again: %v, want ErrNotFound", err)
			}
		}},
		{"another orbit's lock is refused", func(t *testing.T) {
			if _, err := l.Get(ctx, "shop", "staging"); elevator.ErrorCode(err) != elevator.EINVALID {
				t.Errorf("got %v, want EINVALID", err)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, s.do)
	}
}

// TestARecordWrittenUnderTheLockIsRefusedOnceTheLockMoved checks the
// fence of the engine on moto: a record written under the lock is one
// transaction with a check of the lock item, refused once `unlock` broke
// the lock or another release took it, while a halt or a stale revision
// is still reported as such.
func TestARecordWrittenUnderTheLockIsRefusedOnceTheLockMoved(t *testing.T) {
	b, _ := stateOf(t)
	s, l := b.Store, b.Locker
	ctx := context.Background()
	const id = "20261123-120000-0000000b"
	d, sum := doc(t, "shop", id)
	if err := s.PutRelease(ctx, id, d, sum); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	mine := release.Lock{App: "shop", Orbit: "prod", ReleaseID: id, Owner: "engine-a", Since: now, Expires: now.Add(time.Minute)}
	if _, err := l.Acquire(ctx, mine, now); err != nil {
		t.Fatal(err)
	}
	rec := &elevator.ReleaseRecord{ID: id, App: "shop", Orbit: "prod", Revision: 1, State: elevator.StateValidateResources}
	if err := s.PutLockedRecord(ctx, rec, mine); err != nil {
		t.Fatalf("a record under the lock held: %v", err)
	}
	rec.Revision = 5
	if err := s.PutLockedRecord(ctx, rec, mine); !errors.Is(err, release.ErrStale) {
		t.Errorf("a stale revision under the lock held: %v, want ErrStale", err)
	}
	if _, err := l.Break(ctx, "shop", "prod"); err != nil {
		t.Fatal(err)
	}
	rec.Revision = 2
	if err := s.PutLockedRecord(ctx, rec, mine); !errors.Is(err, release.ErrLockLost) {
		t.Errorf("after an unlock: %v, want ErrLockLost", err)
	}
	other := release.Lock{App: "shop", Orbit: "prod", ReleaseID: "20261123-120500-0000000c", Owner: "engine-b", Since: now, Expires: now.Add(time.Hour)}
	if _, err := l.Acquire(ctx, other, now); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLockedRecord(ctx, rec, mine); !errors.Is(err, release.ErrLockLost) || !strings.Contains(err.Error(), "0000000c") {
		t.Errorf("with another release holding the lock: %v, want ErrLockLost naming it", err)
	}
	if err := s.PutHalt(ctx, id, elevator.ReleaseHalt{By: "bob", Reason: "stop"}); err != nil {
		t.Fatal(err)
	}
	var halted *release.HaltedError
	if err := s.PutLockedRecord(ctx, rec, mine); !errors.As(err, &halted) {
		t.Errorf("halted, with the lock lost: %v, want the halt first", err)
	}
	if got, err := s.Record(ctx, id); err != nil || got.Revision != 1 {
		t.Errorf("record %+v, %v; want revision 1 alone stored", got, err)
	}
	if err := s.PutLockedRecord(ctx, &elevator.ReleaseRecord{ID: id, App: "shop", Orbit: "prod", Revision: 2}, other); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("under another release's lock: %v, want EINVALID", err)
	}
}

func TestReleasesAfterListsTheReleasesMadeSinceASecond(t *testing.T) {
	b, _ := stateOf(t)
	s := b.Store
	ctx := context.Background()
	for _, id := range []string{"20261123-115959-00000001", "20261123-120000-00000002", "20261123-120001-00000003"} {
		for _, app := range []string{"shop", "blog"} {
			if err := s.PutRecord(ctx, &elevator.ReleaseRecord{ID: id, App: app, Orbit: "prod", Revision: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	recs, err := s.ReleasesAfter(ctx, "shop", "20261123-120000")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.App+"/"+r.ID)
	}
	if want := []string{"shop/20261123-120000-00000002", "shop/20261123-120001-00000003"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// On the emulator's DynamoDB: ids of both forms, put in a shuffled order,
// are listed newest first by the time in them (to the millisecond, an id
// of the old form first in its second), ids of one millisecond by
// submission; the releases after a millisecond's stamp are those made in
// it or later.
func TestReleasesOfBothIdFormsAreListedInTheOrderTheyWereMade(t *testing.T) {
	b, _ := stateOf(t)
	s := b.Store
	ctx := context.Background()
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	oldestFirst := []struct {
		id        string
		submitted time.Time
	}{
		{"20261123-115959999-ffffffff", at},
		{"20261123-120000-ffffffff", at},
		{"20261123-120000001-ffffffff", at},
		{"20261123-120000002-ffffffff", at.Add(time.Second)},
		{"20261123-120000002-00000000", at.Add(2 * time.Second)},
		{"20261123-120000003-00000000", at},
		{"20261123-120001-00000000", at},
	}
	for _, i := range []int{4, 0, 6, 2, 5, 1, 3} {
		r := oldestFirst[i]
		if err := s.PutRecord(ctx, &elevator.ReleaseRecord{ID: r.id, App: "shop", Orbit: "prod", Revision: 1, SubmittedAt: r.submitted}); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Releases(ctx, "shop", 0)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, r := range recs {
		got = append(got, r.ID)
	}
	for i := len(oldestFirst) - 1; i >= 0; i-- {
		want = append(want, oldestFirst[i].id)
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	after, err := s.ReleasesAfter(ctx, "shop", elevator.ReleaseIDStamp("20261123-120000002-00000000"))
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, r := range after {
		got = append(got, r.ID)
	}
	if want := []string{"20261123-120000002-00000000", "20261123-120000002-ffffffff", "20261123-120000003-00000000", "20261123-120001-00000000"}; !slices.Equal(got, want) {
		t.Errorf("after 20261123-120000002: %v, want %v", got, want)
	}
}

// queryCounter counts the DynamoDB Query requests sent with a config.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountQueries",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if middleware.GetOperationName(ctx) == "Query" {
				q.n.Add(1)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func TestPagesWalkAnAppsReleasesNewestFirstOneQueryEach(t *testing.T) {
	b, cfg := stateOf(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var want []string // shop's ids, newest first
	for i := range 25 {
		for _, app := range []string{"shop", "blog"} {
			id := fmt.Sprintf("%s-%08x", at.Add(time.Duration(i)*time.Minute).Format("20060102-150405"), i)
			if app == "blog" {
				id = fmt.Sprintf("%s-%08x", at.Add(time.Duration(i)*time.Minute+time.Second).Format("20060102-150405"), i)
			}
			rec := &elevator.ReleaseRecord{ID: id, App: app, Orbit: "prod", Revision: 1, State: elevator.StateSuccess, SubmittedAt: at}
			if err := b.Store.PutRecord(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if app == "shop" {
				want = append([]string{id}, want...)
			}
		}
	}
	// A store whose requests are counted, on the same bucket and tables.
	var queries queryCounter
	counted := cfg.Copy()
	counted.APIOptions = append(counted.APIOptions, queries.middleware)
	cb, err := New(Config{Orbit: "prod", AWS: []aws.Config{counted}, Bucket: b.Store.bucket})
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	var sizes []int
	before := ""
	for page := 1; ; page++ {
		if page > 5 {
			t.Fatalf("still paging after %d pages: %v", page-1, got)
		}
		n := queries.n.Load()
		recs, next, err := cb.Store.Page(ctx, "shop", 10, before)
		if err != nil {
			t.Fatal(err)
		}
		if q := queries.n.Load() - n; q != 1 {
			t.Errorf("page %d took %d queries, want 1", page, q)
		}
		sizes = append(sizes, len(recs))
		for _, r := range recs {
			if r.App != "shop" {
				t.Errorf("page %d has a release of %s", page, r.App)
			}
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		before = next
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("page sizes %v, want [10 10 5]", sizes)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the pages walked\n%v\nwant every release of shop once, newest first:\n%v", got, want)
	}

	t.Run("a page of an app with no releases is empty and last", func(t *testing.T) {
		recs, next, err := cb.Store.Page(ctx, "cart", 10, "")
		if err != nil || len(recs) != 0 || next != "" {
			t.Errorf("got %d records, next %q, %v", len(recs), next, err)
		}
	})
	t.Run("a limit below one is refused", func(t *testing.T) {
		if _, _, err := cb.Store.Page(ctx, "shop", 0, ""); elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
	})
}

func TestAReleaseTokenIsBoundToTheFirstReleaseThatClaimsIt(t *testing.T) {
	b, cfg := stateOf(t)
	ctx := context.Background()
	first, err := b.Store.ClaimToken(ctx, "p1-prod-prod", "20261129-120000-00000001")
	if err != nil || first != "20261129-120000-00000001" {
		t.Fatalf("first claim = %q, %v", first, err)
	}
	again, err := b.Store.ClaimToken(ctx, "p1-prod-prod", "20261129-120500-00000002")
	if err != nil || again != first {
		t.Errorf("second claim = %q, %v; want %s, bound first", again, err, first)
	}
	other, err := b.Store.ClaimToken(ctx, "p1-test-test", "20261129-120500-00000002")
	if err != nil || other != "20261129-120500-00000002" {
		t.Errorf("another token's claim = %q, %v", other, err)
	}
	if _, err := b.Store.ClaimToken(ctx, "p1-x-x", "../x"); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("a claim for a bad id: %v, want EINVALID", err)
	}
	// A token object that is not what a claim wrote says what it holds.
	bucket := elevator.StateBucketName(emulatortest.AccountID(cfg), "eu-west-1", "prod")
	put := func(token, body string) {
		t.Helper()
		if _, err := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutObject(ctx, &s3sdk.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(elevator.ReleaseTokenKey(token)), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	put("p1-a-a", `{"token":"p1-b-b","release_id":"20261129-120000-00000001"}`)
	put("p1-c-c", `{"token":"p1-c-c","release_id":"../x"}`)
	put("p1-d-d", `not json`)
	for _, tt := range []struct{ token, want string }{
		{"p1-a-a", `is of token "p1-b-b", not "p1-a-a"`},
		{"p1-c-c", `for "p1-c-c" names no release: `},
		{"p1-d-d", "is not a token document: "},
	} {
		_, err := b.Store.ClaimToken(ctx, tt.token, "20261129-120500-00000002")
		if elevator.ErrorCode(err) != elevator.EINTERNAL || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "<nil>") {
			t.Errorf("claim of %s over a bad token object: %v, want EINTERNAL saying %q", tt.token, err, tt.want)
		}
	}
}
