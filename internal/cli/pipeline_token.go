package cli

import (
	"context"
	"errors"
	"fmt"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// releaseStarts is what startOnce needs of the release store of the orbit
// a stage releases into (awsrelease.Store).
type releaseStarts interface {
	// ClaimToken binds token to id unless it is bound, and returns the
	// id it is bound to.
	ClaimToken(ctx context.Context, token, id string) (string, error)
	Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error)
	Release(ctx context.Context, id string) ([]byte, string, error)
}

// startOnce submits the release that token stands for at most once, and
// returns its id. The pipeline executor gives a stage's release in an
// orbit the same token at every try, and records the id Start returns; a
// process that dies after submitting and before that record is written
// leaves a submitted release the next try must drive, not a second one.
// So the token is bound to a release id (fresh, when it is bound to none)
// in the orbit's state bucket before anything is submitted, and a try
// that finds it bound:
//   - finds the release recorded: it was submitted, and Status drives it;
//   - finds its document but no record (the try before died inside
//     Submit): submits that document again, which Submit takes;
//   - finds nothing (it died between the claim and Submit): builds the
//     release under the bound id and submits it.
func startOnce(ctx context.Context, store releaseStarts, token, fresh string,
	build func(id string) (*elevator.Release, error), submit func(*elevator.Release) error) (string, error) {
	id, err := store.ClaimToken(ctx, token, fresh)
	if err != nil {
		return "", fmt.Errorf("bind release token %s: %w", token, err)
	}
	if id != fresh {
		_, err := store.Record(ctx, id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, release.ErrNotFound) {
			return "", fmt.Errorf("read release %s of token %s: %w", id, token, err)
		}
		doc, _, err := store.Release(ctx, id)
		switch {
		case err == nil:
			rel, err := elevator.ParseRelease(doc)
			if err != nil {
				return "", fmt.Errorf("read the document of release %s: %w", id, err)
			}
			return id, submit(rel)
		case !errors.Is(err, release.ErrNotFound):
			return "", fmt.Errorf("read the document of release %s: %w", id, err)
		}
	}
	rel, err := build(id)
	if err != nil {
		return "", err
	}
	return id, submit(rel)
}

// tokenClaims binds release tokens (awsrelease.Store).
type tokenClaims interface {
	ClaimToken(ctx context.Context, token, id string) (string, error)
}

// releaseReads reads a release's record and document (awsrelease.Store).
type releaseReads interface {
	Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error)
	Release(ctx context.Context, id string) ([]byte, string, error)
}

// splitTokenStore keeps the token's binding in one orbit's store (claims) and
// reads the release in another's (releases). Every driver of an execution
// (the deployer, `pipeline start --in-process`, `pipeline resume`) binds
// the tokens of its stages' releases in the execution's home, the first
// stage's orbit, whose table keeps the execution and whose state bucket
// every driver may write: so a token one driver bound is the one the
// next driver finds, whichever orbit the release goes to, and a stage
// gets one release. It reads each release where it went.
type splitTokenStore struct {
	claims   tokenClaims
	releases releaseReads
}

func (t splitTokenStore) ClaimToken(ctx context.Context, token, id string) (string, error) {
	return t.claims.ClaimToken(ctx, token, id)
}

func (t splitTokenStore) Record(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	return t.releases.Record(ctx, id)
}

func (t splitTokenStore) Release(ctx context.Context, id string) ([]byte, string, error) {
	return t.releases.Release(ctx, id)
}
