package dashboard

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// testOrbit grants approver in shop to the OIDC group ops, and viewer in
// the whole orbit to every address at example.com.
func testOrbit() *elevator.Orbit {
	return &elevator.Orbit{Name: "demo", Regions: []elevator.Region{{Name: "us-east-1"}, {Name: "eu-west-1"}},
		Access: []elevator.AccessRule{
			{Role: elevator.RoleViewer, Principals: []string{"email:*@example.com"}},
			{Role: elevator.RoleApprover, Principals: []string{"group:ops"}, Apps: []string{"shop"}},
		}}
}

// Users of the tests, as the OpenID Connect provider knows them.
var (
	alice = &mockoidc.MockUser{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"ops", "staff"}}
	bob   = &mockoidc.MockUser{Subject: "bob", Email: "bob@example.com", EmailVerified: true, Groups: []string{"staff"}}
	eve   = &mockoidc.MockUser{Subject: "eve", Email: "eve@evil.example", EmailVerified: true}
)

// env is a dashboard on 127.0.0.1 with a fake source, signing users in
// through a local OpenID Connect provider (mockoidc) that the test
// starts and stops.
type env struct {
	src  *fakeSource
	oidc *mockoidc.MockOIDC
	srv  *httptest.Server
	dash *Server
	url  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	e := &env{src: newFakeSource(t), oidc: m}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.url = "http://" + ln.Addr().String()
	cfg := m.Config()
	e.dash, err = New(context.Background(), Options{Source: e.src, Orbit: testOrbit(), PlainHTTP: true, Poll: 100 * time.Millisecond,
		OIDC: &OIDC{Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: e.url + callbackPath}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: e.dash}}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.src.groups = []Group{
		{Region: "us-east-1", App: "shop", Service: "web", ReleaseID: releaseID(1), Name: "shop-web-1", Desired: 2, Serving: true, Instances: []Instance{
			{ID: "i-1", Lifecycle: "InService", Healthy: true, Targets: map[string]string{"tg": "healthy"}},
			{ID: "i-2", Lifecycle: "InService", Healthy: true, Targets: map[string]string{"tg": "unhealthy"}}}},
	}
	e.src.add(releaseID(1), "shop", "1.0.0", "arn:aws:sts::123456789012:assumed-role/ci/run-1", successPath...)
	return e
}

// client returns an HTTP client signed in as u (nil: not signed in).
func (e *env) client(t testing.TB, u *mockoidc.MockUser) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if u == nil {
		return c
	}
	e.oidc.QueueUser(u)
	resp, err := c.Get(e.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "email:"+u.Email) {
		t.Fatalf("sign in as %s: %d\n%s", u.Email, resp.StatusCode, b)
	}
	return c
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's CSRF token from a page.
func csrf(t testing.TB, c *http.Client, page string) string {
	t.Helper()
	resp, err := c.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := csrfField.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no CSRF token on %s (%d)", page, resp.StatusCode)
	}
	return string(m[1])
}

func noRedirects(c *http.Client) *http.Client {
	n := *c
	n.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &n
}

