// Package dynamodb is Elevator's adapter for Amazon DynamoDB: a small item
// store with conditional writes, on which Elevator builds its locks (an
// item per lock with an owner and an expiry) and records. Items are plain
// Go maps (see Item for how values map to attribute types) and conditions
// are built with Condition's functions, so nothing above it sees an SDK
// type.
//
// Errors it returns are *elevator.Error, translated by awserr: ECONFLICT
// wrapping a *ConditionFailedError (errors.Is(err, ErrConditionFailed))
// when a write's condition does not hold, ENOTFOUND wrapping an
// *awserr.NotFoundError and ErrNotFound for a missing item or
// ErrTableNotFound for a missing table, EINVALID for a value Item cannot
// map, and the codes awserr gives every service (EINTERRUPTED when the
// context was cancelled, EAWS for any other failure).
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrConditionFailed is what a write whose condition did not hold is:
// errors.Is(err, ErrConditionFailed) reports it. errors.As with a
// *ConditionFailedError gives the item that was in place.
var ErrConditionFailed = errors.New("condition failed")

// ErrNotFound is the cause of the ENOTFOUND error GetItem returns when there
// is no item under the key.
var ErrNotFound = errors.New("item not found")

// ErrTableNotFound is the cause of the ENOTFOUND error returned when the
// table does not exist (or is still being created).
var ErrTableNotFound = errors.New("table not found")

// codes are DynamoDB's answers that mean more than a failed call. (A
// condition that failed is translated before: its answer carries the item
// in place.)
var codes = awserr.Codes{
	NotFound: []awserr.Match{{Code: "ResourceNotFoundException", Err: ErrTableNotFound}},
}

// ConditionFailedError is a write refused because its condition did not
// hold. Current is the item in place at the time (nil when there was none),
// e.g. the lock and who holds it until when.
type ConditionFailedError struct {
	Current Item
	// Check is the check of another item that failed, for a write that
	// required checks (see PutItemChecked); nil when the write's own
	// condition failed.
	Check *Check
}

// Error says the condition failed.
func (e *ConditionFailedError) Error() string { return ErrConditionFailed.Error() }

// Is reports ErrConditionFailed as the same error.
func (e *ConditionFailedError) Is(target error) bool { return target == ErrConditionFailed }

