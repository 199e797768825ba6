package dashboard

import (
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
// dashboard, never another site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "/apps/shop", "//evil.example", "/\\evil.example", "https://evil.example", "javascript:alert(1)", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
	})
}
