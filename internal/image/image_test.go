package image

// The allow list on moto: tables made as the orbit stack makes them (see
// internal/compile's region stack), in an account of the test's own.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// imagesTable makes orbit's images table with the orbit stack's key schema.
func imagesTable(t *testing.T, cfg aws.Config, orbit string) {
	t.Helper()
	_, err := ddb.NewFromConfig(cfg).CreateTable(context.Background(), &ddb.CreateTableInput{
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
		t.Fatalf("create the images table of %s: %v", orbit, err)
	}
}

// twoImages returns two of moto's images in cfg's region.
func twoImages(t *testing.T, cfg aws.Config) (string, string) {
	t.Helper()
	out, err := ec2sdk.NewFromConfig(cfg).DescribeImages(context.Background(), &ec2sdk.DescribeImagesInput{
		Filters: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}}})
	if err != nil || len(out.Images) < 2 {
		t.Fatalf("images: %v (%d)", err, len(out.Images))
	}
	return aws.ToString(out.Images[0].ImageId), aws.ToString(out.Images[1].ImageId)
}

// TestAHundredAppsInFiveOrbitsAreAllowedOnOneImage: 500 (app, orbit)
// pairs on one image, beyond what its tags could hold (256 characters a
// value, 50 tags), every one allowed, none allowing another pair, and
// the image left as it was.
func TestAHundredAppsInFiveOrbitsAreAllowedOnOneImage(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	ctx := context.Background()
	img, other := twoImages(t, cfg)
	before, err := ec2.New(cfg).Image(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	orbits := []string{"production", "staging", "test", "qa", "sandbox"}
	apps := make([]string, 100)
	for i := range apps {
		apps[i] = fmt.Sprintf("app-with-a-rather-long-name-%03d", i)
	}
	for _, o := range append(orbits, "empty") {
		imagesTable(t, cfg, o)
	}
	items := dynamodb.New(cfg)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, len(orbits)*len(apps))
	for _, o := range orbits {
		wg.Go(func() {
			list := AllowList{Orbit: o, Items: items}
			for _, a := range apps {
				al, err := AllowImage(ctx, ec2.New(cfg), list, img, a, "arn:aws:iam::123456789012:user/alice", now)
				if err != nil {
					errs <- err
					return
				}
				if al != (Allowance{Orbit: o, App: a, Image: img, By: "arn:aws:iam::123456789012:user/alice", At: now}) {
					errs <- fmt.Errorf("AllowImage returned %+v", al)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	allows := func(orbit, app, image string) bool {
		t.Helper()
		ok, err := AllowList{Orbit: orbit, Items: items}.Allows(ctx, app, image)
		if err != nil {
			t.Fatalf("Allows(%s, %s, %s): %v", orbit, app, image, err)
		}
		return ok
	}
	for _, o := range orbits {
		for _, a := range apps {
			if !allows(o, a, img) {
				t.Errorf("%s in %s is not allowed on %s", a, o, img)
			}
		}
	}
	refused := []struct{ name, orbit, app, image string }{
		{"an app allowed nowhere", "production", "app-with-a-rather-long-name-100", img},
		{"a prefix of an allowed app", "production", "app-with-a-rather-long-name-00", img},
		{"an allowed app in an orbit whose list is empty", "empty", apps[0], img},
		{"an allowed app in an orbit without a list", "nowhere", apps[0], img},
		{"an allowed app on another image", "production", apps[0], other},
	}
	for _, tt := range refused {
		if allows(tt.orbit, tt.app, tt.image) {
			t.Errorf("%s: %s in %s is allowed on %s", tt.name, tt.app, tt.orbit, tt.image)
		}
	}

	after, err := ec2.New(cfg).Image(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(after.Tags) != fmt.Sprint(before.Tags) {
		t.Errorf("the image's tags changed from %v to %v", before.Tags, after.Tags)
	}
}

func TestAllowingOnePairNeverAllowsAnother(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	img, _ := twoImages(t, cfg)
	for _, o := range []string{"production", "test"} {
		imagesTable(t, cfg, o)
	}
	items := dynamodb.New(cfg)
	prod, test := AllowList{Orbit: "production", Items: items}, AllowList{Orbit: "test", Items: items}
	for _, step := range []struct {
		list AllowList
		app  string
	}{{prod, "shop"}, {test, "billing"}} {
		if _, err := AllowImage(ctx, ec2.New(cfg), step.list, img, step.app, "alice", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		list AllowList
		app  string
		want bool
	}{{prod, "shop", true}, {test, "billing", true}, {prod, "billing", false}, {test, "shop", false}} {
		if got, err := tt.list.Allows(ctx, tt.app, img); err != nil || got != tt.want {
			t.Errorf("%s in %s: allowed %v (%v), want %v", tt.app, tt.list.Orbit, got, err, tt.want)
		}
	}
}

func TestAllowingNeedsTheImageAndTheOrbitsList(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	ctx := context.Background()
	img, _ := twoImages(t, cfg)
	imagesTable(t, cfg, "production")
	items := dynamodb.New(cfg)
	_, err := AllowImage(ctx, ec2.New(cfg), AllowList{Orbit: "production", Items: items}, "ami-0123456789abcdef0", "shop", "alice", time.Now())
	if elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("allowing an image that does not exist: %v, want ENOTFOUND", err)
	}
	_, err = AllowImage(ctx, ec2.New(cfg), AllowList{Orbit: "old", Items: items}, img, "shop", "alice", time.Now())
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "elevator orbit up") {
		t.Errorf("allowing in an orbit without a list: %v, want ENOTFOUND saying to run orbit up", err)
	}
}
