package cli

import (
	"context"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// tokenStore is an in-memory releaseStarts: tokens, and the records of
// the releases submitted.
type tokenStore struct {
	tokens  map[string]string
	records map[string]bool
}

func (s *tokenStore) ClaimToken(_ context.Context, token, id string) (string, error) {
	if have, ok := s.tokens[token]; ok {
		return have, nil
	}
	s.tokens[token] = id
	return id, nil
}

func (s *tokenStore) Record(_ context.Context, id string) (*elevator.ReleaseRecord, error) {
	if !s.records[id] {
		return nil, release.ErrNotFound
	}
	return &elevator.ReleaseRecord{ID: id}, nil
}

func (s *tokenStore) Release(context.Context, string) ([]byte, string, error) {
	return nil, "", release.ErrNotFound
}

// TestStartOnceSubmitsOneReleaseATokenWhereverTheTryBeforeDied covers
// the crash points the store alone can show: after submitting, and
// between binding the token and submitting.
func TestStartOnceSubmitsOneReleaseATokenWhereverTheTryBeforeDied(t *testing.T) {
	s := &tokenStore{tokens: map[string]string{}, records: map[string]bool{}}
	var built, submitted []string
	build := func(id string) (*elevator.Release, error) {
		built = append(built, id)
		return &elevator.Release{ID: id}, nil
	}
	submit := func(rel *elevator.Release) error {
		submitted = append(submitted, rel.ID)
		s.records[rel.ID] = true
		return nil
	}
	ctx := context.Background()

	first, err := startOnce(ctx, s, "p1-prod-prod", "20261129-120000-00000001", build, submit)
	if err != nil || first != "20261129-120000-00000001" {
		t.Fatalf("first start = %q, %v", first, err)
	}
	// The process died before recording the id: the next try drives the
	// same release.
	again, err := startOnce(ctx, s, "p1-prod-prod", "20261129-120500-00000002", build, submit)
	if err != nil || again != first || len(submitted) != 1 {
		t.Errorf("a second try = %q, %v; submitted %v, want %s submitted once", again, err, submitted, first)
	}

	// The token bound, nothing submitted: the next try submits under the
	// bound id.
	s.tokens["p1-test-test"] = "20261129-121000-00000003"
	got, err := startOnce(ctx, s, "p1-test-test", "20261129-121500-00000004", build, submit)
	if err != nil || got != "20261129-121000-00000003" || built[len(built)-1] != got || !s.records[got] {
		t.Errorf("a try after a claim without a release = %q, %v; built %v", got, err, built)
	}
}

// TestAStageTokenOneDriverBoundIsFoundByTheOther: the deployer and the
// CLI (`pipeline resume`) both bind a stage's release token in the
// execution's home, the first stage's orbit, and read the release where
// it went; so when one driver died after submitting the stage's release
// into another orbit, the other finds the release and submits none.
// In-memory stores stand for the two orbits' state buckets.
func TestAStageTokenOneDriverBoundIsFoundByTheOther(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ name, first string }{{"the deployer first, then the CLI", "deployer"}, {"the CLI first, then the deployer", "cli"}} {
		t.Run(c.name, func(t *testing.T) {
			home := &tokenStore{tokens: map[string]string{}, records: map[string]bool{}}   // orbit test: the execution's
			target := &tokenStore{tokens: map[string]string{}, records: map[string]bool{}} // orbit prod: the stage's
			cli := cliReleaser{p: &pipelineEnv{claims: home}}
			dep := &stageReleaser{dp: &deployerPipelines{claims: home}}
			drivers := map[string]func() splitTokenStore{
				"cli":      func() splitTokenStore { return cli.tokens(target) },
				"deployer": func() splitTokenStore { return dep.tokens(target) },
			}
			second := "cli"
			if c.first == "cli" {
				second = "deployer"
			}
			var submitted []string
			build := func(id string) (*elevator.Release, error) { return &elevator.Release{ID: id}, nil }
			submit := func(rel *elevator.Release) error {
				submitted = append(submitted, rel.ID)
				target.records[rel.ID] = true
				return nil
			}
			one, err := startOnce(ctx, drivers[c.first](), "p1-prod-prod", "20261129-120000-00000001", build, submit)
			if err != nil {
				t.Fatal(err)
			}
			two, err := startOnce(ctx, drivers[second](), "p1-prod-prod", "20261129-120500-00000002", build, submit)
			if err != nil || two != one || len(submitted) != 1 {
				t.Fatalf("the %s started %s, the %s then %q (%v); submitted %v, want one release", c.first, one, second, two, err, submitted)
			}
			if home.tokens["p1-prod-prod"] != one || len(target.tokens) != 0 {
				t.Errorf("tokens in the home orbit %v, in the target orbit %v; want the binding in the home orbit only", home.tokens, target.tokens)
			}
		})
	}
}
