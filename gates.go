package elevator

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// ReleaseTests are a release's gates: smoke tests against the new groups
// on a per-release test target group before they see traffic, integration
// tests after cut-over, and a bake during which the app's CloudWatch alarms
// are watched while the old groups wait, alive, to be put back.
type ReleaseTests struct {
	Smoke       []ReleaseTest `json:"smoke,omitempty"`
	Integration []ReleaseTest `json:"integration,omitempty"`
	// BakeSeconds is how long the release watches alarms after its
	// integration tests, with the old groups kept alive.
	BakeSeconds int `json:"bake_seconds,omitempty"`
	// Alarms names the CloudWatch alarms watched from the smoke tests to
	// the end of the bake, in every region of the release.
	Alarms []string `json:"alarms,omitempty"`
	// MissingData says what an alarm without data (INSUFFICIENT_DATA, or
	// not found) means: MissingDataOK or MissingDataBreaching. Required
	// when Alarms is not empty.
	MissingData string `json:"missing_data,omitempty"`
	// RetrySeconds is how long a failed test phase waits for `release
	// retry-tests` before the release fails; 0 fails at once.
	RetrySeconds int `json:"retry_seconds,omitempty"`
}

// What missing alarm data means.
const (
	MissingDataOK        = "ok"        // no data is not an alarm
	MissingDataBreaching = "breaching" // no data rolls the release back
)

// Test kinds.
const (
	TestHTTP    = "http"    // an HTTP request and what its answer must be
	TestCommand = "command" // a program run where the engine runs
	TestSSM     = "ssm"     // a shell command on one new instance, through SSM Run Command
)

// Test targets of http tests.
const (
	TargetTestListener = "test"    // the app's test listener, which forwards to the new groups only
	TargetServiceURL   = "service" // the service's public URL, through the production listener
)

// Test phases, as test results name them.
const (
	PhaseSmoke       = "smoke"
	PhaseIntegration = "integration"
)

// ReleaseTest is one test of a release's gates.
type ReleaseTest struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Method, Path, Headers, Status (the expected status, 200 when 0) and
	// Body (a regular expression the answer's body must match) describe
	// an http test, sent to Target.
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Status  int               `json:"status,omitempty"`
	Body    string            `json:"body,omitempty"`
	Target  string            `json:"target,omitempty"`
	// Command is the program and its arguments of a command test, or the
	// shell lines of an ssm test.
	Command []string `json:"command,omitempty"`
	// Service names the service whose new instance runs an ssm test (the
	// release's first service when "").
	Service string `json:"service,omitempty"`
	// Retries is how many more times a failing test is tried, a poll
	// interval apart; TimeoutSeconds bounds each try (DefaultTestTimeout
	// when 0).
	Retries        int `json:"retries,omitempty"`
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// TestEnvPrefix starts the names of the only variables of the engine's
// environment an http test's header may read, as ${ELEVATOR_TEST_NAME}.
// A header is sent to the app under test, so no other variable of the
// engine (its AWS credentials, AWS_SECRET_ACCESS_KEY among them) may be
// named there: manifests and Release.Check refuse such a ${NAME}, and
// ExpandHeader leaves it as written.
const TestEnvPrefix = "ELEVATOR_TEST_"

// headerRef is a reference, in an http test's header value, to a
// variable of the engine's environment: ${NAME}.
var headerRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// credentialHeader matches the names of headers that carry credentials.
var credentialHeader = regexp.MustCompile(`(?i)^(authorization|proxy-authorization|cookie)$|token|secret|key|password|passwd|credential|session|auth`)

// ExpandHeader returns an http test's header value with each
// ${ELEVATOR_TEST_NAME} in it replaced by the engine's environment
// variable of that name (getenv), as the engine does when it sends the
// request. A ${NAME} without TestEnvPrefix stays as written: it is never
// read from the environment. A release document keeps the value as
// written: the secret itself stays in the environment of whoever runs
// the test.
func ExpandHeader(v string, getenv func(string) string) string {
	return headerRef.ReplaceAllStringFunc(v, func(ref string) string {
		name := ref[2 : len(ref)-1]
		if !strings.HasPrefix(name, TestEnvPrefix) {
			return ref
		}
		return getenv(name)
	})
}

