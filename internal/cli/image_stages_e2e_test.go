package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ssmsdk "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

// stagedApp is releaseApp with each service's image read from the
// account's parameter /elevator/images/shop/base in each region.
const stagedApp = `name: shop
services:
  web:
    runtime: {docker: {image: ghcr.io/acme/shop, ports: ["8080:8080"]}}
    port: 8080
    load_balancer: {type: public, health_check: {path: /health}}
    scaling: {min: 1, max: 2}
    ami: {ssm: /elevator/images/shop/base}
  worker:
    runtime: {docker: {image: ghcr.io/acme/worker}}
    ami: {ssm: /elevator/images/shop/base}
`

// bakedImage makes an image in the account as a bake would leave it:
// tagged with its line and the first stage.
func bakedImage(t *testing.T, acct *emulatortest.Account, region string) string {
	t.Helper()
	ctx, sdk := context.Background(), ec2sdk.NewFromConfig(acct.Config(region))
	all, err := sdk.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{})
	if err != nil || len(all.Images) == 0 {
		t.Fatalf("no image to launch from: %v", err)
	}
	run, err := sdk.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: all.Images[0].ImageId, MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Micro})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sdk.CreateImage(ctx, &ec2sdk.CreateImageInput{InstanceId: run.Instances[0].InstanceId, Name: aws.String("shop-base-" + region),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: []ec2types.Tag{
			{Key: aws.String(domain.TagImage), Value: aws.String("shop-base")},
			{Key: aws.String(domain.TagImagePhase), Value: aws.String(domain.ImagePhaseBase)},
			{Key: aws.String(domain.TagImageStage), Value: aws.String("untested")},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdk.TerminateInstances(ctx, &ec2sdk.TerminateInstancesInput{InstanceIds: []string{aws.ToString(run.Instances[0].InstanceId)}}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ImageId)
}

func pointImageParameter(t *testing.T, acct *emulatortest.Account, region, id string) {
	t.Helper()
	_, err := ssmsdk.NewFromConfig(acct.Config(region)).PutParameter(context.Background(), &ssmsdk.PutParameterInput{
		Name: aws.String("/elevator/images/shop/base"), Value: aws.String(id), Type: ssmtypes.ParameterTypeString, Overwrite: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAnOrbitWithAMinStageReleasesAnImageOnlyOncePromoted: an orbit that
// takes only tested images refuses a release of an untested one at
// ValidateResources (FailureClean, saying why, nothing created); `image
// promote --stage tested` (its last stage) shares it, copies it to the
// orbit's other region and tags the copy; then the release, its images
// pointing at the image and the copy, succeeds.
func TestAnOrbitWithAMinStageReleasesAnImageOnlyOncePromoted(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\n"+
		"images:\n  min_stage: tested\n  share: {accounts: [\"111122223333\"]}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(stagedApp), 0o644); err != nil {
		t.Fatal(err)
	}
	image := bakedImage(t, acct, "us-east-1")
	other := bakedImage(t, acct, "eu-west-1") // until the copy is made
	pointImageParameter(t, acct, "us-east-1", image)
	pointImageParameter(t, acct, "eu-west-1", other)
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	refused := elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "-o", "json"}, flags...)...)
	var rec struct {
		State   string   `json:"state"`
		Error   string   `json:"error"`
		Failure string   `json:"failure"`
		Path    []string `json:"path"`
	}
	if err := json.Unmarshal([]byte(refused.stdout), &rec); err != nil || refused.code != cli.ExitFailed || rec.State != "FailureClean" || rec.Failure != string(domain.FailureUnusableResources) {
		t.Fatalf("release of an untested image: exit %d, %v\n%s\n%s", refused.code, err, refused.stdout, refused.stderr)
	}
	for _, want := range []string{
		"us-east-1: service web: image " + image + " is not authorized: want an image at stage tested or later (of untested, tested); it is at stage untested",
		"`elevator image promote --image " + image + " --stage tested --orbit " + orbit + "` promotes it",
		"eu-west-1: service worker: image " + other + " is not authorized",
	} {
		if !strings.Contains(rec.Error, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, rec.Error)
		}
	}
	if got := strings.Join(rec.Path, " "); !strings.Contains(got, string(domain.StateValidateResources)) || strings.Contains(got, string(domain.StateDeploy)) {
		t.Errorf("path %s: want it to end at ValidateResources, before Deploy", got)
	}
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		if g := groups(t, acct, region, orbit); len(g) != 0 {
			t.Errorf("%s: the refused release left groups %v", region, g)
		}
	}

	promoted := elevator(t, "", "image", "promote", "--image", image, "--stage", "tested", "--orbit", orbit, "--orbit-file", orbitFile, "-o", "json")
	mustSucceed(t, promoted)
	var p struct {
		From, To string
		Copies   []struct {
			Region, Image string
			Made          bool
		}
	}
	if err := json.Unmarshal([]byte(promoted.stdout), &p); err != nil || p.From != "untested" || p.To != "tested" || len(p.Copies) != 1 || p.Copies[0].Region != "eu-west-1" || !p.Copies[0].Made {
		t.Fatalf("promotion: %v\n%s\n%s", err, promoted.stdout, promoted.stderr)
	}
	if !strings.Contains(promoted.stderr, "copying us-east-1/"+image) {
		t.Errorf("no progress on stderr:\n%s", promoted.stderr)
	}
	ctx := context.Background()
	for region, id := range map[string]string{"us-east-1": image, "eu-west-1": p.Copies[0].Image} {
		c := ec2.New(acct.Config(region))
		img, err := c.Image(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if img.Tags[domain.TagImageStage] != "tested" || img.Tags[domain.TagImage] != "shop-base" {
			t.Errorf("%s: %s tags %v; want at tested, of line shop-base", region, id, img.Tags)
		}
		shared, _, err := c.ImageLaunchPermissions(ctx, id)
		if err != nil || !reflect.DeepEqual(shared.Accounts, []string{"111122223333"}) {
			t.Errorf("%s: %s shared with %+v, %v; want 111122223333", region, id, shared, err)
		}
	}
	if got := ec2Tag(t, acct, "eu-west-1", p.Copies[0].Image, domain.TagImageCopiedFrom); got != "us-east-1/"+image {
		t.Errorf("the copy's %s is %q", domain.TagImageCopiedFrom, got)
	}

	pointImageParameter(t, acct, "eu-west-1", p.Copies[0].Image)
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))
	released := elevator(t, "", append([]string{"deploy", "--version", "1.0.0", "-o", "json"}, flags...)...)
	mustSucceed(t, released)
	if !strings.Contains(released.stdout, `"state": "Success"`) {
		t.Errorf("release of the promoted image:\n%s", released.stdout)
	}
	audit := elevator(t, "", "release", "audit", "--orbit", orbit, "--orbit-file", orbitFile)
	mustSucceed(t, audit)
	if !strings.Contains(audit.stdout, domain.AuditImagePromote) || !strings.Contains(audit.stdout, "from stage untested to tested") {
		t.Errorf("the audit log lacks the promotion:\n%s", audit.stdout)
	}
}

