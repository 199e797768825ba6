package release

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/elevatorhq/elevator"
)

// Tester runs one try of a test of a release's gates where the engine
// runs (http and command tests; ssm tests go through the Cloud). It never
// returns an error: a test that cannot run fails, saying why.
type Tester interface {
	Test(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome
}

// TestEnv is what a test runs against: the URL of its target
// (ELEVATOR_TEST_URL), the new instances, and the release's facts.
type TestEnv struct {
	URL       string
	Instances []string // ids of the new groups' instances in service
	// Facts become the environment of a command test, as ELEVATOR_<KEY>:
	// RELEASE_ID, APP, ORBIT, VERSION, REGION, PHASE, TEST_URL, INSTANCES.
	Facts map[string]string
}

// TestOutcome is what a try of a test found. Output is what it printed
// or answered; the engine caps it and takes secret values out before it
// stores it.
type TestOutcome struct {
	Passed bool
	Output string
	Error  string
	// Cut says that Output was cut short at its end (at
	// elevator.MaxTestCapture), where a secret may have been cut in two.
	Cut bool
}

// LocalTester runs http tests with an HTTP client and command tests as
// processes, each bounded by its test's timeout. A command's environment
// is PATH, a HOME of its own, AWS settings that point at no credentials,
// and the release's facts, never the engine's own (which holds its AWS
// credentials). It runs as the engine's user on the engine's machine:
// fit for the CLI, where the caller runs their own tests; a deployer
// uses DeployerTester.
type LocalTester struct {
	Client *http.Client // http.DefaultClient's transport when nil
}

// capWriter keeps at most limit bytes of what is written, and says
// whether it dropped the rest, so a chatty test cannot fill the engine's
// memory.
type capWriter struct {
	buf   bytes.Buffer
	limit int
	cut   bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	room := w.limit - w.buf.Len()
	if room >= len(p) {
		w.buf.Write(p)
	} else {
		w.buf.Write(p[:max(room, 0)])
		w.cut = true
	}
	return len(p), nil
}

// Test runs one try of t.
func (l LocalTester) Test(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout())
	defer cancel()
	switch t.Kind {
	case elevator.TestHTTP:
		return l.http(ctx, t, env)
	case elevator.TestCommand:
		return l.command(ctx, t, env)
	}
	return TestOutcome{Error: fmt.Sprintf("a %s test does not run where the engine runs", t.Kind)}
}

// DeployerTester is the Tester of a deployer: http tests as LocalTester
// runs them, command tests refused. A command test would run on the
// deployer's machine, where the instance metadata service hands out the
// deployer's role to any process: whoever may deploy one app could act
// as the deployer of every app. Run such tests with kind ssm (on a new
// instance of the release) instead.
type DeployerTester struct{ LocalTester }

// Test runs t unless it is a command test.
func (d DeployerTester) Test(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome {
	if t.Kind == elevator.TestCommand {
		return TestOutcome{Error: "a deployer runs no command tests (they would run with its own role): use kind ssm to run the command on a new instance, or release from the CLI"}
	}
	return d.LocalTester.Test(ctx, t, env)
}

func (l LocalTester) http(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome {
	if env.URL == "" {
		return TestOutcome{Error: fmt.Sprintf("no URL to test: the release has no %s URL in this region", targetOf(t))}
	}
	method := t.Method
	if method == "" {
		method = http.MethodGet
	}
	url := strings.TrimSuffix(env.URL, "/") + t.Path
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return TestOutcome{Error: fmt.Sprintf("make request %s %s: %v", method, url, err)}
	}
	keys := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Header.Set(k, elevator.ExpandHeader(t.Headers[k], os.Getenv))
	}
	client := l.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		return TestOutcome{Output: fmt.Sprintf("%s %s", method, url), Error: err.Error()}
	}
	defer func() { _ = resp.Body.Close() }()
	// The body pattern is matched against the whole body, up to
	// MaxTestCapture; the engine keeps less of it in the record.
	body := &capWriter{limit: elevator.MaxTestCapture}
	_, rerr := io.Copy(body, io.LimitReader(resp.Body, elevator.MaxTestCapture+1))
	out := fmt.Sprintf("%s %s -> %d\n%s", method, url, resp.StatusCode, body.buf.String())
	want := t.Status
	if want == 0 {
		want = http.StatusOK
	}
	switch {
	case rerr != nil:
		return TestOutcome{Output: out, Cut: body.cut, Error: fmt.Sprintf("read the answer: %v", rerr)}
	case resp.StatusCode != want:
		return TestOutcome{Output: out, Cut: body.cut, Error: fmt.Sprintf("status %d, want %d", resp.StatusCode, want)}
	case t.Body != "" && !regexp.MustCompile(t.Body).MatchString(body.buf.String()):
		return TestOutcome{Output: out, Cut: body.cut, Error: fmt.Sprintf("body does not match %q", t.Body)}
	}
	return TestOutcome{Passed: true, Output: out, Cut: body.cut}
}

func (l LocalTester) command(ctx context.Context, t elevator.ReleaseTest, env TestEnv) TestOutcome {
	// A home of its own and no AWS configuration: the engine's shared
	// credentials, profiles and SSO caches are out of the test's reach
	// (the instance metadata service is not: see DeployerTester).
	home, err := os.MkdirTemp("", "elevator-test-home-")
	if err != nil {
		return TestOutcome{Error: fmt.Sprintf("make the test's home: %v", err)}
	}
	defer os.RemoveAll(home)
	cmd := exec.CommandContext(ctx, t.Command[0], t.Command[1:]...)
	cmd.Dir = home
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_CONFIG_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true"}
	keys := make([]string, 0, len(env.Facts))
	for k := range env.Facts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, "ELEVATOR_"+k+"="+env.Facts[k])
	}
	out := &capWriter{limit: elevator.MaxTestCapture}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = time.Second
	err = cmd.Run()
	switch {
	case ctx.Err() != nil:
		return TestOutcome{Output: out.buf.String(), Cut: out.cut, Error: fmt.Sprintf("no answer within %s", t.Timeout())}
	case err != nil:
		return TestOutcome{Output: out.buf.String(), Cut: out.cut, Error: err.Error()}
	}
	return TestOutcome{Passed: true, Output: out.buf.String(), Cut: out.cut}
}

func targetOf(t elevator.ReleaseTest) string {
	if t.Target == "" {
		return "default"
	}
	return t.Target
}

// secretNames are the words that make an environment variable of the
// engine's secret: its value never reaches a record.
var secretNames = []string{"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "API_KEY", "ACCESS_KEY"}

// secretsOf lists the values a test's stored output must not hold: the
// values of its headers (with the ${NAME} in them expanded), and those of the engine's environment variables
// whose names say they are secret (AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, ...).
func secretsOf(t elevator.ReleaseTest, environ []string) []string {
	getenv := func(name string) string {
		for _, kv := range environ {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		return ""
	}
	var out []string
	for _, v := range t.Headers {
		v = elevator.ExpandHeader(v, getenv)
		out = append(out, v)
		// "Bearer xyz": the token alone, too.
		if _, tok, ok := strings.Cut(v, " "); ok {
			out = append(out, tok)
		}
	}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		for _, w := range secretNames {
			if strings.Contains(strings.ToUpper(k), w) {
				out = append(out, v)
				break
			}
		}
	}
	// Longest first, so that a secret that contains another goes whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}