// CheckTestHeader returns an EINVALID error for a header of an http test
// that names a variable of the engine's environment without
// TestEnvPrefix (the header is sent to the app under test), or whose
// value would put a credential in the release document, which every
// viewer of the orbit may read: a header whose name says it carries one
// (Authorization, Cookie, or a name with token, secret, key, password,
// credential, session or auth in it) must take its secret from the
// engine's environment, as ${ELEVATOR_TEST_NAME}.
func CheckTestHeader(name, value string) error {
	for _, m := range headerRef.FindAllStringSubmatch(value, -1) {
		if !strings.HasPrefix(m[1], TestEnvPrefix) {
			return Errorf(EINVALID, "header %s reads ${%s}: a header is sent to the app under test, so it may read only the engine's variables whose names start with %s, such as ${%sTOKEN}", name, m[1], TestEnvPrefix, TestEnvPrefix)
		}
	}
	if credentialHeader.MatchString(name) && value != "" && !headerRef.MatchString(value) {
		return Errorf(EINVALID, "header %s carries a credential: its value would be stored in the release document, readable by every viewer of the orbit; write the secret as ${%sNAME}, read from the engine's environment when the test runs, such as \"Bearer ${%sSMOKE_TOKEN}\"", name, TestEnvPrefix, TestEnvPrefix)
	}
	return nil
}

// DefaultTestTimeout bounds a test's try when it gives no timeout.
const DefaultTestTimeout = 30 * time.Second

// MaxTestOutput is the most output of one try of a test a release record
// keeps: the first half and the last half, with what was cut counted.
const MaxTestOutput = 4 << 10

// MaxTestCapture is the most output of one try of a test the engine
// reads (a command's output, an http answer's body) before it redacts and
// caps it: an http test's body pattern is matched against this much of
// the body.
const MaxTestCapture = 1 << 20

// MaxTestResults is how many test results a record keeps: the latest.
const MaxTestResults = 50

// Timeout is TimeoutSeconds as a duration, or DefaultTestTimeout.
func (t ReleaseTest) Timeout() time.Duration {
	if t.TimeoutSeconds <= 0 {
		return DefaultTestTimeout
	}
	return time.Duration(t.TimeoutSeconds) * time.Second
}

// Gated says whether the release has a gate after its health checks:
// smoke tests, integration tests, a bake or alarms watched.
func (t *ReleaseTests) Gated() bool {
	return t != nil && (len(t.Smoke) > 0 || len(t.Integration) > 0 || t.BakeSeconds > 0 || len(t.Alarms) > 0)
}

var testNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// check reports the problems of a release's tests.
func (t *ReleaseTests) check(r *Release, bad func(string, ...any)) {
	if t == nil {
		return
	}
	if t.BakeSeconds < 0 || t.BakeSeconds > 86400 {
		bad("tests.bake_seconds %d: want 0 to 86400 (a day)", t.BakeSeconds)
	}
	if t.RetrySeconds < 0 || t.RetrySeconds > 86400 {
		bad("tests.retry_seconds %d: want 0 to 86400 (a day)", t.RetrySeconds)
	}
	for i, a := range t.Alarms {
		if a == "" || slices.Index(t.Alarms, a) != i {
			bad("tests.alarms[%d] %q: want a name, listed once", i, a)
		}
	}
	switch t.MissingData {
	case MissingDataOK, MissingDataBreaching:
	case "":
		if len(t.Alarms) > 0 {
			bad("tests.missing_data: required when alarms are watched: want %s or %s", MissingDataOK, MissingDataBreaching)
		}
	default:
		bad("tests.missing_data %q: want %s or %s", t.MissingData, MissingDataOK, MissingDataBreaching)
	}
	names := map[string]bool{}
	for phase, tests := range map[string][]ReleaseTest{PhaseSmoke: t.Smoke, PhaseIntegration: t.Integration} {
		for i, x := range tests {
			at := fmt.Sprintf("tests.%s[%d]", phase, i)
			if !testNamePattern.MatchString(x.Name) || names[phase+"/"+x.Name] {
				bad("%s.name %q: want 1 to 64 letters, digits, '_', '.' or '-', unique in its phase", at, x.Name)
			}
			names[phase+"/"+x.Name] = true
			x.check(r, phase, at, bad)
		}
	}
	if len(t.Smoke) > 0 {
		for _, s := range r.Services {
			for _, p := range s.Placements {
				if len(p.TargetGroups) > 0 && p.TestListener == "" {
					bad("services %s in %s: smoke tests need the test listener of its load balancer (placement test_listener)", s.Name, p.Region)
				}
			}
		}
	}
}

