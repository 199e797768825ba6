package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// assumedRole makes a role ci in the account of a, which a's user may
// assume, and returns a client of the API signing with a session of it
// named session. The emulator's signature checks are off while the role
// is made (the calls that make it are not signed with its keys) and on
// again after.
func (h *harness) assumedRole(t *testing.T, a *emulatortest.Account, session string) (*Client, aws.Credentials) {
	t.Helper()
	ctx := context.Background()
	setAuth := func(v string) {
		resp, err := http.Post(emulatortest.Endpoint()+"/moto-api/reset-auth", "text/plain", strings.NewReader(v))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	setAuth("inf")
	user := "arn:aws:iam::" + a.ID + ":user/elevator-test"
	role := "arn:aws:iam::" + a.ID + ":role/ci"
	api := iam.NewFromConfig(a.Config("us-east-1"))
	if _, err := api.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("ci"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + user + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("elevator-test"), PolicyName: aws.String("assume-ci"), PolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + role + `"}]}`)}); err != nil {
		t.Fatal(err)
	}
	setAuth("0")
	cfg := userConfig(a, "us-east-1")
	cfg.BaseEndpoint = aws.String(emulatortest.Endpoint())
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String(session)})
	if err != nil {
		t.Fatalf("assume role ci: %v", err)
	}
	creds := aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken)}
	c := &Client{BaseURL: h.srv.URL, ServerID: serverID, AWS: aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)}}
	return c, creds
}

