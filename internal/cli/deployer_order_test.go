package cli_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// TestReleasesOfAnAppWaitingInOneDeployerRunInTheOrderTheyWereMade holds
// an app's lock (as a release of another engine would), submits five
// releases of the app to one deployer in a shuffled order, and lets the
// lock go once the deployer has taken them all: they take the lock one
// after the other, earliest made first, and all end Success.
func TestReleasesOfAnAppWaitingInOneDeployerRunInTheOrderTheyWereMade(t *testing.T) {
	in := newIntake(t, 1)
	ctx := context.Background()
	b, err := awsrelease.New(awsrelease.Config{Orbit: in.orbit, AWS: []aws.Config{in.acct.Config("us-east-1")}, Bucket: in.bucket})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	holder, err := domain.NewReleaseID(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	lock := release.Lock{App: "app00", Orbit: in.orbit, ReleaseID: holder, Owner: "order-test", Holder: "order-test", Since: now, Expires: now.Add(2 * time.Minute)}
	if _, err := b.Locker.Acquire(ctx, lock, now); err != nil {
		t.Fatal(err)
	}

	// Made a millisecond apart: their ids order them, whatever their
	// random parts and the order they are submitted in.
	var rels []*domain.Release
	for i := range 5 {
		made := now.Add(time.Duration(i-10) * time.Millisecond)
		rel := in.release(t, "app00", fmt.Sprintf("1.0.%d", i))
		if rel.ID, err = domain.ReleaseIDAt(made, nil); err != nil {
			t.Fatal(err)
		}
		rel.CreatedAt = made.Truncate(time.Second)
		rels = append(rels, rel)
	}
	r := in.start(t, emulatortest.Endpoint())
	shuffled := append([]*domain.Release(nil), rels...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var ids []string
	for _, rel := range shuffled {
		in.submit(t, rel)
		ids = append(ids, rel.ID)
	}
	t.Logf("submitted in the order %v", ids)
	// The deployer writes each release's record as it takes it.
	if err := pollUntil(time.Minute, func() error {
		for _, rel := range rels {
			if _, err := in.store.Record(ctx, rel.ID); err != nil {
				return fmt.Errorf("release %s not taken yet: %w", rel.ID, err)
			}
		}
		return nil
	}); err != nil {
		r.alive(t)
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // each has found the lock held
	if err := b.Locker.Release(ctx, lock); err != nil {
		t.Fatal(err)
	}

	recs := in.waitEnded(t, ids, 3*time.Minute, r)
	var last time.Time
	for i, rel := range rels {
		rec := recs[rel.ID]
		if rec.State != domain.StateSuccess {
			t.Errorf("release %d (%s) ended %s: %s", i, rel.ID, rec.State, rec.Error)
		}
		t.Logf("release %d (%s) took the lock at %s", i, rel.ID, rec.LockedAt.Format(time.RFC3339Nano))
		if i > 0 && !rec.LockedAt.After(last) {
			t.Errorf("release %d (%s) took the lock at %s, before release %d made before it (at %s)", i, rel.ID, rec.LockedAt.Format(time.RFC3339Nano), i-1, last.Format(time.RFC3339Nano))
		}
		last = rec.LockedAt
	}
}
