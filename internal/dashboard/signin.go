package dashboard

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	osuser "os/user"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	elevator "github.com/elevatorhq/elevator"
)

// OIDC configures sign-in with an OpenID Connect provider (Google, Okta,
// GitHub through Dex, AWS IAM Identity Center, ...): the dashboard is a
// confidential client that uses the authorization code flow with PKCE,
// and reads the ID token's verified email and groups claim.
type OIDC struct {
	Issuer       string // such as https://accounts.google.com
	ClientID     string
	ClientSecret string
	// RedirectURL is the dashboard's callback as the browser reaches
	// it, such as https://deployer.example.com/signin/callback.
	RedirectURL string
	// Scopes asked for besides openid; default email, profile, groups.
	Scopes []string
}

// signin is the sign-in side of a Server with OpenID Connect. The
// provider is discovered when the dashboard starts and, when it cannot be
// reached then, at the next sign-in (at most every discoverEvery): a
// provider's outage keeps people from signing in, never a deployer from
// starting and driving releases.
type signin struct {
	c    *OIDC
	log  *slog.Logger
	mu   sync.Mutex
	last time.Time // of the last failed discovery
	err  error     // of the last failed discovery
	// oauth and verifier are set once the provider is discovered.
	oauth    *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// discoverEvery bounds how often a provider that could not be reached is
// asked again.
const discoverEvery = 10 * time.Second

// newSignin checks the configuration and tries to discover the provider
// (one HTTP call to its .well-known/openid-configuration).
func newSignin(ctx context.Context, c *OIDC, log *slog.Logger) (*signin, error) {
	if c.Issuer == "" || c.ClientID == "" || c.RedirectURL == "" {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard sign-in: the OpenID Connect issuer, client id and redirect URL are required")
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || u.Path != callbackPath {
		return nil, elevator.Errorf(elevator.EINVALID, "dashboard sign-in: redirect URL %q: want the dashboard's URL ending in %s", c.RedirectURL, callbackPath)
	}
	s := &signin{c: c, log: log}
	if _, _, err := s.provider(ctx); err != nil {
		log.Error("dashboard sign-in unavailable until the provider answers", "error", err)
	}
	return s, nil
}

// provider returns the provider's OAuth2 configuration and ID token
// verifier, discovering it first if that has not been done yet.
func (s *signin) provider(ctx context.Context) (*oauth2.Config, *oidc.IDTokenVerifier, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		return s.oauth, s.verifier, nil
	}
	if s.err != nil && time.Since(s.last) < discoverEvery {
		return nil, nil, s.err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, s.c.Issuer)
	if err != nil {
		s.last, s.err = time.Now(), fmt.Errorf("discover the OpenID Connect provider %s: %w", s.c.Issuer, err)
		return nil, nil, s.err
	}
	scopes := s.c.Scopes
	if len(scopes) == 0 {
		scopes = []string{"email", "profile", "groups"}
	}
	s.oauth = &oauth2.Config{ClientID: s.c.ClientID, ClientSecret: s.c.ClientSecret, RedirectURL: s.c.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, scopes...)}
	s.verifier = p.Verifier(&oidc.Config{ClientID: s.c.ClientID})
	s.err = nil
	return s.oauth, s.verifier, nil
}

// unavailable answers a sign-in while the provider cannot be reached.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.o.Log.Warn("sign-in while the provider cannot be reached", "error", err)
	s.page(w, r, http.StatusServiceUnavailable, "error", pageData{Title: "Sign-in unavailable",
		Message: "The identity provider cannot be reached just now, so nobody can sign in. Try again in a moment; the dashboard's log says why."})
}

const callbackPath = "/signin/callback"

// Sign-in lifetimes: a sign-in must come back from the provider within
// flowTTL; a session lasts SessionTTL.
const (
	flowTTL    = 10 * time.Minute
	SessionTTL = 12 * time.Hour
)

// localName is the local single user's name in the audit log.
func localName() string {
	name := "local"
	if u, err := osuser.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "local:" + name
}

