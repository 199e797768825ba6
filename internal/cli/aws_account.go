package cli

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	stssdk "github.com/aws/aws-sdk-go-v2/service/sts"
	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/awscfg"
	"github.com/elevatorhq/elevator/internal/aws/awserr"
	"github.com/elevatorhq/elevator/internal/aws/sts"
)

// enter makes c.creds from cfg's, the caller's own credentials (the
// profile or the SDK's chain: keys, an SSO session, a profile's role with
// its MFA code): as they are for the zero Account; else through
// AssumeRole of the account's role, when it names one, checked with
// sts:GetCallerIdentity to be for the account. Nothing else is called
// before: a refusal changes nothing.
func (c *awsConfigs) enter(ctx context.Context, cfg aws.Config) error {
	if c.account.IsZero() {
		c.creds = cfg.Credentials
		return nil
	}
	if err := c.account.Check(); err != nil {
		return err // an account no manifest checked (a caller's own literal)
	}
	creds := cfg.Credentials
	var caller sts.Identity
	if role := c.account.Role; role != "" {
		// The caller's own STS calls go to a region of the partition that
		// no account opts in to, not to the orbit's, which the caller's
		// account may not have enabled.
		callerCfg := cfg.Copy()
		callerCfg.Region = elevator.PartitionHome(cfg.Region)
		var err error
		if caller, err = sts.New(callerCfg).CallerIdentity(ctx); err != nil {
			return err
		}
		assume := stscreds.NewAssumeRoleProvider(stssdk.NewFromConfig(callerCfg), role, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = sessionName(caller.ARN)
			if c.account.ExternalID != "" {
				o.ExternalID = aws.String(c.account.ExternalID)
			}
		})
		// A renewal's refusal reads like the first's.
		callerARN := caller.ARN
		renewed := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
			creds, err := assume.Retrieve(ctx)
			if err != nil {
				return creds, c.assumeRoleError(callerARN, err)
			}
			return creds, nil
		})
		creds = aws.NewCredentialsCache(renewed, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow, o.ExpiryWindowJitterFrac = roleExpiryWindow, 0.5
		})
		if _, err := creds.Retrieve(ctx); err != nil {
			return err
		}
	}
	final := cfg.Copy()
	final.Credentials = creds
	// Asked where the credentials are surely valid, so that a caller of
	// another account hears that, not of a region it has not enabled.
	if home := elevator.PartitionHome(cfg.Region); home != "" {
		final.Region = home
	}
	id, err := sts.New(final).CallerIdentity(ctx)
	if err != nil {
		return err
	}
	if want := c.account.Want(); want != "" && id.Account != want {
		return c.wrongAccount(id, caller.ARN)
	}
	c.creds, c.identity = creds, &id
	return nil
}

// roleExpiryWindow is how long before an orbit role's session ends its
// credentials are renewed (less up to half of it, at random, so that the
// replicas of a deployer do not renew together): a call signed just
// before the end does not fail as it is made.
const roleExpiryWindow = 3 * time.Minute

// wrongAccount is the refusal to act with credentials for another account.
func (c *awsConfigs) wrongAccount(id sts.Identity, caller string) error {
	want := c.account.Want()
	if c.account.Role != "" {
		return elevator.Errorf(elevator.EINVALID, "%s lives in %s, but role %s, assumed as %s, gives credentials for %s (%s): name a role of account %s in %s",
			c.subject, want, c.account.Role, caller, id.Account, id.ARN, want, c.where())
	}
	return elevator.Errorf(elevator.EINVALID, "%s lives in %s, your credentials are for %s (%s): use credentials for account %s (--profile or AWS_PROFILE), or name a role to assume there in %s (docs/accounts.md)",
		c.subject, want, id.Account, id.ARN, want, c.where())
}

// assumeRoleError says which role the caller could not assume and how to
// let it. A refusal stays an access denial (awserr.ErrAccessDenied), as
// a pipeline stage's wait for access needs.
func (c *awsConfigs) assumeRoleError(caller string, err error) error {
	err = awserr.Codes{}.Translate(awserr.Op{Doing: "assume role " + c.account.Role}, err)
	if strings.HasSuffix(caller, ":root") {
		return elevator.Errorf(elevator.ErrorCode(err), "%s: %s is an account's root user, which AWS never lets assume a role: use an IAM user's, an SSO session's or a role's credentials to assume %s (docs/accounts.md): %w", c.subject, caller, c.account.Role, err)
	}
	hint := "the role's trust policy must allow " + caller + " to call sts:AssumeRole"
	if c.account.ExternalID != "" {
		hint += " with the external id of " + c.where()
	}
	if strings.Contains(caller, ":assumed-role/") || strings.Contains(caller, ":user/") {
		hint += ", and the caller's own IAM policies must allow sts:AssumeRole on it"
	}
	return elevator.Errorf(elevator.ErrorCode(err), "%s: %s may not assume role %s (%s; docs/accounts.md): %w", c.subject, caller, c.account.Role, hint, err)
}

