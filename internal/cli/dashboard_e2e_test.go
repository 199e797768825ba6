package cli_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// TestADeployerServesTheDashboard starts a deployer process with the
// dashboard beside its API on one listener, signing users in through a
// local OpenID Connect provider (mockoidc) the test runs. A release
// submitted through the state bucket runs to Success on the emulator, and
// a user of the group the orbit manifest names sees it on the overview
// (and the next release at once, from the deployer's own writes),
// its app's page and its own page, read from the orbit's real store and
// groups; the API still answers beside it.
func TestADeployerServesTheDashboard(t *testing.T) {
	in := newIntake(t, 1)
	f, err := os.OpenFile(in.orbitFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "access:\n  - {role: approver, principals: [\"group:ops\"], apps: [app00]}\n")
	f.Close()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr
	t.Setenv("ELEVATOR_OIDC_CLIENT_SECRET", m.Config().ClientSecret)
	r := in.start(t, emulatortest.Endpoint(), "--listen", addr, "--oidc-issuer", m.Issuer(),
		"--oidc-client-id", m.Config().ClientID, "--dashboard-url", url, "--refresh", "1h")
	if err := pollUntil(time.Minute, func() error {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}); err != nil {
		r.alive(t)
		t.Fatal(err)
	}
	rel := in.release(t, "app00", "2.0.0")
	in.submit(t, rel)
	rec := in.waitEnded(t, []string{rel.ID}, 3*time.Minute, r)[rel.ID]
	if rec.State != domain.StateSuccess {
		t.Fatalf("release %s ended %s: %s", rel.ID, rec.State, rec.Error)
	}

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	m.QueueUser(&mockoidc.MockUser{Subject: "alice", Email: "alice@example.com", EmailVerified: true, Groups: []string{"ops"}})
	code, overview := get("/")
	if code != http.StatusOK || !strings.Contains(overview, "email:alice@example.com") {
		t.Fatalf("overview after sign-in: %d\n%s", code, overview)
	}
	for _, want := range []string{`data-app="app00"`, "version 2.0.0", rel.ID, "Success"} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q\n%s", want, overview)
		}
	}
	code, page := get("/releases/" + rel.ID)
	if code != http.StatusOK || !strings.Contains(page, `data-revision="`) || strings.Count(page, `class="edge taken"`) != len(rec.Path)-1 {
		t.Errorf("release page: %d, %d transitions highlighted, want %d\n%s", code, strings.Count(page, `class="edge taken"`), len(rec.Path)-1, page)
	}
	for _, want := range []string{">Success</span>", "Cloud.", rec.Regions[0].Services[0].Group} {
		if !strings.Contains(page, want) {
			t.Errorf("the release page lacks %q", want)
		}
	}
	code, app := get("/apps/app00")
	if code != http.StatusOK || !strings.Contains(app, rec.Regions[0].Services[0].Group) || !strings.Contains(app, "Roll back") {
		t.Errorf("app page: %d\n%s", code, app)
	}
	// The summary was read by the first page view, and --refresh 1h
	// reads it never again here: the next release shows on the overview
	// because the deployer hands its engine's records to its dashboard.
	// The next release follows the first at once: release ids order
	// releases to the millisecond (and one process never makes two in
	// one), so it is the newest.
	rel2 := in.release(t, "app00", "2.0.1")
	in.submit(t, rel2)
	if rec := in.waitEnded(t, []string{rel2.ID}, 3*time.Minute, r)[rel2.ID]; rec.State != domain.StateSuccess {
		t.Fatalf("release %s ended %s: %s", rel2.ID, rec.State, rec.Error)
	}
	if _, overview := get("/"); !strings.Contains(overview, rel2.ID) || !strings.Contains(overview, "version 2.0.1") {
		t.Errorf("the overview lacks the deployer's next release %s\n%s", rel2.ID, overview)
	}
	code, health := get("/healthz")
	if code != http.StatusOK || !strings.Contains(health, `"ok"`) {
		t.Errorf("/healthz beside the dashboard: %d %s", code, health)
	}
}
