package cli

import (
	"context"
	"errors"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

// TestADeployerConnectsToAnotherOrbitOncePerAccountSection: the releasers
// of two executions (or of one execution at two ticks) reach orbit prod,
// in another account through its role, with one connection (one
// AssumeRole and account check), and a pinned manifest that names another
// role connects anew. The connection itself is a fake that counts (the
// emulator tests show it connects for real).
func TestADeployerConnectsToAnotherOrbitOncePerAccountSection(t *testing.T) {
	connects := 0
	dp := &deployerPipelines{
		env: &releaseEnv{orbit: &elevator.Orbit{Name: "staging"}, configs: &awsConfigs{}, caller: "arn:aws:iam::111111111111:user/deployer"},
		connect: func(ctx context.Context, e *releaseEnv) error {
			connects++
			if e.asDeployer {
				t.Errorf("orbit %s of another account connected as the deployer's own", e.orbitName)
			}
			return nil
		},
	}
	pinned := func(role, deployer string) *elevator.PipelineSources {
		return &elevator.PipelineSources{Orbits: []elevator.ManifestSource{{File: "prod.yml", Text: "name: prod\nregions:\n  us-east-1: {}\ndeployer: " + deployer + "\naccount:\n  role: " + role + "\n"}}}
	}
	ctx := context.Background()
	a, b := "arn:aws:iam::222222222222:role/elevator-accounts/a", "arn:aws:iam::222222222222:role/elevator-accounts/b"
	for i, tick := range []struct{ role, deployer string }{
		{a, "http://10.0.0.1:8080"}, {a, "http://10.0.0.1:8080"}, {b, "http://10.0.0.1:8080"},
		{b, "http://10.0.0.2:8080"}, // the same account section, another manifest
	} {
		r := &stageReleaser{dp: dp, src: pinned(tick.role, tick.deployer)}
		e, own, err := r.target(ctx, "prod")
		if err != nil || own || e.orbit.Account.Role != tick.role || e.orbit.Deployer != tick.deployer {
			t.Fatalf("tick %d: %v, own %v, err %v", i, e, own, err)
		}
	}
	if connects != 3 {
		t.Errorf("%d connections; want 3 (role a once for both ticks, then role b, then role b with a changed manifest)", connects)
	}
}

// An orbit of another account that names no role cannot be reached by
// the deployer: the stage waits, asking for a role in its account
// section, and nothing is connected.
func TestADeployerCannotReachAnIDOnlyOrbitOfAnotherAccount(t *testing.T) {
	connects := 0
	dp := &deployerPipelines{
		env:     &releaseEnv{orbit: &elevator.Orbit{Name: "staging"}, configs: &awsConfigs{}, caller: "arn:aws:iam::111111111111:user/deployer"},
		connect: func(context.Context, *releaseEnv) error { connects++; return nil },
	}
	src := &elevator.PipelineSources{Orbits: []elevator.ManifestSource{{File: "prod.yml", Text: "name: prod\nregions:\n  us-east-1: {}\ndeployer: http://10.0.0.1:8080\naccount: {id: \"222222222222\"}\n"}}}
	_, _, err := (&stageReleaser{dp: dp, src: src}).target(context.Background(), "prod")
	var b *pipeline.BlockedError
	if !errors.As(err, &b) || b.Orbit != "prod" || !strings.Contains(b.Reason, "name a role in orbit prod's account section") || connects != 0 {
		t.Errorf("error %v, %d connections; want the stage blocked asking for a role, nothing connected", err, connects)
	}
}