// where names the account section in messages.
func (c *awsConfigs) where() string {
	if c.account.Path == "" || c.account.Path == "account" {
		return "the manifest's account section"
	}
	return c.account.Path
}

// sessionNameUnsafe is what a role session name may not hold.
var sessionNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9+=,.@_-]+`)

// sessionName is the name of the role session a caller gets: elevator-
// and the caller's own name (an IAM user's, or the session name of an SSO
// or CI role's session), so that CloudTrail and Elevator's audit, which
// see the role, still see who it is.
func sessionName(callerARN string) string {
	name := callerARN[strings.LastIndex(callerARN, "/")+1:]
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[i+1:] // the root user's ARN ends in :root
	}
	name = sessionNameUnsafe.ReplaceAllString(name, "-")
	if !strings.HasPrefix(name, elevator.RoleSessionPrefix) {
		name = elevator.RoleSessionPrefix + name
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// callerCredentials keeps the caller's own credentials (the profile's or
// the SDK chain's) for a command, one per profile and endpoint, so that
// every configs of the command (one per orbit of a pipeline, each region)
// signs with them: a profile's role is assumed, and its MFA code asked,
// once, and again only when its session (awscfg.ProfileRoleDuration)
// ends.
type callerCredentials struct {
	mu    sync.Mutex
	byKey map[string]aws.CredentialsProvider
	// mfaAsked says an MFA code was asked for, so that a failure to get
	// credentials is told as the MFA's.
	mfaAsked bool
}

// get returns the credentials kept for o's profile and endpoint, keeping
// loaded when there are none yet.
func (cc *callerCredentials) get(o awscfg.Options, loaded aws.CredentialsProvider) aws.CredentialsProvider {
	key := strings.Join([]string{o.Profile, o.Endpoint, o.AccessKeyID}, "\x00")
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if p, ok := cc.byKey[key]; ok {
		return p
	}
	if cc.byKey == nil {
		cc.byKey = map[string]aws.CredentialsProvider{}
	}
	cc.byKey[key] = loaded
	return loaded
}

// noCredentials is the error of credentials that could not be had.
func (cc *callerCredentials) noCredentials(err error) error {
	cc.mu.Lock()
	mfa := cc.mfaAsked
	cc.mu.Unlock()
	if mfa {
		return elevator.Errorf(elevator.EINVALID, "the AWS profile's role was not assumed with the MFA code given (a wrong or used code, or the profile's mfa_serial is not your device; run the command again for a new code): %w", err)
	}
	return elevator.Errorf(elevator.EINVALID, "no usable AWS credentials (set AWS_PROFILE or pass --profile, configure them with `aws configure` or `aws sso login`, or try Elevator locally with `elevator local up` and --local): %w", err)
}

// mfaToken asks the caller for the code of the MFA device their profile
// names (mfa_serial) when it assumes its role: on stderr, so that
// --output json stays clean, and read from stdin. The command's configs
// share the caller's credentials (callerCredentials), so it is asked once
// per profile role session (awscfg.ProfileRoleDuration).
func (c *awsConfigs) mfaToken() (string, error) {
	c.g.callers.mu.Lock()
	c.g.callers.mfaAsked = true
	c.g.callers.mu.Unlock()
	if c.g.stdin == nil {
		return "", elevator.Errorf(elevator.EINVALID, "the AWS profile asks for an MFA code, and there is no input to read it from")
	}
	fmt.Fprint(c.g.stderr, "MFA code: ")
	code, err := readLine(c.g.stdin)
	if err != nil && code == "" {
		return "", elevator.Errorf(elevator.EINVALID, "the AWS profile asks for an MFA code: %v", err)
	}
	return strings.TrimSpace(code), nil
}

// readLine reads up to a newline a byte at a time, so that what follows
// stays in r for the command (a confirmation).
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return b.String(), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
}

// accountID returns the account the configs act in, as checked by
// GetCallerIdentity, or "" when they were made for the zero Account (or
// For was not called yet).
func (c *awsConfigs) accountID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity == nil {
		return ""
	}
	return c.identity.Account
}
