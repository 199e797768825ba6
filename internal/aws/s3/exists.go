package s3

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	elevator "github.com/elevatorhq/elevator"
)

// headAPI is the HeadObject operation, kept out of api (s3.go) so that
// fakes of the other operations need not have it.
type headAPI interface {
	HeadObject(context.Context, *s3sdk.HeadObjectInput, ...func(*s3sdk.Options)) (*s3sdk.HeadObjectOutput, error)
}

// Exists reports whether an object is stored under key (HeadObject), with
// no need to read it. A missing object is false with a nil error, and so
// is a missing bucket: a HEAD answer has no body to tell them apart (a
// write to the bucket then fails with ErrNotFound). Other failures are
// translated as the package comment says.
func (c *Client) Exists(ctx context.Context, bucket, key string) (bool, error) {
	h, ok := c.api.(headAPI)
	if !ok {
		return false, elevator.Errorf(elevator.EINTERNAL, "head s3://%s/%s: this client cannot head objects", bucket, key)
	}
	_, err := h.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	err = c.check("head object", "object", "s3://"+bucket+"/"+key, err)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, err
}
