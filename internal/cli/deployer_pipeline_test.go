package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

// rejectedObjects is an in-memory state bucket: metadata by key.
type rejectedObjects map[string]map[string]string

func (o rejectedObjects) GetWithMetadata(_ context.Context, _, key string) ([]byte, map[string]string, error) {
	meta, ok := o[key]
	if !ok {
		return nil, nil, s3.ErrNotFound
	}
	return []byte("{}"), meta, nil
}

// TestASubmissionAnotherOrbitNeverTakesEndsTheStagesPolling: a stage's
// release submitted to another orbit with no record there yet has not
// ended while that orbit's deployer may still take it; it fails with the
// deployer's reason once the submission was rejected, and the stage
// waits, saying why, once SubmissionTakeDeadline passed with no record.
// An in-memory bucket stands for the other orbit's state bucket: moto
// runs no deployer to reject or ignore a submission.
func TestASubmissionAnotherOrbitNeverTakesEndsTheStagesPolling(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	id, err := elevator.ReleaseIDAt(at, nil)
	if err != nil {
		t.Fatal(err)
	}
	bucket := rejectedObjects{}

	st, err := untaken(ctx, bucket, "state", "prod", id, at.Add(time.Minute))
	if err != nil || st.Done {
		t.Fatalf("a minute after the submission = %+v, %v; want not ended", st, err)
	}

	_, err = untaken(ctx, bucket, "state", "prod", id, at.Add(deployer.SubmissionTakeDeadline+time.Second))
	var blocked *pipeline.BlockedError
	if !errors.As(err, &blocked) || blocked.Orbit != "prod" || !strings.Contains(blocked.Reason, "has not taken release "+id) {
		t.Fatalf("past SubmissionTakeDeadline = %v; want a BlockedError saying prod's deployer has not taken %s", err, id)
	}

	bucket[elevator.RejectedKey(id)] = map[string]string{elevator.RejectedReasonMeta: elevator.RejectedReason("release of orbit test submitted to orbit prod\nmore")}
	st, err = untaken(ctx, bucket, "state", "prod", id, at.Add(time.Minute))
	if err != nil || !st.Done || st.Succeeded || !strings.HasSuffix(st.Message, "rejected the submission: release of orbit test submitted to orbit prod") {
		t.Fatalf("a rejected submission = %+v, %v; want failed with the deployer's reason", st, err)
	}
}
