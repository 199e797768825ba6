package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// How a caller proves who it is (the scheme of Vault's AWS auth and
// aws-iam-authenticator): it signs an sts:GetCallerIdentity request with
// its own AWS credentials, without sending it, and hands the signed
// request to the server in the Authorization header:
//
//	Authorization: Elevator-STS <base64url, no padding, of the JSON below>
//
//	{"v":1,
//	 "method":"POST",
//	 "url":"https://sts.eu-west-1.amazonaws.com/",
//	 "body":"Action=GetCallerIdentity&Version=2011-06-15",
//	 "headers":{"Authorization":"AWS4-HMAC-SHA256 Credential=AKIA.../20261129/eu-west-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-elevator-server-id, Signature=...",
//	            "Content-Type":"application/x-www-form-urlencoded; charset=utf-8",
//	            "X-Amz-Date":"20261129T180000Z",
//	            "X-Elevator-Server-Id":"prod-deployer",
//	            "X-Amz-Security-Token":"..."}}
//
// headers holds the request's signed headers (but host and
// content-length, which the URL and the body give) and its Authorization
// header, nothing else. The whole Authorization value is at
// most MaxAuthorization bytes. The server checks everything it can
// without a call (see Authenticator.Authenticate), then sends the request
// itself to the allow-listed STS endpoint the URL names, and STS, checking
// the signature, answers with the caller's ARN.
//
// The signature is carried in headers (SigV4 header signing), not in the
// URL's query, and the action in a POST body: the request signed is the
// one the SDK's presign client builds (PresignGetCallerIdentity), signed
// by a presigner that moves the action to the body and signs in headers,
// as the SDK calls STS itself. Both
// forms are equally bound to their time (AWS refuses a request more than
// 15 minutes from its X-Amz-Date) and to every signed header; the header
// form is the one the emulator verifies, so the tests prove that a forged
// request is refused.

// Scheme is the Authorization scheme of the API.
const Scheme = "Elevator-STS"

// ServerIDHeader names the signed header that binds a signed request to
// one deployer, so that a request made for one cannot be replayed against
// another.
const ServerIDHeader = "X-Elevator-Server-Id"

// MaxAuthorization is the largest Authorization header the server reads.
const MaxAuthorization = 4 << 10

// MaxSkew is how far from the server's clock a request's X-Amz-Date may be.
const MaxSkew = 15 * time.Minute

// stsQuery is the only body a signed request may have.
const stsQuery = "Action=GetCallerIdentity&Version=2011-06-15"

// formType is the signed request's content type.
const formType = "application/x-www-form-urlencoded; charset=utf-8"

