package dynamodb

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	elevator "github.com/elevatorhq/elevator"
)

// scanAPI is the Scan operation, kept out of api as Query is (see
// queryAPI): the SDK client has it, and Scan reports an EINTERNAL error for
// an api that lacks it.
type scanAPI interface {
	Scan(context.Context, *ddb.ScanInput, ...func(*ddb.Options)) (*ddb.ScanOutput, error)
}

// Scan returns every item of a table, reading page after page with
// strongly consistent reads. It is meant for small tables, such as an
// orbit's SSH users and services. See the package comment for the errors.
func (c *Client) Scan(ctx context.Context, table string) ([]Item, error) {
	s, ok := c.api.(scanAPI)
	if !ok {
		return nil, elevator.Errorf(elevator.EINTERNAL, "scan %s in %s: this client cannot scan", table, c.region)
	}
	req := &ddb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)}
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
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		req.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
