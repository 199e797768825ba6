package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

const serverID = "prod-deployer"

// harness is a deployer's API on a fake Releases, whose callers are IAM
// users of emulator accounts, one per role, and whose Authenticator asks
// the emulator (with its signature checks on) who they are.
type harness struct {
	fake    *fakeReleases
	srv     *httptest.Server
	sts     *emulatorSTS
	metrics *Metrics
	orbit   *elevator.Orbit
	ready   error
	// Callers: a viewer of the orbit, a deployer of every app (granted
	// by a pattern), an approver of app shop, an admin, and someone the
	// access rules do not name.
	viewer, deployer, shopApprover, admin, nobody *Client
	accounts                                      map[*Client]*emulatortest.Account
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{fake: newFake(), sts: &emulatorSTS{}, metrics: NewMetrics(), accounts: map[*Client]*emulatortest.Account{}}
	arn := func(a *emulatortest.Account) string { return "arn:aws:iam::" + a.ID + ":user/elevator-test" }
	acct := make([]*emulatortest.Account, 5)
	for i := range acct {
		acct[i] = emulatortest.NewAccount(t)
	}
	h.orbit = &elevator.Orbit{Name: "prod", Access: []elevator.AccessRule{
		{Role: elevator.RoleViewer, Principals: []string{arn(acct[0])}},
		{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::" + acct[1].ID + ":user/elevator-*"}},
		{Role: elevator.RoleApprover, Principals: []string{arn(acct[2])}, Apps: []string{"shop"}},
		{Role: elevator.RoleAdmin, Principals: []string{arn(acct[3])}},
	}}
	checkSignatures(t)
	s, err := New(Options{Releases: h.fake, Orbit: h.orbit, Metrics: h.metrics, WatchPoll: 5 * time.Millisecond,
		Auth:  &Authenticator{ServerID: serverID, STSTransportForTests: h.sts},
		Ready: func() error { return h.ready }})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(s)
	t.Cleanup(h.srv.Close)
	clients := []**Client{&h.viewer, &h.deployer, &h.shopApprover, &h.admin, &h.nobody}
	for i, c := range clients {
		*c = h.client(acct[i], "us-east-1")
	}
	return h
}

func (h *harness) client(a *emulatortest.Account, region string) *Client {
	c := &Client{BaseURL: h.srv.URL, ServerID: serverID, AWS: userConfig(a, region)}
	h.accounts[c] = a
	return c
}

// raw sends a request with an Authorization header as given and returns
// the status and the decoded JSON error, if any.
func (h *harness) raw(t *testing.T, method, path, auth string, body any) (int, errorBody) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb errorBody
	if resp.StatusCode >= 300 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: error answer of type %q, want application/json", method, path, ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Errorf("%s %s: error answer is not {\"error\": {\"code\", \"message\"}}: %v", method, path, err)
		}
	}
	return resp.StatusCode, eb
}

// tamper decodes a token, changes it and encodes it again.
func tamper(t *testing.T, auth string, change func(*token)) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(auth, Scheme+" "))
	if err != nil {
		t.Fatal(err)
	}
	var tok token
	if err := json.Unmarshal(raw, &tok); err != nil {
		t.Fatal(err)
	}
	change(&tok)
	b, _ := json.Marshal(tok)
	return Scheme + " " + base64.RawURLEncoding.EncodeToString(b)
}

func sign(t *testing.T, c *Client) string {
	t.Helper()
	auth, err := c.Authorization(context.Background())
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return auth
}

