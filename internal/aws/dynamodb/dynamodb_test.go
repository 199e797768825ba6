package dynamodb

// These tests run against a real moto server (emulatortest), each in an
// account of its own, on a table shaped like Elevator's locks table.

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// locksTable creates a table keyed by the string "id" and returns a client.
func locksTable(t *testing.T, region string) (*Client, string) {
	t.Helper()
	cfg := emulatortest.Config(t, region)
	table := elevator.LocksTableName("prod")
	_, err := ddb.NewFromConfig(cfg).CreateTable(context.Background(), &ddb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatal(err)
	}
	return New(cfg), table
}

// free is the condition to take a lock: nobody holds it, or the holder's
// lease has run out.
func free(now time.Time) Condition {
	return Or(AttributeNotExists("id"), LessThan("expires_at", now.Unix()))
}

func lock(owner string, expires time.Time) Item {
	return Item{"id": "app/production", "owner": owner, "expires_at": expires.Unix()}
}

var key = Item{"id": "app/production"}

// conflict checks err is ECONFLICT wrapping ErrConditionFailed, and that it
// carries the item in place, held by holder.
func conflict(t *testing.T, err error, holder string) {
	t.Helper()
	var cf *ConditionFailedError
	if elevator.ErrorCode(err) != elevator.ECONFLICT || !errors.Is(err, ErrConditionFailed) || !errors.As(err, &cf) {
		t.Fatalf("got %v (code %q), want ECONFLICT wrapping ErrConditionFailed", err, elevator.ErrorCode(err))
	}
	if holder != "" && cf.Current["owner"] != holder {
		t.Errorf("the refusal shows %v in place, want the lock held by %s", cf.Current, holder)
	}
}

func TestALockIsTakenOnlyWhenFreeOrExpired(t *testing.T) {
	c, table := locksTable(t, "us-east-1")
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)

	if err := c.PutItem(ctx, table, lock("alice", now.Add(time.Minute)), free(now)); err != nil {
		t.Fatalf("taking a free lock: %v", err)
	}
	conflict(t, c.PutItem(ctx, table, lock("bob", now.Add(time.Minute)), free(now.Add(30*time.Second))), "alice")

	later := now.Add(2 * time.Minute) // alice's lease has run out
	if err := c.PutItem(ctx, table, lock("bob", later.Add(time.Minute)), free(later)); err != nil {
		t.Fatalf("taking an expired lock: %v", err)
	}
	got, err := c.GetItem(ctx, table, key)
	if err != nil || got["owner"] != "bob" || got["expires_at"] != later.Add(time.Minute).Unix() {
		t.Errorf("lock %v, %v; want bob's", got, err)
	}
}

func TestALeaseIsRenewedAndReleasedByItsOwnerOnly(t *testing.T) {
	c, table := locksTable(t, "eu-west-1")
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	if err := c.PutItem(ctx, table, lock("alice", now.Add(time.Minute)), free(now)); err != nil {
		t.Fatal(err)
	}
	renewed := now.Add(5 * time.Minute).Unix()

	t.Run("another owner cannot renew it", func(t *testing.T) {
		_, err := c.UpdateItem(ctx, table, key, Item{"expires_at": renewed}, Equal("owner", "bob"))
		conflict(t, err, "alice")
	})
	t.Run("the owner renews it and sees the new lease", func(t *testing.T) {
		got, err := c.UpdateItem(ctx, table, key, Item{"expires_at": renewed}, Equal("owner", "alice"))
		if err != nil || got["expires_at"] != renewed || got["owner"] != "alice" {
			t.Fatalf("renewed %v, %v", got, err)
		}
	})
	t.Run("another owner cannot release it", func(t *testing.T) {
		_, err := c.Remove(ctx, table, key, Equal("owner", "bob"))
		conflict(t, err, "alice")
	})
	t.Run("the owner releases it", func(t *testing.T) {
		old, err := c.Remove(ctx, table, key, Equal("owner", "alice"))
		if err != nil || old["owner"] != "alice" {
			t.Fatalf("removed %v, %v", old, err)
		}
		_, err = c.GetItem(ctx, table, key)
		if elevator.ErrorCode(err) != elevator.ENOTFOUND || !errors.Is(err, ErrNotFound) {
			t.Errorf("get after release: %v, want ENOTFOUND wrapping ErrNotFound", err)
		}
	})
	t.Run("renewing a released lease fails and does not create it", func(t *testing.T) {
		_, err := c.UpdateItem(ctx, table, key, Item{"expires_at": renewed}, Equal("owner", "alice"))
		conflict(t, err, "")
		if _, err := c.GetItem(ctx, table, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("get: %v, want not found", err)
		}
	})
	t.Run("releasing it again with no condition is no error", func(t *testing.T) {
		if old, err := c.Remove(ctx, table, key); err != nil || old != nil {
			t.Errorf("removed %v, %v; want nothing", old, err)
		}
	})
}

