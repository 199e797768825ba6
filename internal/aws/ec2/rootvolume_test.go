package ec2

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// An image's root volume is the EBS mapping of its root device; other
// mappings are not it. moto gives every image it registers its own 15 GiB
// standard root volume whatever the request says, so this reads an
// answer in the SDK's types.
func TestAnImageSaysItsRootVolume(t *testing.T) {
	img := image(ec2types.Image{
		ImageId: aws.String("ami-1"), RootDeviceName: aws.String("/dev/xvda"),
		BlockDeviceMappings: []ec2types.BlockDeviceMapping{
			{DeviceName: aws.String("/dev/xvdb"), Ebs: &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(100), VolumeType: ec2types.VolumeTypeSt1}},
			{DeviceName: aws.String("/dev/xvdc"), VirtualName: aws.String("ephemeral0")},
			{DeviceName: aws.String("/dev/xvda"), Ebs: &ec2types.EbsBlockDevice{VolumeSize: aws.Int32(20), VolumeType: ec2types.VolumeTypeGp3}},
		},
	})
	if img.RootVolumeGiB != 20 || img.RootVolumeType != "gp3" {
		t.Errorf("image %+v; want a 20 GiB gp3 root volume", img)
	}
	if img := image(ec2types.Image{ImageId: aws.String("ami-2"), RootDeviceName: aws.String("/dev/sda1")}); img.RootVolumeGiB != 0 || img.RootVolumeType != "" {
		t.Errorf("an image with no mappings: %+v", img)
	}
}
