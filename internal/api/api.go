// Package api is the deployer's HTTP API, versioned under /v1: submit,
// list, show and watch releases, halt, roll back, unlock, read the audit
// log; /healthz, /readyz and Prometheus /metrics beside it.
//
// Callers prove their AWS identity with a signed sts:GetCallerIdentity
// request (see auth.go and Client), and the orbit manifest's access
// section says what each may do (see Routes). Every call served is
// written to the orbit's audit log before it acts, and every refused call
// is answered with a JSON error and written there too, within a rate
// limit per source (see audit.go).
//
// The package declares what it needs of the deployer (Releases), so it is
// tested with a fake and wired to the deployer in cmd/elevator:
//
//	metrics := api.NewMetrics() // and metrics.AWSMiddleware in the deployer's aws.Config
//	h, err := api.New(api.Options{Releases: releases, Orbit: orbit, Metrics: metrics, Log: log,
//		Auth: &api.Authenticator{ServerID: id}, Ready: ready})
//	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
//
// (no WriteTimeout: a watch streams for as long as its release runs).
package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/release"
)

// Releases is what the API asks of the deployer. Errors are
// *elevator.Error values (or wrap them): EINVALID, ENOTFOUND and ECONFLICT
// reach the caller as 400, 404 and 409; anything else is a 500 whose
// detail is only logged.
type Releases interface {
	// Submit writes a checked release down for the deployers to run (as
	// CI does, through the state bucket) and returns its first record.
	Submit(ctx context.Context, rel *elevator.Release, by elevator.Caller) (*elevator.ReleaseRecord, error)
	// List returns one page of an app's releases, newest first: at most
	// q.Limit records whose ids sort before q.Before ("" for the newest).
	// It must read only that page (one query of the app's releases, not
	// every record). Next is the id to pass as Before for the next page,
	// "" after the last.
	List(ctx context.Context, q ListQuery) (Page, error)
	// Get returns a release's record, or ENOTFOUND.
	Get(ctx context.Context, id string) (*elevator.ReleaseRecord, error)
	// Halt asks a release to stop (audited); ENOTFOUND, or ECONFLICT for
	// a release that has ended.
	Halt(ctx context.Context, id string, by elevator.Caller, reason string) error
	// Rollback submits a release of app with the content of release to
	// (audited); to "" means the successful release before the current
	// one. It returns the new release, or ENOTFOUND or EINVALID.
	Rollback(ctx context.Context, app, to string, by elevator.Caller) (*elevator.Release, error)
	// Unlock breaks the release lock of app (audited) and returns it;
	// ENOTFOUND when there is none.
	Unlock(ctx context.Context, app string, by elevator.Caller, reason string) (release.Lock, error)
	// AuditLog returns the orbit's audit entries since a time, oldest
	// first.
	AuditLog(ctx context.Context, since time.Time) ([]elevator.AuditEntry, error)
	// Audit appends an entry to the orbit's audit log.
	Audit(ctx context.Context, e elevator.AuditEntry) error
}

// ListQuery selects a page of an app's releases.
type ListQuery struct {
	App    string
	Limit  int    // 1 to MaxLimit
	Before string // a release id; "" for the newest
}

// Page is one page of releases, newest first.
type Page struct {
	Records []*elevator.ReleaseRecord `json:"releases"`
	// Next is the id after which the next page starts; "" after the last.
	Next string `json:"-"`
}

// Limits of a list.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Options configure a Server. Releases, Orbit and Auth are required.
type Options struct {
	Releases Releases
	// Orbit is the orbit the deployer serves; its Access rules decide
	// what each caller may do.
	Orbit *elevator.Orbit
	Auth  *Authenticator
	// Ready says whether the deployer takes work (nil: always ready).
	Ready   func() error
	Metrics *Metrics // nil: a new one
	Log     *slog.Logger
	Now     func() time.Time
	// WatchPoll is how often a watch reads the record (default 1s).
	WatchPoll time.Duration
	// MaxBody bounds a request body (default 1 MiB).
	MaxBody int64
	// RefusalLimit bounds the audit entries of refused calls (see
	// audit.go); zero fields take their defaults.
	RefusalLimit RefusalLimit
	// Refusals, when set, is the limiter to use instead of one of
	// RefusalLimit: the deployer shares it with its dashboard.
	Refusals *RefusalLimiter
}