func ec2Tag(t *testing.T, acct *emulatortest.Account, region, id, key string) string {
	t.Helper()
	img, err := ec2.New(acct.Config(region)).Image(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return img.Tags[key]
}

// TestImagePromoteAndRevokeRefuseBadInputBeforeAnyCall: bad flags exit 2
// before any AWS call (no endpoint answers here).
func TestImagePromoteAndRevokeRefuseBadInputBeforeAnyCall(t *testing.T) {
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nimages: {stages: [new, tested, live]}\n")
	base := []string{"--orbit", orbit, "--orbit-file", orbitFile, "--endpoint-url", "http://127.0.0.1:1"}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"promote without a stage", []string{"image", "promote", "--image", "ami-0123456789abcdef0"}, "--stage is required: one of new, tested, live"},
		{"promote to a stage the orbit lacks", []string{"image", "promote", "--image", "ami-0123456789abcdef0", "--stage", "untested"}, `stage "untested" is not a stage of orbit ` + orbit + "; its stages are new, tested, live"},
		{"promote without an image", []string{"image", "promote", "--stage", "live"}, "--image is required"},
		{"promote a bad image id", []string{"image", "promote", "--image", "ami-XYZ", "--stage", "live"}, `--image "ami-XYZ": want an AMI id`},
		{"promote in a region the orbit lacks", []string{"image", "promote", "--image", "ami-0123456789abcdef0", "--stage", "live", "--region", "eu-west-1"}, "--region eu-west-1: orbit " + orbit + " is not in that region"},
		{"revoke without a reason", []string{"image", "revoke", "--image", "ami-0123456789abcdef0"}, "--reason is required"},
		{"revoke with two lines", []string{"image", "revoke", "--image", "ami-0123456789abcdef0", "--reason", "a\nb"}, "--reason: one line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := cli.Run(context.Background(), append(tt.args, base...), strings.NewReader(""), &stdout, &stderr)
			if code != cli.ExitInvalid || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d saying %q", code, stderr.String(), cli.ExitInvalid, tt.want)
			}
		})
	}
}

// TestAPipelineStagePromotesTheImagesItReleased: a stage with
// promote_images: tested, once its release succeeds, promotes the image
// the release used (through the command line's pipeline driver), and the
// promotion is in the orbit's audit log.
func TestAPipelineStagePromotesTheImagesItReleased(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
	appFile := filepath.Join(filepath.Dir(orbitFile), "app.yml")
	if err := os.WriteFile(appFile, []byte(stagedApp+"pipeline:\n  stages:\n    - {orbit: "+orbit+", promote_images: tested}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := bakedImage(t, acct, "us-east-1")
	pointImageParameter(t, acct, "us-east-1", image)
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	flags := []string{"-f", appFile, "--orbit", orbit, "--orbit-file", orbitFile}
	mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
	mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

	e := execution(t, elevator(t, "", "pipeline", "start", "--version", "1.0.0", "-f", appFile, "--orbit-file", orbitFile,
		"--poll-interval", "100ms", "--output", "json"))
	if got := e.states(); got != "Succeeded Succeeded" {
		t.Fatalf("pipeline: %s", got)
	}
	if got := ec2Tag(t, acct, "us-east-1", image, domain.TagImageStage); got != "tested" {
		t.Errorf("the released image is at %q, want tested", got)
	}
	audit := elevator(t, "", "release", "audit", "--orbit", orbit, "--orbit-file", orbitFile)
	mustSucceed(t, audit)
	for _, want := range []string{"pipeline.promote-images", "us-east-1/" + image + " untested -> tested", domain.AuditImagePromote} {
		if !strings.Contains(audit.stdout, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, audit.stdout)
		}
	}
}