func TestAPageWithoutASessionRedirectsToSignIn(t *testing.T) {
	e := newEnv(t)
	c := noRedirects(e.client(t, nil))
	for _, path := range []string{"/", "/apps/shop", "/releases/" + releaseID(1), "/audit"} {
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin?next="+url.QueryEscape(path) {
			t.Errorf("GET %s without a session: %d to %q, want 303 to sign-in", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestSignInSetsAHardenedSessionCookie(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, alice)
	u, _ := url.Parse(e.url)
	jar := c.Jar.Cookies(u)
	if len(jar) != 1 || jar[0].Name != sessionCookie {
		t.Fatalf("cookies after sign-in: %v", jar)
	}
	// The jar does not keep the attributes: ask for them again.
	e.oidc.QueueUser(alice)
	resp, err := noRedirects(c).Get(e.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if q := loc.Query(); q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || q.Get("state") == "" {
		t.Errorf("the sign-in request lacks PKCE, a nonce or a state: %s", loc)
	}
	set := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(set, attr) {
			t.Errorf("sign-in cookie %q lacks %s", set, attr)
		}
	}
	// A dashboard over HTTPS marks them Secure and __Host-.
	ck := &cookies{key: make([]byte, 32), secure: true, now: time.Now}
	w := httptest.NewRecorder()
	_ = ck.set(w, sessionCookie, session{Name: "x"}, time.Hour)
	if set := w.Header().Get("Set-Cookie"); !strings.HasPrefix(set, "__Host-elevator_session=") || !strings.Contains(set, "Secure") {
		t.Errorf("secure cookie: %q", set)
	}
}

func TestACallbackWithoutItsStateIsRefused(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	resp, err := c.Get(e.url + callbackPath + "?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a forged callback: %d, want 400", resp.StatusCode)
	}
	if got := len(c.Jar.Cookies(mustURL(e.url))); got != 0 {
		t.Fatalf("a forged callback left %d cookies", got)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestAnActionWithoutTheRightCSRFTokenIsRefusedAndAudited(t *testing.T) {
	e := newEnv(t)
	e.src.add(releaseID(2), "shop", "2.0.0", "ci", successPath[:4]...)
	c := e.client(t, alice)
	token := csrf(t, c, e.url+"/releases/"+releaseID(2))
	for name, form := range map[string]url.Values{
		"missing": {"reason": {"stop"}, "confirm": {"yes"}},
		"wrong":   {"reason": {"stop"}, "confirm": {"yes"}, "csrf": {token + "x"}},
		"another session's": {"reason": {"stop"}, "confirm": {"yes"},
			"csrf": {csrf(t, e.client(t, alice), e.url+"/releases/"+releaseID(2))}},
	} {
		resp, err := noRedirects(c).PostForm(e.url+"/releases/"+releaseID(2)+"/halt", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s CSRF token: %d, want 403", name, resp.StatusCode)
		}
	}
	if e.src.state(releaseID(2)) != elevator.StateDeploy || len(e.src.entries(elevator.AuditHalt)) != 0 {
		t.Fatal("a refused halt halted the release")
	}
	if got := e.src.entries(elevator.AuditRefused); len(got) != 3 || got[0].By != "email:alice@example.com" || !strings.Contains(got[0].Detail, "CSRF") {
		t.Fatalf("refusals audited: %+v", got)
	}
	// With the token, the same form halts.
	resp, err := noRedirects(c).PostForm(e.url+"/releases/"+releaseID(2)+"/halt", url.Values{"reason": {"stop"}, "confirm": {"yes"}, "csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("halt with the token: %d, want 303", resp.StatusCode)
	}
	if h := e.src.entries(elevator.AuditHalt); len(h) != 1 || h[0].By != "email:alice@example.com" || h[0].Detail != "stop" {
		t.Fatalf("halt audited: %+v", h)
	}
}

func TestAPostWithoutASessionIsRefused(t *testing.T) {
	e := newEnv(t)
	resp, err := noRedirects(e.client(t, nil)).PostForm(e.url+"/apps/shop/unlock", url.Values{"reason": {"x"}, "confirm": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(e.src.entries(elevator.AuditUnlock)) != 0 {
		t.Fatalf("unlock without a session: %d", resp.StatusCode)
	}
	if r := e.src.entries(elevator.AuditRefused); len(r) != 1 || !strings.Contains(r[0].By, "unauthenticated browser") {
		t.Fatalf("refusal audited: %+v", r)
	}
}

// A flood of refused requests is audited within the refusal limit (the
// API's defaults: 20 entries at once per source, then one every 6s), so
// that it cannot fill the audit log.
func TestAFloodOfRefusalsIsAuditedWithinItsLimit(t *testing.T) {
	e := newEnv(t)
	c := noRedirects(e.client(t, nil))
	start := time.Now()
	for range 60 {
		resp, err := c.PostForm(e.url+"/apps/shop/unlock", url.Values{"reason": {"x"}, "confirm": {"yes"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("unlock without a session: %d", resp.StatusCode)
		}
	}
	refill := int(time.Since(start)/(6*time.Second)) + 1
	if n := len(e.src.entries(elevator.AuditRefused)); n < 20 || n > 20+refill {
		t.Fatalf("%d refusals audited of 60, want the 20 of the burst (and at most %d refilled)", n, refill)
	}
}

func TestAUserWithoutARoleSeesNothing(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	e.oidc.QueueUser(eve)
	resp, err := c.Get(e.url + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(b), "shop") {
		t.Fatalf("eve's overview: %d\n%s", resp.StatusCode, b)
	}
	if r := e.src.entries(elevator.AuditRefused); len(r) != 1 || r[0].By != "email:eve@evil.example" {
		t.Fatalf("refusal audited: %+v", r)
	}
}

func TestTheGraphIsTheEnginesTable(t *testing.T) {
	table := release.Transitions()
	g := NewGraph(table)
	edges := 0
	for _, outs := range table {
		edges += len(outs)
	}
	if len(g.Edges) != edges {
		t.Fatalf("graph has %d edges, the table %d", len(g.Edges), edges)
	}
	for _, e := range g.Edges {
		found := false
		for _, n := range table[e.From] {
			found = found || n == e.To
		}
		if !found {
			t.Errorf("edge %s -> %s is not in the table", e.From, e.To)
		}
	}
	layer := map[elevator.ReleaseState]int{}
	for _, n := range g.Nodes {
		layer[n.State] = n.Layer
	}
	// Forward edges go down; the loops (ScaleUp and CutOver going back)
	// are the only back edges.
	var back []string
	for _, e := range g.Edges {
		if e.Back {
			back = append(back, string(e.From)+"->"+string(e.To))
		} else if layer[e.To] <= layer[e.From] {
			t.Errorf("forward edge %s -> %s does not go down", e.From, e.To)
		}
	}
	if strings.Join(back, " ") != "ScaleUp->CheckHealthy CutOver->Deploy" {
		t.Errorf("back edges: %v", back)
	}
	svg := string(g.SVG(successPath))
	for i := 1; i < len(successPath); i++ {
		edge := `class="edge taken" d="`
		frag := `data-from="` + string(successPath[i-1]) + `" data-to="` + string(successPath[i]) + `"`
		idx := strings.Index(svg, frag)
		if idx < 0 || !strings.Contains(svg[max(0, idx-200):idx], edge) {
			t.Errorf("transition %s -> %s is not highlighted", successPath[i-1], successPath[i])
		}
	}
	if strings.Count(svg, `class="edge taken"`) != len(successPath)-1 {
		t.Errorf("%d transitions highlighted, want %d", strings.Count(svg, `class="edge taken"`), len(successPath)-1)
	}
	if !strings.Contains(svg, `class="node ok visited current" data-state="Success"`) {
		t.Error("the current state is not marked")
	}
}

// body GETs a page and returns its status and body.
func body(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheHistoryFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	for i := 100; i < 145; i++ {
		path := successPath
		if i%5 == 0 {
			path = []elevator.ReleaseState{elevator.StateValidate, elevator.StateFailureClean}
		}
		by := "arn:aws:sts::123456789012:assumed-role/ci/run"
		if i%3 == 0 {
			by = "email:carol@example.com"
		}
		e.src.add(releaseID(i), "shop", fmt.Sprintf("3.%d.0", i), by, path...)
	}
	c := e.client(t, bob)
	rows := regexp.MustCompile(`<tr><td><a href="/releases/([0-9a-f-]+)">`)
	ids := func(page string) []string {
		var out []string
		for _, m := range rows.FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return out
	}
	_, first := body(t, c, e.url+"/apps/shop")
	got := ids(first)
	if len(got) != 20 || got[0] != releaseID(144) || got[19] != releaseID(125) {
		t.Fatalf("first page: %v", got)
	}
	_, second := body(t, c, e.url+"/apps/shop?before="+releaseID(125))
	if got := ids(second); len(got) != 20 || got[0] != releaseID(124) {
		t.Fatalf("second page: %v", got)
	}
	_, third := body(t, c, e.url+"/apps/shop?before="+releaseID(105))
	if got := ids(third); len(got) != 6 || strings.Contains(third, "Older releases") {
		t.Fatalf("last page: %v (an older link: %v)", got, strings.Contains(third, "Older releases"))
	}
	_, failed := body(t, c, e.url+"/apps/shop?state=FailureClean")
	if got := ids(failed); len(got) != 9 || got[0] != releaseID(140) {
		t.Fatalf("FailureClean: %v", got)
	}
	_, version := body(t, c, e.url+"/apps/shop?version=3.117.0")
	if got := ids(version); len(got) != 1 || got[0] != releaseID(117) {
		t.Fatalf("version 3.117.0: %v", got)
	}
	_, carol := body(t, c, e.url+"/apps/shop?by=carol&state=Success")
	for _, id := range ids(carol) {
		var n int
		fmt.Sscanf(id[16:], "%x", &n)
		if n%3 != 0 || n%5 == 0 {
			t.Errorf("carol's successes list %s", id)
		}
	}
	if len(ids(carol)) != 12 {
		t.Errorf("carol's successes: %d, want 12", len(ids(carol)))
	}
	if code, _ := body(t, c, e.url+"/apps/shop?before=../x"); code != http.StatusBadRequest {
		t.Errorf("a bad cursor: %d, want 400", code)
	}
}

func TestTheAuditLogFilters(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	e.src.audit = []elevator.AuditEntry{
		{At: now.Add(-48 * time.Hour), By: "email:alice@example.com", Action: elevator.AuditHalt, App: "shop", Detail: "old"},
		{At: now.Add(-time.Hour), By: "email:alice@example.com", Action: elevator.AuditUnlock, App: "shop", Detail: "stuck"},
		{At: now.Add(-time.Minute), By: "arn:aws:iam::123456789012:role/ci", Action: elevator.AuditSubmit, App: "cart", Detail: "ci"},
	}
	c := e.client(t, bob)
	details := regexp.MustCompile(`<td class="detail">([^<]*)</td>`)
	show := func(q string) string {
		_, page := body(t, c, e.url+"/audit"+q)
		var out []string
		for _, m := range details.FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":                    "ci,stuck,old",
		"?app=shop":           "stuck,old",
		"?action=unlock":      "stuck",
		"?by=alice&since=24h": "stuck",
		"?by=role/ci":         "ci",
		"?app=shop&since=30m": "",
	} {
		if got := show(q); got != want {
			t.Errorf("audit%s: %q, want %q", q, got, want)
		}
	}
	if code, _ := body(t, c, e.url+"/audit?action=delete"); code != http.StatusBadRequest {
		t.Errorf("an unknown action: %d, want 400", code)
	}
}

func TestAnApproverUnlocksWithAReason(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, alice)
	code, confirm := body(t, c, e.url+"/apps/shop/unlock")
	if code != http.StatusOK || !strings.Contains(confirm, `name="reason"`) || !strings.Contains(confirm, `name="confirm"`) {
		t.Fatalf("unlock's confirmation page: %d\n%s", code, confirm)
	}
	token := csrfField.FindStringSubmatch(confirm)[1]
	// Without the confirmation ticked, or without a reason, nothing
	// happens.
	for _, form := range []url.Values{{"csrf": {token}, "reason": {"stuck"}}, {"csrf": {token}, "confirm": {"yes"}, "reason": {"  "}}} {
		resp, err := c.PostForm(e.url+"/apps/shop/unlock", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("unlock with %v: %d, want 400", form, resp.StatusCode)
		}
	}
	if n := len(e.src.entries(elevator.AuditUnlock)); n != 0 {
		t.Fatalf("%d unlocks without a confirmation", n)
	}
	resp, err := noRedirects(c).PostForm(e.url+"/apps/shop/unlock", url.Values{"csrf": {token}, "confirm": {"yes"}, "reason": {"the CI runner died"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/apps/shop" {
		t.Fatalf("unlock: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if u := e.src.entries(elevator.AuditUnlock); len(u) != 1 || u[0].By != "email:alice@example.com" || u[0].Detail != "the CI runner died" {
		t.Fatalf("unlock audited: %+v", u)
	}
	// In cart alice is a viewer: no rollback there.
	if code, _ := body(t, c, e.url+"/apps/cart/rollback"); code != http.StatusForbidden {
		t.Errorf("alice's rollback page in cart: %d, want 403", code)
	}
	// A rollback with nothing to roll back to says so.
	resp, err = c.PostForm(e.url+"/apps/shop/rollback", url.Values{"csrf": {token}, "confirm": {"yes"}, "reason": {"bad"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("rollback without an earlier success: %d, want 404", resp.StatusCode)
	}
}

func TestTheLocalModeServesOneMarkedUser(t *testing.T) {
	src := newFakeSource(t)
	src.add(releaseID(1), "shop", "1.0.0", "local:dev", successPath...)
	src.groups = []Group{{Region: "us-east-1", App: "shop", Service: "web", ReleaseID: releaseID(1), Name: "g", Desired: 1, Serving: true,
		Instances: []Instance{{ID: "i-1", Lifecycle: "InService", Healthy: true}}},
		// A group of the orbit's own, such as a bastion's, is no app.
		{Region: "us-east-1", Name: "demo-bastion", Desired: 1, Serving: true}}
	h, err := New(context.Background(), Options{Source: src, Orbit: &elevator.Orbit{Name: "demo", Regions: []elevator.Region{{Name: "us-east-1"}}},
		Local: true, LocalRole: elevator.RoleViewer, PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	code, page := body(t, c, srv.URL+"/")
	if code != http.StatusOK || !strings.Contains(page, "Local single-user mode") || !strings.Contains(page, `id="user">local:`) ||
		!strings.Contains(page, "web: 1/1") {
		t.Fatalf("local overview: %d\n%s", code, page)
	}
	if _, page := body(t, c, srv.URL+"/releases/"+releaseID(1)); strings.Contains(page, `id="halt"`) {
		t.Error("a local viewer sees a halt button")
	}
	// DNS rebinding: a page of another site whose name points at
	// 127.0.0.1 reaches the local dashboard with its own Host.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Host = "evil.example:80"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("local dashboard asked for Host %s: %d, want 421", req.Host, resp.StatusCode)
	}
	if _, err := New(context.Background(), Options{Source: src, Orbit: &elevator.Orbit{Name: "demo"}}); err == nil {
		t.Error("New served without sign-in and without local mode")
	}
}

// A provider that cannot be reached when the dashboard starts does not
// stop it (a deployer serving it must start and drive releases): sign-in
// answers 503 and says so, and pages send to sign-in as before.
func TestADashboardStartsWhileItsProviderCannotBeReached(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close() // nothing answers there now
	dash, err := New(context.Background(), Options{Source: newFakeSource(t), Orbit: testOrbit(), PlainHTTP: true,
		OIDC: &OIDC{Issuer: gone, ClientID: "elevator", RedirectURL: "http://127.0.0.1:1" + callbackPath}})
	if err != nil {
		t.Fatalf("the dashboard did not start without its provider: %v", err)
	}
	defer dash.Close()
	w := httptest.NewRecorder()
	dash.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/signin?next=/", nil))
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "cannot be reached") {
		t.Fatalf("sign-in without a provider: %d %s", w.Code, w.Body.String())
	}
}
