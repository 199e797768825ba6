package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// Client calls a deployer's API, signing each request with the caller's
// AWS credentials (see Authorization).
type Client struct {
	// BaseURL is the deployer, such as https://deployer.prod.internal.
	BaseURL string
	// ServerID is the deployer's id, signed into every request.
	ServerID string
	// AWS holds the caller's credentials; its Region picks the STS
	// endpoint the request is signed for.
	AWS  aws.Config
	HTTP *http.Client // nil: http.DefaultClient
	// Now is the signing clock; nil means time.Now.
	Now func() time.Time

	// The last Authorization made, reused for ReuseSignature so that a
	// burst of calls costs the deployer one call to STS (it remembers a
	// signed request it has checked).
	mu       sync.Mutex
	auth     string
	signedAt time.Time
}

// ReuseSignature is how long a Client sends the same signed request: well
// inside the 15 minutes a deployer and STS take it for.
const ReuseSignature = 5 * time.Minute

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// authorization returns the Authorization of the last ReuseSignature, or
// a new one.
func (c *Client) authorization(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); c.auth != "" && now.Sub(c.signedAt) < ReuseSignature && !now.Before(c.signedAt) {
		return c.auth, nil
	}
	auth, err := c.Authorization(ctx)
	if err != nil {
		return "", err
	}
	c.auth, c.signedAt = auth, c.now()
	return auth, nil
}

// Authorization returns the value of an Authorization header that proves
// the caller's identity to the deployer: an sts:GetCallerIdentity request
// built by the SDK's presign client for the regional STS endpoint of
// c.AWS.Region, with X-Elevator-Server-Id, signed with SigV4 in its
// headers (see the format in auth.go). It calls nothing but the
// credential provider. It returns EINVALID for a region without an
// allow-listed STS endpoint.
func (c *Client) Authorization(ctx context.Context) (string, error) {
	host, err := STSHost(c.AWS.Region)
	if err != nil {
		return "", err
	}
	creds, err := c.AWS.Credentials.Retrieve(ctx)
	if err != nil {
		return "", elevator.Errorf(elevator.EINVALID, "read AWS credentials to sign with: %w", err)
	}
	cfg := c.AWS.Copy()
	cfg.Credentials = aws.NewCredentialsCache(staticProvider{creds})
	signer := &headerSigner{now: c.Now}
	pc := sts.NewPresignClient(sts.NewFromConfig(cfg, func(o *sts.Options) {
		// Signed for the real regional endpoint whatever endpoint the
		// caller's configuration points at: the deployer calls only the
		// allow-listed ones.
		o.BaseEndpoint = aws.String("https://" + host)
		o.APIOptions = append(o.APIOptions, withHeader(ServerIDHeader, c.ServerID))
	}), func(o *sts.PresignOptions) { o.Presigner = signer })
	req, err := pc.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", elevator.Errorf(elevator.EINVALID, "sign sts:GetCallerIdentity for the deployer: %w", err)
	}
	tok := token{V: 1, Method: http.MethodPost, URL: req.URL, Body: stsQuery, Headers: map[string]string{}}
	_, signed, err := parseAuthorization(req.SignedHeader.Get("Authorization"))
	if err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "sign sts:GetCallerIdentity: %v", err)
	}
	tok.Headers["Authorization"] = req.SignedHeader.Get("Authorization")
	for _, name := range signed {
		if name != "host" && name != "content-length" {
			tok.Headers[http.CanonicalHeaderKey(name)] = req.SignedHeader.Get(name)
		}
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return "", elevator.Errorf(elevator.EINTERNAL, "encode the signed request: %v", err)
	}
	v := Scheme + " " + base64.RawURLEncoding.EncodeToString(b)
	if len(v) > MaxAuthorization {
		return "", elevator.Errorf(elevator.EINVALID, "the signed request takes %d bytes, more than the %d a deployer reads (a very long session token?)", len(v), MaxAuthorization)
	}
	return v, nil
}

type staticProvider struct{ c aws.Credentials }

func (p staticProvider) Retrieve(context.Context) (aws.Credentials, error) { return p.c, nil }

// headerSigner is a presigner that signs in the headers (SigV4
// Authorization) rather than in the query: see auth.go for why.
type headerSigner struct {
	now func() time.Time
}

// PresignHTTP signs r and returns its URL and headers.
func (s *headerSigner) PresignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	if s.now != nil {
		signingTime = s.now()
	}
	// The presign client builds a GET with the action in the query; the
	// deployer sends a POST with it in the body, as the SDK itself calls
	// STS (and as the emulator can verify).
	if q, err := url.ParseQuery(r.URL.RawQuery); err != nil || q.Get("Action") != "GetCallerIdentity" {
		return "", nil, fmt.Errorf("sign %s: not sts:GetCallerIdentity", r.URL.Redacted())
	}
	r.Method = http.MethodPost
	r.URL.RawQuery = ""
	r.Body = io.NopCloser(strings.NewReader(stsQuery))
	r.ContentLength = int64(len(stsQuery))
	r.Header.Set("Content-Type", formType)
	sum := sha256.Sum256([]byte(stsQuery))
	payloadHash = hex.EncodeToString(sum[:])
	// Headers the SDK adds for its own bookkeeping are not part of what
	// the deployer replays; leave them unsigned.
	for _, h := range []string{"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "X-Amz-User-Agent"} {
		r.Header.Del(h)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, r, payloadHash, service, region, signingTime.UTC(), optFns...); err != nil {
		return "", nil, err
	}
	return r.URL.String(), r.Header, nil
}

