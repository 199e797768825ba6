package ec2

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// moto 5.2.5 has neither EnableImageDeprecation nor DeprecationTime in
// DescribeImages: the translation of the SDK's image is checked on an
// image as AWS describes it.
func TestAnImagesDeprecationTimeIsRead(t *testing.T) {
	img := image(ec2types.Image{ImageId: aws.String("ami-1"), DeprecationTime: aws.String("2026-11-30T03:01:00.000Z")})
	if want := time.Date(2026, 11, 30, 3, 1, 0, 0, time.UTC); !img.Deprecated.Equal(want) {
		t.Errorf("Deprecated = %v, want %v", img.Deprecated, want)
	}
	if img := image(ec2types.Image{ImageId: aws.String("ami-2")}); !img.Deprecated.IsZero() {
		t.Errorf("an image without a deprecation time: Deprecated = %v, want zero", img.Deprecated)
	}
}
