package awsrelease

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
)

// countingSTS counts the caller's identity asked of STS.
type countingSTS struct {
	sts interface {
		CallerIdentity(context.Context) (sts.Identity, error)
	}
	calls int
}

func (c *countingSTS) CallerIdentity(ctx context.Context) (sts.Identity, error) {
	c.calls++
	return c.sts.CallerIdentity(ctx)
}

// TestDescribeTellsTheAccountsImagesFromOthersPublicOnes: moto's own
// images belong to other accounts and are public; an image made in the
// account is its own. STS is asked once per Cloud.
func TestDescribeTellsTheAccountsImagesFromOthersPublicOnes(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx, sdk := context.Background(), ec2sdk.NewFromConfig(cfg)
	all, err := sdk.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{Filters: []ec2types.Filter{{Name: aws.String("is-public"), Values: []string{"true"}}}})
	if err != nil || len(all.Images) == 0 {
		t.Fatalf("no public image: %v", err)
	}
	public := aws.ToString(all.Images[0].ImageId)
	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(public), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	made, err := sdk.CreateImage(ctx, &ec2sdk.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("own")})
	if err != nil {
		t.Fatal(err)
	}
	own := aws.ToString(made.ImageId)
	c := NewCloud(cfg)
	counter := &countingSTS{sts: sts.New(cfg)}
	c.owner = &callerAccount{sts: counter}
	for range 2 {
		got, err := c.Describe(ctx, release.KindImage, []string{public, own})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || !got[0].Foreign || !got[0].Public || got[1].Foreign || got[1].Public {
			t.Errorf("got %+v; want %s foreign and public, %s the account's own and private", got, public, own)
		}
	}
	if counter.calls != 1 {
		t.Errorf("STS asked %d times, want once", counter.calls)
	}
}