// Server is the API's http.Handler.
type Server struct {
	o        Options
	mux      *http.ServeMux
	refusals *RefusalLimiter
}

// New checks opts and returns the API's handler. It returns an EINVALID
// error when a required option is missing.
func New(opts Options) (*Server, error) {
	if opts.Releases == nil || opts.Orbit == nil || opts.Auth == nil {
		return nil, elevator.Errorf(elevator.EINVALID, "api: Releases, Orbit and Auth are required")
	}
	if opts.Auth.ServerID == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "api: the server needs an id for callers to sign (Auth.ServerID)")
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	opts.Log = opts.Log.With("orbit", opts.Orbit.Name)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WatchPoll <= 0 {
		opts.WatchPoll = time.Second
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.Refusals == nil {
		opts.Refusals = NewRefusalLimiter(opts.RefusalLimit)
	}
	s := &Server{o: opts, mux: http.NewServeMux(), refusals: opts.Refusals}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.Pattern, s.instrument(rt.Pattern, s.authorized(rt)))
	}
	s.mux.Handle("GET /healthz", s.instrument("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	s.mux.Handle("GET /readyz", s.instrument("GET /readyz", http.HandlerFunc(s.ready)))
	s.mux.Handle("GET /metrics", s.o.Metrics.Handler())
	// paths knows the routes' paths whatever the method, to tell a
	// method not allowed from a path not found.
	paths := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		if allowed[path] == nil {
			paths.Handle(path, http.NotFoundHandler())
		}
		allowed[path] = append(allowed[path], method)
	}
	s.mux.Handle("/", s.instrument("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allowed[pattern], ", "))
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allowed[pattern], " or ")))
			return
		}
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})))
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Route is one call of the API and the role it needs in the app it acts
// on (in the whole orbit when it names no app).
type Route struct {
	Pattern string
	Role    elevator.AccessRole
	serve   func(s *Server, w http.ResponseWriter, r *http.Request, c *call) error
}

// Routes lists the API's calls and the role each needs:
//
//	GET  /v1/releases?app=A&limit=N&cursor=C  viewer in A
//	GET  /v1/releases/{id}                    viewer in the release's app
//	GET  /v1/releases/{id}/watch              viewer in the release's app
//	GET  /v1/audit?app=A&since=24h            viewer in A (in the orbit without app)
//	POST /v1/releases                         deployer in the release's app
//	POST /v1/releases/{id}/halt               approver in the release's app
//	POST /v1/apps/{app}/rollback              approver in app
//	POST /v1/apps/{app}/unlock                approver in app
//
// An admin may do everything. Unlock needs an approver, not a deployer:
// breaking a lock makes the release that held it roll back, which is
// stopping someone else's release, like a halt.
func Routes() []Route { return (&Server{}).routes() }

func (s *Server) routes() []Route {
	return []Route{
		{"GET /v1/releases", elevator.RoleViewer, (*Server).list},
		{"GET /v1/releases/{id}", elevator.RoleViewer, (*Server).get},
		{"GET /v1/releases/{id}/watch", elevator.RoleViewer, (*Server).watch},
		{"GET /v1/audit", elevator.RoleViewer, (*Server).audit},
		{"POST /v1/releases", elevator.RoleDeployer, (*Server).submit},
		{"POST /v1/releases/{id}/halt", elevator.RoleApprover, (*Server).halt},
		{"POST /v1/apps/{app}/rollback", elevator.RoleApprover, (*Server).rollback},
		{"POST /v1/apps/{app}/unlock", elevator.RoleApprover, (*Server).unlock},
	}
}

