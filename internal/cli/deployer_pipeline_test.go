package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
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
	if meta == nil {
		return nil, nil, fmt.Errorf("get %s: %w", key, awserr.ErrAccessDenied) // the orbit lets the driver read no rejected/
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

	// A driver that may not read rejected/ learns it from the deadline.
	denied := rejectedObjects{elevator.RejectedKey(id): nil}
	if st, err := untaken(ctx, denied, "state", "prod", id, at.Add(time.Minute)); err != nil || st.Done {
		t.Fatalf("rejected/ unreadable, a minute after = %+v, %v; want not ended", st, err)
	}
	if _, err = untaken(ctx, denied, "state", "prod", id, at.Add(deployer.SubmissionTakeDeadline+time.Second)); !errors.As(err, &blocked) || !strings.Contains(blocked.Reason, "could not be read") {
		t.Fatalf("rejected/ unreadable, past the deadline = %v; want a BlockedError saying so", err)
	}

	bucket[elevator.RejectedKey(id)] = map[string]string{elevator.RejectedReasonMeta: elevator.RejectedReason("release of orbit test submitted to orbit prod\nmore")}
	st, err = untaken(ctx, bucket, "state", "prod", id, at.Add(time.Minute))
	if err != nil || !st.Done || st.Succeeded || !strings.HasSuffix(st.Message, "rejected the submission: release of orbit test submitted to orbit prod") {
		t.Fatalf("a rejected submission = %+v, %v; want failed with the deployer's reason", st, err)
	}
}

// settingsOf is a pipeline.DeployedOrbits on orbits given by the test, in
// place of the settings `orbit up` stores in each orbit's state bucket.
type settingsOf map[string]*elevator.Orbit

func (s settingsOf) Deployed(_ context.Context, name string) (*elevator.Orbit, error) {
	if o, ok := s[name]; ok {
		return o, nil
	}
	return nil, fmt.Errorf("orbit %s: no settings: %w", name, pipeline.ErrNotDeployed)
}

// TestTheDeployerReleasesIntoAnotherOrbitOnlyForAStarterWhoMayDeployThere:
// the deployer of the first orbit acts in other orbits with its own
// credentials, so it checks that the execution's starter holds the
// deployer role for the app in the stage's orbit, as orbit up applied
// its access rules, before it releases there or reviews or executes its
// change sets; a starter without it (or an orbit whose settings are not
// recorded) leaves the stage waiting, naming the role. A fake settings
// reader stands for the orbits' state buckets.
func TestTheDeployerReleasesIntoAnotherOrbitOnlyForAStarterWhoMayDeployThere(t *testing.T) {
	ctx := context.Background()
	const (
		dev     = "arn:aws:sts::123456789012:assumed-role/dev/alice"
		release = "arn:aws:sts::123456789012:assumed-role/release/rita"
	)
	orbits := settingsOf{
		"prod": {Name: "prod", Access: []elevator.AccessRule{
			{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::123456789012:role/release"}},
			{Role: elevator.RoleAdmin, Principals: []string{"arn:aws:iam::123456789012:role/dev"}, Apps: []string{"blog"}},
		}},
	}
	releaser := func(by string) *stageReleaser {
		return &stageReleaser{dp: &deployerPipelines{env: &releaseEnv{orbit: &elevator.Orbit{Name: "test"}}}, startedBy: by, app: "shop", settings: orbits}
	}
	blockedFor := func(err error, role string) bool {
		var b *pipeline.BlockedError
		return errors.As(err, &b) && b.Orbit == "prod" && strings.Contains(b.Reason, role)
	}

	a := releaser(dev) // an admin of prod for another app only
	if _, err := a.Start(ctx, "prod", "1.4.2", "p1-prod-prod"); !blockedFor(err, "does not hold the deployer role for app shop in orbit prod") {
		t.Errorf("Start for a starter without the role in prod = %v; want a BlockedError naming the role", err)
	}
	if _, err := a.Review(ctx, "prod", "owner", nil); !blockedFor(err, "does not hold the deployer role") {
		t.Errorf("Review = %v; want a BlockedError", err)
	}
	if err := a.Apply(ctx, elevator.ChangeSetRef{Orbit: "prod"}); !blockedFor(err, "does not hold the deployer role") {
		t.Errorf("Apply = %v; want a BlockedError", err)
	}
	var b *pipeline.BlockedError
	if err := a.starterMay(ctx, "staging"); !errors.As(err, &b) || b.Orbit != "staging" || !strings.Contains(b.Reason, "cannot tell") {
		t.Errorf("an orbit whose settings orbit up did not record = %v; want a BlockedError", err)
	}
	if err := a.starterMay(ctx, "test"); err != nil {
		t.Errorf("the deployer's own orbit = %v; want no check (the starter wrote there)", err)
	}
	if err := releaser(release).starterMay(ctx, "prod"); err != nil {
		t.Errorf("a starter with the deployer role in prod = %v; want allowed", err)
	}
}
