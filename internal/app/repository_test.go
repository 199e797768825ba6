package app

// Own ECR repositories on moto: `app up` makes them as the manifest asks,
// the instance role pulls from exactly its own, `app down` keeps them with
// their images, and the next `app up` takes them back: a Docker service's
// and an ECS service's alike.

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfnsdk "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	iamsdk "github.com/aws/aws-sdk-go-v2/service/iam"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ecr/ecrtest"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
)

const store = `name: store
services:
  web:
    runtime: {docker: {ports: ["8080:8080"], repository: {keep_untagged: 5}}}
  worker:
    runtime: {docker: {}}
  cron:
    runtime: {docker: {image: ghcr.io/acme/cron}}
  api:
    runtime: {ecs: {cpu: 256, memory: 512, repository: {keep_untagged: 3}}}
`

func TestAppUpMakesOwnRepositoriesAndDownKeepsThem(t *testing.T) {
	w := newWorld(t, "name: prod\nregions:\n  eu-west-1: {}\nnetwork: {nat: none}\necs: {}\n")
	a := w.app(t, store)
	ctx := context.Background()
	cfg := w.cfg("eu-west-1")
	account := emulatortest.AccountID(cfg)
	registry := ecrsdk.NewFromConfig(cfg)
	if _, err := w.apps.Up(ctx, a, w.orbit); err != nil {
		t.Fatalf("app up: %v", err)
	}

	out, err := registry.DescribeRepositories(ctx, &ecrsdk.DescribeRepositoriesInput{RepositoryNames: []string{"prod/store/web", "prod/store/worker", "prod/store/api"}})
	if err != nil {
		t.Fatalf("the own repositories: %v", err)
	}
	if len(out.Repositories) != 3 {
		t.Fatalf("repositories %+v, want web's, worker's and api's", out.Repositories)
	}
	for _, r := range out.Repositories {
		name := aws.ToString(r.RepositoryName)
		if r.ImageTagMutability != "IMMUTABLE" {
			t.Errorf("%s: tags %s, want immutable", name, r.ImageTagMutability)
		}
		tags, err := registry.ListTagsForResource(ctx, &ecrsdk.ListTagsForResourceInput{ResourceArn: r.RepositoryArn})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, tg := range tags.Tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if svc := strings.TrimPrefix(name, "prod/store/"); got[elevator.TagOrbit] != "prod" || got[elevator.TagApp] != "store" || got[elevator.TagService] != svc {
			t.Errorf("%s: tags %v", name, got)
		}
	}
	// moto's CloudFormation does not apply two properties of
	// AWS::ECR::Repository (moto/ecr/models.py,
	// create_from_cloudformation_json): it keeps ImageScanningConfiguration
	// under CloudFormation's key ScanOnPush where its API reads scanOnPush,
	// so DescribeRepositories says false, and it ignores LifecyclePolicy.
	// So these two are read back from the template CloudFormation holds
	// for the stack, the one AWS would apply.
	tmpl, err := cfnsdk.NewFromConfig(cfg).GetTemplate(ctx, &cfnsdk.GetTemplateInput{StackName: aws.String(a.StackName(w.orbit.Name))})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Resources map[string]struct {
			Type           string
			DeletionPolicy string
			Properties     struct {
				RepositoryName             string
				ImageScanningConfiguration struct{ ScanOnPush bool }
				LifecyclePolicy            struct{ LifecyclePolicyText string }
			}
		}
	}
	if err := json.Unmarshal([]byte(aws.ToString(tmpl.TemplateBody)), &body); err != nil {
		t.Fatalf("the stack's template: %v", err)
	}
	for id, want := range map[string]int{"RepositoryWeb": 5, "RepositoryWorker": elevator.DefaultKeepUntagged, "RepositoryApi": 3} {
		r := body.Resources[id]
		if r.Type != "AWS::ECR::Repository" || !r.Properties.ImageScanningConfiguration.ScanOnPush || r.DeletionPolicy != "Retain" {
			t.Errorf("%s: %+v, want a repository scanned on push and kept", id, r)
		}
		var policy struct {
			Rules []struct {
				Selection struct {
					TagStatus, CountType string
					CountNumber          int
				}
				Action struct{ Type string }
			}
		}
		if err := json.Unmarshal([]byte(r.Properties.LifecyclePolicy.LifecyclePolicyText), &policy); err != nil || len(policy.Rules) != 1 {
			t.Errorf("%s: lifecycle policy %q (%v)", id, r.Properties.LifecyclePolicy.LifecyclePolicyText, err)
			continue
		}
		if sel := policy.Rules[0].Selection; sel.TagStatus != "untagged" || sel.CountType != "imageCountMoreThan" || sel.CountNumber != want || policy.Rules[0].Action.Type != "expire" {
			t.Errorf("%s: lifecycle rule %+v, want the newest %d untagged kept", id, policy.Rules[0], want)
		}
	}
	if _, err := registry.DescribeRepositories(ctx, &ecrsdk.DescribeRepositoriesInput{RepositoryNames: []string{"prod/store/cron"}}); err == nil {
		t.Errorf("cron, whose image is elsewhere, has a repository")
	}

	outputs := w.outputs(t, a, "eu-west-1")
	if want := account + ".dkr.ecr.eu-west-1.amazonaws.com/prod/store/web"; outputs["WebRepository"] != want {
		t.Errorf("WebRepository = %q, want %s", outputs["WebRepository"], want)
	}

	// The role of web pulls from web's repository only.
	doc, err := iamsdk.NewFromConfig(cfg).GetRolePolicy(ctx, &iamsdk.GetRolePolicyInput{RoleName: aws.String(outputs["WebRole"]), PolicyName: aws.String("elevator-service")})
	if err != nil {
		t.Fatalf("web's role policy: %v", err)
	}
	// moto answers with the policy as CloudFormation's engine holds it,
	// a Python literal rather than JSON: the repositories it names are
	// read from the text.
	text, _ := url.QueryUnescape(aws.ToString(doc.PolicyDocument))
	repos := regexp.MustCompile(`arn:aws:ecr:[^'"]*:repository/[^'"]*`).FindAllString(text, -1)
	if want := "arn:aws:ecr:eu-west-1:" + account + ":repository/prod/store/web"; len(repos) != 1 || repos[0] != want {
		t.Errorf("web pulls from %v, want exactly %s", repos, want)
	}

	// Down keeps the repositories and their images; up takes them back.
	ecrtest.Push(t, cfg, "prod/store/web", "1.0.0")
	ecrtest.Push(t, cfg, "prod/store/api", "1.0.0")
	if _, err := w.apps.Down(ctx, a, w.orbit, false); err != nil {
		t.Fatalf("app down: %v", err)
	}
	if _, err := registry.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("prod/store/web")}); err != nil {
		t.Fatalf("web's repository after app down: %v", err)
	}
	if _, err := w.apps.Up(ctx, a, w.orbit); err != nil {
		t.Fatalf("app up after app down: %v", err)
	}
	for key, repo := range map[string]string{"WebRepository": "prod/store/web", "ApiRepository": "prod/store/api"} {
		if got := w.outputs(t, a, "eu-west-1")[key]; got != account+".dkr.ecr.eu-west-1.amazonaws.com/"+repo {
			t.Errorf("%s after the second up = %q", key, got)
		}
	}
	tmpl, err = cfnsdk.NewFromConfig(cfg).GetTemplate(ctx, &cfnsdk.GetTemplateInput{StackName: aws.String(a.StackName(w.orbit.Name))})
	if err != nil {
		t.Fatal(err)
	}
	if body := aws.ToString(tmpl.TemplateBody); strings.Contains(body, "AWS::ECR::Repository") {
		t.Errorf("the second stack makes the kept repositories again:\n%s", body)
	}
	images, err := registry.DescribeImages(ctx, &ecrsdk.DescribeImagesInput{RepositoryName: aws.String("prod/store/web")})
	if err != nil || len(images.ImageDetails) != 1 {
		t.Errorf("web's images after down and up: %+v (%v), want the one pushed", images, err)
	}
}

// outputs returns the outputs of a's stack in region, as apply reads
// them.
func (w *world) outputs(t *testing.T, a *elevator.App, region string) map[string]string {
	t.Helper()
	out, err := w.apps.Outputs(context.Background(), a, w.orbit)
	if err != nil {
		t.Fatal(err)
	}
	return out[region]
}
