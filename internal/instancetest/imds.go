package instancetest

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeIMDS is a fake of EC2's instance metadata service, version 2 only
// (a GET without a session token gets 401, as on an instance that
// requires IMDSv2): the instance's id, identity document and role
// credentials, which are an account's keys in the test's moto server.
// moto has no metadata service for a process outside it.
type FakeIMDS struct {
	URL string // http://127.0.0.1:port, for AWS_EC2_METADATA_SERVICE_ENDPOINT

	InstanceID, Region, AccountID, Role string
	AccessKeyID, SecretAccessKey        string

	mu       sync.Mutex
	requests []string
}

// Requests returns the paths asked for so far, in order.
func (f *FakeIMDS) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// StartIMDS serves f on a free port of 127.0.0.1 until the test ends.
func StartIMDS(t testing.TB, f *FakeIMDS) *FakeIMDS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "fake-imds-token"
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			ttl := r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds")
			if ttl == "" {
				http.Error(w, "missing ttl", http.StatusBadRequest)
				return
			}
			// As IMDS does, the answer says how long the token lasts.
			w.Header().Set("X-aws-ec2-metadata-token-ttl-seconds", ttl)
			w.Write([]byte(token))
			return
		}
		if r.Header.Get("X-aws-ec2-metadata-token") != token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		creds := "/latest/meta-data/iam/security-credentials/"
		switch p := r.URL.Path; {
		case p == "/latest/meta-data/instance-id":
			w.Write([]byte(f.InstanceID))
		case p == "/latest/meta-data/placement/region":
			w.Write([]byte(f.Region))
		case p == "/latest/dynamic/instance-identity/document":
			json.NewEncoder(w).Encode(map[string]string{
				"accountId": f.AccountID, "region": f.Region, "instanceId": f.InstanceID,
				"availabilityZone": f.Region + "a", "architecture": "x86_64",
			})
		case p == creds:
			w.Write([]byte(f.Role))
		case strings.HasPrefix(p, creds) && strings.TrimPrefix(p, creds) == f.Role:
			json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "Type": "AWS-HMAC",
				"LastUpdated":     time.Now().UTC().Format(time.RFC3339),
				"Expiration":      time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339),
				"AccessKeyId":     f.AccessKeyID,
				"SecretAccessKey": f.SecretAccessKey,
				"Token":           "fake-session-token",
			})
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	f.URL = "http://" + ln.Addr().String()
	return f
}