// api lists the DynamoDB operations Elevator uses.
type api interface {
	PutItem(context.Context, *ddb.PutItemInput, ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	GetItem(context.Context, *ddb.GetItemInput, ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	DeleteItem(context.Context, *ddb.DeleteItemInput, ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
	UpdateItem(context.Context, *ddb.UpdateItemInput, ...func(*ddb.Options)) (*ddb.UpdateItemOutput, error)
}

// Client talks to DynamoDB in one region.
type Client struct {
	api    api
	region string
}

// New returns a client for cfg's region.
func New(cfg aws.Config) *Client { return &Client{api: ddb.NewFromConfig(cfg), region: cfg.Region} }

// Region is the region the client talks to.
func (c *Client) Region() string { return c.region }

// PutItem writes item (which includes its key), replacing any item under
// the key, if every condition holds of the item in place. It returns an
// ECONFLICT error wrapping a *ConditionFailedError when one does not; see
// the package comment for the other errors.
func (c *Client) PutItem(ctx context.Context, table string, item Item, conds ...Condition) error {
	p, err := c.put(table, item, conds)
	if err != nil {
		return err
	}
	_, err = c.api.PutItem(ctx, &ddb.PutItemInput{
		TableName:                           p.TableName,
		Item:                                p.Item,
		ConditionExpression:                 p.ConditionExpression,
		ExpressionAttributeNames:            p.ExpressionAttributeNames,
		ExpressionAttributeValues:           p.ExpressionAttributeValues,
		ReturnValuesOnConditionCheckFailure: p.ReturnValuesOnConditionCheckFailure,
	})
	return c.check("put item in "+table, table, err)
}

// put prepares the write of item into table on conds, as PutItem and
// PutItemChecked send it: the item in place comes back when a condition
// fails.
func (c *Client) put(table string, item Item, conds []Condition) (*ddbtypes.Put, error) {
	av, err := marshal(item)
	if err != nil {
		return nil, c.invalid("put item in "+table, err)
	}
	var e expression
	cond, err := e.condition(conds)
	if err != nil {
		return nil, c.invalid("put item in "+table, err)
	}
	return &ddbtypes.Put{
		TableName:                           aws.String(table),
		Item:                                av,
		ConditionExpression:                 optional(cond),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// GetItem reads the item under key with a strongly consistent read, so it
// sees every write that succeeded before it. It returns an ENOTFOUND error
// wrapping ErrNotFound when there is none.
func (c *Client) GetItem(ctx context.Context, table string, key Item) (Item, error) {
	k, err := marshal(key)
	if err != nil {
		return nil, c.invalid("get item from "+table, err)
	}
	out, err := c.api.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, c.check("get item from "+table, table, err)
	}
	if out.Item == nil {
		return nil, awserr.NotFound("item", describe(key)+" of table "+table, c.region, ErrNotFound)
	}
	item, err := unmarshal(out.Item)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "get item %s from %s in %s: %w", describe(key), table, c.region, err)
	}
	return item, nil
}

// UpdateItem sets the attributes in set on the item under key, if every
// condition holds of it, and returns the item as it is afterwards: e.g. a
// lease renewal sets expires_at on condition Equal("owner", me). set may
// not name key attributes. Without a condition that needs an item,
// UpdateItem creates one when there is none. It returns an ECONFLICT error wrapping a
// *ConditionFailedError when a condition does not hold.
func (c *Client) UpdateItem(ctx context.Context, table string, key, set Item, conds ...Condition) (Item, error) {
	k, err := marshal(key)
	if err != nil {
		return nil, c.invalid("update item in "+table, err)
	}
	if len(set) == 0 {
		return nil, c.invalid("update item in "+table, errors.New("nothing to set"))
	}
	var e expression
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	assignments := make([]string, len(names))
	for i, n := range names {
		v, err := e.value(set[n])
		if err != nil {
			return nil, c.invalid("update item in "+table, fmt.Errorf("attribute %s: %w", n, err))
		}
		assignments[i] = e.name(n) + " = " + v
	}
	cond, err := e.condition(conds)
	if err != nil {
		return nil, c.invalid("update item in "+table, err)
	}
	out, err := c.api.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                           aws.String(table),
		Key:                                 k,
		UpdateExpression:                    aws.String("SET " + strings.Join(assignments, ", ")),
		ConditionExpression:                 optional(cond),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        ddbtypes.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err := c.check("update item in "+table, table, err); err != nil {
		return nil, err
	}
	item, err := unmarshal(out.Attributes)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "update item %s in %s in %s: %w", describe(key), table, c.region, err)
	}
	return item, nil
}

// check translates the error of a call on table.
func (c *Client) check(doing, table string, err error) error {
	var ccf *ddbtypes.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		current, uerr := unmarshal(ccf.Item)
		if uerr != nil {
			current = nil // the item in place is unreadable; the refusal stands
		}
		return elevator.Errorf(elevator.ECONFLICT, "%s in %s: %w", doing, c.region, &ConditionFailedError{Current: current})
	}
	return codes.Translate(awserr.Op{Doing: doing, Region: c.region, Kind: "table", Name: table}, err)
}

func (c *Client) invalid(doing string, err error) error {
	return elevator.Errorf(elevator.EINVALID, "%s in %s: %w", doing, c.region, err)
}

// describe formats a key for messages: name=value pairs in name order.
func describe(key Item) string {
	names := make([]string, 0, len(key))
	for n := range key {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%v", n, key[n])
	}
	return strings.Join(parts, ",")
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
