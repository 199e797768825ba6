package cli_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	domain "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/cli"
	"github.com/elevatorhq/elevator/internal/release/awsrelease"
)

// cleanupOutput is what `image cleanup -o json` prints, in part.
type cleanupOutput struct {
	DryRun    bool `json:"dry_run"`
	Decisions []struct {
		ID     string `json:"id"`
		Line   string `json:"line"`
		Remove bool   `json:"remove"`
		Why    string `json:"why"`
		Copies []struct {
			Region, ID string
			Snapshots  []string
		} `json:"copies"`
		UsedBy []string `json:"used_by"`
	} `json:"decisions"`
	Removals []struct {
		Region       string   `json:"region"`
		ImageID      string   `json:"image_id"`
		Deregistered bool     `json:"deregistered"`
		Snapshots    []string `json:"snapshots_deleted"`
	} `json:"removals"`
}

// TestImageCleanupOnAnOrbitRemovesOldCopiesAndAuditsIt: in an orbit over
// us-east-1 and eu-west-1, line web has four images made with the SDK in
// us-east-1, each copied to eu-west-1: new (5 days old), old1 (run by an
// instance in eu-west-1, through its copy), old2 and old3 (40 and 50
// days old). `image list` shows the copies and the instance;
// `cleanup --keep 1 --dry-run` would remove old2 and old3 and changes
// nothing, and so does a cleanup not confirmed; `cleanup --keep 1 --yes`
// removes both, in both regions, with
// their snapshots, and writes one audit entry.
func TestImageCleanupOnAnOrbitRemovesOldCopiesAndAuditsIt(t *testing.T) {
	acct := inAccount(t)
	orbitFile, orbit := manifest(t, "regions:\n  us-east-1: {}\n  eu-west-1: {}\nnetwork: {nat: none}\n")
	mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
	ctx := context.Background()
	east, west := ec2sdk.NewFromConfig(acct.Config("us-east-1")), ec2sdk.NewFromConfig(acct.Config("eu-west-1"))
	ids, copies := map[string]string{}, map[string]string{}
	for role, days := range map[string]int{"new": 5, "old1": 30, "old2": 40, "old3": 50} {
		reg, err := east.RegisterImage(ctx, &ec2sdk.RegisterImageInput{Name: aws.String("web-" + role)})
		if err != nil {
			t.Fatal(err)
		}
		tags := []ec2types.Tag{
			{Key: aws.String(domain.TagImage), Value: aws.String("web")},
			{Key: aws.String(domain.TagImageStage), Value: aws.String("tested")},
			{Key: aws.String(domain.TagOrbit), Value: aws.String(orbit)},
			{Key: aws.String(domain.TagImageBakeID), Value: aws.String("bake-" + role)},
			{Key: aws.String(domain.TagImageBuilt), Value: aws.String(time.Now().UTC().Add(-time.Duration(days) * 24 * time.Hour).Format(time.RFC3339))},
		}
		if _, err := east.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(reg.ImageId)}, Tags: tags}); err != nil {
			t.Fatal(err)
		}
		cp, err := west.CopyImage(ctx, &ec2sdk.CopyImageInput{SourceImageId: reg.ImageId, SourceRegion: aws.String("us-east-1"), Name: aws.String("web-" + role)})
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, ec2types.Tag{Key: aws.String(domain.TagImageCopiedFrom), Value: aws.String("us-east-1/" + aws.ToString(reg.ImageId))})
		if _, err := west.CreateTags(ctx, &ec2sdk.CreateTagsInput{Resources: []string{aws.ToString(cp.ImageId)}, Tags: tags}); err != nil {
			t.Fatal(err)
		}
		ids[role], copies[role] = aws.ToString(reg.ImageId), aws.ToString(cp.ImageId)
	}
	run, err := west.RunInstances(ctx, &ec2sdk.RunInstancesInput{ImageId: aws.String(copies["old1"]), MinCount: aws.Int32(1), MaxCount: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	instance := aws.ToString(run.Instances[0].InstanceId)
	registered := func() []string {
		var out []string
		for region, sdk := range map[string]*ec2sdk.Client{"us-east-1": east, "eu-west-1": west} {
			imgs, err := sdk.DescribeImages(ctx, &ec2sdk.DescribeImagesInput{Owners: []string{"self"}})
			if err != nil {
				t.Fatal(err)
			}
			for _, i := range imgs.Images {
				out = append(out, region+"/"+aws.ToString(i.ImageId))
			}
		}
		slices.Sort(out)
		return out
	}
	before := registered()
	flags := []string{"--orbit", orbit, "--orbit-file", orbitFile}

	list := elevator(t, "", append([]string{"image", "list", "-o", "json"}, flags...)...)
	mustSucceed(t, list)
	var listed []struct {
		ID     string `json:"id"`
		Copies []struct{ Region, ID string }
		UsedBy []string `json:"used_by"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &listed); err != nil {
		t.Fatalf("%v\n%s", err, list.stdout)
	}
	if len(listed) != 4 || listed[0].ID != "us-east-1/"+ids["new"] {
		t.Fatalf("list: want 4 images, the newest first:\n%s", list.stdout)
	}
	for _, l := range listed {
		if len(l.Copies) != 2 || l.Copies[1].Region != "eu-west-1" {
			t.Errorf("list: %s: want its copy in eu-west-1, got %+v", l.ID, l.Copies)
		}
		if used := strings.Join(l.UsedBy, "; "); (l.ID == "us-east-1/"+ids["old1"]) != strings.Contains(used, "instance "+instance) {
			t.Errorf("list: %s used by %q", l.ID, used)
		}
	}
	text := elevator(t, "", append([]string{"image", "list"}, flags...)...)
	mustSucceed(t, text)
	if !strings.Contains(text.stdout, "used by instance "+instance+" (running) in eu-west-1") {
		t.Errorf("list text:\n%s", text.stdout)
	}

	dry := elevator(t, "", append([]string{"image", "cleanup", "--keep", "1", "--dry-run", "-o", "json"}, flags...)...)
	mustSucceed(t, dry)
	var plan cleanupOutput
	if err := json.Unmarshal([]byte(dry.stdout), &plan); err != nil {
		t.Fatalf("%v\n%s", err, dry.stdout)
	}
	wouldGo := map[string]bool{}
	for _, d := range plan.Decisions {
		wouldGo[d.ID] = d.Remove
	}
	want := map[string]bool{"us-east-1/" + ids["new"]: false, "us-east-1/" + ids["old1"]: false, "us-east-1/" + ids["old2"]: true, "us-east-1/" + ids["old3"]: true}
	if !plan.DryRun || len(plan.Removals) != 0 || len(wouldGo) != 4 {
		t.Fatalf("dry run: %s", dry.stdout)
	}
	for id, remove := range want {
		if wouldGo[id] != remove {
			t.Errorf("dry run: %s remove=%v, want %v\n%s", id, wouldGo[id], remove, dry.stdout)
		}
	}
	if after := registered(); !slices.Equal(after, before) {
		t.Fatalf("a dry run changed the images:\nbefore %v\nafter  %v", before, after)
	}
	dryText := elevator(t, "", append([]string{"image", "cleanup", "--keep", "1", "--dry-run"}, flags...)...)
	mustSucceed(t, dryText)
	if !strings.Contains(dryText.stdout, "would remove  web  tested") || !strings.Contains(dryText.stdout, "dry run: nothing was removed") {
		t.Errorf("dry run text:\n%s", dryText.stdout)
	}

	refused := elevator(t, "someone-else\n", append([]string{"image", "cleanup", "--keep", "1"}, flags...)...)
	if refused.code != cli.ExitInterrupted || !strings.Contains(refused.stderr, "Type the orbit's name to confirm") ||
		!strings.Contains(refused.stderr, "would remove  web  tested") {
		t.Errorf("cleanup not confirmed: exit %d\n%s%s", refused.code, refused.stdout, refused.stderr)
	}
	if after := registered(); !slices.Equal(after, before) {
		t.Fatalf("a cleanup not confirmed changed the images:\nbefore %v\nafter  %v", before, after)
	}

	started := time.Now().Add(-time.Minute)
	done := elevator(t, "", append([]string{"image", "cleanup", "--keep", "1", "--yes", "-o", "json"}, flags...)...)
	mustSucceed(t, done)
	var rep cleanupOutput
	if err := json.Unmarshal([]byte(done.stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, done.stdout)
	}
	var gone []string
	for _, r := range rep.Removals {
		if !r.Deregistered || len(r.Snapshots) != 1 {
			t.Errorf("removal %+v: want deregistered with its snapshot", r)
		}
		gone = append(gone, r.Region+"/"+r.ImageID)
	}
	slices.Sort(gone)
	wantGone := []string{"eu-west-1/" + copies["old2"], "eu-west-1/" + copies["old3"], "us-east-1/" + ids["old2"], "us-east-1/" + ids["old3"]}
	slices.Sort(wantGone)
	if !slices.Equal(gone, wantGone) {
		t.Errorf("removed %v, want %v", gone, wantGone)
	}
	after := registered()
	for _, g := range wantGone {
		if slices.Contains(after, g) {
			t.Errorf("%s is still registered", g)
		}
	}
	if len(after) != len(before)-4 {
		t.Errorf("registered after: %v (before %v)", after, before)
	}
	for _, r := range rep.Removals {
		sdk := east
		if r.Region == "eu-west-1" {
			sdk = west
		}
		out, err := sdk.DescribeSnapshots(ctx, &ec2sdk.DescribeSnapshotsInput{Filters: []ec2types.Filter{{Name: aws.String("snapshot-id"), Values: r.Snapshots}}})
		if err != nil || len(out.Snapshots) != 0 {
			t.Errorf("%s %s: snapshots %v still there (%v)", r.Region, r.ImageID, r.Snapshots, err)
		}
	}

	backend, err := awsrelease.New(awsrelease.Config{Orbit: orbit, AWS: []aws.Config{acct.Config("us-east-1")}, Bucket: domain.StateBucketName(acct.ID, "us-east-1", orbit)})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := backend.Store.AuditLog(ctx, started)
	if err != nil {
		t.Fatal(err)
	}
	var cleanups []domain.AuditEntry
	for _, e := range entries {
		if e.Action == domain.AuditImageCleanup {
			cleanups = append(cleanups, e)
		}
	}
	if len(cleanups) != 1 || cleanups[0].Outcome != "removed" || strings.Count(cleanups[0].Detail, "ami-") != 4 || cleanups[0].By == "" {
		t.Errorf("audit: want one cleanup entry naming the 4 copies, got %+v", cleanups)
	}
}