func TestItemValuesRoundTripAsDocumented(t *testing.T) {
	c, table := locksTable(t, "us-west-2")
	ctx := context.Background()
	in := Item{
		"id":      "r-1",
		"count":   3,
		"small":   uint8(7),
		"ratio":   0.25,
		"done":    true,
		"regions": []string{"us-east-1", "eu-west-1"},
		"none":    nil,
		"blob":    []byte{0, 1, 2},
		"steps":   []any{"a", int64(2)},
		"meta":    map[string]any{"by": "ci"},
	}
	if err := c.PutItem(ctx, table, in); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, table, Item{"id": "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := Item{
		"id":      "r-1",
		"count":   int64(3),
		"small":   int64(7),
		"ratio":   0.25,
		"done":    true,
		"regions": []string{"eu-west-1", "us-east-1"}, // a set comes back sorted
		"none":    nil,
		"blob":    []byte{0, 1, 2},
		"steps":   []any{"a", int64(2)},
		"meta":    map[string]any{"by": "ci"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestWhatCannotBeSentIsRefused(t *testing.T) {
	c, table := locksTable(t, "eu-central-1")
	ctx := context.Background()
	for _, tc := range []struct {
		test string
		call func() error
		code string
		is   error
	}{
		{"a time value is invalid", func() error { return c.PutItem(ctx, table, Item{"id": "x", "at": time.Now()}) }, elevator.EINVALID, nil},
		{"an empty string set is invalid", func() error { return c.PutItem(ctx, table, Item{"id": "x", "tags": []string{}}) }, elevator.EINVALID, nil},
		{"an empty Or is invalid", func() error { return c.PutItem(ctx, table, Item{"id": "x"}, Or()) }, elevator.EINVALID, nil},
		{"an update that sets nothing is invalid", func() error { _, err := c.UpdateItem(ctx, table, key, nil); return err }, elevator.EINVALID, nil},
		{"a missing table is not found", func() error { return c.PutItem(ctx, "no-such-table", Item{"id": "x"}) }, elevator.ENOTFOUND, ErrTableNotFound},
	} {
		t.Run(tc.test, func(t *testing.T) {
			err := tc.call()
			if elevator.ErrorCode(err) != tc.code || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("got %v (code %q), want %s", err, elevator.ErrorCode(err), tc.code)
			}
		})
	}
}

func TestConditionsRenderWithPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		test   string
		conds  []Condition
		expr   string
		names  map[string]string
		values int
	}{
		{"no condition renders nothing", nil, "", nil, 0},
		{"a lock's condition names each attribute once", []Condition{Or(AttributeNotExists("id"), LessThan("expires_at", 5))},
			"(attribute_not_exists(#n0)) OR (#n1 < :v0)", map[string]string{"#n0": "id", "#n1": "expires_at"}, 1},
		{"several conditions must all hold", []Condition{Equal("owner", "me"), LessThan("expires_at", 1), Equal("owner", "you")},
			"(#n0 = :v0) AND (#n1 < :v1) AND (#n0 = :v2)", map[string]string{"#n0": "owner", "#n1": "expires_at"}, 3},
	} {
		t.Run(tc.test, func(t *testing.T) {
			var e expression
			got, err := e.condition(tc.conds)
			if err != nil || got != tc.expr || !reflect.DeepEqual(e.names, tc.names) || len(e.values) != tc.values {
				t.Errorf("got %q %v %d values, %v; want %q %v %d values", got, e.names, len(e.values), err, tc.expr, tc.names, tc.values)
			}
		})
	}
}
