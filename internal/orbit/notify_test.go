package orbit

// The end-to-end tests here run the orbit service against moto (see
// orbit_test.go). moto creates the Lambda function from the code in S3, its
// log group, role and permission, but skips AWS::SNS::Subscription (see
// docs/emulator.md) and runs no function: the subscriptions are checked in
// the templates (internal/compile's golden files), and the forwarder
// itself in cmd/elevator-slack-forwarder. The bootstrap these tests zip is
// a fake: a bare linux/arm64 ELF header, which is all Elevator checks of it.

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/apply"
	"github.com/elevatorhq/elevator/internal/aws/cloudformation"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/progress"
)

// fakeBootstrap writes a linux/arm64 ELF header followed by marker into
// <dir>/slack-forwarder/bootstrap, points LambdaDirEnv at dir, and returns
// the file's bytes.
func fakeBootstrap(t *testing.T, marker string) []byte {
	t.Helper()
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_AARCH64), Version: uint32(elf.EV_CURRENT), Ehsize: 64, Phentsize: 56, Shentsize: 64}
	copy(h.Ident[:], elf.ELFMAG)
	h.Ident[elf.EI_CLASS], h.Ident[elf.EI_DATA], h.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	buf.WriteString(marker)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "slack-forwarder"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slack-forwarder", "bootstrap"), buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(LambdaDirEnv, dir)
	return buf.Bytes()
}

// notifyService is service(t) with an S3 client in every region and the
// progress lines kept in a buffer.
func notifyService(t *testing.T) (*Service, func(region string) aws.Config, *bytes.Buffer) {
	svc, cfgFor := service(t)
	clients := svc.Clients
	svc.Clients = func(region string) (Clients, error) {
		c, err := clients(region)
		c.Objects = s3.New(cfgFor(region))
		return c, err
	}
	lines := &bytes.Buffer{}
	svc.Progress = progress.Plain(lines)
	return svc, cfgFor, lines
}

// Secret values planted in the emulator's stores; none may show anywhere.
const (
	slackSecret     = "https://hooks.slack.com/services/T0PLANTED/B0PLANTED/slack-secret-value"
	pagerDutySecret = "https://events.pagerduty.com/integration/pd-secret-value/enqueue"
)

