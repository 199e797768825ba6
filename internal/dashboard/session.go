package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Cookie names. With Secure cookies the names carry the __Host- prefix,
// which browsers only accept from a secure origin, for the path /, and
// without a Domain: no other host or path can plant one.
const (
	sessionCookie = "elevator_session"
	flowCookie    = "elevator_signin"
)

// session is who signed in, carried in a cookie signed with the server's
// key (HMAC-SHA256): the server keeps no session state, so any replica
// that has the key serves the user.
type session struct {
	// Name is how the user appears in the audit log: their email
	// principal, or oidc:SUBJECT without one, or local:USER.
	Name string `json:"n"`
	// Principals are the user's principals the orbit's access rules
	// name (see elevator.UserPrincipals); the others are dropped so
	// that the cookie stays small.
	Principals []string `json:"p"`
	// CSRF is the token every form of this session carries.
	CSRF    string `json:"c"`
	Expires int64  `json:"e"` // Unix seconds
	Local   bool   `json:"l,omitempty"`
}

// flow is a sign-in on its way through the provider: the state, nonce
// and PKCE verifier of the request, and where to go after.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Next     string `json:"x"`
	Expires  int64  `json:"e"`
}

// cookies signs, reads and writes the dashboard's cookies.
type cookies struct {
	key    []byte
	secure bool
	now    func() time.Time
}

func (c *cookies) name(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *cookies) sign(payload []byte) string {
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// open returns the payload of a signed value, or false when the value is
// malformed or its signature is not the key's.
func (c *cookies) open(v string) ([]byte, bool) {
	p, s, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	sig, err2 := base64.RawURLEncoding.DecodeString(s)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	return payload, hmac.Equal(sig, m.Sum(nil))
}

// set writes a signed cookie of v that lasts ttl (HttpOnly, SameSite=Lax,
// Secure unless plain HTTP is allowed). Lax, not Strict: the provider
// sends the browser back to the callback from another site, and the
// sign-in cookie must come with it. No action is a GET, and every POST
// carries the session's CSRF token.
func (c *cookies) set(w http.ResponseWriter, base string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: c.name(base), Value: c.sign(b), Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (c *cookies) clear(w http.ResponseWriter, base string) {
	http.SetCookie(w, &http.Cookie{Name: c.name(base), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

// get reads a signed cookie into v; false when it is missing, forged or
// malformed.
func (c *cookies) get(r *http.Request, base string, v any) bool {
	ck, err := r.Cookie(c.name(base))
	if err != nil {
		return false
	}
	b, ok := c.open(ck.Value)
	if !ok {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

// session returns the request's session, or nil when there is none or
// it has expired.
func (c *cookies) session(r *http.Request) *session {
	var s session
	if !c.get(r, sessionCookie, &s) || c.now().Unix() >= s.Expires || s.CSRF == "" {
		return nil
	}
	return &s
}

// checkCSRF reports whether the form's token is the session's.
func checkCSRF(s *session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(token)) == 1
}

// randomToken returns 32 random bytes, base64url encoded.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