// safeNext returns next when it is a path of this site, else "/": a
// sign-in never sends the browser to another site. Browsers read a
// backslash as a slash and drop tabs and line breaks, and http.Redirect
// cleans the path ("/a/../\\x" becomes "/\\x"), so a path with any of
// those, or one that cleans to a network path, is refused too.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.ContainsRune(next, '\\') ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f }) ||
		strings.HasPrefix(next, "//") || strings.HasPrefix(path.Clean(next), "//") {
		return "/"
	}
	return next
}

// signIn starts a sign-in: in local mode it makes the session at once;
// else it remembers a state, nonce and PKCE verifier in a short-lived
// cookie and sends the browser to the provider.
func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if s.o.Local {
		s.startSession(w, r, &session{Name: s.local, Local: true}, next)
		return
	}
	oauth, _, err := s.signin.provider(r.Context())
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	f := flow{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: next,
		Expires: s.o.Now().Add(flowTTL).Unix()}
	if err := s.cookies.set(w, flowCookie, f, flowTTL); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// callback ends a sign-in: it checks the state, trades the code for
// tokens with the PKCE verifier, verifies the ID token (issuer, audience,
// expiry, signature, nonce) and makes the session from its claims.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	if s.o.Local {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	var f flow
	ok := s.cookies.get(r, flowCookie, &f)
	s.cookies.clear(w, flowCookie)
	q := r.URL.Query()
	if !ok || s.o.Now().Unix() >= f.Expires || q.Get("state") == "" || !checkCSRF(&session{CSRF: f.State}, q.Get("state")) {
		s.page(w, r, http.StatusBadRequest, "error", pageData{Title: "Sign-in failed",
			Message: "This sign-in was not started here, or took longer than 10 minutes. Sign in again."})
		return
	}
	if e := q.Get("error"); e != "" {
		s.page(w, r, http.StatusUnauthorized, "error", pageData{Title: "Sign-in refused",
			Message: "The identity provider said: " + e + " " + q.Get("error_description")})
		return
	}
	ctx := r.Context()
	oauth, verifier, err := s.signin.provider(ctx)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	tok, err := oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.o.Log.Warn("sign-in code exchange failed", "error", err)
		s.page(w, r, http.StatusUnauthorized, "error", pageData{Title: "Sign-in failed", Message: "The identity provider did not accept the sign-in code. Sign in again."})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce == "" || !checkCSRF(&session{CSRF: f.Nonce}, idt.Nonce) {
		s.o.Log.Warn("sign-in ID token refused", "error", err)
		s.page(w, r, http.StatusUnauthorized, "error", pageData{Title: "Sign-in failed", Message: "The identity provider's ID token was not valid. Sign in again."})
		return
	}
	var claims struct {
		Email    string   `json:"email"`
		Verified bool     `json:"email_verified"`
		Groups   []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		s.page(w, r, http.StatusUnauthorized, "error", pageData{Title: "Sign-in failed", Message: "The ID token's claims could not be read."})
		return
	}
	all := elevator.UserPrincipals(claims.Email, claims.Verified, claims.Groups)
	sess := &session{Name: "oidc:" + idt.Subject}
	if len(all) > 0 && strings.HasPrefix(all[0], elevator.PrincipalEmail) {
		sess.Name = all[0]
	}
	for _, p := range all {
		if s.o.Orbit.Names(p) && !slices.Contains(sess.Principals, p) {
			sess.Principals = append(sess.Principals, p)
		}
	}
	s.o.Log.Info("signed in", "user", sess.Name, "principals", sess.Principals)
	s.startSession(w, r, sess, f.Next)
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sess *session, next string) {
	sess.CSRF = randomToken()
	sess.Expires = s.o.Now().Add(SessionTTL).Unix()
	if err := s.cookies.set(w, sessionCookie, sess, SessionTTL); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut ends the session (a POST with the session's CSRF token, so
// that no other site can sign a user out).
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if sess := s.cookies.session(r); sess != nil && checkCSRF(sess, r.PostFormValue("csrf")) {
		s.cookies.clear(w, sessionCookie)
	}
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}
