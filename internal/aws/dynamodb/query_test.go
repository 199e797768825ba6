package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// releasesTable creates a table shaped like an orbit's releases table
// (hash key app, range key release_id) and returns a client.
func releasesTable(t *testing.T) (*Client, string) {
	t.Helper()
	cfg := emulatortest.Config(t, "us-east-1")
	table := elevator.ReleasesTableName("prod")
	_, err := ddb.NewFromConfig(cfg).CreateTable(context.Background(), &ddb.CreateTableInput{
		TableName: aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("app"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("release_id"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("app"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("release_id"), KeyType: ddbtypes.KeyTypeRange},
		},
		BillingMode: ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg), table
}

func TestAQueryReadsOnePartitionInEitherOrderUpToItsLimit(t *testing.T) {
	c, table := releasesTable(t)
	ctx := context.Background()
	for i := range 7 {
		for _, app := range []string{"shop", "blog"} {
			if err := c.PutItem(ctx, table, Item{"app": app, "release_id": fmt.Sprintf("2026112%d-120000-00000000", i), "n": i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(items []Item) (s []any) {
		for _, it := range items {
			s = append(s, it["n"])
		}
		return s
	}
	tests := []struct {
		name string
		in   QueryInput
		want string
	}{
		{"ascending, all", QueryInput{HashKey: "app", Value: "shop"}, "[0 1 2 3 4 5 6]"},
		{"descending, all", QueryInput{HashKey: "app", Value: "shop", Descending: true}, "[6 5 4 3 2 1 0]"},
		{"descending, the newest three", QueryInput{HashKey: "app", Value: "shop", Descending: true, Limit: 3}, "[6 5 4]"},
		{"a partition with no items", QueryInput{HashKey: "app", Value: "none"}, "[]"},
		{"the ids after a second", QueryInput{HashKey: "app", Value: "shop", RangeKey: "release_id", After: "20261124-120000"}, "[4 5 6]"},
		{"the ids after the last", QueryInput{HashKey: "app", Value: "shop", RangeKey: "release_id", After: "20261126-120000-00000000"}, "[]"},
		{"a page of the ids before one, newest first", QueryInput{HashKey: "app", Value: "shop", RangeKey: "release_id", Before: "20261125-120000-00000000", Descending: true, Limit: 2}, "[4 3]"},
		{"the ids before the first", QueryInput{HashKey: "app", Value: "shop", RangeKey: "release_id", Before: "20261120-120000-00000000"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Query(ctx, table, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if s := fmt.Sprint(ids(got)); s != tt.want {
				t.Errorf("got %s, want %s", s, tt.want)
			}
		})
	}
	t.Run("after and before at once are refused", func(t *testing.T) {
		_, err := c.Query(ctx, table, QueryInput{HashKey: "app", Value: "shop", RangeKey: "release_id", After: "a", Before: "b"})
		if elevator.ErrorCode(err) != elevator.EINVALID {
			t.Errorf("got %v, want EINVALID", err)
		}
	})
}

func TestReplaceAndRemoveReturnTheItemTheyDisplaced(t *testing.T) {
	c, table := locksTable(t, "us-east-1")
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)

	old, err := c.Replace(ctx, table, lock("alice", now.Add(time.Minute)), free(now))
	if err != nil || old != nil {
		t.Fatalf("taking a free lock: %v, %v; want no previous item", old, err)
	}
	_, err = c.Replace(ctx, table, lock("bob", now.Add(time.Minute)), free(now))
	conflict(t, err, "alice")
	later := now.Add(2 * time.Minute)
	old, err = c.Replace(ctx, table, lock("bob", later.Add(time.Minute)), free(later))
	if err != nil || old["owner"] != "alice" {
		t.Fatalf("taking an expired lock: %v, %v; want alice's lock back", old, err)
	}
	_, err = c.Remove(ctx, table, key, Equal("owner", "alice"))
	conflict(t, err, "bob")
	old, err = c.Remove(ctx, table, key)
	if err != nil || old["owner"] != "bob" {
		t.Fatalf("remove: %v, %v; want bob's lock back", old, err)
	}
	old, err = c.Remove(ctx, table, key)
	if err != nil || old != nil {
		t.Errorf("removing nothing: %v, %v; want nil, nil", old, err)
	}
}

func TestAWriteWithChecksHappensOnlyWhenEveryConditionHolds(t *testing.T) {
	c, table := releasesTable(t)
	ctx := context.Background()
	locks := elevator.LocksTableName("prod")
	_, err := c.api.(*ddb.Client).CreateTable(ctx, &ddb.CreateTableInput{
		TableName:            aws.String(locks),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.PutItem(ctx, locks, Item{"id": "release/shop", "owner": "alice"}); err != nil {
		t.Fatal(err)
	}
	held := func(owner string) Check {
		return Check{Table: locks, Key: Item{"id": "release/shop"}, Conds: []Condition{Equal("owner", owner)}}
	}
	rec := func(rev int) Item {
		return Item{"app": "shop", "release_id": "20261123-120000-00000000", "revision": rev}
	}
	if err := c.PutItemChecked(ctx, table, rec(1), []Condition{AttributeNotExists("release_id")}, held("alice")); err != nil {
		t.Fatalf("a write whose conditions hold: %v", err)
	}

	err = c.PutItemChecked(ctx, table, rec(2), []Condition{Equal("revision", 1)}, held("bob"))
	var cf *ConditionFailedError
	if !errors.As(err, &cf) || elevator.ErrorCode(err) != elevator.ECONFLICT || cf.Check == nil || cf.Check.Table != locks || cf.Current["owner"] != "alice" {
		t.Fatalf("a failed check: %v (%+v), want a refusal naming the check, with alice's lock in place", err, cf)
	}
	err = c.PutItemChecked(ctx, table, rec(2), []Condition{Equal("revision", 5)}, held("bob"))
	if !errors.As(err, &cf) || cf.Check != nil || fmt.Sprint(cf.Current["revision"]) != "1" {
		t.Fatalf("a failed condition and a failed check: %v (%+v), want the write's own condition reported, with revision 1 in place", err, cf)
	}
	items, err := c.Query(ctx, table, QueryInput{HashKey: "app", Value: "shop"})
	if err != nil || len(items) != 1 || fmt.Sprint(items[0]["revision"]) != "1" {
		t.Fatalf("after two refusals: %v, %v; want revision 1 alone", items, err)
	}
	if err := c.PutItemChecked(ctx, table, rec(2), []Condition{Equal("revision", 1)}, held("alice")); err != nil {
		t.Fatalf("the next revision: %v", err)
	}
}

func TestAScanReadsEveryPage(t *testing.T) {
	c, table := releasesTable(t)
	ctx := context.Background()
	// Items of about 100 KB: moto, as DynamoDB, ends a page at 1 MB.
	big := make([]byte, 100*1024)
	for i := range 25 {
		if err := c.PutItem(ctx, table, Item{"app": fmt.Sprint("app", i), "release_id": "20261129-120000-00000000", "blob": big}); err != nil {
			t.Fatal(err)
		}
	}
	items, err := c.Scan(ctx, table, ScanInput{})
	if err != nil || len(items) != 25 {
		t.Errorf("scan: %d items, %v", len(items), err)
	}
	if _, err := c.Scan(ctx, "no-such-table", ScanInput{}); !errors.Is(err, ErrTableNotFound) {
		t.Errorf("scan of a missing table: %v", err)
	}
}
