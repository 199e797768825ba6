package api

import (
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

func TestMain(m *testing.M) {
	// These tests switch on the emulator's signature checks, which are
	// server-wide: never on a server other packages share.
	os.Unsetenv(emulatortest.EndpointEnv)
	emulatortest.Main(m)
}

// emulatorSTS is the transport the tests give the Authenticator
// (STSTransportForTests): it sends requests for allow-listed STS hosts to
// the emulator, keeping their Host header (which is signed), and records
// every host it was asked to call.
type emulatorSTS struct {
	mu    sync.Mutex
	hosts []string
}

func (e *emulatorSTS) RoundTrip(r *http.Request) (*http.Response, error) {
	e.mu.Lock()
	e.hosts = append(e.hosts, r.URL.Host)
	e.mu.Unlock()
	if _, ok := stsHosts[r.URL.Hostname()]; !ok {
		panic("the authenticator called a host off the allow list: " + r.URL.Host)
	}
	tr, err := EmulatorSTS(emulatortest.Endpoint())
	if err != nil {
		return nil, err
	}
	return tr.RoundTrip(r)
}

func (e *emulatorSTS) called() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.hosts...)
}

// checkSignatures makes the emulator verify the SigV4 signature of every
// request until the test ends, as STS does. Make accounts before: the
// calls that make them are not signed with keys the emulator knows.
func checkSignatures(t testing.TB) {
	t.Helper()
	set := func(v string) error {
		resp, err := http.Post(emulatortest.Endpoint()+"/moto-api/reset-auth", "text/plain", strings.NewReader(v))
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := set("0"); err != nil {
		t.Fatalf("switch on the emulator's signature checks: %v", err)
	}
	t.Cleanup(func() {
		if err := set("inf"); err != nil {
			t.Errorf("switch off the emulator's signature checks: %v", err)
		}
	})
}

// userConfig is the aws.Config of an emulator account's IAM user, as a
// caller of the API has it: its own keys, a region, no emulator header.
func userConfig(a *emulatortest.Account, region string) aws.Config {
	return aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(a.AccessKeyID, a.SecretAccessKey, "")}
}
