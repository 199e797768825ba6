package dashboard

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	elevator "github.com/elevatorhq/elevator"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the screenshots of the dashboard under docs/")

// needChromium returns the path of Debian's chromium, skipping the test
// when it is missing, or failing it under CI (CI set), where scripts/test
// has installed it.
func needChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "the browser tests need Debian's chromium package; scripts/test installs it"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser starts a headless Chromium for the test and returns a tab. When
// the test ends the tab and the browser are cancelled, which kills the
// browser; the test then checks by its PID that it is gone.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := needChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	if err := chromedp.Run(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	pid := chromedp.FromContext(ctx).Browser.Process().Pid
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		deadline := time.Now().Add(10 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("chromium (pid %d) still runs after its context was cancelled", pid)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return ctx
}

// run runs browser actions with a deadline.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// signIn signs the browser in as the user the provider will hand out
// next, from a page that needs a session.
func (e *env) signIn(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	run(t, ctx, "sign out", network.ClearBrowserCookies())
	var who string
	run(t, ctx, "sign in", chromedp.Navigate(e.url+path), chromedp.WaitVisible("#user", chromedp.ByID), chromedp.Text("#user", &who, chromedp.ByID))
	if !strings.HasPrefix(who, "email:") {
		t.Fatalf("signed in as %q", who)
	}
}

func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }

