// Package faultproxy is an HTTP proxy that stands in front of the AWS
// emulator and makes a share of calls fail the way AWS fails under load:
// throttling errors in each protocol's own format, and 5xx answers. A fault
// can be injected before a call reaches the emulator (the call never
// happened) or after (the call happened but its answer was lost), which is
// what makes idempotency tokens matter. Tests use it to show that retries
// and idempotent steps turn transient failures into successes.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Config says which share of calls fail, and how.
type Config struct {
	// Throttle is the share of calls (0 to 1) answered with a throttling
	// error before they reach the emulator.
	Throttle float64
	// Unavailable is the share answered 503 before they reach it.
	Unavailable float64
	// LostAnswer is the share forwarded to the emulator whose answer is
	// replaced by a 500: the call took effect, the caller cannot know.
	LostAnswer float64
	// Drop is the share whose connection is closed without an answer
	// before they reach the emulator: the service is gone (the emulator
	// was killed, the network is down).
	Drop float64
	// Seed makes the choice of failing calls repeatable.
	Seed uint64
	// Match, when set, limits faults to requests it accepts, e.g. one AWS
	// operation. Calls to the emulator's own /moto-api are never faulted.
	Match func(r *http.Request, body []byte) bool
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	URL string // give this to the SDK as its endpoint

	server *httptest.Server
	mu     sync.Mutex
	cfg    Config
	rng    *rand.Rand
	counts Counts
}

// Counts says what the proxy did.
type Counts struct {
	Requests, Throttled, Unavailable, LostAnswers, Dropped int
}

// Start starts a proxy in front of target (the emulator's base URL).
func Start(target string, cfg Config) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	p := &Proxy{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, rp)
	}))
	p.URL = p.server.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.server.Close() }

// Counts returns what the proxy has done so far.
func (p *Proxy) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

type fault int

const (
	none fault = iota
	throttle
	unavailable
	lostAnswer
	drop
)

func (p *Proxy) decide(r *http.Request, body []byte) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Requests++
	if strings.HasPrefix(r.URL.Path, "/moto-api") || (p.cfg.Match != nil && !p.cfg.Match(r, body)) {
		return none
	}
	x := p.rng.Float64()
	switch {
	case x < p.cfg.Throttle:
		p.counts.Throttled++
		return throttle
	case x < p.cfg.Throttle+p.cfg.Unavailable:
		p.counts.Unavailable++
		return unavailable
	case x < p.cfg.Throttle+p.cfg.Unavailable+p.cfg.LostAnswer:
		p.counts.LostAnswers++
		return lostAnswer
	case x < p.cfg.Throttle+p.cfg.Unavailable+p.cfg.LostAnswer+p.cfg.Drop:
		p.counts.Dropped++
		return drop
	}
	return none
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch p.decide(r, body) {
	case throttle:
		writeThrottle(w, r, body)
	case unavailable:
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	case lostAnswer:
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
	case drop:
		hangUp(w)
	default:
		rp.ServeHTTP(w, r)
	}
}

// hangUp closes the connection of a request without answering it.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection as well
	}
	conn.Close()
}

// writeThrottle answers with the throttling error of the request's
// protocol, so that the SDK recognises it as throttling and backs off.
func writeThrottle(w http.ResponseWriter, r *http.Request, body []byte) {
	ct := r.Header.Get("Content-Type")
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		// JSON protocols (DynamoDB, SSM, Secrets Manager, ...) name the
		// operation in X-Amz-Target; an S3 object that happens to be
		// JSON does not.
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded") && bytes.Contains(body, []byte("Version=2016-11-15")):
		// EC2's query protocol has its own error document.
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>faultproxy</RequestID></Response>`)
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		// The query protocol (CloudFormation, Auto Scaling, ELB, STS, IAM).
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>faultproxy</RequestId></ErrorResponse>`)
	default:
		// REST-XML (S3, Route 53).
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
	}
}

// Service returns the AWS service a request is signed for, from the
// credential scope of its SigV4 Authorization header ("dynamodb", "s3",
// "ec2", ...), or "" for an unsigned request. A Match can use it to take
// one service away.
func Service(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	// AKID/20261129/us-east-1/dynamodb/aws4_request
	if parts := strings.Split(cred, "/"); len(parts) == 5 {
		return parts[3]
	}
	return ""
}
