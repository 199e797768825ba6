// Package s3 is Elevator's adapter for Amazon S3: the objects (release
// records, halt markers, artefacts) Elevator keeps in its orbit's bucket, in
// Elevator's own types. It stores bytes as given; computing and checking
// checksums of their content is the caller's business.
//
// Errors it returns are *elevator.Error, translated by awserr: ENOTFOUND
// wrapping ErrNotFound and an *awserr.NotFoundError for a missing object or
// bucket, ECONFLICT wrapping ErrPreconditionFailed when another conditional
// write to the key is in flight, and the codes awserr gives every service
// (EINTERRUPTED when the context was cancelled, EAWS for any other
// failure). Check the sentinels with errors.Is.
package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
)

// ErrNotFound is the cause of the ENOTFOUND error returned for an object or
// bucket that does not exist.
var ErrNotFound = errors.New("not found")

// ErrPreconditionFailed is the cause of the ECONFLICT error a conditional
// write returns when its condition does not hold, or may not: PutIfAbsent
// reports an object there first as false instead.
var ErrPreconditionFailed = errors.New("precondition failed")

// codes are S3's answers that mean more than a failed call. A HEAD
// request's answer has no body, hence a bare NotFound code; a precondition
// that failed may come as a bare 412. ConditionalRequestConflict says
// another conditional write to the key is in flight; it may win.
var codes = awserr.Codes{
	NotFound: []awserr.Match{
		{Code: "NoSuchKey", Err: ErrNotFound},
		{Code: "NoSuchBucket", Err: ErrNotFound},
		{Code: "NotFound", Err: ErrNotFound},
	},
	Conflict: []awserr.Match{
		{Code: "PreconditionFailed", Err: ErrPreconditionFailed},
		{Status: http.StatusPreconditionFailed, Err: ErrPreconditionFailed},
		{Code: "ConditionalRequestConflict", Err: ErrPreconditionFailed},
	},
}

// api lists the S3 operations Elevator uses.
type api interface {
	PutObject(context.Context, *s3sdk.PutObjectInput, ...func(*s3sdk.Options)) (*s3sdk.PutObjectOutput, error)
	GetObject(context.Context, *s3sdk.GetObjectInput, ...func(*s3sdk.Options)) (*s3sdk.GetObjectOutput, error)
	HeadObject(context.Context, *s3sdk.HeadObjectInput, ...func(*s3sdk.Options)) (*s3sdk.HeadObjectOutput, error)
	ListObjectsV2(context.Context, *s3sdk.ListObjectsV2Input, ...func(*s3sdk.Options)) (*s3sdk.ListObjectsV2Output, error)
	DeleteObject(context.Context, *s3sdk.DeleteObjectInput, ...func(*s3sdk.Options)) (*s3sdk.DeleteObjectOutput, error)
	ListObjectVersions(context.Context, *s3sdk.ListObjectVersionsInput, ...func(*s3sdk.Options)) (*s3sdk.ListObjectVersionsOutput, error)
	DeleteObjects(context.Context, *s3sdk.DeleteObjectsInput, ...func(*s3sdk.Options)) (*s3sdk.DeleteObjectsOutput, error)
}

// Client talks to S3 in one region.
type Client struct {
	api      api
	region   string
	pageSize int32 // keys per List page; 0 is S3's default (1000)
}

// New returns a client for cfg's region. When cfg names an endpoint (the
// emulator) the client addresses buckets by path (endpoint/bucket/key), as
// moto needs, instead of by virtual host (bucket.endpoint/key).
func New(cfg aws.Config) *Client {
	pathStyle := cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != ""
	return &Client{
		api: s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) {
			o.UsePathStyle = pathStyle
			// Objects Elevator did not checksum (and the emulator's
			// answers) are read without a checksum; that is no news
			// worth a log line on every read.
			o.DisableLogOutputChecksumValidationSkipped = true
		}),
		region: cfg.Region,
	}
}

// Put writes an object of the given content type ("" for S3's default),
// replacing any there, and returns its ETag. It returns an ENOTFOUND error
// wrapping ErrNotFound when the bucket does not exist, and EAWS for other
// failures.
func (c *Client) Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error) {
	return c.put(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentType: optional(contentType)}, body)
}

// PutIfAbsent writes an object of the given content type only if none
// exists under key (If-None-Match: *), and reports whether it did: false
// with a nil error means an object was there first and is left as it was.
// AWS has honoured the condition since August 2024; moto 5.2.5 honours it
// too (put_object in moto/s3/responses.py). It returns an ENOTFOUND error
// wrapping ErrNotFound when the bucket does not exist, and EAWS for other
// failures.
func (c *Client) PutIfAbsent(ctx context.Context, bucket, key, contentType string, body []byte) (bool, error) {
	_, err := c.put(ctx, &s3sdk.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		ContentType: optional(contentType),
		IfNoneMatch: aws.String("*"),
	}, body)
	if errors.Is(err, ErrPreconditionFailed) {
		return false, nil
	}
	return err == nil, err
}

func (c *Client) put(ctx context.Context, in *s3sdk.PutObjectInput, body []byte) (string, error) {
	in.Body = bytes.NewReader(body)
	in.ContentLength = aws.Int64(int64(len(body)))
	out, err := c.api.PutObject(ctx, in)
	if err != nil {
		return "", c.check("put", "object", "s3://"+aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key), err)
	}
	return aws.ToString(out.ETag), nil
}

