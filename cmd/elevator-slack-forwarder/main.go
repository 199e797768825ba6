// Command elevator-slack-forwarder is the AWS Lambda function that passes an
// orbit's CloudWatch alarms on to Slack. Elevator deploys one per severity
// that has slack in the orbit manifest, subscribed to that severity's SNS
// topic, in every region of the orbit.
//
// The webhook URL is a secret: the function reads it when it runs, from the
// SSM parameter named by SLACK_WEBHOOK_SSM_PARAMETER (decrypted) or the
// Secrets Manager secret named by SLACK_WEBHOOK_SECRET, keeps it for a few
// minutes, and never logs it, nor any error that could contain it.
//
// Build it for Lambda with scripts/setup:
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath \
//	    -o bin/lambda/slack-forwarder/bootstrap ./cmd/elevator-slack-forwarder
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/elevatorhq/elevator/internal/notify"
)

// Defaults of the forwarder.
const (
	// postTimeout bounds one post to Slack, well inside the function's own
	// timeout, so that a slow Slack fails the invocation (and SNS retries
	// it) instead of hanging until Lambda kills it.
	postTimeout = 8 * time.Second
	// cacheTTL is how long a webhook URL read from its store is used, so
	// that a rotated URL is picked up within minutes without a redeploy.
	cacheTTL = 5 * time.Minute
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("cannot load the AWS configuration", "error", err)
		os.Exit(1)
	}
	src, err := sourceFromEnv(os.Getenv, ssmsdk.NewFromConfig(cfg), smsdk.NewFromConfig(cfg))
	if err != nil {
		log.Error("cannot tell where the webhook URL is kept", "error", err)
		os.Exit(1)
	}
	f := &forwarder{source: src, client: &http.Client{}, region: cfg.Region, log: log, now: time.Now, ttl: cacheTTL, timeout: postTimeout}
	lambda.Start(f.handle)
}

// webhookSource reads the Slack webhook URL from where it is kept.
type webhookSource interface {
	// WebhookURL returns the URL. Its errors never contain the URL.
	WebhookURL(ctx context.Context) (string, error)
	// String names the store and the parameter or secret, for logs.
	String() string
}

// ssmAPI is what the forwarder needs of SSM Parameter Store.
type ssmAPI interface {
	GetParameter(ctx context.Context, in *ssmsdk.GetParameterInput, opts ...func(*ssmsdk.Options)) (*ssmsdk.GetParameterOutput, error)
}

// secretsAPI is what the forwarder needs of Secrets Manager.
type secretsAPI interface {
	GetSecretValue(ctx context.Context, in *smsdk.GetSecretValueInput, opts ...func(*smsdk.Options)) (*smsdk.GetSecretValueOutput, error)
}

// sourceFromEnv returns the store that getenv names: exactly one of
// notify.EnvSSMParameter and notify.EnvSecret must be set.
func sourceFromEnv(getenv func(string) string, params ssmAPI, secrets secretsAPI) (webhookSource, error) {
	param, secret := getenv(notify.EnvSSMParameter), getenv(notify.EnvSecret)
	switch {
	case param != "" && secret == "":
		return ssmSource{api: params, name: param}, nil
	case secret != "" && param == "":
		return secretSource{api: secrets, name: secret}, nil
	default:
		return nil, fmt.Errorf("set exactly one of %s and %s", notify.EnvSSMParameter, notify.EnvSecret)
	}
}

// ssmSource reads the URL from an SSM parameter, decrypting a SecureString.
type ssmSource struct {
	api  ssmAPI
	name string
}

func (s ssmSource) String() string { return "SSM parameter " + s.name }

func (s ssmSource) WebhookURL(ctx context.Context) (string, error) {
	out, err := s.api.GetParameter(ctx, &ssmsdk.GetParameterInput{Name: aws.String(s.name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", s, err)
	}
	if out.Parameter == nil {
		return "", fmt.Errorf("read %s: no value", s)
	}
	return aws.ToString(out.Parameter.Value), nil
}

// secretSource reads the URL from a Secrets Manager secret's string.
type secretSource struct {
	api  secretsAPI
	name string
}

func (s secretSource) String() string { return "Secrets Manager secret " + s.name }

func (s secretSource) WebhookURL(ctx context.Context) (string, error) {
	out, err := s.api.GetSecretValue(ctx, &smsdk.GetSecretValueInput{SecretId: aws.String(s.name)})
	if err != nil {
		return "", fmt.Errorf("read %s: %w", s, err)
	}
	return aws.ToString(out.SecretString), nil
}

// doer sends HTTP requests; *http.Client is one.
type doer interface {
	Do(req *http.Request) (*http.Response, error)
}

// forwarder posts each SNS notification it is invoked with to Slack.
type forwarder struct {
	source  webhookSource
	client  doer
	region  string // the function's region, for alarms that name none
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	timeout time.Duration

	mu      sync.Mutex
	url     string
	expires time.Time
}

// handle forwards every record of an SNS event. An error makes Lambda
// retry the invocation (SNS invokes asynchronously), so only failures a
// retry can cure are returned: Slack or the store being unavailable.
func (f *forwarder) handle(ctx context.Context, ev events.SNSEvent) error {
	var errs []error
	for _, r := range ev.Records {
		if err := f.forward(ctx, r.SNS); err != nil {
			f.log.Error("notification not forwarded", "message_id", r.SNS.MessageID, "topic", r.SNS.TopicArn, "error", err)
			var p permanent
			if !errors.As(err, &p) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// permanent marks a failure that retrying the invocation cannot cure, such
// as Slack refusing the message itself; it is logged, not returned.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func (f *forwarder) forward(ctx context.Context, n events.SNSEntity) error {
	payload := notify.Slack(notify.Message{Subject: n.Subject, Body: n.Message, TopicARN: n.TopicArn, Region: f.region})
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encode the Slack message: %w", err)
	}
	webhook, err := f.webhook(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhook, bytes.NewReader(body))
	if err != nil {
		return permanent{fmt.Errorf("the webhook URL in %s cannot be used", f.source)} // the parse error quotes the URL
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error quotes the URL
		}
		return fmt.Errorf("post to the Slack webhook from %s: %w", f.source, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode/100 == 2:
		f.log.Info("notification forwarded", "message_id", n.MessageID, "topic", n.TopicArn)
		return nil
	case resp.StatusCode == http.StatusForbidden, resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusGone:
		// The webhook was revoked, perhaps rotated: read it again next time.
		f.forget()
		return fmt.Errorf("slack refused the webhook from %s (HTTP %d %s); it will be read again", f.source, resp.StatusCode, oneLine(reply))
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		return fmt.Errorf("slack answered HTTP %d %s", resp.StatusCode, oneLine(reply))
	default:
		return permanent{fmt.Errorf("slack refused the message: HTTP %d %s", resp.StatusCode, oneLine(reply))}
	}
}

// webhook returns the URL, read from its store at most once per ttl.
func (f *forwarder) webhook(ctx context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.url != "" && f.now().Before(f.expires) {
		return f.url, nil
	}
	raw, err := f.source.WebhookURL(ctx)
	if err != nil {
		return "", err
	}
	raw = strings.TrimSpace(raw)
	if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("the value of %s is not an https URL; it must be the Slack incoming-webhook URL alone", f.source)
	}
	f.url, f.expires = raw, f.now().Add(f.ttl)
	return raw, nil
}

func (f *forwarder) forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.url = ""
}

// oneLine shortens Slack's reply (such as "invalid_payload") for a message.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%q", s)
}
