package ec2

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// tagAPI lists the operation that tags EC2 resources.
type tagAPI interface {
	CreateTags(context.Context, *ec2sdk.CreateTagsInput, ...func(*ec2sdk.Options)) (*ec2sdk.CreateTagsOutput, error)
}

// Tag adds (or overwrites) tags on an EC2 resource such as an image.
func (c *Client) Tag(ctx context.Context, id string, tags map[string]string) error {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	in := &ec2sdk.CreateTagsInput{Resources: []string{id}}
	for _, k := range keys {
		in.Tags = append(in.Tags, ec2types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := c.api.CreateTags(ctx, in); err != nil {
		return c.fail("tag "+id, "resource", id, err)
	}
	return nil
}