func (x ReleaseTest) check(r *Release, phase, at string, bad func(string, ...any)) {
	if x.Retries < 0 || x.Retries > 100 {
		bad("%s.retries %d: want 0 to 100", at, x.Retries)
	}
	if x.TimeoutSeconds < 0 || x.TimeoutSeconds > 3600 {
		bad("%s.timeout_seconds %d: want 0 to 3600", at, x.TimeoutSeconds)
	}
	switch x.Kind {
	case TestHTTP:
		if x.Method != "" && !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}, x.Method) {
			bad("%s.method %q: want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS", at, x.Method)
		}
		if !strings.HasPrefix(x.Path, "/") {
			bad("%s.path %q: want a path starting with /", at, x.Path)
		}
		if x.Status != 0 && (x.Status < 100 || x.Status > 599) {
			bad("%s.status %d: want an HTTP status, 100 to 599", at, x.Status)
		}
		if _, err := regexp.Compile(x.Body); err != nil {
			bad("%s.body %q: not a regular expression: %v", at, x.Body, err)
		}
		switch x.Target {
		case "", TargetTestListener, TargetServiceURL:
		default:
			bad("%s.target %q: want %s or %s", at, x.Target, TargetTestListener, TargetServiceURL)
		}
		if len(x.Command) > 0 {
			bad("%s.command: an http test runs no command", at)
		}
		for _, k := range slices.Sorted(maps.Keys(x.Headers)) {
			if err := CheckTestHeader(k, x.Headers[k]); err != nil {
				bad("%s.headers.%s: %v", at, k, err)
			}
		}
	case TestCommand, TestSSM:
		if len(x.Command) == 0 || strings.TrimSpace(x.Command[0]) == "" {
			bad("%s.command: a %s test needs a command", at, x.Kind)
		}
		if x.Kind == TestSSM {
			on := r.Service(x.Service)
			if x.Service == "" && len(r.Services) > 0 {
				on = &r.Services[0]
			}
			if x.Service != "" && on == nil {
				bad("%s.service %q: not a service of the release", at, x.Service)
			} else if on != nil && on.ECS != nil {
				bad("%s.service: an ssm test runs on an instance of its service (without service, the first), and %s runs on ECS", at, on.Name)
			}
		}
	default:
		bad("%s.kind %q: want %s, %s or %s", at, x.Kind, TestHTTP, TestCommand, TestSSM)
	}
}

// ReleaseTestResult is one try of one test, as the release record keeps
// it.
type ReleaseTestResult struct {
	Phase   string    `json:"phase"` // smoke or integration
	Name    string    `json:"name"`
	Region  string    `json:"region,omitempty"`
	Round   int       `json:"round"`   // 0, then +1 for each `release retry-tests`
	Attempt int       `json:"attempt"` // 1 for the first try in a round
	Passed  bool      `json:"passed"`
	At      time.Time `json:"at"`
	Seconds float64   `json:"seconds"`
	// Output is what the test printed or answered, capped at
	// MaxTestOutput, with secret values replaced by "[redacted]".
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"` // why it failed
}

// CapOutput cuts s to MaxTestOutput bytes, keeping its beginning and its
// end and saying how much was cut.
func CapOutput(s string) string {
	if len(s) <= MaxTestOutput {
		return s
	}
	half := MaxTestOutput / 2
	return s[:half] + fmt.Sprintf("\n[... %d bytes cut ...]\n", len(s)-2*half) + s[len(s)-half:]
}

// Redact replaces every occurrence of each secret of at least four
// characters in s with "[redacted]".
func Redact(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

// RedactCut is Redact for output that was cut short at its end before
// it could be redacted (it reached MaxTestCapture): its end may hold the
// beginning of a secret, which Redact cannot recognise. After redacting,
// it drops as many bytes from the end as the longest secret has, less
// one, and says that the output was cut there.
func RedactCut(s string, secrets []string) string {
	s = Redact(s, secrets)
	drop := 0
	for _, v := range secrets {
		if len(v) >= 4 {
			drop = max(drop, len(v)-1)
		}
	}
	return s[:max(len(s)-drop, 0)] + "\n[... cut ...]"
}

// CloudWatch alarm states.
const (
	AlarmOK           = "OK"
	AlarmAlarm        = "ALARM"
	AlarmInsufficient = "INSUFFICIENT_DATA"
	AlarmMissing      = "MISSING" // no alarm of that name in the region
)

// ReleaseAlarmChange is a change of state of a watched alarm, seen by the
// release engine; the first look at each alarm is one too (From "").
type ReleaseAlarmChange struct {
	At     time.Time `json:"at"`
	Region string    `json:"region"`
	Name   string    `json:"name"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// Breaching says whether an alarm in state breaks the gate, given what
// missing data means.
func Breaching(state, missingData string) bool {
	switch state {
	case AlarmAlarm:
		return true
	case AlarmInsufficient, AlarmMissing:
		return missingData == MissingDataBreaching
	}
	return false
}

// TestRetry is an operator's request to run a release's failed tests
// again (`release retry-tests`).
type TestRetry struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}
