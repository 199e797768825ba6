package awscfg

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/elevatorhq/elevator"
)

// isolate hides the developer's AWS environment and files from a test.
func isolate(t *testing.T) {
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             none,
		"AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_REGION":                  "",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_MAX_ATTEMPTS":            "",
	} {
		t.Setenv(k, v)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name         string
		env          map[string]string
		opts         Options
		local        string // endpoint for Local instead of opts
		wantCode     string
		wantRegion   string
		wantEndpoint string
		wantKey      string // "" = do not check
		wantAttempts int
	}{
		{name: "no region anywhere is invalid", wantCode: elevator.EINVALID},
		{name: "the option names the region", opts: Options{Region: "eu-west-1"}, wantRegion: "eu-west-1", wantAttempts: MaxAttempts},
		{name: "AWS_REGION names the region", env: map[string]string{"AWS_REGION": "ap-south-1"}, wantRegion: "ap-south-1", wantAttempts: MaxAttempts},
		{name: "the option beats AWS_REGION", env: map[string]string{"AWS_REGION": "ap-south-1"}, opts: Options{Region: "eu-west-1"}, wantRegion: "eu-west-1", wantAttempts: MaxAttempts},
		{name: "an unknown profile is invalid", opts: Options{Region: "eu-west-1", Profile: "nope"}, wantCode: elevator.EINVALID},
		{name: "the endpoint option sets BaseEndpoint", opts: Options{Region: "eu-west-1", Endpoint: "http://127.0.0.1:5000"}, wantRegion: "eu-west-1", wantEndpoint: "http://127.0.0.1:5000", wantAttempts: MaxAttempts},
		{name: "AWS_ENDPOINT_URL still works", env: map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:6000"}, opts: Options{Region: "eu-west-1"}, wantRegion: "eu-west-1", wantEndpoint: "http://127.0.0.1:6000", wantAttempts: MaxAttempts},
		{name: "AWS_MAX_ATTEMPTS beats our default", env: map[string]string{"AWS_MAX_ATTEMPTS": "2"}, opts: Options{Region: "eu-west-1"}, wantRegion: "eu-west-1", wantAttempts: 2},
		{name: "static credentials are used", opts: Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "s"}, wantRegion: "eu-west-1", wantKey: "AKID", wantAttempts: MaxAttempts},
		{name: "Local defaults to testing credentials in us-east-1", local: "http://127.0.0.1:5000", wantRegion: LocalRegion, wantEndpoint: "http://127.0.0.1:5000", wantKey: "testing", wantAttempts: MaxAttempts},
		{name: "Local keeps AWS_REGION and AWS_ACCESS_KEY_ID", env: map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "s"}, local: "http://127.0.0.1:5000", wantRegion: "eu-central-1", wantEndpoint: "http://127.0.0.1:5000", wantKey: "ENVKEY", wantAttempts: MaxAttempts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			opts := tt.opts
			if tt.local != "" {
				opts = Local(tt.local)
			}
			cfg, err := Load(t.Context(), opts)
			if tt.wantCode != "" {
				if got := elevator.ErrorCode(err); got != tt.wantCode {
					t.Fatalf("Load: %v (code %q), want code %q", err, got, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("region %q, want %q", cfg.Region, tt.wantRegion)
			}
			if got := aws.ToString(cfg.BaseEndpoint); got != tt.wantEndpoint {
				t.Errorf("endpoint %q, want %q", got, tt.wantEndpoint)
			}
			if tt.wantKey != "" {
				creds, err := cfg.Credentials.Retrieve(t.Context())
				if err != nil || creds.AccessKeyID != tt.wantKey {
					t.Errorf("credentials %q, %v; want key %q", creds.AccessKeyID, err, tt.wantKey)
				}
			}
			// What a service client built from cfg will actually do.
			if got := sts.NewFromConfig(cfg).Options().Retryer.MaxAttempts(); got != tt.wantAttempts {
				t.Errorf("a client tries %d times, want %d", got, tt.wantAttempts)
			}
		})
	}
}

// TestACallToAnEndpointThatNeverAnswersFails: an endpoint that accepts
// requests and never answers (a paused emulator) costs each attempt its
// timeout, the SDK tries again, and the call fails once its deadline has
// passed, instead of waiting forever.
func TestACallToAnEndpointThatNeverAnswersFails(t *testing.T) {
	isolate(t)
	var mu sync.Mutex
	attempts := 0
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		mu.Unlock()
		select { // paused: no answer until the client gives up
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	opts := Local(srv.URL)
	opts.AttemptTimeout, opts.CallTimeout = 100*time.Millisecond, 2*time.Second
	cfg, err := Load(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		done <- err
	}()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a bound on the test, far beyond the deadline
		t.Fatal("the call is still waiting for an answer")
	}
	if err == nil {
		t.Fatal("a call nobody answered succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if attempts < 2 {
		t.Errorf("%d attempt(s), want the SDK to try again after a timeout: %v", attempts, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "retry") && !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("error %v does not say it timed out", err)
	}
}
