package cli

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// fakeIdentity is a fake of STS and of the SSO portal, which moto does not
// serve as a real account would: it records what AssumeRole was asked
// (the MFA serial and code, the session name, the external id), answers
// GetCallerIdentity for the access key that signed the call, and hands
// out role credentials for an SSO session's bearer token.
type fakeIdentity struct {
	mu      sync.Mutex
	assumes []map[string]string
	sso     []string // bearer tokens shown to GetRoleCredentials
	// identityRegions: the region each GetCallerIdentity was signed for.
	identityRegions []string
	// identities: the ARN GetCallerIdentity answers, by access key.
	identities map[string]string
	// expires, when set, is when the role credentials it hands out end
	// (else in 2100).
	expires time.Time
}

var (
	signedBy  = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)
	signedFor = regexp.MustCompile(`Credential=[A-Z0-9]+/[0-9]+/([a-z0-9-]+)/`)
)

func (f *fakeIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/federation/credentials" {
		f.sso = append(f.sso, r.Header.Get("X-Amz-Sso_bearer_token"))
		fmt.Fprint(w, `{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"s","sessionToken":"t","expiration":4102444800000}}`)
		return
	}
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "text/xml")
	key := ""
	if m := signedBy.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		key = m[1]
	}
	switch r.Form.Get("Action") {
	case "AssumeRole":
		call := map[string]string{"by": key}
		if m := signedFor.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			call["region"] = m[1]
		}
		for _, k := range []string{"RoleArn", "RoleSessionName", "SerialNumber", "TokenCode", "ExternalId", "DurationSeconds", "SourceIdentity"} {
			call[k] = r.Form.Get(k)
		}
		f.assumes = append(f.assumes, call)
		role := r.Form.Get("RoleArn")
		newKey := fmt.Sprintf("ASIAROLE%d", len(f.assumes))
		account := strings.Split(role, ":")[4]
		expires := "2100-01-01T00:00:00Z"
		if !f.expires.IsZero() {
			expires = f.expires.UTC().Format(time.RFC3339)
		}
		f.identities[newKey] = "arn:aws:sts::" + account + ":assumed-role/" + role[strings.LastIndex(role, "/")+1:] + "/" + r.Form.Get("RoleSessionName")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>`+
			`<AccessKeyId>%s</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>%s</Expiration>`+
			`</Credentials><AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>`+
			`<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`, newKey, expires, f.identities[newKey])
	case "GetCallerIdentity":
		if m := signedFor.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			f.identityRegions = append(f.identityRegions, m[1])
		}
		arn, ok := f.identities[key]
		if !ok {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>unknown key</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>%s</Arn><UserId>AIDA</UserId><Account>%s</Account></GetCallerIdentityResult>`+
			`<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, arn, strings.Split(arn, ":")[4])
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>not faked</Message></Error><RequestId>1</RequestId></ErrorResponse>`)
	}
}

// awsFiles writes the shared config and credentials files, and a home
// for the SSO token cache, and points the SDK at them.
func awsFiles(t *testing.T, config, credentials string) (home string) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"config": config, "credentials": credentials} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)  // unset, not empty: an empty AWS_ENDPOINT_URL still counts for the SDK
	}
	home = filepath.Join(dir, "home")
	t.Setenv("HOME", home)
	return home
}