func plantSecrets(t *testing.T, cfg aws.Config) {
	t.Helper()
	ctx := context.Background()
	if _, err := ssmsdk.NewFromConfig(cfg).PutParameter(ctx, &ssmsdk.PutParameterInput{
		Name: aws.String("/elevator/alerts/slack"), Value: aws.String(slackSecret), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := smsdk.NewFromConfig(cfg).CreateSecret(ctx, &smsdk.CreateSecretInput{
		Name: aws.String("elevator/alerts/pagerduty"), SecretString: aws.String(pagerDutySecret),
	}); err != nil {
		t.Fatal(err)
	}
}

const slackOrbit = `name: notes
regions:
  us-east-1: {}
network: {nat: none}
notifications:
  critical:
    email: [oncall@example.com]
    slack: {ssm: /elevator/alerts/slack}
    pagerduty: {secretsmanager: elevator/alerts/pagerduty}
`

func TestAnOrbitWithSlackGetsItsForwarderFromTheStateBucket(t *testing.T) {
	bootstrap := fakeBootstrap(t, "forwarder build 1")
	svc, cfgFor, lines := notifyService(t)
	cfg := cfgFor("us-east-1")
	plantSecrets(t, cfg)
	ctx := context.Background()
	o := parse(t, slackOrbit)
	name := compile.NotificationsStackName(o)

	// Before the first up there is no orbit stack to take parameters
	// from, so the plan lists what the notifications stack would add.
	plans, err := svc.Plan(ctx, o)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if len(plans) != 2 || plans[1].Stack != name || !plans[1].Create || !hasChange(plans[1], "Add", "SlackForwarderCritical") {
		t.Fatalf("plans: %s", toJSON(t, plans))
	}

	first, err := svc.Up(ctx, o)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, lines)
	}
	if len(first.Plans) != 2 || first.Plans[1].Stack != name || !first.Results[1].Changed {
		t.Fatalf("up did not apply the notifications stack: %s", toJSON(t, first))
	}

	// The function runs the zipped bootstrap, stored under its hash.
	fn, err := lambdasdk.NewFromConfig(cfg).GetFunction(ctx, &lambdasdk.GetFunctionInput{FunctionName: aws.String("elevator-notes-slack-critical")})
	if err != nil {
		t.Fatalf("the forwarder is not there: %v", err)
	}
	conf := fn.Configuration
	if string(conf.Runtime) != "provided.al2023" || aws.ToString(conf.Handler) != "bootstrap" {
		t.Errorf("runtime %s, handler %s", conf.Runtime, aws.ToString(conf.Handler))
	}
	if env := conf.Environment.Variables; len(env) != 1 || env["SLACK_WEBHOOK_SSM_PARAMETER"] != "/elevator/alerts/slack" {
		t.Errorf("environment %v, want only the parameter's name", env)
	}
	outputs, err := svc.Outputs(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	bucket, topic := outputs["us-east-1"]["StateBucket"], outputs["us-east-1"]["CriticalTopic"]
	key := first.Plans[1].Stack // replaced below by the key the stack was given
	stack, err := cloudformation.New(cfg).Describe(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	key = stack.Parameters["SlackForwarderCodeKey"]
	if !strings.HasPrefix(key, "elevator/lambda/slack-forwarder-") || stack.Parameters["StateBucket"] != bucket || stack.Parameters["CriticalTopicArn"] != topic {
		t.Errorf("stack parameters %v; want the code key, bucket %s and topic %s", stack.Parameters, bucket, topic)
	}
	obj, err := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("the code is not in the state bucket: %v", err)
	}
	zipped, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	sum := sha256.Sum256(zipped)
	if got := aws.ToString(conf.CodeSha256); got != base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("function code %s is not the object in the bucket (%x)", got, sum)
	}
	assertZipHolds(t, zipped, bootstrap)

	// SNS may invoke it, from the critical topic only.
	pol, err := lambdasdk.NewFromConfig(cfg).GetPolicy(ctx, &lambdasdk.GetPolicyInput{FunctionName: aws.String("elevator-notes-slack-critical")})
	if err != nil {
		t.Fatalf("no permission on the forwarder: %v", err)
	}
	if p := aws.ToString(pol.Policy); !strings.Contains(p, "sns.amazonaws.com") || !strings.Contains(p, topic) || !strings.Contains(p, "lambda:InvokeFunction") {
		t.Errorf("policy %s, want SNS allowed to invoke it from %s", p, topic)
	}

	second, err := svc.Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Plans) != 2 || !second.Plans[0].NoChanges || !second.Plans[1].NoChanges || second.Results[0].Changed || second.Results[1].Changed {
		t.Errorf("second up changed something: %s", toJSON(t, second))
	}

	assertNoSecret(t, cfg, []string{o.StackName(), name}, lines.String(), toJSON(t, plans), toJSON(t, first), toJSON(t, second), toJSON(t, outputs), toJSON(t, fn))

	// Down removes the notifications stack and the code first. (moto then
	// fails to delete the orbit stack's VPC; see docs/emulator.md.)
	_, err = svc.Down(ctx, o)
	t.Logf("down: %v", err)
	if _, err := cloudformation.New(cfg).Describe(ctx, name); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the notifications stack is still there after down: %v", err)
	}
	if _, err := lambdasdk.NewFromConfig(cfg).GetFunction(ctx, &lambdasdk.GetFunctionInput{FunctionName: aws.String("elevator-notes-slack-critical")}); err == nil {
		t.Error("the forwarder is still there after down")
	}
	left, err := s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).ListObjectVersions(ctx, &s3sdk.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String("elevator/lambda/")})
	if err == nil && len(left.Versions)+len(left.DeleteMarkers) > 0 {
		t.Errorf("code left in the state bucket after down: %d versions", len(left.Versions)+len(left.DeleteMarkers))
	}
}

// assertNoSecret fails when a planted secret shows in the stacks'
// templates, parameters or outputs, or in any of texts (progress lines,
// results, what the SDK reads back).
func assertNoSecret(t *testing.T, cfg aws.Config, stacks []string, texts ...string) {
	t.Helper()
	ctx := context.Background()
	cfn := cfnsdk.NewFromConfig(cfg)
	engine := &apply.Engine{Stacks: cloudformation.New(cfg)}
	for _, name := range stacks {
		tmpl, err := cfn.GetTemplate(ctx, &cfnsdk.GetTemplateInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		desc, err := cfn.DescribeStacks(ctx, &cfnsdk.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		outputs, err := engine.Outputs(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, aws.ToString(tmpl.TemplateBody), toJSON(t, desc.Stacks), toJSON(t, outputs))
	}
	for _, text := range texts {
		for _, secret := range []string{slackSecret, pagerDutySecret, "slack-secret-value", "pd-secret-value"} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("a secret shows: ...%s...", text[max(0, i-200):i])
			}
		}
	}
}

func assertZipHolds(t *testing.T, zipped, bootstrap []byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip holds %+v, want bootstrap with mode 0755", zr.File)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, bootstrap) {
		t.Error("the zipped bootstrap is not the built one")
	}
}

