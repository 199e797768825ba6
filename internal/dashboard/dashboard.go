// Package dashboard is Elevator's web dashboard: server-rendered pages of
// an orbit's apps, releases and audit log, and the actions an operator
// takes on them (halt, roll back, unlock), for the users the orbit
// manifest's access section names.
//
// Pages are html/template, with their styles, script and nothing else
// embedded in the binary; they read without JavaScript. One small script
// updates a release page live from the dashboard's Server-Sent Events.
// Users sign in with OpenID Connect (see OIDC) and get the roles the
// access rules grant their verified email or groups; in local mode (the
// demo, on 127.0.0.1 only) one user has one role and no sign-in.
//
// The overview and an app's first page of history render from a summary
// the dashboard keeps and refreshes in the background (summary.go), never
// from the store on the request path; every page says as of when.
//
// The dashboard declares what it reads (Source), so it is tested with a
// fake and wired to the release store and engine in internal/cli:
//
//	h, err := dashboard.New(ctx, dashboard.Options{Source: src, Orbit: orbit, OIDC: &dashboard.OIDC{...}})
//	mux.Handle("/", h) // beside the API's /v1/
package dashboard

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/api"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure a Server. Source and Orbit are required, and exactly
// one of OIDC and Local.
type Options struct {
	Source Source
	Orbit  *elevator.Orbit
	// OIDC signs users in with an OpenID Connect provider.
	OIDC *OIDC
	// Local serves one user, without sign-in, with LocalRole in every
	// app: for the demo on the emulator. Serve it on a loopback address
	// only (the CLI refuses any other).
	Local     bool
	LocalRole elevator.AccessRole // default admin
	// SessionKey signs the session cookies: 32 bytes or more, the same
	// for every replica behind one load balancer. Random when nil, so
	// that sessions end when the process does.
	SessionKey []byte
	// PlainHTTP drops the Secure attribute (and the __Host- prefix) of
	// the cookies, for a dashboard on http://127.0.0.1 in tests and the
	// demo. Never set it for a dashboard reached over a network.
	PlainHTTP bool
	// Poll is how often a live release page reads the record (default
	// 1s).
	Poll time.Duration
	// PageSize is the number of releases on a page of an app's history
	// (default 20).
	PageSize int
	// Refresh is how often the summary that the overview and an app's
	// first page of history render from is read again from the store
	// (default 10s); see summary.go.
	Refresh time.Duration
	// Refusals bounds the audit entries of refused requests, as the API's
	// (a deployer shares one limiter between the two); a limiter of the
	// API's defaults when nil.
	Refusals *api.RefusalLimiter
	Now      func() time.Time
	Log      *slog.Logger
}

// Server is the dashboard's http.Handler.
type Server struct {
	o       Options
	mux     *http.ServeMux
	pages   map[string]*template.Template
	cookies *cookies
	signin  *signin
	local   string

	docMu sync.Mutex
	docs  map[string]*elevator.Release // release documents never change

	sum  summary
	life context.Context // of the background refresh
	stop context.CancelFunc
}

