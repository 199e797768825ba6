// Package emulatortest is the harness adapter and end-to-end tests use to
// talk to moto over HTTP: one moto server per test package, and one fresh AWS
// account per Config, so tests never see each other's resources and never
// need a reset.
//
//	func TestMain(m *testing.M) { emulatortest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		cfg := emulatortest.Config(t, "eu-west-1")
//		client := cloudformation.NewFromConfig(cfg)
//		...
//	}
//
// Accounts: moto 5.2.5 takes the account of a request from the
// x-moto-account-id header (BaseResponse.get_current_account in
// moto/core/responses.py), which Config sets on every call; else from the
// access key id, but only a key its own IAM issued (get_account_id_from in
// moto/iam/models.py looks the key up in every account; any other key, such
// as the account id itself, maps to the default account 123456789012).
// Config also uses the account id as the access key id, so it shows up in
// moto's log. Code that finds its credentials itself (the elevator command,
// a child process) gets an account of its own with NewAccount, whose keys
// moto issued in that account.
package emulatortest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/elevatorhq/elevator/internal/emulator"
)

// EndpointEnv names the variable that points tests at a moto server already
// running (e.g. one from `elevator local up`) instead of starting their own.
const EndpointEnv = "ELEVATOR_TEST_ENDPOINT"

// accountHeader selects the account of a request to moto.
const accountHeader = "x-moto-account-id"

// endpoint is the server of this test package, set once by Main.
var endpoint string

// Main runs the package's tests against a moto server and exits with their
// result. It reuses the server at $ELEVATOR_TEST_ENDPOINT if set, and
// otherwise starts one on a free port for the package and stops it
// afterwards. When moto cannot be found or does not start it prints why and
// exits 1: a missing emulator is a failure, never a skip.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if ep := os.Getenv(EndpointEnv); ep != "" {
		endpoint = ep
		return m.Run()
	}
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "emulatortest: the tests need moto, the AWS emulator: %v\n", err)
		return 1
	}
	path, err := emulator.FindMotoServer()
	if err != nil {
		return fail(err)
	}
	logf, err := os.CreateTemp("", "elevator-moto-*.log")
	if err != nil {
		return fail(err)
	}
	logf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), emulator.DefaultStartTimeout)
	srv, err := emulator.Start(ctx, emulator.Options{Path: path, LogFile: logf.Name()})
	cancel()
	if err != nil {
		return fail(err)
	}
	endpoint = srv.Endpoint

	code := m.Run()

	ctx, cancel = context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "emulatortest: %v\n", err)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "emulatortest: moto's log is %s\n", logf.Name())
	} else {
		os.Remove(logf.Name())
	}
	return code
}

// Endpoint returns the base URL of the package's moto server, or "" when
// Main has not run.
func Endpoint() string { return endpoint }

// Config returns an aws.Config for region that calls the package's moto
// server as a new AWS account of its own, so the test sees only what it
// creates. It fails the test if Main has not run.
func Config(t testing.TB, region string) aws.Config {
	t.Helper()
	if endpoint == "" {
		t.Fatal("emulatortest: no emulator: call emulatortest.Main(m) from TestMain")
	}
	account := newAccountID()
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(account, "testing", ""),
		APIOptions:   []func(*middleware.Stack) error{withAccount(account)},
	}
}

// AccountID returns the account a Config made by Config calls as, and ""
// for any other aws.Config.
func AccountID(cfg aws.Config) string {
	if cfg.Credentials == nil {
		return ""
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || len(creds.AccessKeyID) != 12 {
		return ""
	}
	if _, err := strconv.ParseUint(creds.AccessKeyID, 10, 64); err != nil {
		return ""
	}
	return creds.AccessKeyID
}

var (
	mu   sync.Mutex
	used = map[string]bool{emulatorDefaultAccount: true}
)

// emulatorDefaultAccount is where moto puts requests that name no account.
const emulatorDefaultAccount = "123456789012"

// newAccountID returns a random 12-digit account id not handed out before in
// this process. Random rather than counted, so test packages sharing one
// server ($ELEVATOR_TEST_ENDPOINT) do not collide either.
func newAccountID() string {
	mu.Lock()
	defer mu.Unlock()
	for {
		id := strconv.FormatUint(100_000_000_000+rand.Uint64N(900_000_000_000), 10)
		if !used[id] {
			used[id] = true
			return id
		}
	}
}

// withAccount adds the header that makes moto serve the request as account.
func withAccount(account string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("ElevatorMotoAccount",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set(accountHeader, account)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	}
}

// Account is an AWS account of its own in the package's moto server, with
// the access keys of an IAM user in it. A request signed with those keys is
// served as the account with no header, so code that reads its
// credentials from the environment works in it (see the package comment).
type Account struct {
	ID                           string
	AccessKeyID, SecretAccessKey string

	base aws.Config
}

// NewAccount makes a new account and an IAM user with access keys in it.
// It fails the test if Main has not run or moto refuses.
func NewAccount(t testing.TB) *Account {
	t.Helper()
	base := Config(t, "us-east-1")
	ctx := context.Background()
	api := iam.NewFromConfig(base)
	const user = "elevator-test"
	if _, err := api.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(user)}); err != nil {
		t.Fatalf("emulatortest: create user: %v", err)
	}
	key, err := api.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatalf("emulatortest: create access key: %v", err)
	}
	return &Account{ID: AccountID(base), AccessKeyID: aws.ToString(key.AccessKey.AccessKeyId),
		SecretAccessKey: aws.ToString(key.AccessKey.SecretAccessKey), base: base}
}

// Config returns an aws.Config for region that calls the package's moto
// server as the account.
func (a *Account) Config(region string) aws.Config {
	cfg := a.base.Copy()
	cfg.Region = region
	return cfg
}
