package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// refusingSTS answers every call as STS answers a bad signature, and
// fails the test if a call is for a host off the allow list or is not
// GetCallerIdentity's POST.
type refusingSTS struct{ t *testing.T }

func (r refusingSTS) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, ok := stsHosts[req.URL.Host]; !ok || req.Method != http.MethodPost || req.URL.Path != "/" || req.URL.RawQuery != "" {
		r.t.Fatalf("called %s %s", req.Method, req.URL)
	}
	if b, _ := io.ReadAll(req.Body); string(b) != stsQuery {
		r.t.Fatalf("sent %q", b)
	}
	return &http.Response{StatusCode: 403, Body: io.NopCloser(strings.NewReader("<ErrorResponse/>")), Header: http.Header{}}, nil
}

// FuzzAuthenticate feeds the authenticator Authorization headers: it
// never accepts one STS refused, and never calls anything but
// GetCallerIdentity at an allow-listed endpoint.
//
//	go test ./internal/api -run '^$' -fuzz FuzzAuthenticate -fuzztime 1m
func FuzzAuthenticate(f *testing.F) {
	now := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	good := token{V: 1, Method: "POST", URL: "https://sts.eu-west-1.amazonaws.com/", Body: stsQuery, Headers: map[string]string{
		"Authorization":        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261129/eu-west-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-elevator-server-id, Signature=00",
		"Content-Type":         formType,
		"X-Amz-Date":           now.Format("20060102T150405Z"),
		"X-Elevator-Server-Id": serverID,
	}}
	enc := func(tok token) string {
		b, _ := json.Marshal(tok)
		return Scheme + " " + base64.RawURLEncoding.EncodeToString(b)
	}
	f.Add(enc(good))
	evil := good
	evil.URL = "https://sts.eu-west-1.amazonaws.com@evil.example/"
	f.Add(enc(evil))
	evil.URL = "https://STS.EU-WEST-1.AMAZONAWS.COM./"
	f.Add(enc(evil))
	evil.URL = "https://sts.eu-west-1.amazonaws.com/%2e%2e/"
	f.Add(enc(evil))
	f.Add(Scheme + " " + base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"method":"POST","url":"https://sts.us-east-1.amazonaws.com/","body":"","headers":{}}`)))
	f.Add("")
	f.Add(Scheme + " !!")
	f.Fuzz(func(t *testing.T, auth string) {
		a := &Authenticator{ServerID: serverID, Now: func() time.Time { return now }, STSTransportForTests: refusingSTS{t}}
		if caller, err := a.Authenticate(context.Background(), auth); err == nil {
			t.Fatalf("accepted %q as %+v", auth, caller)
		}
	})
}