func screenshot(t *testing.T, ctx context.Context, name string) {
	if !*updateScreenshots {
		return
	}
	var png []byte
	run(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser drives the dashboard in headless Chromium, signing in
// through the local OpenID Connect provider: an approver sees the
// overview, watches a release reach Success without reloading, and halts
// another; a viewer sees no halt button and a POST forged in their
// session is refused and audited; a field holding HTML shows as text.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	ctx := browser(t)
	e.src.groups = append(e.src.groups,
		Group{Region: "eu-west-1", App: "shop", Service: "web", ReleaseID: releaseID(1), Name: "shop-web-2", Desired: 2, Serving: true, Instances: []Instance{
			{ID: "i-3", Lifecycle: "InService", Healthy: true, Targets: map[string]string{"tg": "healthy"}},
			{ID: "i-4", Lifecycle: "InService", Healthy: true, Targets: map[string]string{"tg": "healthy"}}}},
		Group{Region: "us-east-1", App: "cart", Service: "api", ReleaseID: releaseID(10), Name: "cart-api-1", Desired: 1, Serving: true, Instances: []Instance{
			{ID: "i-5", Lifecycle: "InService", Healthy: true}}},
	)
	e.src.add(releaseID(10), "cart", "7.2.1", "email:carol@example.com", successPath...)
	running := releaseID(20)
	e.src.add(running, "shop", "1.1.0", "arn:aws:sts::123456789012:assumed-role/ci/run-20", successPath[:4]...)
	toHalt := releaseID(21)
	e.src.add(toHalt, "cart", "7.3.0", "email:carol@example.com", successPath[:5]...)
	shopHalt := releaseID(22)
	e.src.add(shopHalt, "shop", "1.2.0", "email:alice@example.com", successPath[:5]...)

	e.oidc.QueueUser(alice)
	e.signIn(t, ctx, "/")

	t.Run("the overview shows the orbit and its apps", func(t *testing.T) {
		var orbit, shop, cart string
		run(t, ctx, "read the overview",
			chromedp.WaitVisible(`tr[data-app="shop"]`, chromedp.ByQuery),
			chromedp.Text("header nav", &orbit, chromedp.ByQuery),
			chromedp.Text(`tr[data-app="shop"]`, &shop, chromedp.ByQuery),
			chromedp.Text(`tr[data-app="cart"]`, &cart, chromedp.ByQuery))
		if !strings.Contains(orbit, "demo") {
			t.Errorf("header: %q, want the orbit demo", orbit)
		}
		// shop serves 1.0.0 in both regions; in us-east-1 one of two
		// instances is unhealthy in its target group.
		for _, want := range []string{"version 1.0.0", "web: 1/2 degraded", "web: 2/2 healthy", releaseID(22), "CheckHealthy"} {
			if !strings.Contains(shop, want) {
				t.Errorf("shop's row %q lacks %q", shop, want)
			}
		}
		if !strings.Contains(cart, "api: 1/1 healthy") || !strings.Contains(cart, "nothing serves") {
			t.Errorf("cart's row: %q", cart)
		}
		screenshot(t, ctx, "dashboard-overview.png")
	})

	t.Run("a running release reaches Success without reloading", func(t *testing.T) {
		var state string
		run(t, ctx, "open the release", chromedp.Navigate(e.url+"/releases/"+running), chromedp.WaitVisible("#state", chromedp.ByID),
			chromedp.Evaluate(`document.getElementById("state").textContent`, &state),
			// A mark on the window: a reload would drop it.
			chromedp.Evaluate(`window.__loaded = "once"`, nil))
		if state != string(elevator.StateDeploy) {
			t.Fatalf("state on opening: %q, want Deploy", state)
		}
		e.src.run(running, 200*time.Millisecond)
		var mark string
		var taken int
		run(t, ctx, "watch it end",
			chromedp.Poll(`document.getElementById("state").textContent === "Success"`, nil, chromedp.WithPollingTimeout(15*time.Second)),
			chromedp.Evaluate(`window.__loaded`, &mark),
			chromedp.Evaluate(`document.querySelectorAll("svg.graph path.edge.taken").length`, &taken))
		if mark != "once" {
			t.Fatalf("the page was reloaded (mark %q)", mark)
		}
		if taken != len(successPath)-1 {
			t.Errorf("%d transitions highlighted after Success, want %d", taken, len(successPath)-1)
		}
		screenshot(t, ctx, "dashboard-release.png")
	})

	t.Run("an approver halts a release from the page and it ends FailureClean", func(t *testing.T) {
		var state string
		run(t, ctx, "halt",
			chromedp.Navigate(e.url+"/releases/"+shopHalt),
			chromedp.Click("#halt", chromedp.ByID, chromedp.NodeVisible),
			chromedp.WaitVisible("#reason", chromedp.ByID),
			chromedp.SendKeys("#reason", "health checks flap in us-east-1", chromedp.ByID),
			chromedp.Click("#confirm", chromedp.ByID),
			chromedp.Click("#do", chromedp.ByID),
			chromedp.WaitVisible("#halted", chromedp.ByID),
			chromedp.Poll(`document.getElementById("state").textContent === "FailureClean"`, nil, chromedp.WithPollingTimeout(15*time.Second)),
			chromedp.Evaluate(`document.getElementById("state").textContent`, &state))
		if state != string(elevator.StateFailureClean) {
			t.Fatalf("state after the halt: %q", state)
		}
		h := e.src.entries(elevator.AuditHalt)
		if len(h) != 1 || h[0].By != "email:alice@example.com" || h[0].ReleaseID != shopHalt || h[0].Detail != "health checks flap in us-east-1" {
			t.Fatalf("halt audited: %+v", h)
		}
	})

	t.Run("a viewer has no halt button and a forged halt is refused and audited", func(t *testing.T) {
		e.oidc.QueueUser(bob)
		e.signIn(t, ctx, "/releases/"+toHalt)
		var buttons int
		var status float64
		run(t, ctx, "forge a halt",
			chromedp.WaitVisible("#state", chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#halt").length`, &buttons),
			chromedp.Evaluate(`fetch("/releases/`+toHalt+`/halt", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
				body: "confirm=yes&reason=forged&csrf=" + encodeURIComponent(document.querySelector("input[name=csrf]").value)}).then(r => r.status)`, &status, awaitPromise))
		if buttons != 0 {
			t.Errorf("the viewer sees %d halt buttons", buttons)
		}
		if status != 403 {
			t.Fatalf("forged halt: %v, want 403", status)
		}
		if e.src.state(toHalt) != elevator.StateCheckHealthy {
			t.Fatalf("the forged halt moved the release to %s", e.src.state(toHalt))
		}
		r := e.src.entries(elevator.AuditRefused)
		if len(r) == 0 || r[len(r)-1].By != "email:bob@example.com" || r[len(r)-1].App != "cart" || !strings.Contains(r[len(r)-1].Detail, "approver") {
			t.Fatalf("refusal audited: %+v", r)
		}
	})

	t.Run("fields holding HTML are shown escaped", func(t *testing.T) {
		xss := releaseID(30)
		rec := e.src.add(xss, "cart", "1.0.0", `<img src=x onerror="window.__xss='by'">`, successPath[:5]...)
		e.src.mu.Lock()
		rec.Error = `<script>window.__xss = "error"</script>deploy failed`
		e.src.audit = append(e.src.audit, elevator.AuditEntry{At: time.Now().UTC(), By: "<b>mallory</b>", Action: elevator.AuditHalt, App: "cart", Orbit: "demo", Detail: `<script>window.__xss = "audit"</script>`})
		e.src.mu.Unlock()
		var errText, by, detail string
		var injected int
		var fired bool
		run(t, ctx, "open the pages",
			chromedp.Navigate(e.url+"/releases/"+xss), chromedp.WaitVisible("#error", chromedp.ByID),
			chromedp.Text("#error", &errText, chromedp.ByID),
			chromedp.Text(".by", &by, chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("main script, main img").length`, &injected),
			chromedp.Evaluate(`window.__xss !== undefined`, &fired))
		if errText != `<script>window.__xss = "error"</script>deploy failed` || by != `<img src=x onerror="window.__xss='by'">` || injected != 0 || fired {
			t.Fatalf("release page: error %q, by %q, %d injected elements, script ran %v", errText, by, injected, fired)
		}
		run(t, ctx, "open the audit log",
			chromedp.Navigate(e.url+"/audit?action=halt"), chromedp.WaitVisible("td.detail", chromedp.ByQuery),
			chromedp.Text("td.detail", &detail, chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelectorAll("main script, main b").length`, &injected),
			chromedp.Evaluate(`window.__xss !== undefined`, &fired))
		if detail != `<script>window.__xss = "audit"</script>` || injected != 0 || fired {
			t.Fatalf("audit page: detail %q, %d injected elements, script ran %v", detail, injected, fired)
		}
	})
}
