// Package ecrtest puts images into ECR repositories for tests, without a
// registry: moto (the emulator) keeps the manifest PutImage is given, and
// a tag exists as soon as it is put, which is all a release checks.
package ecrtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
)

// Push puts an image tagged tag into repository, as `docker push` would
// leave it: a Docker image manifest (schema 2) whose config and layer
// digests are derived from repository and tag, so that each push is a
// different image (tags are immutable). It fails the test on error.
func Push(t testing.TB, cfg aws.Config, repository, tag string) {
	t.Helper()
	digest := func(what string) string {
		sum := sha256.Sum256([]byte(repository + ":" + tag + ":" + what))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":7023,"digest":%q},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":32654,"digest":%q}]}`,
		digest("config"), digest("layer"))
	_, err := ecrsdk.NewFromConfig(cfg).PutImage(context.Background(), &ecrsdk.PutImageInput{
		RepositoryName: aws.String(repository),
		ImageManifest:  aws.String(manifest),
		ImageTag:       aws.String(tag),
	})
	if err != nil {
		t.Fatalf("push %s:%s: %v", repository, tag, err)
	}
}
