package ssm

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// pathAPI lists the Parameter Store operations that read a whole path.
type pathAPI interface {
	GetParametersByPath(context.Context, *ssmsdk.GetParametersByPathInput, ...func(*ssmsdk.Options)) (*ssmsdk.GetParametersByPathOutput, error)
}

// NamedValue is one parameter: its name and value (a SecureString's
// value as stored, not decrypted).
type NamedValue struct {
	Name, Value string
}

// maxParametersPage is GetParametersByPath's largest page.
const maxParametersPage = 10

// ParametersUnder returns every parameter under path, at any depth, in
// one paginated GetParametersByPath (Recursive, not decrypted). A path
// with no parameters is none, not an error. See the package comment for
// the errors.
func (c *Client) ParametersUnder(ctx context.Context, path string) ([]NamedValue, error) {
	api, ok := c.api.(pathAPI)
	if !ok {
		return nil, errors.New("ssm: client cannot read parameters by path")
	}
	var out []NamedValue
	p := ssmsdk.NewGetParametersByPathPaginator(api, &ssmsdk.GetParametersByPathInput{
		Path: aws.String(path), Recursive: aws.Bool(true), MaxResults: aws.Int32(maxParametersPage),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, codes.Translate(awserr.Op{Doing: "get SSM parameters under " + path, Region: c.region, Kind: "SSM parameter", Name: path}, err)
		}
		for _, prm := range page.Parameters {
			out = append(out, NamedValue{Name: aws.ToString(prm.Name), Value: aws.ToString(prm.Value)})
		}
	}
	return out, nil
}