// token is the JSON in the Authorization header.
type token struct {
	V       int               `json:"v"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Body    string            `json:"body"`
	Headers map[string]string `json:"headers"`
}

// stsPartitions are the DNS suffixes of the partitions whose STS endpoints
// the server calls, with their regions. The list is static on purpose: the
// server never calls a host it was not built with.
var stsPartitions = []struct {
	suffix  string
	regions []string
}{
	{"amazonaws.com", []string{
		"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
		"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
		"ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
		"eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
		"sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2", "us-gov-east-1", "us-gov-west-1"}},
	{"amazonaws.com.cn", []string{"cn-north-1", "cn-northwest-1"}},
}

// stsHosts maps each allowed STS host to its region.
var stsHosts = func() map[string]string {
	m := map[string]string{}
	for _, p := range stsPartitions {
		for _, r := range p.regions {
			m["sts."+r+"."+p.suffix] = r
		}
	}
	return m
}()

// STSHost returns the regional STS endpoint host of region, such as
// sts.eu-west-1.amazonaws.com, or an EINVALID error for a region not on
// the server's allow list.
func STSHost(region string) (string, error) {
	for h, r := range stsHosts {
		if r == region {
			return h, nil
		}
	}
	return "", elevator.Errorf(elevator.EINVALID, "region %q has no STS endpoint Elevator's deployers call; sign for a region such as us-east-1", region)
}

// Refusal is why a call was refused: Status 401 (who the caller is is not
// proven) or 403 (the caller may not do this). Message is written for the
// caller; Caller is set when the caller was identified.
type Refusal struct {
	Status  int
	Code    string // unauthenticated or forbidden
	Message string
	Caller  elevator.Caller
}

// Error returns the message.
func (r *Refusal) Error() string { return r.Message }

func unauthenticated(format string, args ...any) *Refusal {
	return &Refusal{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: fmt.Sprintf(format, args...)}
}

// Authenticator learns who a caller is from its Authorization header.
type Authenticator struct {
	// ServerID is this deployer's id, which the caller signs in
	// X-Elevator-Server-Id (several replicas of one deployer share it).
	ServerID string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// STSTransportForTests, when set, carries the calls to STS instead of
	// the default transport. Tests only: it routes the allow-listed STS
	// hosts to the emulator (the request keeps its Host), and records that
	// no other host is ever called. Production leaves it nil.
	STSTransportForTests http.RoundTripper
	// Timeout bounds a call to STS; 0 means 10 seconds.
	Timeout time.Duration

	// seen remembers the callers STS named for recent Authorization
	// values, until their X-Amz-Date is MaxSkew old: a client may send
	// one signed request with many calls, as STS would take it again
	// for as long, without the server asking STS each time.
	mu   sync.Mutex
	seen map[[32]byte]seenCaller
}

type seenCaller struct {
	caller  elevator.Caller
	expires time.Time
}

// maxSeen bounds the remembered Authorization values.
const maxSeen = 10_000

func (a *Authenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Authenticate checks an Authorization header and returns the caller STS
// names. Every refusal is a *Refusal with status 401. It refuses, before
// any call: a missing header or another scheme, a header over
// MaxAuthorization, a token that does not decode, a method other than GET,
// a URL whose host is not on the static allow list of regional STS
// endpoints or whose query is not GetCallerIdentity's, a signature for
// another region or service, an X-Amz-Date more than MaxSkew away, and an
// X-Elevator-Server-Id that is not signed or is not this server's. Only
// then does it send the request, rebuilt from the allow list, to STS.
func (a *Authenticator) Authenticate(ctx context.Context, authorization string) (elevator.Caller, error) {
	if authorization == "" {
		return elevator.Caller{}, unauthenticated("no Authorization header: sign requests with the Elevator CLI (api.Client), scheme %s", Scheme)
	}
	if len(authorization) > MaxAuthorization {
		return elevator.Caller{}, unauthenticated("the Authorization header has %d bytes; at most %d are read", len(authorization), MaxAuthorization)
	}
	scheme, b64, ok := strings.Cut(authorization, " ")
	if !ok || scheme != Scheme {
		return elevator.Caller{}, unauthenticated("the Authorization scheme must be %s", Scheme)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return elevator.Caller{}, unauthenticated("the %s token is not base64url: %v", Scheme, err)
	}
	key := sha256.Sum256([]byte(authorization))
	a.mu.Lock()
	if s, ok := a.seen[key]; ok && a.now().Before(s.expires) {
		a.mu.Unlock()
		return s.caller, nil
	}
	a.mu.Unlock()
	var tok token
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tok); err != nil || tok.V != 1 {
		return elevator.Caller{}, unauthenticated("the %s token is not version 1 of its JSON form", Scheme)
	}
	req, caller, err := a.check(ctx, tok)
	if err != nil {
		return caller, err
	}
	if caller, err = a.call(req, caller); err != nil {
		return caller, err
	}
	signed, _ := time.Parse("20060102T150405Z", req.Header.Get("X-Amz-Date"))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.seen == nil || len(a.seen) >= maxSeen {
		a.seen = map[[32]byte]seenCaller{}
	}
	// Remembered while STS would take it again, and never longer than
	// MaxSkew from now (a request may be signed a little in the future).
	expires := signed.Add(MaxSkew)
	if limit := a.now().Add(MaxSkew); expires.After(limit) {
		expires = limit
	}
	a.seen[key] = seenCaller{caller: caller, expires: expires}
	return caller, nil
}

// check validates a token and builds the request to send, from the allow
// list; it calls nothing.
func (a *Authenticator) check(ctx context.Context, tok token) (*http.Request, elevator.Caller, error) {
	var caller elevator.Caller
	if tok.Method != http.MethodPost {
		return nil, caller, unauthenticated("the signed request's method is %q; want POST", tok.Method)
	}
	u, err := url.Parse(tok.URL)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Port() != "" || u.Fragment != "" || u.RawQuery != "" || (u.Path != "/" && u.Path != "") {
		return nil, caller, unauthenticated("the signed request's URL must be https://sts.REGION.amazonaws.com/ (or .amazonaws.com.cn)")
	}
	host := strings.ToLower(u.Hostname())
	region, ok := stsHosts[host]
	if !ok {
		return nil, caller, unauthenticated("the signed request is for %q, which is not a regional STS endpoint this server calls; sign for https://sts.REGION.amazonaws.com/", u.Host)
	}
	if tok.Body != stsQuery {
		return nil, caller, unauthenticated("the signed request may only be sts:GetCallerIdentity (body %s)", stsQuery)
	}
	h := http.Header{}
	for k, v := range tok.Headers {
		h.Set(k, v)
	}
	if h.Get("Host") != "" {
		return nil, caller, unauthenticated("the signed request's headers must not carry Host: the URL names it")
	}
	cred, signed, err := parseAuthorization(h.Get("Authorization"))
	if err != nil {
		return nil, caller, err
	}
	caller.AccessKeyID = cred.key
	if cred.service != "sts" {
		return nil, caller, unauthenticated("the request is signed for service %q; want sts", cred.service)
	}
	if cred.region != region {
		return nil, caller, unauthenticated("the request is signed for region %s but names %s: the signature's region must be the endpoint's. Sign for %s (set the client's region, such as AWS_REGION=%s), or send it to https://sts.%s.%s/",
			cred.region, host, region, region, cred.region, suffixOf(host))
	}
	for _, need := range []string{"host", "x-amz-date", strings.ToLower(ServerIDHeader)} {
		if !slices.Contains(signed, need) {
			return nil, caller, unauthenticated("the request does not sign %s; sign it with the Elevator CLI (api.Client)", need)
		}
	}
	for _, name := range signed {
		if name != "host" && name != "content-length" && len(h.Values(name)) == 0 {
			return nil, caller, unauthenticated("the signed header %s is missing from the token", name)
		}
	}
	at, err := time.Parse("20060102T150405Z", h.Get("X-Amz-Date"))
	if err != nil {
		return nil, caller, unauthenticated("X-Amz-Date %q: want the form 20261129T180000Z", h.Get("X-Amz-Date"))
	}
	if skew := a.now().Sub(at); skew > MaxSkew || skew < -MaxSkew {
		return nil, caller, unauthenticated("the request was signed at %s, more than %s from this server's clock (%s): sign a new one, and check the clocks", at.Format(time.RFC3339), MaxSkew, a.now().UTC().Format(time.RFC3339))
	}
	if got := h.Get(ServerIDHeader); got != a.ServerID {
		return nil, caller, unauthenticated("the request is signed for deployer %q, not this one (%q): sign for %s: %s", got, a.ServerID, ServerIDHeader, a.ServerID)
	}
	// Rebuild the request from the allow list: only the host comes from
	// the token, and only after it was found on the list.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+host+"/", strings.NewReader(stsQuery))
	if err != nil {
		return nil, caller, unauthenticated("build the STS request: %v", err)
	}
	req.Header.Set("Authorization", h.Get("Authorization"))
	for _, name := range signed {
		if name != "host" && name != "content-length" {
			req.Header[http.CanonicalHeaderKey(name)] = h.Values(name)
		}
	}
	return req, caller, nil
}

func suffixOf(host string) string {
	parts := strings.SplitN(host, ".", 3)
	return parts[len(parts)-1]
}

// credential is the Credential part of a SigV4 Authorization header.
type credential struct {
	key, date, region, service string
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/
// SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(v string) (credential, []string, error) {
	var c credential
	rest, ok := strings.CutPrefix(v, "AWS4-HMAC-SHA256 ")
	if !ok {
		return c, nil, unauthenticated("the signed request's Authorization is not AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = val
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" || fields["Signature"] == "" || fields["SignedHeaders"] == "" {
		return c, nil, unauthenticated("the signed request's Authorization lacks Credential, SignedHeaders or Signature")
	}
	c = credential{key: scope[0], date: scope[1], region: scope[2], service: scope[3]}
	return c, strings.Split(fields["SignedHeaders"], ";"), nil
}

// stsAnswer is the part of GetCallerIdentity's answer the server reads.
type stsAnswer struct {
	Result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
}

// stsError is STS's error document (ErrorResponse/Error; the emulator
// writes ErrorResponse/Errors/Error).
type stsError struct {
	Error  stsErrorDetail `xml:"Error"`
	Errors stsErrorDetail `xml:"Errors>Error"`
}

type stsErrorDetail struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// call sends the checked request to STS and reads the caller from the
// answer.
func (a *Authenticator) call(req *http.Request, caller elevator.Caller) (elevator.Caller, error) {
	timeout := a.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	client := &http.Client{Timeout: timeout, Transport: a.STSTransportForTests,
		// STS answers; it never redirects. Following one would call a
		// host the caller may have chosen.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return caller, &Refusal{Status: http.StatusUnauthorized, Code: "unauthenticated", Caller: caller,
			Message: fmt.Sprintf("could not reach STS at %s to check the signature: %v", req.URL.Host, errors.Unwrap(err))}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var e stsError
		_ = xml.Unmarshal(body, &e)
		if e.Error.Code == "" {
			e.Error = e.Errors
		}
		msg := fmt.Sprintf("STS refused the signed request (%d %s: %s)", resp.StatusCode, e.Error.Code, e.Error.Message)
		if e.Error.Code == "" {
			msg = fmt.Sprintf("STS refused the signed request (%d)", resp.StatusCode)
		}
		r := unauthenticated("%s", msg)
		r.Caller = caller
		return caller, r
	}
	var ans stsAnswer
	if err := xml.Unmarshal(body, &ans); err != nil || ans.Result.Arn == "" {
		r := unauthenticated("STS's answer names no caller")
		r.Caller = caller
		return caller, r
	}
	caller.ARN, caller.Account, caller.UserID = ans.Result.Arn, ans.Result.Account, ans.Result.UserID
	caller.SessionName = elevator.SessionNameOf(caller.ARN)
	return caller, nil
}

// EmulatorSTS returns a transport for STSTransportForTests that sends the
// calls for allow-listed STS hosts to an AWS emulator at endpoint (such as
// moto, in tests or behind `--local`), keeping the Host header the caller
// signed, and refuses any other host. It returns an EINVALID error for an
// endpoint that is not an http(s) URL.
func EmulatorSTS(endpoint string) (http.RoundTripper, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "emulator endpoint %q: want a URL such as http://127.0.0.1:5000", endpoint)
	}
	return emulatorTransport{u}, nil
}

type emulatorTransport struct{ endpoint *url.URL }

func (e emulatorTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := stsHosts[r.URL.Hostname()]; !ok {
		return nil, fmt.Errorf("%s is not an allow-listed STS endpoint", r.URL.Host)
	}
	out := r.Clone(r.Context())
	out.Host = r.URL.Host
	out.URL.Scheme, out.URL.Host = e.endpoint.Scheme, e.endpoint.Host
	return http.DefaultTransport.RoundTrip(out)
}
