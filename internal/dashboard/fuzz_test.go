package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzCookie signs any payload and reads it back: it opens with the key
// to the same payload, and not once the value is cut, or signed with
// another key; any value at all is read without a panic.
func FuzzCookie(f *testing.F) {
	c := &cookies{key: []byte("0123456789abcdef0123456789abcdef"), now: time.Now}
	other := &cookies{key: []byte("fedcba9876543210fedcba9876543210"), now: time.Now}
	f.Add([]byte(`{"n":"email:a@example.com","p":["group:ops"],"c":"t","e":9999999999}`), "e30.AAAA")
	f.Add([]byte{}, ".")
	f.Fuzz(func(t *testing.T, payload []byte, any string) {
		c.open(any) // no panic
		v := c.sign(payload)
		got, ok := c.open(v)
		if !ok || string(got) != string(payload) {
			t.Fatalf("a signed payload did not open: %q", v)
		}
		if _, ok := c.open(other.sign(payload)); ok {
			t.Fatal("a value signed with another key opened")
		}
		if _, ok := c.open(v[:len(v)-4]); ok {
			t.Fatalf("a cut value opened: %q", v[:len(v)-4])
		}
	})
}

// FuzzSafeNext: the page a sign-in returns to is always a path of the
// dashboard, never another site, as a browser reads the Location that
// http.Redirect writes (a backslash read as a slash, tabs and line breaks
// dropped).
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/apps/shop", "//evil.example", "/\\evil.example", "https://evil.example",
		"javascript:alert(1)", "", "/a/../%5Cevil.example", "/a/..\\/evil.example", "/\t/evil.example", "/\n/evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest(http.MethodGet, "/signin", nil), safeNext(next), http.StatusSeeOther)
		loc := w.Header().Get("Location")
		read := strings.Map(func(r rune) rune {
			switch {
			case r == '\\':
				return '/'
			case r == '\t' || r == '\n' || r == '\r':
				return -1
			}
			return r
		}, loc)
		if !strings.HasPrefix(read, "/") || strings.HasPrefix(read, "//") {
			t.Fatalf("safeNext(%q): Location %q, read by a browser as %q: another site", next, loc, read)
		}
		if u, err := url.Parse(read); err == nil && (u.Host != "" || u.Scheme != "") {
			t.Fatalf("safeNext(%q): Location %q names host %q", next, loc, u.Host)
		}
	})
}
