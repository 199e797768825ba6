package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

// TestTheDeployerSaysWhatItMayNotDoInAnotherOrbit: a call another orbit
// refuses, or an orbit with no deployer to take the release, or none
// pinned, becomes a wait for access that names the orbit, what is
// missing and who can go on; any other error stays an error. (Refusals
// are made here: moto's IAM checks are server-wide and do not evaluate
// the conditions the orbit policies use.)
func TestTheDeployerSaysWhatItMayNotDoInAnotherOrbit(t *testing.T) {
	r := &stageReleaser{dp: &deployerPipelines{env: &releaseEnv{orbit: &elevator.Orbit{Name: "test"}}},
		src: &elevator.PipelineSources{Orbits: []elevator.ManifestSource{
			{File: "orbits/staging.yml", Text: "name: staging\nregions:\n  us-east-1: {}\n"},
		}}}
	refused := fmt.Errorf("put object: %w", awserr.ErrAccessDenied)
	var blocked *pipeline.BlockedError
	if err := r.denied("prod", "submit a release", refused); !errors.As(err, &blocked) || blocked.Orbit != "prod" ||
		!strings.Contains(blocked.Reason, "may not submit a release in orbit prod") || !strings.Contains(blocked.Reason, "elevator-prod-submitter") ||
		!strings.Contains(blocked.Reason, "pipeline resume") {
		t.Errorf("a refused call: %v", err)
	}
	if err := r.denied("prod", "submit a release", errors.New("throttled")); errors.As(err, &blocked) {
		t.Errorf("a throttled call became a wait for access: %v", err)
	}
	ctx := context.Background()
	if _, _, err := r.target(ctx, "staging"); !errors.As(err, &blocked) || !strings.Contains(blocked.Reason, "orbit staging has no deployer") {
		t.Errorf("an orbit without a deployer: %v", err)
	}
	if _, _, err := r.target(ctx, "prod"); !errors.As(err, &blocked) || !strings.Contains(blocked.Reason, "pinned no manifest of orbit prod") {
		t.Errorf("an orbit not pinned: %v", err)
	}
}
