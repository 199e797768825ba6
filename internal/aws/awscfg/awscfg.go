// Package awscfg builds the aws.Config every AWS adapter is created from:
// the SDK's standard credential and region chain, an optional endpoint (the
// emulator), a retry policy suited to applying in many regions at once,
// and timeouts that bound every call, so that an endpoint that stops
// answering (a paused emulator, a network that drops packets) fails the
// call instead of blocking its caller.
package awscfg

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/elevatorhq/elevator"
)

// MaxAttempts is how many times a call is tried unless AWS_MAX_ATTEMPTS or
// the profile's max_attempts says otherwise. The SDK's default is 3; an
// apply runs in several regions in parallel, each polling CloudFormation,
// and the throttling that causes outlasts three attempts.
const MaxAttempts = 6

// Timeouts of a call unless Options say otherwise. An attempt that gets
// no whole answer within AttemptTimeout fails and the SDK tries again (a
// timeout is retryable, as a broken connection is); a call, with all its
// attempts and the waits between them, fails with a deadline error after
// CallTimeout. Every call Elevator makes is small: the largest is a
// template of at most 1 MB.
const (
	AttemptTimeout = 20 * time.Second
	CallTimeout    = 2 * time.Minute
)

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

	// MFAToken, when set, gives the code of an MFA device when a profile
	// that assumes a role names one (mfa_serial): the SDK asks it each
	// time it assumes the profile's role. nil = such a profile fails.
	MFAToken func() (string, error)
	// AttemptTimeout and CallTimeout replace the package's defaults when
	// set (tests shorten them).
	AttemptTimeout, CallTimeout time.Duration
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
	if o.Endpoint != "" {
		// Also for the calls that resolve credentials (a profile's role,
		// an SSO session), which are made while loading.
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	opts = append(opts, config.WithAssumeRoleCredentialOptions(o.assumeRoleOptions))
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
	attempt, call := o.AttemptTimeout, o.CallTimeout
	if attempt <= 0 {
		attempt = AttemptTimeout
	}
	if call <= 0 {
		call = CallTimeout
	}
	// The SDK's client has no timeout of its own: an endpoint that accepts
	// a connection and never answers would hold the call forever.
	client, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok || client == nil {
		client = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = client.WithTimeout(attempt)
	cfg.APIOptions = append(cfg.APIOptions, callDeadline(call))
	return cfg, nil
}

// callDeadline bounds each call, with its retries, to d. A call whose
// answer is a stream read after it returns (S3 GetObject) keeps only the
// attempt timeout, which covers reading the answer: the deadline would
// end with the call and cut the stream.
func callDeadline(d time.Duration) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		if s.ID() == "GetObject" {
			return nil
		}
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("ElevatorCallDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
}

// ProfileRoleDuration is how long a profile's role session lasts when the
// profile does not say (duration_seconds), as the AWS CLI has it: the
// SDK's own default, 15 minutes, would ask an MFA profile for its code
// again, or fail, in the middle of a long command.
const ProfileRoleDuration = time.Hour

// assumeRoleOptions is how the SDK assumes a profile's role (role_arn):
// for ProfileRoleDuration unless the profile says, and with the MFA code
// MFAToken gives.
func (o Options) assumeRoleOptions(ar *stscreds.AssumeRoleOptions) {
	if ar.Duration == 0 {
		ar.Duration = ProfileRoleDuration
	}
	if o.MFAToken != nil {
		ar.TokenProvider = o.MFAToken
	}
}
