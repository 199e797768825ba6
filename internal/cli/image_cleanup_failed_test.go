package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/elevatorhq/elevator/internal/image"
	"github.com/elevatorhq/elevator/schemas"
)

// TestImageCleanupSaysWhatARetryCanFix: a copy not deregistered is found
// again by the next cleanup; a snapshot of a deregistered copy is not
// (its image is gone), so the message names it rather than promising a
// retry.
func TestImageCleanupSaysWhatARetryCanFix(t *testing.T) {
	rs := []image.Removal{
		{Region: "us-east-1", ImageID: "ami-1", Deregistered: true, Snapshots: []string{"snap-1"}},
		{Region: "us-east-1", ImageID: "ami-2", Error: "throttled"},
		{Region: "eu-west-1", ImageID: "ami-3", Deregistered: true, SnapshotErrors: map[string]string{"snap-3": "InvalidSnapshot.InUse"}},
	}
	msg := failedRemovals(rs)
	for _, want := range []string{"1 image copies were not deregistered; run cleanup again to retry them",
		"1 snapshots of deregistered images were not deleted (eu-west-1/snap-3)", "cleanup will not find them again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if got := failedRemovals(rs[2:]); strings.Contains(got, "run cleanup again") {
		t.Errorf("only a snapshot failed, yet the message promises a retry: %q", got)
	}
	if got := failedRemovals(rs[:1]); got != "" {
		t.Errorf("nothing failed: %q", got)
	}
}

// TestImageLinePatternIsTheSchemas: --image accepts exactly the image
// lines image.yml may name.
func TestImageLinePatternIsTheSchemas(t *testing.T) {
	var schema struct {
		Properties struct {
			Name struct {
				Pattern string `json:"pattern"`
			} `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schemas.Image, &schema); err != nil {
		t.Fatal(err)
	}
	if got, want := imageLinePattern.String(), schema.Properties.Name.Pattern; got != want || want == "" {
		t.Errorf("--image pattern %q, image.schema.json's name %q", got, want)
	}
	for line, ok := range map[string]bool{"base": true, "shop-web": true, "a" + strings.Repeat("b", 39): true,
		"a" + strings.Repeat("b", 40): false, "web.v2": false, "web_v2": false, "9base": false} {
		if imageLinePattern.MatchString(line) != ok {
			t.Errorf("--image %q: accepted %v, want %v", line, !ok, ok)
		}
	}
}
