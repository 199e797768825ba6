package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

// TestARefusedCallWaitsForTheGrantThatHelps checks the wait a stage gets
// when an orbit refuses the deployer a call (AccessDenied, as the AWS
// adapters translate it; moto does not enforce IAM, so the error is made
// here): it names the policy that grants the call — the orbit's
// submitter policy for compiling, submitting and reviewing (change sets
// are made with it), its deployer policy and the rights to make the app's
// resources for executing a reviewed change set, with who goes on — and
// any other error stays an error.
func TestARefusedCallWaitsForTheGrantThatHelps(t *testing.T) {
	r := &stageReleaser{dp: &deployerPipelines{env: &releaseEnv{orbit: &elevator.Orbit{Name: "staging"}}}}
	refused := func(action string) error {
		return fmt.Errorf("%s: %w: User: arn:aws:sts::123456789012:assumed-role/deployer/i-0abc is not authorized to perform: %s", action, awserr.ErrAccessDenied, action)
	}
	submitter := elevator.OrbitPolicyName("production", elevator.OrbitPolicySubmitter)
	deployer := elevator.OrbitPolicyName("production", elevator.OrbitPolicyDeployer)
	tests := []struct {
		name        string
		doing       string
		err         error
		want, never []string
	}{
		{"a refused review names the submitter policy, which makes change sets", "make the change sets of the app's stacks", refused("cloudformation:CreateChangeSet"),
			[]string{"may not make the change sets of the app's stacks in orbit production", "cloudformation:CreateChangeSet", "orbit production's submitter policy (" + submitter + ")", "`elevator pipeline resume`"},
			[]string{deployer}},
		{"a refused update names the deployer policy and the app's resources, and who goes on", executeChangeSets, refused("cloudformation:ExecuteChangeSet"),
			[]string{"may not execute the app's change sets in orbit production", "cloudformation:ExecuteChangeSet", "orbit production's deployer policy (" + deployer + ")",
				"the rights to create and change them", "no Elevator policy grants", "`elevator pipeline resume`", "`elevator app up --change-set ID`",
				"by someone who may change the app's infrastructure in orbit production goes on"},
			[]string{submitter}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.denied("production", tc.doing, tc.err)
			var blocked *pipeline.BlockedError
			if !errors.As(err, &blocked) {
				t.Fatalf("got %v (%T), want a *pipeline.BlockedError", err, err)
			}
			if blocked.Orbit != "production" {
				t.Errorf("blocked in orbit %q, want production", blocked.Orbit)
			}
			for _, w := range tc.want {
				if !strings.Contains(blocked.Reason, w) {
					t.Errorf("reason %q\nwants %q", blocked.Reason, w)
				}
			}
			for _, n := range tc.never {
				if strings.Contains(blocked.Reason, n) {
					t.Errorf("reason %q\nnames %q, which would not help", blocked.Reason, n)
				}
			}
		})
	}
	t.Run("any other error stays an error", func(t *testing.T) {
		other := elevator.Errorf(elevator.EAWS, "stack elevator-app-production-shop in us-east-1 ended UPDATE_ROLLBACK_COMPLETE: %w", elevator.ErrChangeSetFailed)
		if err := r.denied("production", executeChangeSets, other); err != other {
			t.Errorf("got %v, want the error itself", err)
		}
	})
}