func TestUnprovenCallersGet401AndAreAudited(t *testing.T) {
	h := newHarness(t)
	good := sign(t, h.viewer)
	h.fake.put(record("shop", 1, elevator.StateSuccess))
	stale := h.client(h.accounts[h.viewer], "us-east-1")
	stale.Now = func() time.Time { return time.Now().Add(-16 * time.Minute) }
	other := h.client(h.accounts[h.viewer], "us-east-1")
	other.ServerID = "staging-deployer"
	west := h.client(h.accounts[h.viewer], "eu-west-1")
	tests := []struct {
		name   string
		auth   string
		calls  int    // calls to STS the server may make
		want   string // in the message
		hasKey bool   // the audit knows the access key id
	}{
		{"an unsigned request", "", 0, "no Authorization header", false},
		{"another scheme", "Bearer abc", 0, "scheme must be Elevator-STS", false},
		{"a header over 4 KiB", Scheme + " " + strings.Repeat("A", MaxAuthorization), 0, "at most 4096", false},
		{"a request whose date was changed after signing", tamper(t, good, func(tok *token) {
			at, _ := time.Parse("20060102T150405Z", tok.Headers["X-Amz-Date"])
			tok.Headers["X-Amz-Date"] = at.Add(-time.Second).Format("20060102T150405Z")
		}), 1, "SignatureDoesNotMatch", true},
		{"a request with a forged signature", tamper(t, good, func(tok *token) {
			a := tok.Headers["Authorization"]
			last := a[len(a)-1]
			tok.Headers["Authorization"] = a[:len(a)-1] + map[bool]string{true: "0", false: "1"}[last != '0']
		}), 1, "SignatureDoesNotMatch", true},
		{"a request signed more than 15 minutes ago", sign(t, stale), 0, "more than 15m0s from this server's clock", true},
		{"a request signed for another deployer", sign(t, other), 0, `signed for deployer "staging-deployer"`, true},
		{"a request whose server id is not signed", tamper(t, good, func(tok *token) {
			tok.Headers["Authorization"] = strings.Replace(tok.Headers["Authorization"], ";x-elevator-server-id", "", 1)
		}), 0, "does not sign x-elevator-server-id", true},
		{"a request for a host off the allow list", tamper(t, good, func(tok *token) { tok.URL = "https://sts.us-east-1.amazonaws.com.evil.example/" }), 0,
			"not a regional STS endpoint", false},
		{"a request for the global STS endpoint", tamper(t, good, func(tok *token) { tok.URL = "https://sts.amazonaws.com/" }), 0,
			"not a regional STS endpoint", false},
		{"a request for a host with a port", tamper(t, good, func(tok *token) { tok.URL = "https://sts.us-east-1.amazonaws.com:8443/" }), 0,
			"URL must be", false},
		{"a request for another action", tamper(t, good, func(tok *token) { tok.Body = "Action=AssumeRole&Version=2011-06-15" }), 0,
			"may only be sts:GetCallerIdentity", false},
		{"a request signed for another region than its endpoint's", tamper(t, sign(t, west), func(tok *token) {
			tok.URL = "https://sts.us-east-1.amazonaws.com/"
		}), 0, "signed for region eu-west-1 but names sts.us-east-1.amazonaws.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, refused := len(h.sts.called()), len(h.fake.refusals())
			status, eb := h.raw(t, http.MethodGet, "/v1/releases?app=shop", tt.auth, nil)
			if status != http.StatusUnauthorized || eb.Error.Code != "unauthenticated" || !strings.Contains(eb.Error.Message, tt.want) {
				t.Fatalf("got %d %+v, want 401 unauthenticated with %q", status, eb.Error, tt.want)
			}
			if calls := h.sts.called()[before:]; len(calls) != tt.calls {
				t.Errorf("STS calls %v, want %d", calls, tt.calls)
			}
			audits := h.fake.refusals()[refused:]
			if len(audits) != 1 || audits[0].Outcome != "401" || audits[0].Orbit != "prod" || !strings.Contains(audits[0].Detail, tt.want) {
				t.Fatalf("audited %+v, want one refusal", audits)
			}
			// STS vouched for none of these: the key the request claims
			// is in the detail, marked unverified, never in the entry's
			// access key id.
			claimed := "claimed access key id " + h.accounts[h.viewer].AccessKeyID + ", unverified"
			if a := audits[0]; a.AccessKeyID != "" || a.SessionName != "" || strings.Contains(a.Detail, claimed) != tt.hasKey {
				t.Errorf("audited key %q, session %q, detail %q; want no key or session, and the claimed key in the detail: %v",
					a.AccessKeyID, a.SessionName, a.Detail, tt.hasKey)
			}
		})
	}
	// The STS calls made were all to the allow-listed endpoint.
	for _, host := range h.sts.called() {
		if host != "sts.us-east-1.amazonaws.com" {
			t.Errorf("called %s", host)
		}
	}
	// And the signed request itself is good.
	if status, eb := h.raw(t, http.MethodGet, "/v1/releases?app=shop", good, nil); status != http.StatusOK {
		t.Fatalf("the unchanged request: %d %+v", status, eb)
	}
}

