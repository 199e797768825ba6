package cli

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/awscfg"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/sts"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/emulator"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// awsConfigs builds one aws.Config per region from the global flags, and
// remembers them for the life of the command.
type awsConfigs struct {
	g        *globals
	mu       sync.Mutex
	base     *awscfg.Options
	byRegion map[string]aws.Config
	// apiOptions are added to every config's middleware stacks.
	apiOptions []func(*middleware.Stack) error
	// account is where the configs act (see accountConfigs), and subject
	// names it in messages ("orbit production").
	account elevator.Account
	subject string
	// creds are the credentials every region's config signs with, found
	// (and the account checked) by the first For: one MFA code, one
	// AssumeRole, whatever the number of regions.
	creds aws.CredentialsProvider
	// identity is who the configs act as, once an account was checked.
	identity *sts.Identity
}

func newAWSConfigs(g *globals) *awsConfigs {
	return &awsConfigs{g: g, byRegion: map[string]aws.Config{}}
}

// options resolves where AWS is: the local emulator (--local), an endpoint
// (--endpoint-url or AWS_ENDPOINT_URL), or AWS itself.
func (c *awsConfigs) options(ctx context.Context) (awscfg.Options, error) {
	if c.base != nil {
		return *c.base, nil
	}
	o := awscfg.Options{Profile: c.g.profile, Endpoint: c.g.endpoint}
	if c.g.local {
		st, err := emulator.LoadState()
		if err != nil {
			return o, elevator.Errorf(elevator.ENOTFOUND, "--local: the local emulator is not running; start it with: elevator local up")
		}
		if err := emulator.Check(ctx, st); err != nil {
			return o, fmt.Errorf("--local: %w", err)
		}
		o = awscfg.Local(st.Endpoint)
	}
	c.base = &o
	return o, nil
}

// For returns the config for region.
func (c *awsConfigs) For(ctx context.Context, region string) (aws.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg, ok := c.byRegion[region]; ok {
		return cfg, nil
	}
	o, err := c.options(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	o.Region = region
	if o.MFAToken == nil {
		o.MFAToken = c.mfaToken
	}
	cfg, err := awscfg.Load(ctx, o)
	if err != nil {
		return aws.Config{}, err
	}
	cfg.APIOptions = append(cfg.APIOptions, c.apiOptions...)
	// The caller's own credentials are loaded once per command, whatever
	// the number of configs (one per orbit of a pipeline): one MFA code.
	// A profile's own role is assumed through STS of the partition's home
	// region: the orbit's region may be an opt-in region the caller's
	// account has not enabled.
	loaded := cfg.Credentials
	if home := elevator.PartitionHome(region); home != "" && home != region {
		ho := o
		ho.Region = home
		if hc, err := awscfg.Load(ctx, ho); err == nil {
			loaded = hc.Credentials
		}
	}
	cfg.Credentials = c.g.callers.get(o, loaded)
	if c.creds == nil {
		// Find out once, before any call, whether there are credentials
		// at all (the SDK's own error names every provider it tried),
		// and whether they act in the account.
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return aws.Config{}, c.g.callers.noCredentials(err)
		}
		if err := c.enter(ctx, cfg); err != nil {
			return aws.Config{}, err
		}
	}
	cfg.Credentials = c.creds
	c.byRegion[region] = cfg
	return cfg, nil
}

// emulated reports whether calls go to the local emulator, where waits can
// poll much more often than AWS's rate limits allow.
func (c *awsConfigs) emulated() bool { return c.g.local }

// orbitConfigs returns the configs every command for orbit uses: the
// caller's credentials, in the orbit's account (see accountConfigs).
func orbitConfigs(g *globals, orbit *elevator.Orbit) *awsConfigs {
	c := accountConfigs(g, orbit.Account)
	c.subject = "orbit " + orbit.Name
	return c
}

// accountConfigs returns configs that act in account a: they assume its
// role when it names one, and refuse to act when the credentials are for
// another account than its ID.
func accountConfigs(g *globals, a elevator.Account) *awsConfigs {
	c := newAWSConfigs(g)
	c.account = a
	c.subject = "account " + a.Want()
	return c
}

// homeBackend connects to where orbit keeps its releases, locks and audit
// log: the state of its home region, found through the home stack's
// outputs, with cfg (the home region's config).
func homeBackend(ctx context.Context, cfg aws.Config, orbit *elevator.Orbit) (*awsrelease.Backend, error) {
	outputs, err := (&apply.Engine{Stacks: cloudformation.New(cfg)}).OrbitOutputs(ctx, orbit)
	if err != nil {
		return nil, err
	}
	return awsrelease.New(awsrelease.Config{Orbit: orbit.Name, AWS: []aws.Config{cfg}, Bucket: outputs[compile.StateBucketOutput], ECS: orbit.ECS != nil})
}
