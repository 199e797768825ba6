package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/aws/pricing"
	"github.com/elevatorhq/elevator/internal/cost"
)

// priceListEndpoint, when set, is where estimates ask the Price List
// Query API instead of AWS, even against an emulator (tests set a fake);
// priceCachePath is where its answers are kept.
var (
	priceListEndpoint = ""
	priceCachePath    = cost.CachePath
)

// addPriceLookupFlag adds --no-price-lookup to a command that estimates.
func addPriceLookupFlag(c *cobra.Command, g *globals) {
	c.Flags().BoolVar(&g.noPriceLookup, "no-price-lookup", false, "do not ask AWS's Price List Query API (pricing:GetProducts) for the prices the shipped table lacks")
}

// pricesFor returns the price table for an estimate of before and after:
// the shipped one, with what it lacks of NAT gateway, load balancer and
// storage prices asked of AWS's Price List Query API with configs'
// credentials (cached, bounded, never failing; see cost.Table.LookUp).
// It asks nothing with --no-price-lookup, or against the local emulator
// or an endpoint, which have no Price List API.
func pricesFor(ctx context.Context, configs *awsConfigs, before, after []cost.Item) *cost.Table {
	t := priceTable()
	g := configs.g
	if g.noPriceLookup {
		return t
	}
	if priceListEndpoint == "" && (g.local || g.endpoint != "" || os.Getenv("AWS_ENDPOINT_URL") != "") {
		return t
	}
	cache, err := priceCachePath()
	if err != nil {
		cache = ""
	}
	return t.LookUp(ctx, cost.Lookup{
		Fetch:    priceListFetch(configs),
		Cache:    cache,
		CacheFor: cost.LookupCacheFor,
		Timeout:  cost.LookupTimeout,
	}, before, after)
}

// priceListQuery says what GetProducts is asked for a key: the offer's
// service code and the filters besides the region.
type priceListQuery struct {
	service string
	filters map[string]string
}

// priceListQueries are the questions for cost.LookupKeys; the answers'
// products are kept only where cost.Offer.OfferPrices gives them the key
// asked for (the classic NAT gateway's hours by usage type, and so on).
var priceListQueries = map[string]priceListQuery{
	"nat:hour":        {"AmazonEC2", map[string]string{"productFamily": "NAT Gateway"}},
	"alb:hour":        {"AWSELB", map[string]string{"productFamily": "Load Balancer-Application"}},
	"nlb:hour":        {"AWSELB", map[string]string{"productFamily": "Load Balancer-Network"}},
	"ebs:gp3":         {"AmazonEC2", map[string]string{"productFamily": "Storage", "volumeApiName": "gp3"}},
	"ebs:gp2":         {"AmazonEC2", map[string]string{"productFamily": "Storage", "volumeApiName": "gp2"}},
	"rds:storage:gp3": {"AmazonRDS", map[string]string{"productFamily": "Database Storage", "volumeType": "General Purpose-GP3", "deploymentOption": "Single-AZ"}},
	"rds:storage:gp2": {"AmazonRDS", map[string]string{"productFamily": "Database Storage", "volumeType": "General Purpose", "deploymentOption": "Single-AZ"}},
}

// priceListFetch asks GetProducts, in us-east-1 with configs'
// credentials, for one key's on-demand price in a region.
func priceListFetch(configs *awsConfigs) cost.Fetch {
	var client *pricing.Client
	return func(ctx context.Context, region, key string) (cost.Looked, error) {
		q, ok := priceListQueries[key]
		if !ok {
			return cost.Looked{}, fmt.Errorf("no Price List question for %s", key)
		}
		if client == nil {
			cfg, err := configs.For(ctx, pricing.Region)
			if err != nil {
				return cost.Looked{}, err
			}
			client = pricing.New(cfg, priceListEndpoint)
		}
		filters := map[string]string{"regionCode": region}
		for f, v := range q.filters {
			filters[f] = v
		}
		entries, err := client.Products(ctx, q.service, filters)
		if errors.Is(err, awserr.ErrAccessDenied) {
			return cost.Looked{}, fmt.Errorf("%w: %v", cost.ErrDenied, err)
		}
		if err != nil {
			return cost.Looked{}, fmt.Errorf("%s in %s: %w", key, region, err)
		}
		var found *cost.OfferPrice
		date := ""
		for _, entry := range entries {
			o, err := cost.ParsePriceListItem([]byte(entry))
			if err != nil {
				return cost.Looked{}, fmt.Errorf("pricing:GetProducts %s in %s: %w", key, region, err)
			}
			for _, op := range o.OfferPrices(q.service) {
				if op.Key != key || op.Region != region {
					continue
				}
				if found != nil && found.USD != op.USD {
					return cost.Looked{}, fmt.Errorf("pricing:GetProducts %s in %s: SKU %s gives %v, SKU %s gives %v", key, region, found.SKU, found.USD, op.SKU, op.USD)
				}
				found = &op
				if d := cost.DateOf(o.PublicationDate); d != "" {
					date = d
				} else if date == "" {
					date = op.Effective
				}
			}
		}
		if found == nil {
			return cost.Looked{}, fmt.Errorf("pricing:GetProducts gives no on-demand price of %s in %s", key, region)
		}
		return cost.Looked{USD: found.USD, Date: date}, nil
	}
}
