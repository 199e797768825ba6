package s3

// These tests run against a real moto server (emulatortest), each in an
// account of its own. The client is the package's own, so every call also
// shows that path-style addressing reaches moto.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) { emulatortest.Main(m) }

// bucket makes a bucket named for the test's account, versioned if asked
// (as an orbit's state bucket is), and returns its name and an SDK client.
func bucket(t *testing.T, cfg aws.Config, versioned bool) (string, *s3sdk.Client) {
	t.Helper()
	ctx := context.Background()
	name := "elevator-" + emulatortest.AccountID(cfg) + "-" + cfg.Region
	sdk := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true })
	in := &s3sdk.CreateBucketInput{Bucket: aws.String(name)}
	if cfg.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(cfg.Region)}
	}
	if _, err := sdk.CreateBucket(ctx, in); err != nil {
		t.Fatal(err)
	}
	if versioned {
		if _, err := sdk.PutBucketVersioning(ctx, &s3sdk.PutBucketVersioningInput{
			Bucket:                  aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
		}); err != nil {
			t.Fatal(err)
		}
	}
	return name, sdk
}

func isCode(err error, code string, sentinel error) bool {
	return elevator.ErrorCode(err) == code && errors.Is(err, sentinel)
}

func TestPutAndGetRoundTripWithTheSameETag(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-1")
	b, sdk := bucket(t, cfg, false)
	c, ctx := New(cfg), context.Background()

	etag, err := c.Put(ctx, b, "releases/web/r1.json", "application/json", []byte(`{"id":"r1"}`))
	if err != nil || etag == "" {
		t.Fatalf("put: etag %q, %v", etag, err)
	}
	body, got, err := c.Get(ctx, b, "releases/web/r1.json")
	if err != nil || string(body) != `{"id":"r1"}` || got != etag {
		t.Fatalf("get: %q etag %q, %v; want the body with etag %q", body, got, err, etag)
	}
	head, err := sdk.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("releases/web/r1.json")})
	if err != nil || aws.ToString(head.ContentType) != "application/json" {
		t.Errorf("content type %q, %v; want application/json", aws.ToString(head.ContentType), err)
	}
}

func TestExistsReadsOnlyWhetherAnObjectIsThere(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-2")
	b, _ := bucket(t, cfg, true)
	c, ctx := New(cfg), context.Background()

	if ok, err := c.Exists(ctx, b, "agent/abc/elevator-agent-linux-amd64"); ok || err != nil {
		t.Fatalf("before a put: %v, %v; want false, nil", ok, err)
	}
	if _, err := c.Put(ctx, b, "agent/abc/elevator-agent-linux-amd64", "", []byte("fake agent")); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Exists(ctx, b, "agent/abc/elevator-agent-linux-amd64"); !ok || err != nil {
		t.Fatalf("after a put: %v, %v; want true, nil", ok, err)
	}
	if ok, err := c.Exists(ctx, b+"-missing", "x"); ok || err != nil {
		t.Fatalf("in a missing bucket: %v, %v; want false, nil", ok, err)
	}
}

func TestPutIfAbsentStoresAnObjectOnce(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-1")
	b, _ := bucket(t, cfg, true)
	c, ctx := New(cfg), context.Background()

	stored, err := c.PutIfAbsent(ctx, b, "releases/web/r1.json", "application/json", []byte("first"))
	if err != nil || !stored {
		t.Fatalf("first put: stored %v, %v", stored, err)
	}
	stored, err = c.PutIfAbsent(ctx, b, "releases/web/r1.json", "application/json", []byte("second"))
	if err != nil || stored {
		t.Fatalf("second put: stored %v, %v; want nothing stored and no error", stored, err)
	}
	if body, _, err := c.Get(ctx, b, "releases/web/r1.json"); err != nil || string(body) != "first" {
		t.Errorf("object %q, %v; want the first body", body, err)
	}
	if _, err := c.PutIfAbsent(ctx, "elevator-no-such-bucket-here", "k", "", []byte("x")); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
		t.Errorf("into a missing bucket: %v (code %q), want ENOTFOUND", err, elevator.ErrorCode(err))
	}
}