// New checks opts, discovers the OpenID Connect provider, and returns the
// dashboard's handler. It returns an EINVALID error when an option is
// missing or wrong. A provider that cannot be reached does not stop it:
// sign-in answers 503 until the provider answers (see signin).
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.Source == nil || opts.Orbit == nil {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard: Source and Orbit are required")
	}
	if (opts.OIDC == nil) == !opts.Local {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard: sign users in with OpenID Connect, or serve one local user (--local): one of the two")
	}
	if opts.LocalRole == "" {
		opts.LocalRole = elevator.RoleAdmin
	}
	if !opts.LocalRole.Valid() {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard: local role %q: want one of viewer, deployer, approver, admin", opts.LocalRole)
	}
	if opts.SessionKey == nil {
		opts.SessionKey = make([]byte, 32)
		_, _ = rand.Read(opts.SessionKey)
	}
	if len(opts.SessionKey) < 32 {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard: the session key has %d bytes; want at least 32", len(opts.SessionKey))
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Refusals == nil {
		opts.Refusals = api.NewRefusalLimiter(api.RefusalLimit{})
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 20
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Log = opts.Log.With("orbit", opts.Orbit.Name, "part", "dashboard")
	s := &Server{o: opts, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		cookies: &cookies{key: opts.SessionKey, secure: !opts.PlainHTTP, now: opts.Now}, docs: map[string]*elevator.Release{}}
	s.life, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(ctx, s.stop)
	if opts.Local {
		s.local = localName()
	} else {
		var err error
		if s.signin, err = newSignin(ctx, opts.OIDC, opts.Log); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"overview", "app", "release", "audit", "confirm", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, elevator.Errorf(elevator.EINTERNAL, "dashboard: parse template %s: %v", name, err)
		}
		s.pages[name] = t
	}
	static, _ := fs.Sub(assets, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /signin", s.signIn)
	s.mux.HandleFunc("GET "+callbackPath, s.callback)
	s.mux.HandleFunc("POST /signout", s.signOut)
	s.mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, r *http.Request) {
		s.page(w, r, http.StatusOK, "error", pageData{Title: "Signed out", Message: "You are signed out.", SignIn: true})
	})
	s.mux.HandleFunc("GET /{$}", s.viewer(s.overview))
	s.mux.HandleFunc("GET /apps/{app}", s.viewer(s.app))
	s.mux.HandleFunc("GET /releases/{id}", s.viewer(s.release))
	s.mux.HandleFunc("GET /releases/{id}/events", s.viewer(s.events))
	s.mux.HandleFunc("GET /audit", s.viewer(s.audit))
	for _, a := range actions {
		s.mux.HandleFunc("GET "+a.path, s.viewer(s.confirm(a)))
		s.mux.HandleFunc("POST "+a.path, s.act(a))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.page(w, r, http.StatusNotFound, "error", pageData{Title: "Not found", Message: "There is no page " + r.URL.Path + "."})
	})
	return s, nil
}

// ServeHTTP serves the dashboard with headers that keep its pages from
// being framed, sniffed or made to run a script from anywhere else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if s.o.Local && !loopbackHost(r.Host) {
		// A page of another site whose name was made to point at
		// 127.0.0.1 (DNS rebinding) must not act as the local user.
		http.Error(w, "the local dashboard answers only to localhost or a loopback address", http.StatusMisdirectedRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// loopbackHost reports whether a request's Host names this machine:
// localhost or a loopback address, with or without a port.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// user is a signed-in request: who, and what the page may show them.
type user struct {
	*session
	srv *Server
}

// role returns the user's role in app ("" for the whole orbit).
func (u user) role(app string) elevator.AccessRole {
	if u.Local {
		return u.srv.o.LocalRole
	}
	return u.srv.o.Orbit.RoleOfAny(u.Principals, app)
}

// any reports whether the user has a role somewhere in the orbit.
func (u user) any() bool {
	if u.Local || u.role("") != "" {
		return true
	}
	for _, r := range u.srv.o.Orbit.Access {
		for _, a := range r.Apps {
			if u.role(a) != "" {
				return true
			}
		}
	}
	return false
}

// viewer serves a page to a signed-in user with a role somewhere in the
// orbit (each page checks the role it needs in its app), and sends
// anyone else to sign in.
func (s *Server) viewer(h func(w http.ResponseWriter, r *http.Request, u user)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.cookies.session(r)
		if sess == nil {
			http.Redirect(w, r, "/signin?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		u := user{session: sess, srv: s}
		if !u.any() {
			s.refuse(w, r, u, "", "GET "+r.URL.Path, "the access section of the orbit manifest grants "+sess.Name+" no role")
			return
		}
		h(w, r, u)
	}
}

// refuse audits a refused request, within the refusal limit (so that a
// flood of them cannot fill the audit log: the count of those not written
// goes into the source's next entry), and answers 403.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, u user, app, what, why string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	by, source := "unauthenticated browser at "+r.RemoteAddr, "address "+host
	if u.session != nil {
		by, source = u.Name, u.Name
	}
	now := s.o.Now().UTC()
	if write, suppressed, others := s.o.Refusals.Admit(source, now); write {
		detail := "dashboard " + what + ": " + why
		if suppressed+others > 0 {
			detail += fmt.Sprintf(" (and %d earlier refusals not written, over the limit)", suppressed+others)
		}
		e := elevator.AuditEntry{At: now, By: by, Action: elevator.AuditRefused, App: app, Orbit: s.o.Orbit.Name,
			ReleaseID: r.PathValue("id"), Outcome: strconv.Itoa(http.StatusForbidden), Detail: detail, Suppressed: suppressed + others}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
		defer cancel()
		if err := s.o.Source.Audit(ctx, e); err != nil {
			s.o.Log.Error("audit refused request", "user", by, "error", err)
		}
	}
	s.o.Log.Warn("refused request", "user", by, "app", app, "what", what, "reason", why)
	d := pageData{Title: "Not allowed", Message: why + "."}
	if u.session != nil {
		d.User = u.Name
	}
	s.page(w, r, http.StatusForbidden, "error", d)
}

// fail answers an error of the Source with a page whose status its code
// decides.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := elevator.ErrorCode(err)
	status := map[string]int{elevator.EINVALID: http.StatusBadRequest, elevator.ENOTFOUND: http.StatusNotFound,
		elevator.ECONFLICT: http.StatusConflict}[code]
	msg := err.Error()
	if status == 0 {
		s.o.Log.Error("dashboard request failed", "path", r.URL.Path, "error", err)
		status, msg = http.StatusInternalServerError, "The dashboard could not read the orbit's state; its log says why."
	}
	s.page(w, r, status, "error", pageData{Title: http.StatusText(status), Message: msg})
}