// call is an authenticated request on its way through a route.
type call struct {
	route  Route
	caller elevator.Caller
	log    *slog.Logger
}

// authorized authenticates the caller, then serves the route; the route
// asks allow before it acts. A refusal is audited and answered as JSON.
func (s *Server) authorized(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		caller, err := s.o.Auth.Authenticate(ctx, r.Header.Get("Authorization"))
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				ref = unauthenticated("%v", err)
			}
			ref.Caller = caller
			s.refuse(w, r, rt, ref, "")
			return
		}
		c := &call{route: rt, caller: caller, log: s.o.Log.With("caller", caller.ARN, "route", rt.Pattern)}
		// Any AWS identity can prove who it is: one the access rules do
		// not name is refused before anything is read for it, so that
		// it cannot even learn which releases exist.
		if !s.named(caller.ARN) {
			_ = s.allow(w, r, c, r.PathValue("app"))
			return
		}
		if err := rt.serve(s, w, r, c); err != nil {
			var ref *Refusal
			if errors.As(err, &ref) {
				return // allow has answered
			}
			s.fail(w, c, err)
		}
	})
}

// named reports whether any access rule of the orbit names arn, in any
// app.
func (s *Server) named(arn string) bool {
	for _, rule := range s.o.Orbit.Access {
		for _, p := range rule.Principals {
			if elevator.MatchPrincipal(p, arn) {
				return true
			}
		}
	}
	return false
}

// allow checks that the caller has the route's role in app ("" for the
// whole orbit). When it does not, it audits and answers 403 and returns a
// *Refusal, which the route returns.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, c *call, app string) error {
	has := s.o.Orbit.RoleOf(c.caller.ARN, app)
	if has.Covers(c.route.Role) {
		if err := s.auditCall(r, c, app); err != nil {
			c.log.Error("audit call", "error", err)
			ref := &Refusal{Status: http.StatusServiceUnavailable, Code: "audit_unavailable", Caller: c.caller,
				Message: "the deployer could not write the call to the audit log, so it did not serve it; try again"}
			writeError(w, ref.Status, ref.Code, ref.Message)
			return ref
		}
		return nil
	}
	where := "app " + app
	if app == "" {
		where = "orbit " + s.o.Orbit.Name
	}
	msg := fmt.Sprintf("%s needs the %s role in %s; %s has ", c.route.Pattern, c.route.Role, where, c.caller.ARN)
	if has == "" {
		msg += "none there (see the access section of the orbit manifest)"
	} else {
		msg += "the " + string(has) + " role"
	}
	ref := &Refusal{Status: http.StatusForbidden, Code: "forbidden", Message: msg, Caller: c.caller}
	s.refuse(w, r, c.route, ref, app)
	return ref
}

// refuse audits a refused call (within the rate limit of its source,
// see auditRefusal) and answers it.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, rt Route, ref *Refusal, app string) {
	s.o.Metrics.Refused.WithLabelValues(strconv.Itoa(ref.Status)).Inc()
	s.auditRefusal(r, rt, ref, app)
	writeError(w, ref.Status, ref.Code, ref.Message)
}

