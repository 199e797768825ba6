package dynamodb

import (
	"context"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	elevator "github.com/elevatorhq/elevator"
)

// batchAPI and scanAPI are kept out of api (dynamodb.go), as queryAPI is,
// so that fakes of the other operations need not have them.
type batchAPI interface {
	BatchGetItem(context.Context, *ddb.BatchGetItemInput, ...func(*ddb.Options)) (*ddb.BatchGetItemOutput, error)
}

type scanAPI interface {
	Scan(context.Context, *ddb.ScanInput, ...func(*ddb.Options)) (*ddb.ScanOutput, error)
}

// batchRounds bounds how many times BatchGet asks again for keys DynamoDB
// left unprocessed (it does so under throttling) before it gives up.
const batchRounds = 5

// BatchGet reads the items under keys, table by table, in one
// BatchGetItem call (more only for keys DynamoDB leaves unprocessed), with
// strongly consistent reads. The answer holds the items found, by table,
// in no particular order; a key with no item is simply absent. It takes at
// most 100 keys. See the package comment for the errors; ENOTFOUND wraps
// ErrTableNotFound when a table does not exist.
func (c *Client) BatchGet(ctx context.Context, keys map[string][]Item) (map[string][]Item, error) {
	b, ok := c.api.(batchAPI)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "batch get in %s: this client cannot batch", c.region)
	}
	tables := make([]string, 0, len(keys))
	for t := range keys {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	req := map[string]ddbtypes.KeysAndAttributes{}
	for _, t := range tables {
		ka := ddbtypes.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
		for _, k := range keys[t] {
			av, err := marshal(k)
			if err != nil {
				return nil, c.invalid("batch get from "+t, err)
			}
			ka.Keys = append(ka.Keys, av)
		}
		if len(ka.Keys) > 0 {
			req[t] = ka
		}
	}
	found := map[string][]Item{}
	for round := 0; len(req) > 0; round++ {
		if round == batchRounds {
			return nil, elevator.Errorf(elevator.EAWS, "batch get in %s: DynamoDB left keys unprocessed %d times", c.region, batchRounds)
		}
		out, err := b.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: req})
		if err := c.check("batch get from "+tableNames(req), tableNames(req), err); err != nil {
			return nil, err
		}
		for t, raws := range out.Responses {
			for _, raw := range raws {
				item, err := unmarshal(raw)
				if err != nil {
					return nil, elevator.Errorf(elevator.EINVALID, "batch get from %s in %s: %w", t, c.region, err)
				}
				found[t] = append(found[t], item)
			}
		}
		req = out.UnprocessedKeys
	}
	return found, nil
}

func tableNames(req map[string]ddbtypes.KeysAndAttributes) string {
	names := make([]string, 0, len(req))
	for t := range req {
		names = append(names, t)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// ScanInput selects the items of a whole table that Scan returns.
type ScanInput struct {
	// Contains, when set, keeps only the items whose attribute Attribute
	// (a string set, a list or a string) contains the string Contains.
	Attribute, Contains string
	// Attributes, when set, are the only attributes read of each item.
	Attributes []string
	// Limit is the most items to return; 0 means all of them. The scan
	// stops reading pages once it has them.
	Limit int
}

// Scan reads a whole table, page after page, with strongly consistent
// reads, keeping the items in selects. It is meant for small tables (an
// orbit's SSH tables). See the package comment for the errors.
func (c *Client) Scan(ctx context.Context, table string, in ScanInput) ([]Item, error) {
	s, ok := c.api.(scanAPI)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "scan %s in %s: this client cannot scan", table, c.region)
	}
	var e expression
	req := &ddb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
	if in.Attribute != "" {
		v, err := e.value(in.Contains)
		if err != nil {
			return nil, c.invalid("scan "+table, err)
		}
		req.FilterExpression = aws.String("contains(" + e.name(in.Attribute) + ", " + v + ")")
	}
	if len(in.Attributes) > 0 {
		p := make([]string, len(in.Attributes))
		for i, a := range in.Attributes {
			p[i] = e.name(a)
		}
		req.ProjectionExpression = aws.String(strings.Join(p, ", "))
	}
	req.ExpressionAttributeNames, req.ExpressionAttributeValues = e.names, e.values
	var items []Item
	for {
		out, err := s.Scan(ctx, req)
		if err := c.check("scan "+table, table, err); err != nil {
			return nil, err
		}
		for _, raw := range out.Items {
			item, err := unmarshal(raw)
			if err != nil {
				return nil, elevator.Errorf(elevator.EINVALID, "scan %s in %s: %w", table, c.region, err)
			}
			items = append(items, item)
		}
		if len(out.LastEvaluatedKey) == 0 || (in.Limit > 0 && len(items) >= in.Limit) {
			if in.Limit > 0 && len(items) > in.Limit {
				items = items[:in.Limit]
			}
			return items, nil
		}
		req.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
