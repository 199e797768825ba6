// Package pricing is Elevator's adapter for AWS's Price List Query API
// (pricing:GetProducts): it lists the products of a service that match
// filters, each a PriceList entry in the price list's own JSON format
// (read by internal/cost). Errors it returns are *elevator.Error,
// translated by awserr: denied access wraps awserr.ErrAccessDenied.
package pricing

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	pricingsdk "github.com/aws/aws-sdk-go-v2/service/pricing"
	"github.com/aws/aws-sdk-go-v2/service/pricing/types"

	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// Region is where the API is asked: it answers in us-east-1 (and
// eu-central-1, ap-south-1) for every region's prices.
const Region = "us-east-1"

var codes = awserr.Codes{
	Invalid: []awserr.Match{{Code: "InvalidParameterException"}, {Code: "InvalidNextTokenException"}},
}

// Client asks the Price List Query API.
type Client struct {
	api pricingsdk.GetProductsAPIClient
}

// New returns a client in Region with cfg's credentials; endpoint, when
// not "", is where it sends its calls instead of AWS (a test's fake).
func New(cfg aws.Config, endpoint string) *Client {
	return &Client{api: pricingsdk.NewFromConfig(cfg, func(o *pricingsdk.Options) {
		o.Region = Region
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})}
}

// Products returns the PriceList entries of service's products that
// match every filter (field -> value, TERM_MATCH), all pages.
func (c *Client) Products(ctx context.Context, service string, filters map[string]string) ([]string, error) {
	in := &pricingsdk.GetProductsInput{ServiceCode: aws.String(service), FormatVersion: aws.String("aws_v1")}
	for f, v := range filters {
		in.Filters = append(in.Filters, types.Filter{Type: types.FilterTypeTermMatch, Field: aws.String(f), Value: aws.String(v)})
	}
	var out []string
	for p := pricingsdk.NewGetProductsPaginator(c.api, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, codes.Translate(awserr.Op{Doing: "get " + service + " products", Region: Region, Kind: "price list"}, err)
		}
		out = append(out, page.PriceList...)
	}
	return out, nil
}
