package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elevatorhq/elevator/internal/aws/ecr/ecrtest"
	"github.com/elevatorhq/elevator/internal/cli"
)

const ownRepositoryApp = `name: shop
services:
  web:
    runtime: {docker: {ports: ["8080:8080"], repository: {keep_untagged: 4}}}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
`

// TestAReleaseFromAnOwnRepositoryWaitsForThePushAndTheAllow goes from
// `app up` to a release of a service on its own repository, on moto in
// two regions: the release refuses a tag not pushed, then one pushed but
// allowed in one region only; `image allow` refuses a tag not pushed;
// `image allow -f --version` allows the tag in every region, and the
// release then runs the image from each region's repository. (Pushing is
// PutImage with a manifest: moto keeps tags without a registry.)
func TestAReleaseFromAnOwnRepositoryWaitsForThePushAndTheAllow(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbitName := manifest(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(ownRepositoryApp), 0o644); err != nil {
		t.Fatal(err)
	}
	flags := []string{"-f", appFile, "--orbit", orbitName, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	allowAMIs := elevator(t, "", append([]string{"image", "allow"}, flags...)...)
	mustSucceed(t, allowAMIs)
	repo := orbitName + "/shop/web"
	if !strings.Contains(allowAMIs.stderr, repo+" run from their own repositories: pass --version") {
		t.Errorf("image allow -f without --version does not say the own repository's tag needs it:\n%s", allowAMIs.stderr)
	}
	uri := func(region string) string { return acct.ID + ".dkr.ecr." + region + ".amazonaws.com/" + repo }
	deploy := func(version string) result {
		return elevator(t, "", append([]string{"deploy", "--version", version}, flags...)...)
	}
	refused := func(r result, want string) {
		t.Helper()
		if r.code != cli.ExitFailed || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("deploy: exit %d, want %d saying %q\nstdout:\n%s\nstderr:\n%s", r.code, cli.ExitFailed, want, r.stdout, r.stderr)
		}
	}

	refused(deploy("1.0.0"), "container image "+repo+":1.0.0 does not exist: repository "+repo+" has no image tagged 1.0.0")

	for _, region := range []string{"us-east-1", "eu-west-1"} {
		ecrtest.Push(t, acct.Config(region), repo, "1.0.0")
	}
	mustSucceed(t, elevator(t, "", "image", "allow", uri("us-east-1")+":1.0.0", "--app", "shop", "--orbit", orbitName, "--orbit-file", orbitFile))
	refused(deploy("1.0.0"), "eu-west-1: service web: container image "+repo+":1.0.0 is not authorized")

	notPushed := elevator(t, "", "image", "allow", uri("eu-west-1")+":1.0.1", "--app", "shop", "--orbit", orbitName, "--orbit-file", orbitFile)
	if notPushed.code != cli.ExitNotFound || !strings.Contains(notPushed.stderr, "has no image tagged 1.0.1") {
		t.Errorf("image allow of a tag not pushed: exit %d, want %d\n%s", notPushed.code, cli.ExitNotFound, notPushed.stderr)
	}

	allow := elevator(t, "", append([]string{"image", "allow", "--version", "1.0.0", "-o", "json"}, flags...)...)
	mustSucceed(t, allow)
	var allowed []map[string]string
	if err := json.Unmarshal([]byte(allow.stdout), &allowed); err != nil {
		t.Fatalf("image allow -o json: %v\n%s", err, allow.stdout)
	}
	regions := map[string]bool{}
	for _, a := range allowed {
		if a["image"] == repo+":1.0.0" && a["app"] == "shop" {
			regions[a["region"]] = true
		}
	}
	if !regions["us-east-1"] || !regions["eu-west-1"] {
		t.Errorf("image allow -f --version allowed %v, want %s:1.0.0 in both regions", allowed, repo)
	}

	mustSucceed(t, deploy("1.0.0"))
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if want := uri(region) + ":1.0.0"; !launchTemplatesRun(t, acct.Config(region), want) {
			t.Errorf("%s: no launch template's user data runs %s", region, want)
		}
	}
}

// launchTemplatesRun reports whether the user data of a launch template
// in cfg's region names image.
func launchTemplatesRun(t *testing.T, cfg aws.Config, image string) bool {
	t.Helper()
	ctx := context.Background()
	api := ec2sdk.NewFromConfig(cfg)
	all, err := api.DescribeLaunchTemplates(ctx, &ec2sdk.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lt := range all.LaunchTemplates {
		v, err := api.DescribeLaunchTemplateVersions(ctx, &ec2sdk.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: lt.LaunchTemplateId})
		if err != nil {
			t.Fatal(err)
		}
		for _, ver := range v.LaunchTemplateVersions {
			if d := ver.LaunchTemplateData; d != nil && d.UserData != nil {
				ud, err := base64.StdEncoding.DecodeString(aws.ToString(d.UserData))
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(ud), image) {
					return true
				}
			}
		}
	}
	return false
}
