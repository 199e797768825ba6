// Package route53 is Elevator's adapter for Amazon Route 53. Errors it
// returns are *elevator.Error: ENOTFOUND when a zone does not exist, and the
// codes awserr gives every service (EINTERRUPTED when the context was
// cancelled, EAWS for any other failure).
package route53

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

type api interface {
	ListHostedZonesByName(context.Context, *r53.ListHostedZonesByNameInput, ...func(*r53.Options)) (*r53.ListHostedZonesByNameOutput, error)
}

// Client talks to Route 53 (a global service).
type Client struct{ api api }

// New returns a client.
func New(cfg aws.Config) *Client { return &Client{api: r53.NewFromConfig(cfg)} }

// HostedZoneID returns the id (without the /hostedzone/ prefix) of the
// public hosted zone for domain.
func (c *Client) HostedZoneID(ctx context.Context, domain string) (string, error) {
	name := strings.TrimSuffix(domain, ".") + "."
	out, err := c.api.ListHostedZonesByName(ctx, &r53.ListHostedZonesByNameInput{DNSName: aws.String(name)})
	if err != nil {
		return "", awserr.Codes{}.Translate(awserr.Op{Doing: "list hosted zones"}, err)
	}
	for _, z := range out.HostedZones {
		if aws.ToString(z.Name) == name && (z.Config == nil || !z.Config.PrivateZone) {
			return strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/"), nil
		}
	}
	return "", elevator.Errorf(elevator.ENOTFOUND, "no public hosted zone %s: create it first, or remove domain from the orbit", strings.TrimSuffix(name, "."))
}
