package dynamodb

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elevator "github.com/elevatorhq/elevator"
)

// transactAPI is the TransactWriteItems operation, kept out of api like
// queryAPI: the SDK client has it, and PutItemChecked reports an EINTERNAL
// error for an api that lacks it.
type transactAPI interface {
	TransactWriteItems(context.Context, *ddb.TransactWriteItemsInput, ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error)
}

// Check is a condition on an item, possibly of another table, that a
// write requires without changing that item (a transaction's
// ConditionCheck): e.g. that a lock is still held by the writer.
type Check struct {
	Table string
	Key   Item
	Conds []Condition
}

// PutItemChecked writes item like PutItem, if conds hold of the item in
// place and every check's conditions hold of its item, all in one
// transaction (one request): nothing is written unless all hold. When one
// does not, it returns an ECONFLICT error wrapping a *ConditionFailedError
// whose Check is nil when conds failed (Current is then the item in place)
// or the check that failed (Current is then the checked item); conds are
// reported first when both failed. A transaction cancelled for another
// reason (a concurrent transaction on an item, throttling) is an EAWS
// error, worth trying again.
func (c *Client) PutItemChecked(ctx context.Context, table string, item Item, conds []Condition, checks ...Check) error {
	tx, ok := c.api.(transactAPI)
	if !ok {
		return elevator.Errorf(elevator.EINTERNAL, "put item in %s in %s: this client cannot write transactions", table, c.region)
	}
	put, err := c.put(table, item, conds)
	if err != nil {
		return err
	}
	items := []ddbtypes.TransactWriteItem{{Put: put}}
	for _, ch := range checks {
		k, err := marshal(ch.Key)
		if err != nil {
			return c.invalid("check item in "+ch.Table, err)
		}
		var e expression
		cond, err := e.condition(ch.Conds)
		if err != nil || cond == "" {
			return c.invalid("check item in "+ch.Table, errors.Join(err, errors.New("a check needs a condition")))
		}
		items = append(items, ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{
			TableName:                           aws.String(ch.Table),
			Key:                                 k,
			ConditionExpression:                 aws.String(cond),
			ExpressionAttributeNames:            e.names,
			ExpressionAttributeValues:           e.values,
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	_, err = tx.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *ddbtypes.TransactionCanceledException
	if errors.As(err, &cancelled) {
		for i, r := range cancelled.CancellationReasons {
			if aws.ToString(r.Code) != "ConditionalCheckFailed" || i >= len(items) {
				continue
			}
			current, uerr := unmarshal(r.Item)
			if uerr != nil {
				current = nil // the item in place is unreadable; the refusal stands
			}
			failed := &ConditionFailedError{Current: current}
			if i > 0 {
				failed.Check = &checks[i-1]
			}
			return elevator.Errorf(elevator.ECONFLICT, "put item in %s in %s: %w", table, c.region, failed)
		}
	}
	return c.check("put item in "+table, table, err)
}
