package cli_test

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	domain "github.com/elevatorhq/elevator"
)

// TestNoSecretValueLeavesItsStore plants an app's secrets in moto, brings
// the app up and releases it, and looks for their values in everything
// Elevator printed (--output json and text), in the launch templates EC2
// holds, and in every object of the orbit's state bucket (the release
// documents and records): Elevator carries references only, and the agent
// on an instance reads the values.
func TestNoSecretValueLeavesItsStore(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbitName := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	ctx := context.Background()
	cfg := acct.Config("us-east-1")
	token, partner := "tok-"+strings.Repeat("7", 20), "partner-"+strings.Repeat("9", 20)
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/shop/api-token"),
		Value: aws.String(token), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("shop/partner"),
		SecretString: aws.String(partner)}); err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	app := strings.Replace(releaseApp, "name: shop\n", "name: shop\nsecrets:\n  API_TOKEN: {ssm: /shop/api-token}\n  PARTNER_KEY: {secretsmanager: shop/partner}\n", 1)
	if app == releaseApp {
		t.Fatal("the test's app manifest has no name line to add secrets after")
	}
	if err := os.WriteFile(appFile, []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", orbitName, "--orbit-file", orbitFile}
	var printed []string
	step := func(args ...string) {
		r := elevator(t, "", append(args, flags...)...)
		mustSucceed(t, r)
		printed = append(printed, r.stdout, r.stderr)
	}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	step("app", "up", "-o", "json")
	step("app", "outputs", "-o", "json")
	step("image", "allow")
	step("deploy", "--version", "1.0.0", "-o", "json")
	step("deploy", "--version", "1.0.1")
	r := elevator(t, "", "release", "list", "--app", "shop", "--orbit", orbitName, "--orbit-file", orbitFile, "-o", "json")
	mustSucceed(t, r)
	printed = append(printed, r.stdout)

	var stored []string
	api := ec2.NewFromConfig(cfg)
	all, err := api.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var versions []ec2types.LaunchTemplateVersion
	for _, lt := range all.LaunchTemplates {
		v, err := api.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v.LaunchTemplateVersions...)
	}
	withUserData := 0
	for _, v := range versions {
		if d := v.LaunchTemplateData; d != nil && d.UserData != nil {
			ud, err := base64.StdEncoding.DecodeString(aws.ToString(d.UserData))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(ud), "/shop/api-token") {
				withUserData++
			}
			stored = append(stored, string(ud))
		}
	}
	if withUserData == 0 {
		t.Fatalf("no launch template's user data names the secret's parameter among %d versions: the search proves nothing", len(versions))
	}
	bucket := domain.StateBucketName(acct.ID, "us-east-1", orbitName)
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	objs, err := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs.Contents {
		if strings.HasPrefix(aws.ToString(o.Key), domain.AgentObjectPrefix) {
			continue // the agent's (fake) builds
		}
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(out.Body)
		out.Body.Close()
		stored = append(stored, string(b))
	}
	for _, text := range append(printed, stored...) {
		for _, secret := range []string{token, partner} {
			if strings.Contains(text, secret) {
				t.Errorf("a secret's value left its store:\n%.2000s", text)
			}
		}
	}
	t.Logf("searched %d outputs, %d launch template versions and %d state objects", len(printed), len(versions), len(objs.Contents))
}