// A profile that assumes a role with an MFA device (mfa_serial) asks for
// the code once, on stderr, however many regions the command works in; the
// orbit's role is then assumed over the profile's session, named after it,
// with the orbit's external id. The fake STS (fakeIdentity) stands for
// AWS, which moto cannot: it does not check or record MFA codes.
func TestAnMFAProfileAsksForItsCodeOnceAndAssumesTheOrbitsRole(t *testing.T) {
	awsFiles(t, `[profile ops]
role_arn = arn:aws:iam::222222222222:role/ops
source_profile = base
mfa_serial = arn:aws:iam::111111111111:mfa/alice
role_session_name = alice
region = us-east-1
`, `[base]
aws_access_key_id = AKIDBASE
aws_secret_access_key = s
`)
	fake := &fakeIdentity{identities: map[string]string{"AKIDBASE": "arn:aws:iam::111111111111:user/alice"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var stderr bytes.Buffer
	g := &globals{profile: "ops", endpoint: srv.URL, stdin: strings.NewReader("123456\nyes\n"), stderr: &stderr, stdout: &bytes.Buffer{}}
	orbit := &elevator.Orbit{Name: "production", Account: elevator.Account{ID: "333333333333", Role: "arn:aws:iam::333333333333:role/elevator", ExternalID: "ci-7f3a", Path: "account"}}
	c := orbitConfigs(g, orbit)
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "eu-west-1", "us-west-2"} {
		cfg, err := c.For(ctx, region)
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil || creds.AccessKeyID != "ASIAROLE2" {
			t.Errorf("%s: credentials %q, %v; want the orbit role's (ASIAROLE2)", region, creds.AccessKeyID, err)
		}
	}
	// Another orbit of the same command (a pipeline's next stage), in the
	// caller's own account, signs with the same profile session: no new
	// code, no new AssumeRole of the profile's role.
	other, err := orbitConfigs(g, &elevator.Orbit{Name: "staging"}).For(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := other.Credentials.Retrieve(ctx); err != nil || creds.AccessKeyID != "ASIAROLE1" {
		t.Errorf("orbit staging's credentials %q, %v; want the profile's session (ASIAROLE1)", creds.AccessKeyID, err)
	}
	if n := strings.Count(stderr.String(), "MFA code"); n != 1 {
		t.Errorf("asked for the MFA code %d times; want once:\n%s", n, stderr.String())
	}
	if len(fake.assumes) != 2 {
		t.Fatalf("AssumeRole calls: %v; want the profile's, then the orbit's", fake.assumes)
	}
	profile, orb := fake.assumes[0], fake.assumes[1]
	if profile["RoleArn"] != "arn:aws:iam::222222222222:role/ops" || profile["SerialNumber"] != "arn:aws:iam::111111111111:mfa/alice" || profile["TokenCode"] != "123456" || profile["by"] != "AKIDBASE" {
		t.Errorf("the profile's AssumeRole: %v; want role ops with the MFA device and code 123456, signed with the base keys", profile)
	}
	// The profile's session lasts an hour (the SDK's default, 15 minutes,
	// would ask for a code again in a long command).
	if profile["DurationSeconds"] != "3600" {
		t.Errorf("the profile's role session: %ss; want 3600", profile["DurationSeconds"])
	}
	if orb["RoleArn"] != orbit.Account.Role || orb["RoleSessionName"] != "elevator-alice" || orb["ExternalId"] != "ci-7f3a" || orb["by"] != "ASIAROLE1" || orb["TokenCode"] != "" {
		t.Errorf("the orbit's AssumeRole: %v; want its role, session elevator-alice, its external id, signed with the profile's session", orb)
	}
	if got := c.accountID(); got != "333333333333" {
		t.Errorf("account checked: %q", got)
	}
	// What the command reads next from stdin is still there.
	if rest, _ := readLine(g.stdin); rest != "yes" {
		t.Errorf("stdin after the MFA code: %q; want the rest untouched", rest)
	}
}

// An SSO profile's credentials come from the SDK's chain as they always
// have: the cached token of its session is shown to the SSO portal, and
// the orbit's role is assumed over the role credentials it gives. The
// fake portal (fakeIdentity) stands for IAM Identity Center: this shows
// the wiring, not a real sign-in (`aws sso login` writes the cache).
func TestAnSSOProfileAssumesTheOrbitsRoleOverItsSession(t *testing.T) {
	home := awsFiles(t, `[profile dev]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
`, "")
	sum := sha1.Sum([]byte("corp"))
	cache := filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	if err := os.MkdirAll(filepath.Dir(cache), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cache, []byte(`{"accessToken":"sso-token","expiresAt":"2100-01-01T00:00:00Z","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := &fakeIdentity{identities: map[string]string{"ASIASSO": "arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g := &globals{profile: "dev", endpoint: srv.URL, stdin: strings.NewReader(""), stderr: &bytes.Buffer{}, stdout: &bytes.Buffer{}}
	c := orbitConfigs(g, &elevator.Orbit{Name: "production", Account: elevator.Account{Role: "arn:aws:iam::333333333333:role/elevator"}})
	if _, err := c.For(context.Background(), "us-east-1"); err != nil {
		t.Fatal(err)
	}
	if len(fake.sso) != 1 || fake.sso[0] != "sso-token" {
		t.Errorf("SSO portal calls with tokens %v; want one with the cached token", fake.sso)
	}
	if len(fake.assumes) != 1 || fake.assumes[0]["by"] != "ASIASSO" || fake.assumes[0]["RoleSessionName"] != "elevator-alice@example.com" {
		t.Errorf("AssumeRole calls: %v; want the orbit's role over the SSO session, named after its user", fake.assumes)
	}
	if got := c.accountID(); got != "333333333333" {
		t.Errorf("account checked: %q; want the role's", got)
	}
}

func TestSessionName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::111111111111:user/alice":                                   "elevator-alice",
		"arn:aws:iam::111111111111:user/ops/bob":                                 "elevator-bob",
		"arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_1/a@ex.com": "elevator-a@ex.com",
		"arn:aws:sts::111111111111:assumed-role/deployer/elevator-carol":         "elevator-carol",
		"arn:aws:iam::111111111111:root":                                         "elevator-root",
		"arn:aws:sts::111111111111:assumed-role/ci/GitHub Actions #12":           "elevator-GitHub-Actions-12",
		"arn:aws:sts::111111111111:assumed-role/ci/" + strings.Repeat("x", 64):   "elevator-" + strings.Repeat("x", 55),
	} {
		if got := sessionName(arn); got != want {
			t.Errorf("sessionName(%q) = %q, want %q", arn, got, want)
		}
	}
}

// An MFA code that cannot be had (no input) is told as the MFA's, not as
// missing credentials. The fake STS (fakeIdentity) stands for AWS.
func TestAnMFAProfileWithoutACodeSaysSo(t *testing.T) {
	awsFiles(t, `[profile ops]
role_arn = arn:aws:iam::222222222222:role/ops
source_profile = base
mfa_serial = arn:aws:iam::111111111111:mfa/alice
region = us-east-1
`, `[base]
aws_access_key_id = AKIDBASE
aws_secret_access_key = s
`)
	fake := &fakeIdentity{identities: map[string]string{"AKIDBASE": "arn:aws:iam::111111111111:user/alice"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g := &globals{profile: "ops", endpoint: srv.URL, stdin: strings.NewReader(""), stderr: &bytes.Buffer{}, stdout: &bytes.Buffer{}}
	_, err := orbitConfigs(g, &elevator.Orbit{Name: "production"}).For(context.Background(), "us-east-1")
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "MFA code") || strings.Contains(err.Error(), "no usable AWS credentials") {
		t.Errorf("error %v; want EINVALID about the MFA code", err)
	}
}

// An orbit role's credentials that end within the renewal window
// (roleExpiryWindow) are renewed before a call is signed with them: the
// fake STS (fakeIdentity) hands out role sessions that end in a minute,
// which AWS does not (15 minutes at least), so that each Retrieve is
// inside the window.
func TestAnOrbitRoleSessionAboutToEndIsRenewed(t *testing.T) {
	awsFiles(t, "", "[default]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n")
	fake := &fakeIdentity{identities: map[string]string{"AKIDBASE": "arn:aws:iam::111111111111:user/alice"}, expires: time.Now().Add(time.Minute)}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g := &globals{endpoint: srv.URL, stdin: strings.NewReader(""), stderr: &bytes.Buffer{}, stdout: &bytes.Buffer{}}
	orbit := &elevator.Orbit{Name: "production", Account: elevator.Account{Role: "arn:aws:iam::333333333333:role/elevator", Path: "account"}}
	ctx := context.Background()
	cfg, err := orbitConfigs(g, orbit).For(ctx, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.assumes) != 3 {
		t.Errorf("AssumeRole calls: %d; want 3 (each use: the first, the account check's, the test's; a cache without the window keeps the first)", len(fake.assumes))
	}
}

// The root user's refusal says the root user cannot assume roles, not
// that the trust policy should allow it; anyone else's names the trust
// policy. (The refusal is made here: moto never refuses an AssumeRole.)
func TestAssumeRoleErrorOfTheRootUser(t *testing.T) {
	c := &awsConfigs{account: elevator.Account{Role: "arn:aws:iam::333333333333:role/elevator"}, subject: "orbit production"}
	refused := fmt.Errorf("operation error STS: AssumeRole, AccessDenied: Roles may not be assumed by root accounts")
	root := c.assumeRoleError("arn:aws:iam::111111111111:root", refused).Error()
	if !strings.Contains(root, "root user, which AWS never lets assume a role") || strings.Contains(root, "trust policy") {
		t.Errorf("root: %s", root)
	}
	user := c.assumeRoleError("arn:aws:iam::111111111111:user/alice", refused).Error()
	if !strings.Contains(user, "trust policy must allow arn:aws:iam::111111111111:user/alice") {
		t.Errorf("user: %s", user)
	}
}

// The caller's AssumeRole of an orbit whose first region is opt-in
// (ap-east-1, which the caller's account may not have enabled) is signed
// for and sent to us-east-1, which no account opts in to. The fake STS
// (fakeIdentity) reads the region from the request's signature.
func TestTheCallersSTSCallsGoToThePartitionsHome(t *testing.T) {
	// The profile assumes a role of its own first (the caller's), then the
	// orbit's role is assumed: both, and the identity checks, in us-east-1.
	awsFiles(t, "[profile ops]\nrole_arn = arn:aws:iam::111111111111:role/ops\nsource_profile = base\n", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s\n")
	fake := &fakeIdentity{identities: map[string]string{"AKIDBASE": "arn:aws:iam::111111111111:user/alice"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	g := &globals{endpoint: srv.URL, profile: "ops", stdin: strings.NewReader(""), stderr: &bytes.Buffer{}, stdout: &bytes.Buffer{}}
	orbit := &elevator.Orbit{Name: "hk", Account: elevator.Account{Role: "arn:aws:iam::333333333333:role/elevator", Path: "account"}}
	if _, err := orbitConfigs(g, orbit).For(context.Background(), "ap-east-1"); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.assumes) != 2 || fake.assumes[0]["region"] != "us-east-1" || fake.assumes[1]["region"] != "us-east-1" {
		t.Errorf("AssumeRole calls %v; want two (the profile's role, then the orbit's), signed for us-east-1", fake.assumes)
	}
	for _, r := range fake.identityRegions {
		if r != "us-east-1" {
			t.Errorf("GetCallerIdentity signed for %v; want us-east-1 only", fake.identityRegions)
			break
		}
	}
}
