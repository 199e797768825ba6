package bake

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/iam"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
)

// AWS is the Cloud and Lookup of a bake in one region: EC2 for the
// builder and images, the orbit's state bucket for the bake's objects,
// SSM for a base named by parameter and IAM for the bake's instance
// profile.
type AWS struct {
	*ec2.Client
	objects *s3.Client
	bucket  string
	params  *ssm.Client
	iam     *iam.Client
}

var (
	_ Cloud  = (*AWS)(nil)
	_ Lookup = (*AWS)(nil)
	_ Lister = (*AWS)(nil)
)

// NewAWS returns the bake's clients for cfg's region and the orbit's state
// bucket there.
func NewAWS(cfg aws.Config, bucket string) *AWS {
	return &AWS{Client: ec2.New(cfg), objects: s3.New(cfg), bucket: bucket, params: ssm.New(cfg), iam: iam.New(cfg)}
}

// PutObject stores an object in the state bucket.
func (a *AWS) PutObject(ctx context.Context, key string, body []byte) error {
	_, err := a.objects.Put(ctx, a.bucket, key, "application/octet-stream", body)
	return err
}

// GetObject reads an object of the state bucket (ENOTFOUND when absent).
func (a *AWS) GetObject(ctx context.Context, key string) ([]byte, error) {
	body, _, err := a.objects.Get(ctx, a.bucket, key)
	return body, err
}

// DeleteObject deletes an object of the state bucket.
func (a *AWS) DeleteObject(ctx context.Context, key string) error {
	return a.objects.Delete(ctx, a.bucket, key)
}

// ListKeys lists the state bucket's keys under prefix.
func (a *AWS) ListKeys(ctx context.Context, prefix string) ([]string, error) {
	objs, err := a.objects.List(ctx, a.bucket, prefix)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys, nil
}

// Parameter reads an SSM parameter.
func (a *AWS) Parameter(ctx context.Context, name string) (string, error) {
	return a.params.Parameter(ctx, name)
}

// InstanceProfileExists asks IAM.
func (a *AWS) InstanceProfileExists(ctx context.Context, name string) error {
	_, err := a.iam.InstanceProfile(ctx, name)
	return err
}