func submission(app string) *elevator.Release {
	return &elevator.Release{ID: "20261129-120000-9f86d081", CreatedAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), CreatedBy: "ci",
		App: app, Orbit: "prod", Version: "1.4.2", Regions: []string{"us-east-1"}, TimeoutSeconds: 600,
		Services: []elevator.ReleaseService{{Name: "web", InstanceType: "t3.small", UserData: "#!/bin/sh\n",
			Capacity:   elevator.ReleaseCapacity{Min: 1, Max: 2},
			Placements: []elevator.ReleasePlacement{{Region: "us-east-1", Image: "ami-0123456789abcdef0", Subnets: []string{"subnet-1"}}}}}}
}

func TestRolesDecideWhatEachCallerMayDo(t *testing.T) {
	h := newHarness(t)
	shop, cart := record("shop", 1, elevator.StateDeploy), record("cart", 2, elevator.StateDeploy)
	done := record("shop", 3, elevator.StateSuccess)
	for _, r := range []*elevator.ReleaseRecord{shop, cart, done} {
		h.fake.put(r)
	}
	halt := map[string]string{"reason": "alarms"}
	tests := []struct {
		name         string
		c            *Client
		method, path string
		body         any
		want         int
	}{
		{"a caller without a role cannot list", h.nobody, "GET", "/v1/releases?app=shop", nil, 403},
		{"a caller without a role cannot read a release", h.nobody, "GET", "/v1/releases/" + shop.ID, nil, 403},
		{"a caller without a role cannot learn which releases exist", h.nobody, "GET", "/v1/releases/20261129-130000-00000000", nil, 403},
		{"a viewer lists", h.viewer, "GET", "/v1/releases?app=shop", nil, 200},
		{"a viewer reads a release", h.viewer, "GET", "/v1/releases/" + cart.ID, nil, 200},
		{"a viewer reads the audit log", h.viewer, "GET", "/v1/audit", nil, 200},
		{"a viewer cannot halt", h.viewer, "POST", "/v1/releases/" + shop.ID + "/halt", halt, 403},
		{"a viewer cannot submit", h.viewer, "POST", "/v1/releases", submission("shop"), 403},
		{"a deployer submits in any app", h.deployer, "POST", "/v1/releases", submission("cart"), 202},
		{"a deployer cannot unlock", h.deployer, "POST", "/v1/apps/cart/unlock", halt, 403},
		{"a deployer cannot roll back", h.deployer, "POST", "/v1/apps/shop/rollback", map[string]string{"to": done.ID}, 403},
		{"an approver of shop cannot deploy cart", h.shopApprover, "POST", "/v1/releases", submission("cart"), 403},
		{"an approver of shop cannot halt cart", h.shopApprover, "POST", "/v1/releases/" + cart.ID + "/halt", halt, 403},
		{"an approver of shop cannot list cart", h.shopApprover, "GET", "/v1/releases?app=cart", nil, 403},
		{"an approver of shop cannot read the whole audit log", h.shopApprover, "GET", "/v1/audit", nil, 403},
		{"an approver of shop reads shop's audit log", h.shopApprover, "GET", "/v1/audit?app=shop", nil, 200},
		{"an approver of shop deploys shop", h.shopApprover, "POST", "/v1/releases", submission("shop"), 202},
		{"an approver of shop halts shop", h.shopApprover, "POST", "/v1/releases/" + shop.ID + "/halt", halt, 202},
		{"an approver of shop rolls shop back", h.shopApprover, "POST", "/v1/apps/shop/rollback", map[string]string{"to": done.ID}, 202},
		{"an admin unlocks cart", h.admin, "POST", "/v1/apps/cart/unlock", halt, 200},
		{"an admin halts cart", h.admin, "POST", "/v1/releases/" + cart.ID + "/halt", halt, 202},
		{"halting an ended release is a conflict", h.admin, "POST", "/v1/releases/" + done.ID + "/halt", halt, 409},
		{"an unknown release is not found", h.admin, "GET", "/v1/releases/20261129-130000-00000000", nil, 404},
		{"a bad app name is refused", h.admin, "GET", "/v1/releases?app=Shop", nil, 400},
		{"a halt without a reason is refused", h.admin, "POST", "/v1/releases/" + cart.ID + "/halt", map[string]string{}, 400},
	}
	forbidden := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, eb := h.raw(t, tt.method, tt.path, sign(t, tt.c), tt.body)
			if status != tt.want {
				t.Fatalf("got %d %+v, want %d", status, eb.Error, tt.want)
			}
			if status == 403 {
				forbidden++
				if eb.Error.Code != "forbidden" || !strings.Contains(eb.Error.Message, "role") {
					t.Errorf("error %+v", eb.Error)
				}
				audits := h.fake.refusals()
				last := audits[len(audits)-1]
				acct := h.accounts[tt.c]
				if len(audits) != forbidden || last.Outcome != "403" || last.By != "arn:aws:iam::"+acct.ID+":user/elevator-test" || last.AccessKeyID != acct.AccessKeyID {
					t.Errorf("audit of the refusal: %d entries, last %+v", len(audits), last)
				}
			}
		})
	}
	if len(h.fake.halts) != 2 {
		t.Errorf("halts %v, want shop's and cart's", h.fake.halts)
	}
	// A submission is the caller's, whatever its document says.
	rec, _ := h.fake.Get(context.Background(), "20261129-120000-9f86d081")
	if rec == nil || rec.App != "shop" {
		t.Fatalf("submitted record %+v", rec)
	}
	for _, e := range h.fake.audit {
		if e.Action == elevator.AuditSubmit && e.AccessKeyID == "" {
			t.Errorf("submit audited without the access key: %+v", e)
		}
	}
}

