package awsrelease

// The image allow list on moto: the orbit stack's own table (and four
// more orbits' tables made alike), read by the Cloud and by a release.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/image"
)

// untaggedImage returns one of moto's images in region other than the
// world's tagged one, with no tags.
func (w *world) untaggedImage(region string) string {
	w.t.Helper()
	out, err := ec2sdk.NewFromConfig(w.cfg(region)).DescribeImages(context.Background(), &ec2sdk.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}}})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, img := range out.Images {
		if id := aws.ToString(img.ImageId); id != w.images[region] && len(img.Tags) == 0 {
			return id
		}
	}
	w.t.Fatalf("no untagged image in %s", region)
	return ""
}

// imagesTable makes orbit's images table in region as the orbit stack
// does.
func (w *world) imagesTable(region, orbit string) {
	w.t.Helper()
	_, err := ddb.NewFromConfig(w.cfg(region)).CreateTable(context.Background(), &ddb.CreateTableInput{
		TableName:   aws.String(elevator.ImagesTableName(orbit)),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String(elevator.ImagesKeyApp), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String(elevator.ImagesKeyImage), KeyType: ddbtypes.KeyTypeRange},
		},
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String(elevator.ImagesKeyApp), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String(elevator.ImagesKeyImage), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
	})
	if err != nil {
		w.t.Fatalf("images table of %s: %v", orbit, err)
	}
}

// TestAHundredAppsInFiveOrbitsOnOneImage: 500 (app, orbit) pairs allowed
// on one untagged image, the orbit stack's table among the five; the Cloud
// finds every pair allowed and no other, and a release is allowed or
// refused by the list alone.
func TestAHundredAppsInFiveOrbitsOnOneImage(t *testing.T) {
	const region = "us-east-1"
	w := newWorld(t, region)
	ctx := context.Background()
	img := w.untaggedImage(region)
	orbits := []string{orbitName, "staging", "test", "qa", "sandbox"}
	for _, o := range orbits[1:] {
		w.imagesTable(region, o)
	}
	apps := make([]string, 100)
	for i := range apps {
		apps[i] = fmt.Sprintf("app-%03d", i)
	}
	apps[0] = "shop"
	items := dynamodb.New(w.cfg(region))
	for _, o := range orbits {
		for _, a := range apps {
			if o == orbitName && a == "app-099" {
				continue // the pair left out
			}
			if err := (image.AllowList{Orbit: o, Items: items}).Allow(ctx, a, img, "alice", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}

	c := NewCloud(w.cfg(region))
	for _, o := range orbits {
		for _, a := range apps {
			got, err := c.AllowedImages(ctx, o, a, []string{img, w.images[region]})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{img}
			if o == orbitName && a == "app-099" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s in %s: allowed %v, want %v", a, o, got, want)
			}
		}
	}
	if got, err := c.AllowedImages(ctx, "elsewhere", "shop", []string{img}); err != nil || len(got) != 0 {
		t.Errorf("an orbit without a list: allowed %v (%v), want none and no error", got, err)
	}

	t.Run("a release of a listed app uses the image; one of the pair left out is refused", func(t *testing.T) {
		onImage := func(r *elevator.Release) {
			for i := range r.Services {
				for j := range r.Services[i].Placements {
					r.Services[i].Placements[j].Image = img
				}
			}
		}
		e := w.engine(w.backend(), "engine-a")
		shop := w.newApp("shop", []string{"worker"})
		if rec := w.run(t, e, w.release(shop, "1.0.0", onImage)); rec.State != elevator.StateSuccess {
			t.Errorf("release of shop on its listed image: %s (%s)", rec.State, rec.Error)
		}
		left := w.newApp("app-099", []string{"worker"})
		rec := w.run(t, e, w.release(left, "1.0.0", onImage))
		if rec.State != elevator.StateFailureClean || rec.Failure != elevator.FailureUnusableResources ||
			!strings.Contains(rec.Error, "image "+img+" is not authorized") {
			t.Errorf("release of app-099, listed in every other orbit: %s, %s (%s); want FailureClean for the image", rec.State, rec.Failure, rec.Error)
		}
	})
}
