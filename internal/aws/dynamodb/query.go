package dynamodb

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elevator "github.com/elevatorhq/elevator"
)

// queryAPI is the Query operation. It is kept out of api (dynamodb.go) so
// that fakes of the other operations need not have it; the SDK client has
// it, and Query reports an EINTERNAL error for an api that lacks it.
type queryAPI interface {
	Query(context.Context, *ddb.QueryInput, ...func(*ddb.Options)) (*ddb.QueryOutput, error)
}

// QueryInput selects the items of one partition: those whose hash key
// attribute HashKey equals Value.
type QueryInput struct {
	HashKey string
	Value   any
	// Descending returns the items in descending order of their range
	// key (ascending when false).
	Descending bool
	// Limit is the most items to return; 0 means all of them.
	Limit int
	// RangeKey and After, when set, keep only the items whose range key
	// attribute RangeKey sorts after After; RangeKey and Before, those
	// that sort before Before (a page of a list that goes on from the
	// last item of the page before). Give After or Before, not both.
	RangeKey string
	After    any
	Before   any
}

// Query returns the items of one partition in range key order, reading
// page after page until Limit items or the last page, with strongly
// consistent reads. See the package comment for the errors.
func (c *Client) Query(ctx context.Context, table string, in QueryInput) ([]Item, error) {
	q, ok := c.api.(queryAPI)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "query %s in %s: this client cannot query", table, c.region)
	}
	var e expression
	v, err := e.value(in.Value)
	if err != nil {
		return nil, c.invalid("query "+table, err)
	}
	keys := e.name(in.HashKey) + " = " + v
	if in.RangeKey != "" {
		op, bound := ">", in.After
		switch {
		case in.After != nil && in.Before != nil:
			return nil, c.invalid("query "+table, fmt.Errorf("a range key condition is After or Before, not both"))
		case in.Before != nil:
			op, bound = "<", in.Before
		}
		b, err := e.value(bound)
		if err != nil {
			return nil, c.invalid("query "+table, err)
		}
		keys += " AND " + e.name(in.RangeKey) + " " + op + " " + b
	}
	req := &ddb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String(keys),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
		ScanIndexForward:          aws.Bool(!in.Descending),
		ConsistentRead:            aws.Bool(true),
	}
	var items []Item
	for {
		if in.Limit > 0 {
			req.Limit = aws.Int32(int32(in.Limit - len(items)))
		}
		out, err := q.Query(ctx, req)
		if err := c.check("query "+table, table, err); err != nil {
			return nil, err
		}
		for _, raw := range out.Items {
			item, err := unmarshal(raw)
			if err != nil {
				return nil, elevator.Errorf(elevator.EINVALID, "query %s in %s: %w", table, c.region, err)
			}
			items = append(items, item)
		}
		if len(out.LastEvaluatedKey) == 0 || (in.Limit > 0 && len(items) >= in.Limit) {
			return items, nil
		}
		req.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Replace writes item like PutItem, if every condition holds, and returns
// the item it replaced (nil when there was none): e.g. the lock a new
// holder took over, in the same conditional write that took it. It
// returns an ECONFLICT error wrapping a *ConditionFailedError when a
// condition does not hold.
func (c *Client) Replace(ctx context.Context, table string, item Item, conds ...Condition) (Item, error) {
	av, err := marshal(item)
	if err != nil {
		return nil, c.invalid("put item in "+table, err)
	}
	var e expression
	cond, err := e.condition(conds)
	if err != nil {
		return nil, c.invalid("put item in "+table, err)
	}
	out, err := c.api.PutItem(ctx, &ddb.PutItemInput{
		TableName:                           aws.String(table),
		Item:                                av,
		ConditionExpression:                 optional(cond),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        ddbtypes.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err := c.check("put item in "+table, table, err); err != nil {
		return nil, err
	}
	old, err := unmarshal(out.Attributes)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "put item in %s in %s: the item replaced: %w", table, c.region, err)
	}
	return old, nil
}

// Remove deletes the item under key if every condition holds of it, and
// returns the item it deleted (nil when there was none). Deleting no item
// succeeds unless a condition says otherwise (a comparison with a missing
// item is false, so Equal("owner", me) fails when there is no item). It
// returns an ECONFLICT error wrapping a *ConditionFailedError when a
// condition does not hold.
func (c *Client) Remove(ctx context.Context, table string, key Item, conds ...Condition) (Item, error) {
	k, err := marshal(key)
	if err != nil {
		return nil, c.invalid("delete item from "+table, err)
	}
	var e expression
	cond, err := e.condition(conds)
	if err != nil {
		return nil, c.invalid("delete item from "+table, err)
	}
	out, err := c.api.DeleteItem(ctx, &ddb.DeleteItemInput{
		TableName:                           aws.String(table),
		Key:                                 k,
		ConditionExpression:                 optional(cond),
		ExpressionAttributeNames:            e.names,
		ExpressionAttributeValues:           e.values,
		ReturnValues:                        ddbtypes.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err := c.check("delete item from "+table, table, err); err != nil {
		return nil, err
	}
	old, err := unmarshal(out.Attributes)
	if err != nil {
		return nil, elevator.Errorf(elevator.EINVALID, "delete item %s from %s in %s: the item deleted: %w", describe(key), table, c.region, err)
	}
	return old, nil
}