// TestEveryServedCallIsAuditedBeforeItActs: a CI session of an assumed
// role lists, reads, watches and submits, and each call is in the audit
// log with the session's ARN (as STS named it), its session name and the
// access key id it signed with, written before the call acted (the call's
// entry comes before the submission's).
func TestEveryServedCallIsAuditedBeforeItActs(t *testing.T) {
	h := newHarness(t)
	a := h.accounts[h.admin]
	h.orbit.Access = append(h.orbit.Access, elevator.AccessRule{Role: elevator.RoleDeployer, Principals: []string{"arn:aws:iam::" + a.ID + ":role/ci"}})
	ci, creds := h.assumedRole(t, a, "build-42")
	done := record("shop", 1, elevator.StateSuccess)
	h.fake.put(done)
	ctx := context.Background()
	if _, _, err := ci.List(ctx, "shop", 10, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Get(ctx, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Watch(ctx, done.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.Submit(ctx, submission("shop")); err != nil {
		t.Fatal(err)
	}
	wantARN := "arn:aws:sts::" + a.ID + ":assumed-role/ci/build-42"
	calls := h.fake.entries(elevator.AuditCall)
	var routes []string
	for _, e := range calls {
		routes = append(routes, strings.TrimSuffix(e.Detail, " as deployer"))
		if e.By != wantARN || e.SessionName != "build-42" || e.AccessKeyID != creds.AccessKeyID || e.Orbit != "prod" || e.App != "shop" || e.Outcome != "allowed" {
			t.Errorf("audited %+v; want by %s, session build-42, key %s, app shop", e, wantARN, creds.AccessKeyID)
		}
	}
	want := []string{"GET /v1/releases", "GET /v1/releases/{id}", "GET /v1/releases/{id}/watch", "POST /v1/releases"}
	if fmt.Sprint(routes) != fmt.Sprint(want) {
		t.Errorf("audited calls %q, want %q", routes, want)
	}
	if len(calls) == 4 && (calls[1].ReleaseID != done.ID || calls[2].ReleaseID != done.ID) {
		t.Errorf("the reads of release %s are audited as of %q and %q", done.ID, calls[1].ReleaseID, calls[2].ReleaseID)
	}
	var order []string
	for _, e := range h.fake.audit {
		order = append(order, e.Action)
	}
	if got := strings.Join(order, " "); !strings.HasSuffix(got, elevator.AuditCall+" "+elevator.AuditSubmit) {
		t.Errorf("audit log %s: want the submit call's entry right before the submission's", got)
	}
}

// TestACallIsNotServedWhenItCannotBeAudited: with the audit log failing
// (the fake's failure hook), a submission is answered 503 and nothing is
// submitted.
func TestACallIsNotServedWhenItCannotBeAudited(t *testing.T) {
	h := newHarness(t)
	h.fake.auditErr = errors.New("the bucket does not answer")
	_, err := h.deployer.Submit(context.Background(), submission("shop"))
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !strings.Contains(ae.Message, "audit log") {
		t.Fatalf("submit with the audit log down: %v, want 503 saying why", err)
	}
	if rec, _ := h.fake.Get(context.Background(), submission("shop").ID); rec != nil {
		t.Errorf("the release was submitted though its call was not audited: %+v", rec)
	}
}

// TestAFloodOfRefusalsIsAuditedWithinItsLimit sends unsigned calls from
// two addresses on a clock the test moves: the first source's flood is
// written up to its burst, the rest counted; a second source still gets
// its entries; when the first source's bucket refills, its next entry
// carries the count of what was not written. Every call is answered 401
// and counted in the metrics whatever the audit did.
func TestAFloodOfRefusalsIsAuditedWithinItsLimit(t *testing.T) {
	fake := newFake()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	metrics := NewMetrics()
	s, err := New(Options{Releases: fake, Orbit: &elevator.Orbit{Name: "prod"}, Auth: &Authenticator{ServerID: serverID}, Now: clock, Metrics: metrics,
		RefusalLimit: RefusalLimit{Burst: 5, Every: time.Minute, GlobalBurst: 50, GlobalEvery: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(addr string) {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/v1/releases?app=shop", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("unsigned call from %s: %d", addr, w.Code)
		}
	}
	for range 1000 {
		call("203.0.113.7:40000")
	}
	if got := len(fake.refusals()); got != 5 {
		t.Fatalf("a flood of 1000 refusals wrote %d entries, want the burst of 5", got)
	}
	for range 3 {
		call("198.51.100.9:50000")
	}
	if got := len(fake.refusals()); got != 8 {
		t.Fatalf("another source's 3 refusals during the flood: %d entries in all, want 8", got)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	call("203.0.113.7:40001")
	call("203.0.113.7:40002")
	es := fake.refusals()
	if len(es) != 9 {
		t.Fatalf("after a minute: %d entries, want 9", len(es))
	}
	last := es[8]
	if last.Suppressed != 995 || !strings.Contains(last.By, "203.0.113.7") || !strings.Contains(last.Detail, "995 earlier refusals") {
		t.Errorf("the first source's entry after its bucket refilled: %+v; want 995 suppressed", last)
	}
	if es[0].Suppressed != 0 || es[5].Suppressed != 0 {
		t.Errorf("entries within the burst carry counts: %+v %+v", es[0], es[5])
	}
	if got := counterValue(t, metrics, "401"); got != 1005 {
		t.Errorf("refusals counted in the metrics: %v, want 1005", got)
	}
}

// counterValue reads the refused calls counter of a status.
func counterValue(t *testing.T, m *Metrics, status string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetValue() == status && mt.GetCounter() != nil && strings.Contains(f.GetName(), "refused") {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestTheRefusalLimiterBoundsAllSourcesTogether: many sources, each within
// its own burst, write no more than the global burst; a source the global
// limit held back keeps its own token; sources forgotten while over the
// limit hand their counts to the next entry written.
func TestTheRefusalLimiterBoundsAllSourcesTogether(t *testing.T) {
	l := NewRefusalLimiter(RefusalLimit{Burst: 2, Every: time.Minute, GlobalBurst: 10, GlobalEvery: time.Minute})
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	written := 0
	for i := range 100 {
		if ok, _, _ := l.Admit(fmt.Sprintf("address 10.0.0.%d", i), now); ok {
			written++
		}
	}
	if written != 10 {
		t.Fatalf("100 sources wrote %d entries at once, want the global burst of 10", written)
	}
	// Source 50 was held back by the global limit, not its own: a
	// minute on, with one global token, it writes and reports 1.
	ok, suppressed, _ := l.Admit("address 10.0.0.50", now.Add(time.Minute))
	if !ok || suppressed != 1 {
		t.Errorf("source 50 a minute on: written %v, suppressed %d; want written with 1", ok, suppressed)
	}
	// Forgetting: a limiter over maxSources prunes full buckets and
	// keeps what they suppressed.
	l = NewRefusalLimiter(RefusalLimit{Burst: 1, Every: time.Second, GlobalBurst: 1 << 30, GlobalEvery: time.Nanosecond})
	l.Admit("noisy", now)
	l.Admit("noisy", now) // suppressed
	for i := range maxSources - 1 {
		if ok, _, others := l.Admit(fmt.Sprintf("s%d", i), now.Add(time.Hour)); !ok || others != 0 {
			t.Fatalf("source s%d: written %v, others %d", i, ok, others)
		}
	}
	ok, _, others := l.Admit("late", now.Add(time.Hour))
	if !ok || others != 1 {
		t.Errorf("after pruning: written %v, others %d; want the forgotten source's 1", ok, others)
	}
	// With every bucket busy, new sources share one.
	for i := range 100 {
		l.Admit(fmt.Sprintf("t%d", i), now.Add(time.Hour))
	}
	if len(l.sources) > maxSources+1 {
		t.Errorf("%d sources tracked, want at most %d and the shared one", len(l.sources), maxSources)
	}
	if l.sources[otherSources] == nil {
		t.Error("no shared bucket for the sources over the bound")
	}
}

// BenchmarkRefusalLimiterAdmit is the limiter's cost per refusal: a flood
// from one source, and from 100,000 sources (pruning past maxSources).
func BenchmarkRefusalLimiterAdmit(b *testing.B) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b.Run("one source", func(b *testing.B) {
		l := NewRefusalLimiter(RefusalLimit{})
		for i := 0; b.Loop(); i++ {
			l.Admit("address 203.0.113.7", now.Add(time.Duration(i)*time.Microsecond))
		}
	})
	b.Run("100000 sources", func(b *testing.B) {
		l := NewRefusalLimiter(RefusalLimit{})
		names := make([]string, 100_000)
		for i := range names {
			names[i] = fmt.Sprintf("address 10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		}
		for i := 0; b.Loop(); i++ {
			l.Admit(names[i%len(names)], now.Add(time.Duration(i)*time.Microsecond))
		}
	})
}