// withHeader sets a header before the request is signed.
func withHeader(name, value string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("ElevatorServerID",
			func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Header.Set(name, value)
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
	}
}

// APIError is an error answer of the API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error returns the message with the status.
func (e *APIError) Error() string {
	return fmt.Sprintf("deployer: %d %s: %s", e.Status, e.Code, e.Message)
}

// Do sends a signed request with body (JSON, or none when nil) and
// decodes a JSON answer into out (when not nil). An error answer is an
// *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode the deployer's answer to %s %s: %w", method, path, err)
	}
	return nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	auth, err := c.authorization(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var eb errorBody
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb)
		return nil, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message}
	}
	return resp, nil
}

// Submit submits a release.
func (c *Client) Submit(ctx context.Context, rel *elevator.Release) (*elevator.ReleaseRecord, error) {
	var rec elevator.ReleaseRecord
	return &rec, c.Do(ctx, http.MethodPost, "/v1/releases", rel, &rec)
}

// List returns a page of an app's releases, newest first, and the cursor
// of the next page ("" after the last).
func (c *Client) List(ctx context.Context, app string, limit int, cursor string) ([]*elevator.ReleaseRecord, string, error) {
	q := url.Values{"app": {app}}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out struct {
		Releases []*elevator.ReleaseRecord `json:"releases"`
		Next     string                    `json:"next_cursor"`
	}
	err := c.Do(ctx, http.MethodGet, "/v1/releases?"+q.Encode(), nil, &out)
	return out.Releases, out.Next, err
}

// Get returns a release's record.
func (c *Client) Get(ctx context.Context, id string) (*elevator.ReleaseRecord, error) {
	var rec elevator.ReleaseRecord
	return &rec, c.Do(ctx, http.MethodGet, "/v1/releases/"+url.PathEscape(id), nil, &rec)
}

// Halt asks a release to stop.
func (c *Client) Halt(ctx context.Context, id, reason string) error {
	return c.Do(ctx, http.MethodPost, "/v1/releases/"+url.PathEscape(id)+"/halt", reasonBody{reason}, nil)
}

// Rollback releases an earlier release's content of app again (to "": the
// successful release before the current one).
func (c *Client) Rollback(ctx context.Context, app, to string) (*elevator.Release, error) {
	var rel elevator.Release
	return &rel, c.Do(ctx, http.MethodPost, "/v1/apps/"+url.PathEscape(app)+"/rollback", map[string]string{"to": to}, &rel)
}

// Unlock breaks the release lock of app and returns the lock it broke.
func (c *Client) Unlock(ctx context.Context, app, reason string) (release.Lock, error) {
	var out struct {
		App       string    `json:"app"`
		Orbit     string    `json:"orbit"`
		ReleaseID string    `json:"release_id"`
		Holder    string    `json:"holder"`
		Owner     string    `json:"owner"`
		Since     time.Time `json:"since"`
		Expires   time.Time `json:"expires"`
	}
	err := c.Do(ctx, http.MethodPost, "/v1/apps/"+url.PathEscape(app)+"/unlock", reasonBody{reason}, &out)
	return release.Lock{App: out.App, Orbit: out.Orbit, ReleaseID: out.ReleaseID, Holder: out.Holder, Owner: out.Owner,
		Since: out.Since, Expires: out.Expires}, err
}

// Audit returns the orbit's audit entries of the last since, of app when
// app is not "".
func (c *Client) Audit(ctx context.Context, app string, since time.Duration) ([]elevator.AuditEntry, error) {
	q := url.Values{"since": {since.String()}}
	if app != "" {
		q.Set("app", app)
	}
	var out struct {
		Entries []elevator.AuditEntry `json:"entries"`
	}
	err := c.Do(ctx, http.MethodGet, "/v1/audit?"+q.Encode(), nil, &out)
	return out.Entries, err
}

// Watch follows a release, calling each with every new revision of its
// record, until it ends (it returns the last record) or ctx ends.
func (c *Client) Watch(ctx context.Context, id string, each func(*elevator.ReleaseRecord)) (*elevator.ReleaseRecord, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/releases/"+url.PathEscape(id)+"/watch", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var last *elevator.ReleaseRecord
	var event string
	err = readEvents(resp.Body, func(ev, data string) error {
		event = ev
		if ev != "record" {
			return nil
		}
		var rec elevator.ReleaseRecord
		if err := json.Unmarshal([]byte(data), &rec); err != nil {
			return fmt.Errorf("decode a watched record: %w", err)
		}
		last = &rec
		if each != nil {
			each(&rec)
		}
		return nil
	})
	if err != nil {
		return last, err
	}
	if event != "end" {
		return last, elevator.Errorf(elevator.EINTERRUPTED, "the watch of release %s stopped before it ended", id)
	}
	return last, nil
}

// readEvents reads a Server-Sent Events stream as it comes, calling fn
// with each event's name and data.
func readEvents(r io.Reader, fn func(event, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // a record with many notes is long
	var ev, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev != "" {
				if err := fn(ev, data); err != nil {
					return err
				}
			}
			ev, data = "", ""
		case strings.HasPrefix(line, "event: "):
			ev = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		}
	}
	return sc.Err()
}