func TestClientCallsTheAPI(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const n = 250
	for i := 1; i <= n; i++ {
		h.fake.put(record("shop", i, elevator.StateSuccess))
	}
	h.fake.put(record("cart", n+1, elevator.StateSuccess))
	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		recs, next, err := h.viewer.List(ctx, "shop", 100, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 && h.fake.read != 100 {
			t.Errorf("the first page read %d records, want 100", h.fake.read)
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(ids) != n || ids[0] != record("shop", n, "").ID || ids[n-1] != record("shop", 1, "").ID {
		t.Fatalf("listed %d releases from %s to %s", len(ids), ids[0], ids[len(ids)-1])
	}
	if h.fake.read != n {
		t.Errorf("listing every page read %d records, want %d", h.fake.read, n)
	}
	rec, err := h.viewer.Get(ctx, ids[0])
	if err != nil || rec.ID != ids[0] {
		t.Fatalf("get: %+v %v", rec, err)
	}
	if _, err := h.deployer.Submit(ctx, submission("shop")); err != nil {
		t.Fatal(err)
	}
	var ae *APIError
	if err := h.viewer.Halt(ctx, ids[0], "no"); !errors.As(err, &ae) || ae.Status != 403 {
		t.Fatalf("viewer halt: %v", err)
	}
	entries, err := h.viewer.Audit(ctx, "shop", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Every call served is audited (3 pages, a get, a submit and this
	// read of the audit log), besides the submission and the refusal.
	actions := map[string]int{}
	for _, e := range entries {
		actions[e.Action]++
	}
	if want := map[string]int{elevator.AuditCall: 6, elevator.AuditSubmit: 1, elevator.AuditRefused: 1}; fmt.Sprint(actions) != fmt.Sprint(want) {
		t.Fatalf("audit entries by action %v, want %v: %+v", actions, want, entries)
	}
	// A client reuses its signed request for a while, and the server
	// remembers what STS said of it: one call to STS per caller.
	if calls := h.sts.called(); len(calls) != 2 {
		t.Errorf("%d calls to STS for 8 calls of 2 callers, want 2", len(calls))
	}
}

func TestWatchStreamsRecordChangesUntilTheReleaseEnds(t *testing.T) {
	h := newHarness(t)
	rec := record("shop", 1, elevator.StateValidate)
	rec.Path = []elevator.ReleaseState{elevator.StateValidate}
	h.fake.put(rec)
	path := []elevator.ReleaseState{elevator.StateLock, elevator.StateDeploy, elevator.StateCheckHealthy, elevator.StateCutOver, elevator.StateUnlock, elevator.StateSuccess}
	reads := 0
	h.fake.onGet = func(r *elevator.ReleaseRecord) {
		// The record changes every other read: the watch must not send
		// a revision twice.
		if reads++; reads%2 == 0 && !r.State.Ended() {
			r.State = path[len(r.Path)-1]
			r.Path = append(r.Path, r.State)
			r.Revision++
		}
	}
	var seen []elevator.ReleaseState
	last, err := h.viewer.Watch(context.Background(), rec.ID, func(r *elevator.ReleaseRecord) { seen = append(seen, r.State) })
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 7 || last.State != elevator.StateSuccess || last.Revision != 7 {
		t.Fatalf("saw %v, last %+v", seen, last)
	}
	if _, err := h.nobody.Watch(context.Background(), rec.ID, nil); err == nil {
		t.Fatal("a caller without a role watched")
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/v2/nothing": 404} {
		if status, _ := h.raw(t, "GET", path, "", nil); status != want {
			t.Errorf("%s: %d, want %d", path, status, want)
		}
	}
	h.ready = errors.New("the queue is not reachable")
	if status, eb := h.raw(t, "GET", "/readyz", "", nil); status != 503 || !strings.Contains(eb.Error.Message, "queue") {
		t.Errorf("/readyz when not ready: %d %+v", status, eb)
	}
	h.fake.put(record("shop", 1, elevator.StateSuccess))
	for range 3 {
		h.raw(t, "GET", "/v1/releases?app=shop", sign(t, h.viewer), nil)
	}
	h.raw(t, "GET", "/v1/releases?app=shop", sign(t, h.nobody), nil)
	h.raw(t, "GET", "/v1/releases?app=shop", "", nil)
	// AWS calls through the middleware, one that succeeds and one that
	// fails (a key the emulator does not know).
	cfg := userConfig(h.accounts[h.viewer], "us-east-1")
	cfg.BaseEndpoint = aws.String(emulatortest.Endpoint())
	cfg.APIOptions = append(cfg.APIOptions, h.metrics.AWSMiddleware)
	cfg.RetryMaxAttempts = 1
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	cfg.Credentials = aws.NewCredentialsCache(staticProvider{aws.Credentials{AccessKeyID: "AKIAFORGED0000000000", SecretAccessKey: "x"}})
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), nil); err == nil {
		t.Fatal("an unknown key passed the emulator's checks")
	}
	h.metrics.ObserveTransition(elevator.ReleaseRecord{State: elevator.StateLock,
		Path:   []elevator.ReleaseState{elevator.StateValidate, elevator.StateLock},
		Visits: []time.Time{time.Unix(0, 0), time.Unix(2, 0)}})

	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		f := families[name]
		if f == nil {
			t.Errorf("no metric %s", name)
			return -1
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.Counter.GetValue()
			case dto.MetricType_HISTOGRAM:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"elevator_api_requests_total", map[string]string{"route": "GET /v1/releases", "code": "200"}, 3},
		{"elevator_api_requests_total", map[string]string{"route": "GET /v1/releases", "code": "403"}, 1},
		{"elevator_api_requests_total", map[string]string{"route": "GET /v1/releases", "code": "401"}, 1},
		{"elevator_api_requests_total", map[string]string{"route": "GET /readyz", "code": "503"}, 1},
		{"elevator_api_refused_total", map[string]string{"code": "401"}, 1},
		{"elevator_api_refused_total", map[string]string{"code": "403"}, 1},
		{"elevator_aws_calls_total", map[string]string{"service": "STS", "operation": "GetCallerIdentity"}, 2},
		{"elevator_aws_call_errors_total", map[string]string{"service": "STS", "operation": "GetCallerIdentity"}, 1}, // the emulator's error document names no code the SDK reads
		{"elevator_release_transitions_total", map[string]string{"state": "Lock"}, 1},
		{"elevator_release_step_duration_seconds", map[string]string{"state": "Validate"}, 1},
	} {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v (%v)", c.name, c.labels, got, c.want, families[c.name])
		}
	}
}

func TestRoutesNeedTheRolesTheDocsSay(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deployer-api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		call := strings.Split(strings.TrimSpace(cells[1]), "`")[1]
		call, _, _ = strings.Cut(call, "?")
		documented[call] = strings.Fields(cells[2])[0]
	}
	routes := Routes()
	if len(documented) != len(routes) {
		t.Errorf("docs/deployer-api.md lists %d calls, the API has %d", len(documented), len(routes))
	}
	for _, r := range routes {
		if got := documented[r.Pattern]; got != string(r.Role) {
			t.Errorf("%s needs %s; docs/deployer-api.md says %q", r.Pattern, r.Role, got)
		}
	}
}

func TestAnyOtherCallIsAJSONError(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{{"DELETE", "/v1/releases", 405}, {"GET", "/v1/nothing", 404}, {"PUT", "/v1/apps/shop/unlock", 405}, {"GET", "/v1/releases/x/halt", 405}} {
		if status, eb := h.raw(t, c.method, c.path, "", nil); status != c.want {
			t.Errorf("%s %s: %d %+v, want %d", c.method, c.path, status, eb, c.want)
		}
	}
}
