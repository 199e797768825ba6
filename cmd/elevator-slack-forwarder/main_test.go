package main

// The webhook in these tests is an httptest TLS server standing in for
// Slack; the secret stores are fakes behind ssmAPI and secretsAPI.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/elevatorhq/elevator/internal/notify"
)

// slack is a fake Slack: it records what is posted and answers with status.
type slack struct {
	mu     sync.Mutex
	posts  []notify.Payload
	types  []string
	status int
	block  chan struct{} // when not nil, requests wait for it or their context
}

func (s *slack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-r.Context().Done():
			return
		}
	}
	var p notify.Payload
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts = append(s.posts, p)
	s.types = append(s.types, r.Header.Get("Content-Type"))
	if s.status != 0 {
		http.Error(w, "no_service", s.status)
		return
	}
	io.WriteString(w, "ok")
}

// store is a fake secret store that counts its reads.
type store struct {
	mu    sync.Mutex
	value string
	err   error
	reads int
}

func (s *store) WebhookURL(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.value, s.err
}

func (s *store) String() string { return "SSM parameter /test/slack" }

// clock is a settable time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type setup struct {
	f     *forwarder
	slack *slack
	store *store
	clock *clock
	logs  *bytes.Buffer
	url   string
}

func newSetup(t *testing.T) *setup {
	t.Helper()
	sl := &slack{}
	srv := httptest.NewTLSServer(sl)
	t.Cleanup(srv.Close)
	webhook := srv.URL + "/services/T0000/B0000/s3cr3tT0k3n"
	st := &store{value: webhook + "\n"}
	c := &clock{t: time.Date(2024, 3, 14, 9, 0, 0, 0, time.UTC)}
	logs := &bytes.Buffer{}
	f := &forwarder{
		source: st, client: srv.Client(), region: "eu-west-1",
		log: slog.New(slog.NewJSONHandler(logs, nil)), now: c.now, ttl: time.Minute, timeout: 5 * time.Second,
	}
	return &setup{f: f, slack: sl, store: st, clock: c, logs: logs, url: webhook}
}

func event(message string) events.SNSEvent {
	return events.SNSEvent{Records: []events.SNSEventRecord{{SNS: events.SNSEntity{
		MessageID: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
		TopicArn:  "arn:aws:sns:eu-west-1:111122223333:prod-critical",
		Subject:   "ALARM: \"prod-web-cpu-high\" in EU (Ireland)",
		Message:   message,
	}}}}
}

func alarm(t *testing.T) string {
	data, err := os.ReadFile("../../internal/notify/testdata/ec2-cpu-alarm.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// assertNoURL fails when the webhook URL, or its secret path, shows in
// what the function logs or returns.
func (s *setup) assertNoURL(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{s.url, "s3cr3tT0k3n"} {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the webhook: %v", err)
		}
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the logs show the webhook:\n%s", s.logs.String())
		}
	}
}

func TestTheForwarderPostsAlarmsToSlackAndReadsTheWebhookOnce(t *testing.T) {
	s := newSetup(t)
	ctx := context.Background()
	for range 2 {
		if err := s.f.handle(ctx, event(alarm(t))); err != nil {
			t.Fatalf("handle: %v", err)
		}
	}
	if len(s.slack.posts) != 2 {
		t.Fatalf("slack got %d posts, want 2", len(s.slack.posts))
	}
	p := s.slack.posts[0]
	if len(p.Attachments) != 1 || p.Attachments[0].Color != notify.ColourAlarm || p.Attachments[0].Title != ":red_circle: ALARM: prod-web-cpu-high" {
		t.Errorf("posted %+v", p)
	}
	if s.slack.types[0] != "application/json" {
		t.Errorf("content type %q", s.slack.types[0])
	}
	if s.store.reads != 1 {
		t.Errorf("the webhook was read %d times for two alarms within its TTL, want 1", s.store.reads)
	}
	s.clock.t = s.clock.t.Add(2 * time.Minute)
	if err := s.f.handle(ctx, event(alarm(t))); err != nil {
		t.Fatal(err)
	}
	if s.store.reads != 2 {
		t.Errorf("the webhook was read %d times after its TTL, want 2", s.store.reads)
	}
	if !strings.Contains(s.logs.String(), `"msg":"notification forwarded"`) {
		t.Errorf("no log line for the forwarded notification:\n%s", s.logs.String())
	}
	s.assertNoURL(t, nil)
}

func TestTheForwarderPassesOnAMalformedAlarmAsText(t *testing.T) {
	s := newSetup(t)
	if err := s.f.handle(context.Background(), event(`{"AlarmName":"prod-web-cpu-high","NewStateValue":`)); err != nil {
		t.Fatal(err)
	}
	if len(s.slack.posts) != 1 || len(s.slack.posts[0].Attachments) != 0 || !strings.Contains(s.slack.posts[0].Text, `"AlarmName":"prod-web-cpu-high"`) {
		t.Errorf("posted %+v, want the message as plain text", s.slack.posts)
	}
}