func TestGetOfWhatDoesNotExistIsNotFound(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-central-1")
	b, _ := bucket(t, cfg, false)
	c, ctx := New(cfg), context.Background()
	for _, tc := range []struct{ test, bucket string }{
		{"a missing key", b},
		{"a missing bucket", "elevator-no-such-bucket-here"},
	} {
		t.Run(tc.test, func(t *testing.T) {
			_, _, err := c.Get(ctx, tc.bucket, "nothing.json")
			if !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
				t.Errorf("got %v (code %q), want ENOTFOUND wrapping ErrNotFound", err, elevator.ErrorCode(err))
			}
		})
	}
}

func TestListReadsEveryPageUnderThePrefixOnly(t *testing.T) {
	cfg := emulatortest.Config(t, "ap-southeast-2")
	b, _ := bucket(t, cfg, false)
	c, ctx := New(cfg), context.Background()
	c.pageSize = 2 // several pages from a handful of objects
	for i := range 5 {
		if _, err := c.Put(ctx, b, fmt.Sprintf("releases/web/r%d.json", i), "", []byte(strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Put(ctx, b, "releases/worker/r0.json", "", []byte("y")); err != nil {
		t.Fatal(err)
	}
	objects, err := c.List(ctx, b, "releases/web/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != 5 {
		t.Fatalf("listed %d objects, want 5: %+v", len(objects), objects)
	}
	for i, o := range objects {
		if o.Key != fmt.Sprintf("releases/web/r%d.json", i) || o.Size != int64(i) || o.Modified.IsZero() || o.ETag == "" {
			t.Errorf("object %d: %+v", i, o)
		}
	}
	if _, err := c.List(ctx, "elevator-no-such-bucket-here", ""); !isCode(err, elevator.ENOTFOUND, ErrNotFound) {
		t.Errorf("list of a missing bucket: %v, want ENOTFOUND", err)
	}
}

func TestDeleteRemovesAnObjectAndAMissingOneIsNoError(t *testing.T) {
	cfg := emulatortest.Config(t, "eu-west-2")
	b, _ := bucket(t, cfg, false)
	c, ctx := New(cfg), context.Background()
	if _, err := c.Put(ctx, b, "halt", "", nil); err != nil {
		t.Fatal(err)
	}
	for _, test := range []string{"an object is deleted", "deleting it again is no error"} {
		t.Run(test, func(t *testing.T) {
			if err := c.Delete(ctx, b, "halt"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Get(ctx, b, "halt"); !errors.Is(err, ErrNotFound) {
				t.Errorf("get after delete: %v, want not found", err)
			}
		})
	}
}

func TestDeletePrefixRemovesEveryVersionUnderThePrefixOnly(t *testing.T) {
	cfg := emulatortest.Config(t, "us-east-2")
	b, sdk := bucket(t, cfg, true)
	c, ctx := New(cfg), context.Background()
	put := func(key, body string) {
		t.Helper()
		if _, err := c.Put(ctx, b, key, "", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	put("elevator/lambda/a.zip", "1")
	put("elevator/lambda/a.zip", "2") // a second version
	put("elevator/lambda/b.zip", "3")
	if err := c.Delete(ctx, b, "elevator/lambda/b.zip"); err != nil {
		t.Fatal(err) // leaves a delete marker
	}
	put("releases/web/1.json", "{}")

	n, err := c.DeletePrefix(ctx, b, "elevator/lambda/")
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("deleted %d versions, want 4 (two of a.zip, b.zip and its delete marker)", n)
	}
	left, err := sdk.ListObjectVersions(ctx, &s3sdk.ListObjectVersionsInput{Bucket: aws.String(b)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Versions) != 1 || aws.ToString(left.Versions[0].Key) != "releases/web/1.json" || len(left.DeleteMarkers) != 0 {
		t.Errorf("left %d versions and %d markers, want only releases/web/1.json", len(left.Versions), len(left.DeleteMarkers))
	}
	if n, err := c.DeletePrefix(ctx, "elevator-no-such-bucket-here", "x/"); n != 0 || err != nil {
		t.Errorf("a missing bucket: %d, %v; want 0, nil", n, err)
	}
}
