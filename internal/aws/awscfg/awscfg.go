// Package awscfg builds the aws.Config every AWS adapter is created from:
// the SDK's standard credential and region chain, an optional endpoint (the
// emulator), and a retry policy suited to applying in many regions at once.
package awscfg

import (
	"context"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"

	"github.com/elevatorhq/elevator"
)

// MaxAttempts is how many times a call is tried unless AWS_MAX_ATTEMPTS or
// the profile's max_attempts says otherwise. The SDK's default is 3; an
// apply runs in several regions in parallel, each polling CloudFormation,
// and the throttling that causes outlasts three attempts.
const MaxAttempts = 6

// LocalRegion is the region Local uses when none is configured.
const LocalRegion = "us-east-1"

// Options say where and as whom to call AWS. Empty fields fall back to the
// SDK's standard chain (environment, shared config and credentials files,
// SSO, IMDS, ...).
type Options struct {
	Region        string // "" = AWS_REGION, the profile's region, then DefaultRegion
	DefaultRegion string // used when nothing else names a region; "" = none
	Profile       string // "" = AWS_PROFILE or "default"
	Endpoint      string // base URL for every service, e.g. the emulator; "" = AWS_ENDPOINT_URL or AWS itself

	// Static credentials, used instead of the chain when AccessKeyID is set.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Local returns Options for the emulator at endpoint: static credentials
// "testing"/"testing" unless AWS_ACCESS_KEY_ID is set (then the chain reads
// it), and region us-east-1 unless one is configured.
func Local(endpoint string) Options {
	o := Options{Endpoint: endpoint, DefaultRegion: LocalRegion}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		o.AccessKeyID, o.SecretAccessKey = "testing", "testing"
	}
	return o
}

// Load returns an aws.Config built from o. It returns an EINVALID error when
// the shared configuration cannot be loaded (an unknown profile, a malformed
// file) or when no region is given anywhere. Credentials are resolved
// lazily, on the first call.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	// The SDK logs warnings (an IMDS fallback, a skipped checksum) to
	// stderr by default; Elevator reports what matters in its errors.
	opts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, elevator.Errorf(elevator.EINVALID, "load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = o.DefaultRegion
	}
	if cfg.Region == "" {
		return aws.Config{}, elevator.Errorf(elevator.EINVALID, "no region: pass --region or set AWS_REGION")
	}
	if o.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(o.Endpoint) // else AWS_ENDPOINT_URL, which the SDK has read
	}
	if cfg.RetryMaxAttempts == 0 { // AWS_MAX_ATTEMPTS and max_attempts still win
		cfg.RetryMaxAttempts = MaxAttempts
	}
	return cfg, nil
}