func TestTheForwarderFailsWithoutShowingTheWebhook(t *testing.T) {
	tests := []struct {
		name    string
		arrange func(s *setup)
		want    string
		reread  bool // the next invocation reads the webhook again
	}{
		{"when Slack says the webhook is gone, and it is read again next time",
			func(s *setup) { s.slack.status = http.StatusNotFound },
			`slack refused the webhook from SSM parameter /test/slack (HTTP 404 "no_service"); it will be read again`, true},
		{"when Slack is down",
			func(s *setup) { s.slack.status = http.StatusServiceUnavailable },
			`slack answered HTTP 503 "no_service"`, false},
		{"when Slack does not answer in time",
			func(s *setup) { s.slack.block = make(chan struct{}); s.f.timeout = 50 * time.Millisecond },
			"context deadline exceeded", false},
		{"when the store does not answer",
			func(s *setup) { s.store.err = errors.New("read SSM parameter /test/slack: AccessDenied") },
			"read SSM parameter /test/slack: AccessDenied", true},
		{"when the stored value is not an https URL",
			func(s *setup) { s.store.value = "http://hooks.example/services/s3cr3tT0k3n" },
			"the value of SSM parameter /test/slack is not an https URL", true},
		{"when the stored value is not a URL at all",
			func(s *setup) { s.store.value = "https://%zz/s3cr3tT0k3n" },
			"the value of SSM parameter /test/slack is not an https URL", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			tt.arrange(s)
			err := s.f.handle(context.Background(), event(alarm(t)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("handle: %v, want an error with %q", err, tt.want)
			}
			if !strings.Contains(s.logs.String(), `"msg":"notification not forwarded"`) {
				t.Errorf("the failure is not logged:\n%s", s.logs.String())
			}
			s.assertNoURL(t, err)
			reads := s.store.reads
			_ = s.f.handle(context.Background(), event(alarm(t)))
			if reread := s.store.reads > reads; reread != tt.reread {
				t.Errorf("read again on the next invocation: %v, want %v", reread, tt.reread)
			}
			if s.slack.block != nil {
				close(s.slack.block)
			}
		})
	}
}

func TestAMessageSlackRefusesIsNotRetried(t *testing.T) {
	s := newSetup(t)
	s.slack.status = http.StatusBadRequest // Slack's answer to invalid_payload
	if err := s.f.handle(context.Background(), event(alarm(t))); err != nil {
		t.Errorf("handle returned %v; retrying the invocation cannot make Slack take the message", err)
	}
	if !strings.Contains(s.logs.String(), "slack refused the message: HTTP 400") {
		t.Errorf("the refusal is not logged:\n%s", s.logs.String())
	}
	s.assertNoURL(t, nil)
}

// fakeSSM and fakeSecrets stand in for the AWS clients and record what
// they are asked.
type fakeSSM struct{ in *ssmsdk.GetParameterInput }

func (f *fakeSSM) GetParameter(ctx context.Context, in *ssmsdk.GetParameterInput, _ ...func(*ssmsdk.Options)) (*ssmsdk.GetParameterOutput, error) {
	f.in = in
	return &ssmsdk.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String("https://hooks.slack.com/services/from-ssm")}}, nil
}

type fakeSecrets struct{ in *smsdk.GetSecretValueInput }

func (f *fakeSecrets) GetSecretValue(ctx context.Context, in *smsdk.GetSecretValueInput, _ ...func(*smsdk.Options)) (*smsdk.GetSecretValueOutput, error) {
	f.in = in
	return &smsdk.GetSecretValueOutput{SecretString: aws.String("https://hooks.slack.com/services/from-secrets")}, nil
}

func TestTheForwarderReadsTheStoreItsEnvironmentNames(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // the URL read, or the error
	}{
		{"an SSM parameter, decrypted", map[string]string{notify.EnvSSMParameter: "/elevator/slack"}, "https://hooks.slack.com/services/from-ssm"},
		{"a Secrets Manager secret", map[string]string{notify.EnvSecret: "elevator/slack"}, "https://hooks.slack.com/services/from-secrets"},
		{"neither", map[string]string{}, "set exactly one of SLACK_WEBHOOK_SSM_PARAMETER and SLACK_WEBHOOK_SECRET"},
		{"both", map[string]string{notify.EnvSSMParameter: "/a", notify.EnvSecret: "b"}, "set exactly one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params, secrets := &fakeSSM{}, &fakeSecrets{}
			src, err := sourceFromEnv(func(k string) string { return tt.env[k] }, params, secrets)
			if err != nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %q", err, tt.want)
				}
				return
			}
			got, err := src.WebhookURL(context.Background())
			if err != nil || got != tt.want {
				t.Errorf("WebhookURL = %q, %v; want %q", got, err, tt.want)
			}
			if params.in != nil && (aws.ToString(params.in.Name) != "/elevator/slack" || !aws.ToBool(params.in.WithDecryption)) {
				t.Errorf("GetParameter(%+v), want /elevator/slack with decryption", params.in)
			}
			if secrets.in != nil && aws.ToString(secrets.in.SecretId) != "elevator/slack" {
				t.Errorf("GetSecretValue(%+v), want elevator/slack", secrets.in)
			}
		})
	}
}