// fail answers an error of Releases: its code decides the status.
func (s *Server) fail(w http.ResponseWriter, c *call, err error) {
	code := elevator.ErrorCode(err)
	status := map[string]int{elevator.EINVALID: http.StatusBadRequest, elevator.ENOTFOUND: http.StatusNotFound,
		elevator.ECONFLICT: http.StatusConflict}[code]
	if status == 0 {
		c.log.Error("call failed", "error", err)
		writeError(w, http.StatusInternalServerError, elevator.EINTERNAL, "the deployer failed; its log says why")
		return
	}
	writeError(w, status, code, err.Error())
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.o.Ready != nil {
		if err := s.o.Ready(); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// decode reads a JSON body into v, refusing unknown fields, trailing data
// and bodies over MaxBody.
func (s *Server) decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, s.o.MaxBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return elevator.Errorf(elevator.EINVALID, "decode the request body (JSON, at most %d bytes): %v", s.o.MaxBody, err)
	}
	if dec.More() {
		return elevator.Errorf(elevator.EINVALID, "decode the request body: trailing data")
	}
	return nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	app := q.Get("app")
	if err := elevator.CheckName("app", app); err != nil {
		return err
	}
	if err := s.allow(w, r, c, app); err != nil {
		return err
	}
	lq := ListQuery{App: app, Limit: DefaultLimit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return elevator.Errorf(elevator.EINVALID, "limit %q: want 1 to %d", v, MaxLimit)
		}
		lq.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || elevator.CheckReleaseID(string(b)) != nil {
			return elevator.Errorf(elevator.EINVALID, "cursor %q: pass the next_cursor of the page before", v)
		}
		lq.Before = string(b)
	}
	page, err := s.o.Releases.List(r.Context(), lq)
	if err != nil {
		return err
	}
	out := struct {
		Releases []*elevator.ReleaseRecord `json:"releases"`
		Next     string                    `json:"next_cursor,omitempty"`
	}{page.Records, ""}
	if out.Releases == nil {
		out.Releases = []*elevator.ReleaseRecord{}
	}
	if page.Next != "" {
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// record reads the record of the path's release and checks that the
// caller has the route's role in its app.
func (s *Server) record(w http.ResponseWriter, r *http.Request, c *call) (*elevator.ReleaseRecord, error) {
	id := r.PathValue("id")
	if err := elevator.CheckReleaseID(id); err != nil {
		return nil, err
	}
	rec, err := s.o.Releases.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.allow(w, r, c, rec.App); err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, c *call) error {
	rec, err := s.record(w, r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, c *call) error {
	var rel elevator.Release
	if err := s.decode(r, &rel); err != nil {
		return err
	}
	if err := elevator.CheckName("app", rel.App); err != nil {
		return err
	}
	if err := s.allow(w, r, c, rel.App); err != nil {
		return err
	}
	if rel.Orbit != s.o.Orbit.Name {
		return elevator.Errorf(elevator.EINVALID, "release %s is for orbit %q; this deployer serves %s", rel.ID, rel.Orbit, s.o.Orbit.Name)
	}
	// The release is the caller's, whoever the document says made it.
	rel.CreatedBy = c.caller.ARN
	if err := rel.Check(); err != nil {
		return err
	}
	rec, err := s.o.Releases.Submit(r.Context(), &rel, c.caller)
	if err != nil {
		return err
	}
	c.log.Info("release submitted", "release", rec.ID, "app", rec.App, "orbit", rec.Orbit, "state", rec.State)
	writeJSON(w, http.StatusAccepted, rec)
	return nil
}

// reasonBody is the body of halt and unlock.
type reasonBody struct {
	Reason string `json:"reason"`
}

func (s *Server) reason(r *http.Request) (string, error) {
	var b reasonBody
	if err := s.decode(r, &b); err != nil {
		return "", err
	}
	if strings.TrimSpace(b.Reason) == "" {
		return "", elevator.Errorf(elevator.EINVALID, "reason: say why (it is audited)")
	}
	return b.Reason, nil
}

func (s *Server) halt(w http.ResponseWriter, r *http.Request, c *call) error {
	rec, err := s.record(w, r, c)
	if err != nil {
		return err
	}
	reason, err := s.reason(r)
	if err != nil {
		return err
	}
	if err := s.o.Releases.Halt(r.Context(), rec.ID, c.caller, reason); err != nil {
		return err
	}
	c.log.Info("release halted", "release", rec.ID, "app", rec.App, "orbit", rec.Orbit, "state", rec.State)
	writeJSON(w, http.StatusAccepted, map[string]string{"halted": rec.ID, "reason": reason})
	return nil
}

// appOf reads and checks the path's app, then checks the caller's role.
func (s *Server) appOf(w http.ResponseWriter, r *http.Request, c *call) (string, error) {
	app := r.PathValue("app")
	if err := elevator.CheckName("app", app); err != nil {
		return "", err
	}
	return app, s.allow(w, r, c, app)
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, c *call) error {
	app, err := s.appOf(w, r, c)
	if err != nil {
		return err
	}
	var b struct {
		To string `json:"to"`
	}
	if err := s.decode(r, &b); err != nil {
		return err
	}
	if b.To != "" {
		if err := elevator.CheckReleaseID(b.To); err != nil {
			return err
		}
	}
	rel, err := s.o.Releases.Rollback(r.Context(), app, b.To, c.caller)
	if err != nil {
		return err
	}
	c.log.Info("rollback submitted", "release", rel.ID, "app", app, "orbit", rel.Orbit, "rollback_of", rel.RollbackOf)
	writeJSON(w, http.StatusAccepted, rel)
	return nil
}

func (s *Server) unlock(w http.ResponseWriter, r *http.Request, c *call) error {
	app, err := s.appOf(w, r, c)
	if err != nil {
		return err
	}
	reason, err := s.reason(r)
	if err != nil {
		return err
	}
	l, err := s.o.Releases.Unlock(r.Context(), app, c.caller, reason)
	if err != nil {
		return err
	}
	c.log.Info("lock broken", "app", app, "orbit", s.o.Orbit.Name, "release", l.ReleaseID)
	writeJSON(w, http.StatusOK, map[string]any{"app": app, "orbit": s.o.Orbit.Name, "release_id": l.ReleaseID,
		"holder": l.Holder, "owner": l.Owner, "since": l.Since, "expires": l.Expires})
	return nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	app := q.Get("app")
	if app != "" {
		if err := elevator.CheckName("app", app); err != nil {
			return err
		}
	}
	if err := s.allow(w, r, c, app); err != nil {
		return err
	}
	since := 7 * 24 * time.Hour
	if v := q.Get("since"); v != "" {
		d, err := time.ParseDuration(v)
		// The log is read an entry at a time: a month bounds what one
		// call may cost.
		if err != nil || d <= 0 || d > 31*24*time.Hour {
			return elevator.Errorf(elevator.EINVALID, "since %q: want a positive duration of at most 31 days (744h), such as 24h", v)
		}
		since = d
	}
	entries, err := s.o.Releases.AuditLog(r.Context(), s.o.Now().Add(-since))
	if err != nil {
		return err
	}
	out := []elevator.AuditEntry{}
	for _, e := range entries {
		if app == "" || e.App == app {
			out = append(out, e)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
	return nil
}

// watch streams the record of a release as Server-Sent Events: an event
// "record" each time its revision changes, then "end" once it has ended.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, c *call) error {
	rec, err := s.record(w, r, c)
	if err != nil {
		return err
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return elevator.Errorf(elevator.EINTERNAL, "watch: the connection cannot stream")
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	ctx := r.Context()
	log := c.log.With("release", rec.ID, "app", rec.App, "orbit", rec.Orbit)
	var last int64 = -1
	tick := time.NewTicker(s.o.WatchPoll)
	defer tick.Stop()
	for {
		if rec.Revision != last {
			last = rec.Revision
			b, err := json.Marshal(rec)
			if err != nil {
				return nil // headers are sent: end the stream
			}
			fmt.Fprintf(w, "id: %d\nevent: record\ndata: %s\n\n", rec.Revision, b)
			flusher.Flush()
		}
		if rec.State.Ended() {
			fmt.Fprintf(w, "event: end\ndata: {\"state\":%q}\n\n", rec.State)
			flusher.Flush()
			log.Info("watch ended", "state", rec.State)
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		next, err := s.o.Releases.Get(ctx, rec.ID)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("watch read failed", "error", err)
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", "reading the record failed; watch again")
				flusher.Flush()
			}
			return nil
		}
		rec = next
	}
}

// errorBody is every error answer: {"error": {"code": ..., "message": ...}}.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", Scheme)
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
