package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	sqssdk "github.com/aws/aws-sdk-go-v2/service/sqs"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/deployer"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// motoAuth turns moto's IAM enforcement on (every request must be signed
// with a key moto issued, and the caller's own IAM policies must allow
// it) or off, through its /moto-api/reset-auth (the server-mode side of
// moto's set_initial_no_auth_action_count). It is one switch for the
// whole server: the test that turns it on must run alone, and turns it
// off when it ends.
func motoAuth(t *testing.T, on bool) {
	t.Helper()
	count := "inf"
	if on {
		count = "0"
	}
	resp, err := http.Post(emulatortest.Endpoint()+"/moto-api/reset-auth", "text/plain", strings.NewReader(count))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("moto reset-auth %s: %s %s", count, resp.Status, b)
	}
}

// keysOnly is a config that calls moto with an account's keys alone, as
// code in that account does: no header names the account, moto takes it
// from the key.
func keysOnly(acct *emulatortest.Account) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(emulatortest.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider(acct.AccessKeyID, acct.SecretAccessKey, ""),
	}
}

// TestABuilderAccountSubmitsAndReadsButCannotTouchTheDeployAccount plays
// stups2go's build and deploy accounts on moto with two account ids. The
// deploy account's orbit names the builder account's CI user in
// `builders:`; the builder account's own IAM policy allows that user to
// put submissions into the deploy account's bucket and read its release
// documents and audit log, and allows it everything on Auto Scaling (an
// admin of the build account). With moto enforcing IAM:
//   - the builder puts a submission into the deploy account's bucket (moto
//     finds a bucket by name in whatever account owns it), the bucket's
//     notification reaches the deploy account's queue, a deployer of the
//     deploy account drives the release, and it ends Success;
//   - the builder reads the release's document and the audit entry of its
//     end (Success) from the deploy account's bucket;
//   - the builder cannot change or delete the deploy account's Auto
//     Scaling group: its calls act in its own account, whatever its own
//     policies allow; the group is checked unchanged with the deploy
//     account's SDK.
//
// moto's gaps, proven instead by evaluating the compiled policies in
// internal/compile (TestBuildersMaySubmitAndReadAndNothingElse): moto never
// evaluates bucket or table resource policies (moto/iam/access_control.py
// checks only the caller's identity policies), so the bucket policy's
// limits on builders are not shown here; and moto looks a DynamoDB table up
// only in the caller's own account, even by ARN (get_table in
// moto/dynamodb/models), so the builder's read of the record item through
// the releases table's resource policy cannot run here: it reads the
// release's end from the audit log in the bucket.
func TestABuilderAccountSubmitsAndReadsButCannotTouchTheDeployAccount(t *testing.T) {
	if os.Getenv(emulatortest.EndpointEnv) != "" {
		// moto's IAM switch is server-wide: on a server other packages
		// share, it would refuse their calls.
		t.Skipf("$%s names a shared emulator; this test switches on its IAM checks, so it runs only on the package's own", emulatortest.EndpointEnv)
	}
	builder := emulatortest.NewAccount(t)
	builderARN := "arn:aws:iam::" + builder.ID + ":user/elevator-test"
	in := &intake{acct: inAccount(t), bin: buildElevator(t), templates: map[string]*domain.Release{}, flags: map[string][]string{}}
	in.orbitFile, in.orbit = manifest(t, fmt.Sprintf("regions:\n  us-east-1: {}\nnetwork: {nat: none}\nbuilders: [%q]\n", builderARN))
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", in.orbitFile))
	in.bucket = domain.StateBucketName(in.acct.ID, "us-east-1", in.orbit)
	cfg := in.acct.Config("us-east-1")
	ctx := context.Background()
	q, err := sqssdk.NewFromConfig(cfg).GetQueueUrl(ctx, &sqssdk.GetQueueUrlInput{QueueName: aws.String(domain.SubmissionsQueueName(in.orbit))})
	if err != nil {
		t.Fatalf("the orbit stack made no submissions queue: %v", err)
	}
	in.queueURL = aws.ToString(q.QueueUrl)
	// moto ignores a bucket's notification given through CloudFormation
	// (see newIntake): it is put with the S3 API, as the stack does on AWS.
	_, err = s3sdk.NewFromConfig(cfg, func(o *s3sdk.Options) { o.UsePathStyle = true }).PutBucketNotificationConfiguration(ctx, &s3sdk.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(in.bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			Events:   []s3types.Event{"s3:ObjectCreated:*"},
			QueueArn: aws.String(fmt.Sprintf("arn:aws:sqs:us-east-1:%s:%s", in.acct.ID, domain.SubmissionsQueueName(in.orbit))),
			Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
				{Name: s3types.FilterRuleNamePrefix, Value: aws.String(domain.SubmissionsPrefix)}}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(t.TempDir(), "app.yml")
	if err := os.WriteFile(appFile, []byte(fmt.Sprintf(deployerApp, "shop", "shop")), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", in.orbit, "--orbit-file", in.orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	dry := elevator(t, "", append([]string{"deploy", "--dry-run", "--output", "json", "--version", "1.0.0"}, flags...)...)
	mustSucceed(t, dry)
	var tmpl domain.Release
	if err := json.Unmarshal([]byte(dry.stdout), &tmpl); err != nil {
		t.Fatal(err)
	}
	in.templates["shop"] = &tmpl
	b, err := awsrelease.New(awsrelease.Config{Orbit: in.orbit, AWS: []aws.Config{cfg}, Bucket: in.bucket})
	if err != nil {
		t.Fatal(err)
	}
	in.store = b.Store

	// A first release, submitted in the deploy account, leaves a group
	// for the builder to try to touch.
	first := in.release(t, "shop", "1.0.0")
	in.submit(t, first)
	d := in.start(t, emulatortest.Endpoint())
	in.waitEnded(t, []string{first.ID}, 2*time.Minute, d)
	groups, _ := in.leftovers(t)
	if len(groups["shop"]) != 1 {
		t.Fatalf("groups of shop after its first release: %v", groups["shop"])
	}
	group := groups["shop"][0]
	stop(t, d)

	// The build account's admin grants its CI user what it needs of the
	// deploy account (the other half of the bucket's policy on AWS), and
	// everything on Auto Scaling.
	bucketARN := "arn:aws:s3:::" + in.bucket
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": "s3:PutObject", "Resource": bucketARN + "/" + domain.SubmissionsPrefix + "*"},
		map[string]any{"Effect": "Allow", "Action": "s3:GetObject", "Resource": []string{bucketARN + "/" + domain.ReleasesPrefix + "*", bucketARN + "/" + domain.AuditPrefix + "*"}},
		map[string]any{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucketARN},
		map[string]any{"Effect": "Allow", "Action": "autoscaling:*", "Resource": "*"},
	}})
	if _, err := iam.NewFromConfig(builder.Config("us-east-1")).PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String("elevator-test"), PolicyName: aws.String("elevator-builder"), PolicyDocument: aws.String(string(policy))}); err != nil {
		t.Fatal(err)
	}

	bcfg := keysOnly(builder)
	second := in.release(t, "shop", "1.0.1")
	motoAuth(t, true)
	t.Cleanup(func() { motoAuth(t, false) })
	// The switch is on: a call with a key moto did not issue is refused,
	// so what follows runs with IAM enforced.
	if err := deployer.PutSubmission(ctx, s3.New(in.acct.Config("us-east-1")), in.bucket, second); err == nil {
		t.Fatal("moto took a call signed with a key it never issued: IAM is not enforced")
	}
	if err := deployer.PutSubmission(ctx, s3.New(bcfg), in.bucket, second); err != nil {
		t.Fatalf("the builder's submission into the deploy account's bucket: %v", err)
	}
	// Auto Scaling names a group only in the caller's own account: a
	// builder reaches the deploy account's groups only through a role of
	// that account, and Elevator's stacks grant builders none (the state
	// bucket's and releases table's policies are all they get, checked by
	// TestBuildersMaySubmitAndReadAndNothingElse). So these calls fail by
	// AWS's design, whatever Elevator compiles; they are here to show it
	// on the emulator, and that the group is left as it was.
	asg := autoscaling.NewFromConfig(bcfg)
	if _, err := asg.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), MinSize: aws.Int32(0), MaxSize: aws.Int32(0), DesiredCapacity: aws.Int32(0)}); err == nil {
		t.Errorf("the builder's update of group %s succeeded", group)
	}
	if _, err := asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(group), ForceDelete: aws.Bool(true)}); err == nil {
		t.Errorf("the builder's delete of group %s succeeded", group)
	}
	motoAuth(t, false)
	out, err := autoscaling.NewFromConfig(cfg).DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("the deploy account's group %s after the builder's calls: %v %v", group, out, err)
	}
	if g := out.AutoScalingGroups[0]; aws.ToInt32(g.DesiredCapacity) == 0 || aws.ToInt32(g.MaxSize) == 0 {
		t.Errorf("the builder changed the deploy account's group %s: desired %d, max %d", group, aws.ToInt32(g.DesiredCapacity), aws.ToInt32(g.MaxSize))
	}

	// A deployer of the deploy account takes the builder's submission.
	d = in.start(t, emulatortest.Endpoint())
	recs := in.waitEnded(t, []string{second.ID}, 2*time.Minute, d)
	if rec := recs[second.ID]; rec.State != domain.StateSuccess {
		t.Fatalf("the builder's release ended %s: %s", rec.State, rec.Error)
	}
	stop(t, d)

	// The builder reads what became of it, with IAM enforced.
	motoAuth(t, true)
	objects := s3.New(bcfg)
	doc, _, err := objects.Get(ctx, in.bucket, domain.ReleasesPrefix+second.ID+"/release.json")
	if err != nil {
		t.Fatalf("the builder's read of its release's document: %v", err)
	}
	var got domain.Release
	if err := json.Unmarshal(doc, &got); err != nil || got.ID != second.ID || got.Version != "1.0.1" {
		t.Errorf("the builder read release %q version %q (%v), want %s 1.0.1", got.ID, got.Version, err, second.ID)
	}
	outcome := ""
	for day := time.Now().UTC().Add(-24 * time.Hour); !day.After(time.Now().UTC()); day = day.Add(24 * time.Hour) {
		objs, err := objects.List(ctx, in.bucket, domain.AuditPrefix+day.Format("2006/01/02")+"/")
		if err != nil {
			t.Fatalf("the builder's listing of the audit log: %v", err)
		}
		for _, o := range objs {
			body, _, err := objects.Get(ctx, in.bucket, o.Key)
			if err != nil {
				t.Fatalf("the builder's read of audit entry %s: %v", o.Key, err)
			}
			var e domain.AuditEntry
			if json.Unmarshal(body, &e) == nil && e.ReleaseID == second.ID && e.Action == domain.AuditRelease {
				outcome = e.Outcome
			}
		}
	}
	if outcome != string(domain.StateSuccess) {
		t.Errorf("the audit log the builder read says release %s ended %q, want %s", second.ID, outcome, domain.StateSuccess)
	}
}

// stop stops a deployer with SIGTERM and waits for it.
func stop(t *testing.T, r *replica) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("deployer %d did not stop within 30s", r.cmd.Process.Pid)
	}
}
