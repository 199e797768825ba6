package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// buildsDir cross-compiles the agent for every architecture, as
// scripts/setup does, into a temporary directory.
func buildsDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, goarch := range []string{"amd64", "arm64"} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, BuildName(goarch)), "github.com/elevatorhq/elevator/cmd/elevator-agent")
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build the agent for %s: %v\n%s", goarch, err, out)
		}
	}
	return dir
}

// The S3 adapter is what orbit up and deploy pass to Publish.
var _ Objects = (*s3.Client)(nil)

// countingObjects counts the writes of an S3 client.
type countingObjects struct {
	*s3.Client
	puts []string
}

func (c *countingObjects) Put(ctx context.Context, bucket, key, contentType string, body []byte) (string, error) {
	c.puts = append(c.puts, key)
	return c.Client.Put(ctx, bucket, key, contentType, body)
}

func TestBuildsArePublishedOnceUnderTheirHashes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := buildsDir(t)
	builds, err := Builds(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(builds) != len(elevator.AgentArches) {
		t.Fatalf("builds %v, want one per architecture", builds)
	}
	for goarch, b := range builds {
		bin, _ := os.ReadFile(filepath.Join(dir, BuildName(goarch)))
		sum := sha256.Sum256(bin)
		if b.SHA256 != hex.EncodeToString(sum[:]) || b.Key != elevator.AgentObjectKey(b.SHA256, goarch) {
			t.Errorf("%s: %+v, want the file's SHA-256 and its key", goarch, b)
		}
	}

	awsCfg := emulatortest.Config(t, testRegion)
	const bucket = "elevator-state-test"
	api := s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) { o.UsePathStyle = true })
	if _, err := api.CreateBucket(ctx, &s3sdk.CreateBucketInput{Bucket: aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(testRegion)}}); err != nil {
		t.Fatal(err)
	}
	objects := &countingObjects{Client: s3.New(awsCfg)}
	if err := Publish(ctx, objects, bucket, dir); err != nil {
		t.Fatal(err)
	}
	if len(objects.puts) != 2 {
		t.Errorf("first publish wrote %q, want both builds", objects.puts)
	}
	for goarch, b := range builds {
		out, err := api.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(b.Key)})
		if err != nil {
			t.Fatalf("%s is not in the bucket: %v", b.Key, err)
		}
		if aws.ToInt64(out.ContentLength) == 0 {
			t.Errorf("%s: empty object for %s", b.Key, goarch)
		}
		out.Body.Close()
	}
	objects.puts = nil
	if err := Publish(ctx, objects, bucket, dir); err != nil {
		t.Fatal(err)
	}
	if len(objects.puts) != 0 {
		t.Errorf("second publish wrote %q, want nothing (the objects are there)", objects.puts)
	}
}

func TestBuildsSayToRunSetupWhenMissingOrWrong(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Builds(dir)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "scripts/setup") || !strings.Contains(err.Error(), BuildsDirEnv) {
		t.Errorf("no builds: %v; want ENOTFOUND saying to run scripts/setup", err)
	}
	for _, goarch := range []string{"amd64", "arm64"} {
		os.WriteFile(filepath.Join(dir, BuildName(goarch)), []byte("#!/bin/sh\n"), 0o755)
	}
	if _, err := Builds(dir); elevator.ErrorCode(err) != elevator.EINVALID {
		t.Errorf("a script instead of a build: %v; want EINVALID", err)
	}
}

func TestBuildsDirIsTheVariableElseBesideTheExecutable(t *testing.T) {
	t.Setenv(BuildsDirEnv, "/opt/elevator/agent")
	if dir, err := BuildsDir(); err != nil || dir != "/opt/elevator/agent" {
		t.Errorf("with %s set: %q, %v", BuildsDirEnv, dir, err)
	}
	t.Setenv(BuildsDirEnv, "")
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	if dir, err := BuildsDir(); err != nil || dir != filepath.Join(filepath.Dir(exe), "agent") {
		t.Errorf("without it: %q, %v; want agent/ beside %s", dir, err, exe)
	}
}
