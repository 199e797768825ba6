package dashboard

import (
	"fmt"
	"net/http"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// action is something an operator does from the dashboard: a GET of its
// path shows what it will do and asks for a reason and a confirmation; a
// POST with the reason and the session's CSRF token does it. Each needs
// the approver role in the app, as the API's halt, rollback and unlock
// do, and is audited by the Source with the user and the reason.
type action struct {
	name, path, verb string
	// release says the path names a release ({id}); else an app ({app}).
	release bool
	// do acts and returns where to send the browser after.
	do func(s *Server, r *http.Request, u user, target, reason string) (string, error)
}

// actionRole is the role every action needs (see api.Routes).
const actionRole = elevator.RoleApprover

var actions = []action{
	{name: "halt", path: "/releases/{id}/halt", verb: "Halt release", release: true,
		do: func(s *Server, r *http.Request, u user, id, reason string) (string, error) {
			return "/releases/" + id, s.o.Source.Halt(r.Context(), id, u.Name, reason)
		}},
	{name: "rollback", path: "/apps/{app}/rollback", verb: "Roll back app",
		do: func(s *Server, r *http.Request, u user, app, reason string) (string, error) {
			rel, err := s.o.Source.Rollback(r.Context(), app, u.Name, reason)
			if err != nil {
				return "", err
			}
			return "/releases/" + rel.ID, nil
		}},
	{name: "unlock", path: "/apps/{app}/unlock", verb: "Unlock app",
		do: func(s *Server, r *http.Request, u user, app, reason string) (string, error) {
			return "/apps/" + app, s.o.Source.Unlock(r.Context(), app, u.Name, reason)
		}},
}

// confirmView is the page that asks to confirm an action.
type confirmView struct {
	Verb, Name, Target, App, Action string
	Rec                             *elevator.ReleaseRecord
	Reason                          string
	Problem                         string
}

// target reads and checks the action's target and its app.
func (s *Server) target(w http.ResponseWriter, r *http.Request, u user, a action, need elevator.AccessRole) (target, app string, rec *elevator.ReleaseRecord, ok bool) {
	if a.release {
		rec = s.record(w, r, u, need)
		if rec == nil {
			return "", "", nil, false
		}
		return rec.ID, rec.App, rec, true
	}
	app = r.PathValue("app")
	if err := elevator.CheckName("app", app); err != nil {
		s.fail(w, r, err)
		return "", "", nil, false
	}
	if !u.role(app).Covers(need) {
		s.refuse(w, r, u, app, r.Method+" "+r.URL.Path, fmt.Sprintf("this needs the %s role in app %s, which the access section of the orbit manifest does not grant %s", need, app, u.Name))
		return "", "", nil, false
	}
	return app, app, nil, true
}

func (s *Server) confirm(a action) func(w http.ResponseWriter, r *http.Request, u user) {
	return func(w http.ResponseWriter, r *http.Request, u user) {
		target, app, rec, ok := s.target(w, r, u, a, actionRole)
		if !ok {
			return
		}
		d := s.data(u, a.verb+" "+target)
		d.Confirm = &confirmView{Verb: a.verb, Name: a.name, Target: target, App: app, Rec: rec, Action: strings.NewReplacer("{id}", target, "{app}", target).Replace(a.path)}
		s.page(w, r, http.StatusOK, "confirm", d)
	}
}

// act does an action after checking, in this order: a session (else
// 403: a POST is never redirected to sign-in), the CSRF token, the role,
// a reason, and the confirmation. Every refusal is audited.
func (s *Server) act(a action) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		sess := s.cookies.session(r)
		u := user{session: sess, srv: s}
		if sess == nil {
			s.refuse(w, r, u, "", "POST "+r.URL.Path, "no session: sign in first")
			return
		}
		if !checkCSRF(sess, r.PostFormValue("csrf")) {
			s.refuse(w, r, u, "", "POST "+r.URL.Path, "the form's CSRF token is missing or wrong: reload the page and try again")
			return
		}
		target, app, rec, ok := s.target(w, r, u, a, actionRole)
		if !ok {
			return
		}
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" || len(reason) > 1000 || r.PostFormValue("confirm") != "yes" {
			d := s.data(u, a.verb+" "+target)
			d.Confirm = &confirmView{Verb: a.verb, Name: a.name, Target: target, App: app, Rec: rec, Reason: reason,
				Action:  strings.NewReplacer("{id}", target, "{app}", target).Replace(a.path),
				Problem: "Say why (up to 1000 characters; it goes to the audit log) and tick the confirmation."}
			s.page(w, r, http.StatusBadRequest, "confirm", d)
			return
		}
		next, err := a.do(s, r, u, target, reason)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.o.Log.Info("dashboard action", "action", a.name, "target", target, "app", app, "user", u.Name)
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}
