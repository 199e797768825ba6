package manifest

import (
	"slices"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

const gatedApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop}}
    port: 8080
    load_balancer: {type: public}
tests:
  smoke:
    - {name: health, path: /health, body: '"ok"', retries: 2, timeout: 5s}
    - {name: db, kind: ssm, command: ["curl -fsS localhost:8080/db"]}
  integration:
    - {name: e2e, kind: command, command: [./e2e.sh, --fast]}
    - {name: cart, method: POST, path: /cart, status: 201, headers: {Authorization: 'Bearer ${ELEVATOR_TEST_CART_TOKEN}', Accept: application/json}, target: service}
  bake: 10m
  alarms: [elevator-prod-shop-web-5xx_rate]
  missing_data: breaching
  retry_window: 30m
`

func TestParseAppReadsTheTests(t *testing.T) {
	a, err := ParseApp("app.yml", []byte(gatedApp), "")
	if err != nil {
		t.Fatalf("ParseApp: %v", err)
	}
	tt := a.Tests
	if tt == nil {
		t.Fatal("no tests")
	}
	if tt.Bake != 10*time.Minute || tt.RetryWindow != 30*time.Minute || tt.MissingData != elevator.MissingDataBreaching ||
		!slices.Equal(tt.Alarms, []string{"elevator-prod-shop-web-5xx_rate"}) || tt.ListenerPort != elevator.DefaultTestListenerPort {
		t.Errorf("tests %+v", tt)
	}
	if len(tt.Smoke) != 2 || tt.Smoke[0].Kind != elevator.TestHTTP || tt.Smoke[0].TimeoutSeconds != 5 || tt.Smoke[0].Retries != 2 ||
		tt.Smoke[1].Kind != elevator.TestSSM || tt.Smoke[1].TimeoutSeconds != 30 {
		t.Errorf("smoke %+v", tt.Smoke)
	}
	if len(tt.Integration) != 2 || !slices.Equal(tt.Integration[0].Command, []string{"./e2e.sh", "--fast"}) ||
		tt.Integration[1].Status != 201 || tt.Integration[1].Headers["Authorization"] != "Bearer ${ELEVATOR_TEST_CART_TOKEN}" {
		t.Errorf("integration %+v", tt.Integration)
	}
}

func TestParseAppRejectsBadTests(t *testing.T) {
	const web = "name: shop\nservices:\n  web:\n    runtime: {docker: {image: ghcr.io/acme/shop}}\n    port: 8080\n    load_balancer: {type: public}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"a command test without a command", web + "tests:\n  smoke:\n    - {name: x, kind: command}\n",
			[]string{"app.yml:9:7: tests.smoke[0]: a command test needs a command, such as command: [./smoke.sh]"}},
		{"an unknown kind", web + "tests:\n  smoke:\n    - {name: x, kind: selenium}\n",
			[]string{`app.yml:9:23: tests.smoke[0].kind: "selenium": must be one of: http, command, ssm`}},
		{"a bad duration", web + "tests:\n  bake: 10 minutes\n",
			[]string{`app.yml:8:9: tests.bake: "10 minutes": not allowed; want a duration such as 30s, 5m or 1h`}},
		{"a timeout too long", web + "tests:\n  smoke:\n    - {name: x, timeout: 2h}\n",
			[]string{`app.yml:9:26: tests.smoke[0].timeout: "2h": must be between 1s and 1h`}},
		{"alarms without what missing data means", web + "tests:\n  alarms: [a]\n",
			[]string{"app.yml:8:11: tests.alarms: say what missing alarm data means: add missing_data: ok (no data is fine) or missing_data: breaching (no data rolls back)"}},
		{"a test named twice", web + "tests:\n  smoke:\n    - {name: x}\n    - {name: x}\n",
			[]string{`app.yml:10:14: tests.smoke[1].name: "x": is the name of tests.smoke[0] too; each test needs its own name`}},
		{"a body that is not a regular expression", web + "tests:\n  smoke:\n    - {name: x, body: '('}\n",
			[]string{"app.yml:9:23: tests.smoke[0].body: \"(\": not a regular expression"}},
		{"an ssm test on a service the app lacks", web + "tests:\n  smoke:\n    - {name: x, kind: ssm, command: [ls], service: api}\n",
			[]string{`app.yml:9:52: tests.smoke[0].service: "api": no such service; the app's services are web`}},
		{"an http field on a command test", web + "tests:\n  integration:\n    - {name: x, kind: command, command: [ls], path: /}\n",
			[]string{"tests.integration[0].path: only an http test takes path; this one is kind command"}},
		{"a credential written in a header", web + "tests:\n  smoke:\n    - {name: x, headers: {X-Api-Key: k-123456}}\n",
			[]string{`app.yml:9:38: tests.smoke[0].headers.X-Api-Key: "k-123456": carries a credential: its value would be stored in the release document`}},
		{"a header reading an engine variable outside the test prefix", web + "tests:\n  smoke:\n    - {name: x, headers: {X-Debug: '${AWS_SECRET_ACCESS_KEY}'}}\n",
			[]string{`app.yml:9:36: tests.smoke[0].headers.X-Debug: "${AWS_SECRET_ACCESS_KEY}": reads ${AWS_SECRET_ACCESS_KEY}: a header is sent to the app under test, so it may read only the engine's variables whose names start with ELEVATOR_TEST_`}},
		{"a test listener port a service uses", web[:len(web)-len("{type: public}\n")] + "{type: public, listeners: [{protocol: HTTP, port: 9000}]}\ntests:\n  smoke: [{name: x}]\n",
			[]string{"app.yml:7:1: tests.listener_port: 9000: test listeners take ports 9000 to 9000, and service web listens on 9000; pick another listener_port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseApp("app.yml", []byte(tt.src), "")
			if err == nil {
				t.Fatal("ParseApp accepted it")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error:\n%v\nwant it to contain:\n%s", err, want)
				}
			}
		})
	}
}