func TestUpDeletesTheNotificationsStackOnceNoSeverityNeedsIt(t *testing.T) {
	svc, cfgFor, _ := notifyService(t)
	cfg := cfgFor("eu-west-1")
	plantSecrets(t, cfg)
	ctx := context.Background()
	// PagerDuty alone needs no forwarder, so nothing is built here.
	paged := parse(t, "name: paged\nregions:\n  eu-west-1: {}\nnetwork: {nat: none}\nnotifications:\n  warning:\n    pagerduty: {secretsmanager: elevator/alerts/pagerduty}\n")
	res, err := svc.Up(ctx, paged)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plans) != 2 {
		t.Fatalf("up made %d stacks, want the orbit's and the notifications': %s", len(res.Plans), toJSON(t, res))
	}
	tmpl, err := cloudformation.New(cfg).Template(ctx, compile.NotificationsStackName(paged))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tmpl, "{{resolve:secretsmanager:elevator/alerts/pagerduty}}") {
		t.Errorf("the PagerDuty endpoint is not a dynamic reference:\n%s", tmpl)
	}

	emailOnly := parse(t, "name: paged\nregions:\n  eu-west-1: {}\nnetwork: {nat: none}\nnotifications:\n  warning: {email: [oncall@example.com]}\n")
	plans, err := svc.Plan(ctx, emailOnly)
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 2 || !hasChange(plans[1], "Remove", "SubscriptionWarningPagerDuty") {
		t.Errorf("plan does not show the notifications stack going: %s", toJSON(t, plans))
	}
	res, err = svc.Up(ctx, emailOnly)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Results) != 2 || res.Results[1].Status != "DELETE_COMPLETE" || res.Results[1].Changes != 1 {
		t.Errorf("up did not delete the notifications stack: %s", toJSON(t, res))
	}
	if _, err := cloudformation.New(cfg).Describe(ctx, compile.NotificationsStackName(emailOnly)); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the notifications stack is still there: %v", err)
	}
	res, err = svc.Up(ctx, emailOnly)
	if err != nil || len(res.Plans) != 1 {
		t.Errorf("an up with nothing to delete reports %s, %v; want the orbit stack alone", toJSON(t, res), err)
	}
	assertNoSecret(t, cfg, []string{paged.StackName()}, toJSON(t, plans), toJSON(t, res))
}

func TestSlackWithoutABuiltForwarderSaysToRunSetupAndChangesNothing(t *testing.T) {
	svc, cfgFor, _ := notifyService(t)
	t.Setenv(LambdaDirEnv, t.TempDir())
	o := parse(t, slackOrbit)
	_, err := svc.Up(context.Background(), o)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "run scripts/setup") {
		t.Errorf("got %v, want ENOTFOUND saying to run scripts/setup", err)
	}
	if _, err := cloudformation.New(cfgFor("us-east-1")).Describe(context.Background(), o.StackName()); !errors.Is(err, cloudformation.ErrStackNotFound) {
		t.Errorf("the orbit stack was made anyway: %v", err)
	}
}

func TestTheForwarderZipIsTheSameForTheSameBuild(t *testing.T) {
	bootstrap := fakeBootstrap(t, "build A")
	o := parse(t, slackOrbit)
	a, err := slackForwarderCode(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := slackForwarderCode(o)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Zip, b.Zip) || a.Key != b.Key {
		t.Errorf("two zips of one build differ: %s and %s", a.Key, b.Key)
	}
	assertZipHolds(t, a.Zip, bootstrap)
	fakeBootstrap(t, "build B")
	c, err := slackForwarderCode(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Key == a.Key {
		t.Errorf("another build has the same key %s", c.Key)
	}
	noSlack := parse(t, "name: a\nregions: {us-east-1: {}}\nnotifications: {critical: {pagerduty: {ssm: /pd}}}\n")
	if code, err := slackForwarderCode(noSlack); code != nil || err != nil {
		t.Errorf("an orbit without Slack: %v, %v; want no code and no error", code, err)
	}
}

func TestAForwarderBuiltForTheWrongMachineIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "slack-forwarder"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A shell script stands for anything that is not a linux/arm64 executable.
	if err := os.WriteFile(filepath.Join(dir, "slack-forwarder", "bootstrap"), []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(LambdaDirEnv, dir)
	_, err := slackForwarderCode(parse(t, slackOrbit))
	if elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "not a linux/arm64 executable") {
		t.Errorf("got %v, want EINVALID", err)
	}
}

func hasChange(p *apply.Plan, action, logicalID string) bool {
	for _, c := range p.Changes {
		if c.Action == action && c.LogicalID == logicalID {
			return true
		}
	}
	return false
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
