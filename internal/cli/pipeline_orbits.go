package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/pipeline"
)

// deployedOrbits reads the pipeline's orbits as `orbit up` last applied
// them (pipeline.DeployedOrbits): the settings it stored in the state
// bucket of each orbit's home region (elevator.OrbitSettingsKey). The
// caller's orbit manifest only says where to look: the account (each
// orbit is read through its own configs), the home region, and through it
// the orbit stack's state bucket, which must be the one Elevator names for
// that account, that region and that orbit.
type deployedOrbits struct {
	p *pipelineEnv
	orbitCache
}

func (d *deployedOrbits) Deployed(ctx context.Context, name string) (*elevator.Orbit, error) {
	return d.get(name, func() (*elevator.Orbit, error) { return d.read(ctx, name) })
}

func (d *deployedOrbits) read(ctx context.Context, name string) (*elevator.Orbit, error) {
	manifest := d.p.orbits[name]
	if manifest == nil || len(manifest.Regions) == 0 {
		return nil, fmt.Errorf("orbit %s: no manifest says where it is: %w", name, pipeline.ErrNotDeployed)
	}
	region := manifest.Regions[0].Name
	configs := orbitConfigs(d.p.globals, manifest)
	cfg, err := configs.For(ctx, region)
	if err != nil {
		return nil, err
	}
	account := configs.accountID() // the orbit's, checked
	if account == "" {
		// The zero Account: the caller's credentials as they are, asked
		// with this orbit's config (never another orbit's caller, who
		// may be a role's session in another account).
		id, err := sts.New(cfg).CallerIdentity(ctx)
		if err != nil {
			return nil, err
		}
		account = id.Account
	}
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfg)}).OrbitOutputs(ctx, manifest)
	if elevator.ErrorCode(err) == elevator.ENOTFOUND {
		return nil, fmt.Errorf("orbit %s is not up in %s: %w", name, region, pipeline.ErrNotDeployed)
	}
	if err != nil {
		return nil, err
	}
	bucket := outputs[compile.StateBucketOutput]
	if want := elevator.StateBucketName(account, region, name); bucket != want {
		return nil, fmt.Errorf("orbit %s: the orbit stack in %s names state bucket %q, not %s: %w", name, region, bucket, want, pipeline.ErrNotDeployed)
	}
	return orbitSettingsIn(ctx, s3.New(cfg), bucket, name)
}

// orbitSettingsIn reads orbit name's settings as `orbit up` applied them
// from its state bucket: a missing object is pipeline.ErrNotDeployed.
func orbitSettingsIn(ctx context.Context, objects *s3.Client, bucket, name string) (*elevator.Orbit, error) {
	body, _, err := objects.Get(ctx, bucket, elevator.OrbitSettingsKey)
	if errors.Is(err, s3.ErrNotFound) {
		return nil, fmt.Errorf("orbit %s: no s3://%s/%s: %w", name, bucket, elevator.OrbitSettingsKey, pipeline.ErrNotDeployed)
	}
	if err != nil {
		return nil, err
	}
	settings, err := elevator.ParseOrbitSettings(name, body)
	if err != nil {
		return nil, err
	}
	return settings.Deployed(), nil
}

// orbitCache keeps the orbits read once, by name.
type orbitCache struct {
	mu    sync.Mutex
	known map[string]*elevator.Orbit
}

// get returns the orbit called name, read by load the first time.
func (c *orbitCache) get(name string, load func() (*elevator.Orbit, error)) (*elevator.Orbit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o, ok := c.known[name]; ok {
		return o, nil
	}
	o, err := load()
	if err != nil {
		return nil, err
	}
	if c.known == nil {
		c.known = map[string]*elevator.Orbit{}
	}
	c.known[name] = o
	return o, nil
}

// accountOf returns the account of an IAM or STS ARN, or "".
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}