// pageData is what every page's template gets.
type pageData struct {
	Title   string
	Orbit   string
	User    string
	CSRF    string
	Local   bool
	Role    elevator.AccessRole
	Message string
	SignIn  bool

	Regions  []string
	Apps     []overviewApp
	App      *appView
	Release  *releaseView
	Audit    *auditView
	Confirm  *confirmView
	Fragment bool
	// Fresh says how fresh what the page shows is: the time of the
	// summary, or of the page's own reads.
	Fresh *freshness
}

func (s *Server) data(u user, title string) pageData {
	return pageData{Title: title, User: u.Name, CSRF: u.CSRF, Local: u.Local, Role: u.role(""), Fresh: &freshness{AsOf: s.o.Now()}}
}

// page renders a page; the template writes into a buffer first so that a
// failing template answers 500, not half a page.
func (s *Server) page(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Orbit = s.o.Orbit.Name
	if s.o.Local {
		d.Local = true
	}
	var b strings.Builder
	root := "layout"
	if d.Fragment {
		root = "live"
	}
	if err := s.pages[name].ExecuteTemplate(&b, root, d); err != nil {
		s.o.Log.Error("render page", "page", name, "error", err)
		http.Error(w, "the dashboard failed to render this page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, b.String())
}

// document returns a release's document, from the cache when it was read
// before (documents never change); nil when it cannot be read.
func (s *Server) document(ctx context.Context, id string) *elevator.Release {
	s.docMu.Lock()
	rel, ok := s.docs[id]
	s.docMu.Unlock()
	if ok {
		return rel
	}
	rel, err := s.o.Source.Release(ctx, id)
	if err != nil {
		if !errors.Is(ctx.Err(), context.Canceled) {
			s.o.Log.Warn("read release document", "release", id, "error", err)
		}
		return nil
	}
	s.docMu.Lock()
	if len(s.docs) >= 10000 {
		clear(s.docs) // a bound, not a policy: they are read again when needed
	}
	s.docs[id] = rel
	s.docMu.Unlock()
	return rel
}

// overviewApp is a row of the overview: an app, what runs of it in each
// region, and its latest release.
type overviewApp struct {
	App     string
	Cells   []overviewCell // one per region of the orbit, in orbit order
	Last    *elevator.ReleaseRecord
	Version string // of Last
}

type overviewCell struct {
	Region   string
	Versions []string // of the releases whose groups serve
	Services []serviceHealth
}

type serviceHealth struct {
	Service        string
	Ready, Desired int
}

// Health is the service's health in a word, which is also its CSS class:
// healthy, degraded, down or idle (scaled to zero).
func (h serviceHealth) Health() string {
	switch {
	case h.Desired == 0:
		return "idle"
	case h.Ready >= h.Desired:
		return "healthy"
	case h.Ready == 0:
		return "down"
	}
	return "degraded"
}

// overview is the orbit × regions page, rendered from the summary: its
// groups and each app's newest release, however long the history.
func (s *Server) overview(w http.ResponseWriter, r *http.Request, u user) {
	ctx := r.Context()
	groups, apps, fresh, err := s.current(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	names := make([]string, 0, len(apps))
	for a := range apps {
		if u.role(a) != "" {
			names = append(names, a)
		}
	}
	sort.Strings(names)
	d := s.data(u, "Orbit "+s.o.Orbit.Name)
	d.Fresh = &fresh
	for _, reg := range s.o.Orbit.Regions {
		d.Regions = append(d.Regions, reg.Name)
	}
	for _, app := range names {
		row := overviewApp{App: app}
		if recs := apps[app].recs; len(recs) > 0 {
			row.Last = recs[0]
			if doc := s.document(ctx, recs[0].ID); doc != nil {
				row.Version = doc.Version
			}
		}
		for _, region := range d.Regions {
			row.Cells = append(row.Cells, s.cell(ctx, groups, app, region))
		}
		d.Apps = append(d.Apps, row)
	}
	s.page(w, r, http.StatusOK, "overview", d)
}

// overviewReaders is how many apps the overview reads at once, and how
// many documents a page reads at once.
const overviewReaders = 8

// prefetch reads the documents of records into the cache, a few at a
// time.
func (s *Server) prefetch(ctx context.Context, recs []*elevator.ReleaseRecord) {
	sem := make(chan struct{}, overviewReaders)
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.document(ctx, rec.ID)
		}()
	}
	wg.Wait()
}

// cell sums what serves app in region: per service, the ready instances
// of its serving groups against their desired capacity, and the versions
// of the releases that made them.
func (s *Server) cell(ctx context.Context, groups []Group, app, region string) overviewCell {
	c := overviewCell{Region: region}
	by := map[string]*serviceHealth{}
	for _, g := range groups {
		if g.App != app || g.Region != region || g.Deleting || !g.Serving {
			continue
		}
		h := by[g.Service]
		if h == nil {
			h = &serviceHealth{Service: g.Service}
			by[g.Service] = h
		}
		h.Ready += g.ReadyCount()
		h.Desired += g.Desired
		if doc := s.document(ctx, g.ReleaseID); doc != nil && !slices.Contains(c.Versions, doc.Version) {
			c.Versions = append(c.Versions, doc.Version)
		}
	}
	for _, h := range by {
		c.Services = append(c.Services, *h)
	}
	sort.Slice(c.Services, func(i, j int) bool { return c.Services[i].Service < c.Services[j].Service })
	sort.Strings(c.Versions)
	return c
}

// appView is an app's page.
type appView struct {
	App     string
	Regions []appRegion
	History []historyRow
	Filter  historyFilter
	Next    string // cursor of the next page, "" after the last
	Scanned int    // releases read to fill the page
	CanAct  bool
}

type appRegion struct {
	Region string
	Groups []Group
}

type historyRow struct {
	Rec     *elevator.ReleaseRecord
	Version string
	By      string
}

type historyFilter struct {
	State, Version, By, Before string
}

// Query is the filter as a query string, without the cursor.
func (f historyFilter) Query() string {
	var q []string
	for _, kv := range [][2]string{{"state", f.State}, {"version", f.Version}, {"by", f.By}} {
		if kv[1] != "" {
			q = append(q, kv[0]+"="+urlQueryEscape(kv[1]))
		}
	}
	return strings.Join(q, "&")
}

// maxScan bounds how many releases one page of a filtered history reads:
// a filter that matches rarely shows what it found among them and offers
// the next page, rather than reading the whole history at once.
const maxScan = 500

func (s *Server) app(w http.ResponseWriter, r *http.Request, u user) {
	ctx := r.Context()
	app := r.PathValue("app")
	if err := elevator.CheckName("app", app); err != nil {
		s.fail(w, r, err)
		return
	}
	if !u.role(app).Covers(elevator.RoleViewer) {
		s.refuse(w, r, u, app, "GET "+r.URL.Path, "the access section of the orbit manifest grants "+u.Name+" no role in app "+app)
		return
	}
	q := r.URL.Query()
	f := historyFilter{State: q.Get("state"), Version: q.Get("version"), By: q.Get("by"), Before: q.Get("before")}
	if f.Before != "" {
		if err := elevator.CheckReleaseID(f.Before); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	v := &appView{App: app, Filter: f, CanAct: u.role(app).Covers(elevator.RoleApprover)}
	groups, apps, fresh, err := s.current(ctx)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, reg := range s.o.Orbit.Regions {
		ar := appRegion{Region: reg.Name}
		for _, g := range groups {
			if g.App == app && g.Region == reg.Name {
				ar.Groups = append(ar.Groups, g)
			}
		}
		sort.Slice(ar.Groups, func(i, j int) bool { return ar.Groups[i].Name < ar.Groups[j].Name })
		v.Regions = append(v.Regions, ar)
	}
	filtered := f.State != "" || f.Version != "" || f.By != ""
	d := s.data(u, "App "+app)
	d.App = v
	if p := apps[app]; p != nil && !filtered && f.Before == "" {
		// The first page of the history is the summary's.
		s.prefetch(ctx, p.recs)
		for _, rec := range p.recs {
			row := historyRow{Rec: rec}
			if doc := s.document(ctx, rec.ID); doc != nil {
				row.Version, row.By = doc.Version, doc.CreatedBy
			}
			v.History = append(v.History, row)
		}
		v.Next, v.Scanned = p.next, len(p.recs)
		d.Fresh = &fresh
		s.page(w, r, http.StatusOK, "app", d)
		return
	}
	// A filtered or later page reads the store, at most maxScan records.
	d.Fresh = &freshness{AsOf: s.o.Now()}
	before := f.Before
	for len(v.History) < s.o.PageSize {
		want := s.o.PageSize - len(v.History)
		if filtered {
			want = min(100, maxScan-v.Scanned)
		}
		if want <= 0 {
			break
		}
		recs, next, err := s.o.Source.Page(ctx, app, want, before)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if f.State == "" {
			s.prefetch(ctx, recs)
		}
		for i, rec := range recs {
			v.Scanned++
			row := historyRow{Rec: rec}
			if f.State != "" && string(rec.State) != f.State {
				continue
			}
			if doc := s.document(ctx, rec.ID); doc != nil {
				row.Version, row.By = doc.Version, doc.CreatedBy
			}
			if (f.Version != "" && row.Version != f.Version) || (f.By != "" && !strings.Contains(row.By, f.By)) {
				continue
			}
			v.History = append(v.History, row)
			if len(v.History) == s.o.PageSize {
				if i < len(recs)-1 || next != "" {
					v.Next = rec.ID
				}
				break
			}
		}
		if len(v.History) == s.o.PageSize {
			break
		}
		if next == "" {
			break
		}
		before = next
		if filtered && v.Scanned >= maxScan {
			v.Next = next
			break
		}
	}
	s.page(w, r, http.StatusOK, "app", d)
}

// releaseView is a release's page.
type releaseView struct {
	Rec     *elevator.ReleaseRecord
	Doc     *elevator.Release
	Graph   template.HTML
	Visits  []visit
	Calls   []call
	CanHalt bool
	Live    bool
}

type visit struct {
	State elevator.ReleaseState
	At    time.Time
	For   time.Duration
	Now   bool // the state the release is in
}

type call struct {
	Name  string
	Count int
}

func (s *Server) releaseData(ctx context.Context, u user, rec *elevator.ReleaseRecord) *releaseView {
	v := &releaseView{Rec: rec, Doc: s.document(ctx, rec.ID), Graph: stateMachine.SVG(rec.Path),
		CanHalt: !rec.State.Ended() && u.role(rec.App).Covers(elevator.RoleApprover), Live: !rec.State.Ended()}
	for i, st := range rec.Path {
		vi := visit{State: st}
		if i < len(rec.Visits) {
			vi.At = rec.Visits[i]
		}
		switch {
		case i+1 < len(rec.Visits):
			vi.For = rec.Visits[i+1].Sub(vi.At)
		case !rec.State.Ended() && !vi.At.IsZero():
			vi.For, vi.Now = s.o.Now().Sub(vi.At), true
		}
		v.Visits = append(v.Visits, vi)
	}
	for k, n := range rec.Calls {
		v.Calls = append(v.Calls, call{k, n})
	}
	sort.Slice(v.Calls, func(i, j int) bool { return v.Calls[i].Name < v.Calls[j].Name })
	return v
}

// record reads the path's release and checks the user's role in its app.
func (s *Server) record(w http.ResponseWriter, r *http.Request, u user, need elevator.AccessRole) *elevator.ReleaseRecord {
	id := r.PathValue("id")
	if err := elevator.CheckReleaseID(id); err != nil {
		s.fail(w, r, err)
		return nil
	}
	rec, err := s.o.Source.Record(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return nil
	}
	s.Observe(rec)
	if !u.role(rec.App).Covers(need) {
		s.refuse(w, r, u, rec.App, r.Method+" "+r.URL.Path, fmt.Sprintf("this needs the %s role in app %s, which the access section of the orbit manifest does not grant %s", need, rec.App, u.Name))
		return nil
	}
	return rec
}

func (s *Server) release(w http.ResponseWriter, r *http.Request, u user) {
	rec := s.record(w, r, u, elevator.RoleViewer)
	if rec == nil {
		return
	}
	d := s.data(u, "Release "+rec.ID)
	d.Release = s.releaseData(r.Context(), u, rec)
	d.Fragment = r.URL.Query().Get("fragment") == "1"
	s.page(w, r, http.StatusOK, "release", d)
}

// events streams a release's changes as Server-Sent Events, for the
// release page's script: "record" with the state and revision each time
// the revision changes, then "end" once the release has ended. (The
// API's watch, /v1/releases/{id}/watch, streams the same events to
// callers that sign their requests; a browser has a session instead.)
func (s *Server) events(w http.ResponseWriter, r *http.Request, u user) {
	rec := s.record(w, r, u, elevator.RoleViewer)
	if rec == nil {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, elevator.Errorf(elevator.EINTERNAL, "the connection cannot stream"))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	tick := time.NewTicker(s.o.Poll)
	defer tick.Stop()
	var last int64 = -1
	for {
		if rec.Revision != last {
			last = rec.Revision
			fmt.Fprintf(w, "id: %d\nevent: record\ndata: {\"state\":%q,\"revision\":%d}\n\n", rec.Revision, rec.State, rec.Revision)
			flusher.Flush()
		}
		if rec.State.Ended() {
			fmt.Fprintf(w, "event: end\ndata: {\"state\":%q}\n\n", rec.State)
			flusher.Flush()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		next, err := s.o.Source.Record(ctx, rec.ID)
		if err != nil {
			if ctx.Err() == nil {
				s.o.Log.Warn("live release read failed", "release", rec.ID, "error", err)
			}
			return
		}
		s.Observe(next)
		rec = next
	}
}

// auditView is the audit page.
type auditView struct {
	Entries              []elevator.AuditEntry
	App, Action, By, For string
	Actions              []string
	More                 int // entries left out past the limit
}

const auditLimit = 500

func (s *Server) audit(w http.ResponseWriter, r *http.Request, u user) {
	q := r.URL.Query()
	v := &auditView{App: q.Get("app"), Action: q.Get("action"), By: q.Get("by"), For: q.Get("since"),
		Actions: []string{elevator.AuditSubmit, elevator.AuditRelease, elevator.AuditHalt, elevator.AuditRollback,
			elevator.AuditUnlock, elevator.AuditResume, elevator.AuditGC, elevator.AuditRefused}}
	if v.App != "" {
		if err := elevator.CheckName("app", v.App); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if v.Action != "" && !slices.Contains(v.Actions, v.Action) {
		s.fail(w, r, elevator.Errorf(elevator.EINVALID, "action %q: want one of %s", v.Action, strings.Join(v.Actions, ", ")))
		return
	}
	since := 7 * 24 * time.Hour
	if v.For != "" {
		d, err := time.ParseDuration(v.For)
		// The log is read an entry at a time: a month bounds what one
		// page view may cost.
		if err != nil || d <= 0 || d > 31*24*time.Hour {
			s.fail(w, r, elevator.Errorf(elevator.EINVALID, "since %q: want a positive duration of at most 31 days (744h), such as 24h", v.For))
			return
		}
		since = d
	}
	entries, err := s.o.Source.AuditLog(r.Context(), s.o.Now().Add(-since))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := len(entries) - 1; i >= 0; i-- { // newest first
		e := entries[i]
		if (v.App != "" && e.App != v.App) || (v.Action != "" && e.Action != v.Action) || (v.By != "" && !strings.Contains(e.By, v.By)) {
			continue
		}
		// An entry of an app shows to its viewers; one of the whole
		// orbit to the orbit's.
		if !u.role(e.App).Covers(elevator.RoleViewer) {
			continue
		}
		if len(v.Entries) == auditLimit {
			v.More++
			continue
		}
		v.Entries = append(v.Entries, e)
	}
	d := s.data(u, "Audit log")
	d.Audit = v
	s.page(w, r, http.StatusOK, "audit", d)
}

// funcs are the templates' functions.
var funcs = template.FuncMap{
	"stateClass": stateClass,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "—"
		}
		return d.Round(10 * time.Millisecond).String()
	},
	"join": strings.Join,
	// clock is the time of day of what a page shows.
	"clock": func(t time.Time) string { return t.UTC().Format("15:04:05 UTC") },
	"age":   func(d time.Duration) string { return max(d, 0).Round(time.Second).String() },
}

func urlQueryEscape(s string) string {
	return strings.ReplaceAll(template.URLQueryEscaper(s), "+", "%2B")
}