// Get reads an object and returns its content and ETag. It returns an
// ENOTFOUND error wrapping ErrNotFound when the object (or bucket) does
// not exist, and EAWS for other failures.
func (c *Client) Get(ctx context.Context, bucket, key string) ([]byte, string, error) {
	out, err := c.api.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, "", c.check("get", "object", "s3://"+bucket+"/"+key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", c.check("read", "object", "s3://"+bucket+"/"+key, err)
	}
	return body, aws.ToString(out.ETag), nil
}

// PutWithMetadata is Put with user metadata (sent as x-amz-meta-<name>
// headers; names are lower case). It returns what Put returns.
func (c *Client) PutWithMetadata(ctx context.Context, bucket, key, contentType string, body []byte, meta map[string]string) (string, error) {
	return c.put(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentType: optional(contentType), Metadata: meta}, body)
}

// GetWithMetadata is Get, returning the object's user metadata (names in
// lower case) instead of its ETag. It returns what Get returns.
func (c *Client) GetWithMetadata(ctx context.Context, bucket, key string) ([]byte, map[string]string, error) {
	out, err := c.api.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, nil, c.check("get", "object", "s3://"+bucket+"/"+key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, nil, c.check("read", "object", "s3://"+bucket+"/"+key, err)
	}
	meta := make(map[string]string, len(out.Metadata))
	for k, v := range out.Metadata {
		meta[strings.ToLower(k)] = v
	}
	return body, meta, nil
}

// Exists reports whether an object is there, reading only its metadata:
// false, with a nil error, for a missing object or bucket (a HEAD request's
// answer has no body to tell them apart; a Put then says which). It
// returns EAWS for other failures.
func (c *Client) Exists(ctx context.Context, bucket, key string) (bool, error) {
	_, err := c.api.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	if err = c.check("head", "object", "s3://"+bucket+"/"+key, err); errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, err
}

// Object describes one stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
	ETag     string
}

// List returns the objects whose keys start with prefix, in key order,
// reading every page. It returns an ENOTFOUND error wrapping ErrNotFound
// when the bucket does not exist, and EAWS for other failures.
func (c *Client) List(ctx context.Context, bucket, prefix string) ([]Object, error) {
	var objects []Object
	p := s3sdk.NewListObjectsV2Paginator(c.api, &s3sdk.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: c.maxKeys()})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, c.check("list", "bucket", "s3://"+bucket+"/"+prefix, err)
		}
		for _, o := range out.Contents {
			objects = append(objects, Object{
				Key:      aws.ToString(o.Key),
				Size:     aws.ToInt64(o.Size),
				Modified: aws.ToTime(o.LastModified),
				ETag:     aws.ToString(o.ETag),
			})
		}
	}
	return objects, nil
}

func (c *Client) maxKeys() *int32 {
	if c.pageSize == 0 {
		return nil
	}
	return aws.Int32(c.pageSize)
}

// Delete deletes an object. Deleting one that does not exist succeeds (S3
// answers so). It returns an ENOTFOUND error wrapping ErrNotFound when the
// bucket does not exist, and EAWS for other failures.
func (c *Client) Delete(ctx context.Context, bucket, key string) error {
	_, err := c.api.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return c.check("delete", "object", "s3://"+bucket+"/"+key, err)
	}
	return nil
}

// deleteBatch is how many keys DeleteObjects takes in one call.
const deleteBatch = 1000

// DeletePrefix deletes every version and delete marker of every object
// whose key starts with prefix, so nothing under it remains even in a
// versioned bucket, and returns how many it deleted. A bucket that does not
// exist holds nothing: 0, nil. Other failures are EAWS errors.
func (c *Client) DeletePrefix(ctx context.Context, bucket, prefix string) (int, error) {
	var ids []s3types.ObjectIdentifier
	p := s3sdk.NewListObjectVersionsPaginator(c.api, &s3sdk.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			err = c.check("list versions in", "bucket", "s3://"+bucket+"/"+prefix, err)
			if errors.Is(err, ErrNotFound) {
				return 0, nil
			}
			return 0, err
		}
		for _, v := range out.Versions {
			ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range out.DeleteMarkers {
			ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
	}
	deleted := 0
	for start := 0; start < len(ids); start += deleteBatch {
		batch := ids[start:min(start+deleteBatch, len(ids))]
		out, err := c.api.DeleteObjects(ctx, &s3sdk.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &s3types.Delete{Objects: batch, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return deleted, c.check("delete versions in", "bucket", "s3://"+bucket+"/"+prefix, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return deleted + len(batch) - len(out.Errors), elevator.Errorf(elevator.EAWS, "delete versions in s3://%s/%s in %s: %d not deleted, first %s: %s %s",
				bucket, prefix, c.region, len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		deleted += len(batch)
	}
	return deleted, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// check translates the error of a call (doing) about url, an object or a
// bucket (kind).
func (c *Client) check(doing, kind, url string, err error) error {
	return codes.Translate(awserr.Op{Doing: doing + " " + url, Region: c.region, Kind: kind, Name: url}, err)
}
