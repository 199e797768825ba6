package orbit

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/compile"
)

// fakeAgent writes two fake agent files (no instance runs them here) into
// a directory AgentDirEnv points at, and returns their bodies by Go
// architecture.
func fakeAgent(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	bodies := map[string]string{}
	for _, goarch := range elevator.AgentArches {
		bodies[goarch] = "fake elevator-agent for linux/" + goarch + " of " + t.Name()
		if err := os.WriteFile(filepath.Join(dir, "elevator-agent-linux-"+goarch), []byte(bodies[goarch]), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(AgentDirEnv, dir)
	return bodies
}

func TestReadAgentNamesEachBuildByItsHash(t *testing.T) {
	bodies := fakeAgent(t)
	files, err := ReadAgent()
	if err != nil {
		t.Fatal(err)
	}
	for _, goarch := range elevator.AgentArches {
		b := files.Builds[goarch]
		if b.Key != elevator.AgentObjectKey(b.SHA256, goarch) || len(b.SHA256) != 64 || string(files.Bodies[goarch]) != bodies[goarch] {
			t.Errorf("%s: %+v", goarch, b)
		}
	}
	if files.Builds["amd64"].SHA256 == files.Builds["arm64"].SHA256 {
		t.Error("two different builds have one hash")
	}

	t.Setenv(AgentDirEnv, t.TempDir())
	_, err = ReadAgent()
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "run scripts/setup") {
		t.Errorf("no builds: %v, want ENOTFOUND saying to run scripts/setup", err)
	}
}

// TestUpStoresTheAgentWhereTheBastionFetchesIt: up puts each build at its
// key in the region's state bucket, where the bastion's user data looks;
// a second up finds them there and stores nothing.
func TestUpStoresTheAgentWhereTheBastionFetchesIt(t *testing.T) {
	svc, cfgFor := service(t)
	bodies := fakeAgent(t)
	ctx := context.Background()
	o := parse(t, "name: agentup\nregions:\n  eu-west-1: {}\nnetwork: {nat: none}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n  ami: {ssm: /aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2}\n")
	if _, err := svc.Up(ctx, o); err != nil {
		t.Fatal(err)
	}
	files, err := ReadAgent()
	if err != nil {
		t.Fatal(err)
	}
	outputs, err := svc.Outputs(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	bucket := outputs["eu-west-1"][compile.StateBucketOutput]
	sdk := s3sdk.NewFromConfig(cfgFor("eu-west-1"), func(o *s3sdk.Options) { o.UsePathStyle = true })
	for goarch, b := range files.Builds {
		out, err := sdk.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(b.Key)})
		if err != nil {
			t.Fatalf("%s build: %v", goarch, err)
		}
		body, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(body) != bodies[goarch] {
			t.Errorf("%s build holds %q", goarch, body)
		}
	}
	if outputs["eu-west-1"][compile.BastionGroupOutput] == "" {
		t.Errorf("no %s output: %v", compile.BastionGroupOutput, outputs["eu-west-1"])
	}

	c, _ := svc.Clients("eu-west-1")
	stored, err := PublishAgent(ctx, c.Objects, bucket, files)
	if err != nil || len(stored) != 0 {
		t.Errorf("publishing again stored %v, %v; want nothing", stored, err)
	}
}

func TestAnOrbitWithABastionNeedsTheAgentBuilt(t *testing.T) {
	svc, _ := service(t)
	t.Setenv(AgentDirEnv, t.TempDir())
	o := parse(t, "name: noagent\nregions:\n  eu-west-1: {}\nbastion:\n  allowed_cidrs: [203.0.113.0/24]\n  ami: {ssm: /aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2}\n")
	_, err := svc.Up(context.Background(), o)
	if elevator.ErrorCode(err) != elevator.ENOTFOUND || !strings.Contains(err.Error(), "run scripts/setup") {
		t.Errorf("up: %v, want ENOTFOUND saying to run scripts/setup", err)
	}
	if _, err := svc.Plan(context.Background(), o); elevator.ErrorCode(err) != elevator.ENOTFOUND {
		t.Errorf("plan: %v, want ENOTFOUND", err)
	}
}
