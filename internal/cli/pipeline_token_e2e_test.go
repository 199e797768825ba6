package cli_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	domain "github.com/elevatorhq/elevator"
)

// TestAPipelineKilledAfterSubmittingAReleaseResumesThatRelease kills
// `pipeline start` (SIGKILL) once a stage's release is submitted and
// before the execution records its id — behind a proxy in front of the
// emulator that holds back the answer to the submission's audit entry, or
// to its document's checksum (the release then has a document and no
// record) — and resumes it: one release in the orbit, the one the killed
// process submitted, driven to its end.
func TestAPipelineKilledAfterSubmittingAReleaseResumesThatRelease(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "elevator")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/elevator").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		name  string
		match func(r *http.Request, body []byte) bool
	}{
		{"after its audit entry", func(r *http.Request, body []byte) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+domain.AuditPrefix) &&
				bytes.Contains(body, []byte(`"action":"`+domain.AuditSubmit+`"`))
		}},
		{"after its document, before its record", func(r *http.Request, _ []byte) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/"+domain.ReleasesPrefix) && strings.HasSuffix(r.URL.Path, ".sha256")
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			acct := inAccount(t)
			orbitFile, name := manifest(t, "regions:\n  us-east-1: {}\nnetwork: {nat: none}\n")
			mustSucceed(t, elevator(t, "", "orbit", "up", "-f", orbitFile))
			appFile := filepath.Join(t.TempDir(), "app.yml")
			if err := os.WriteFile(appFile, []byte(releaseApp+"pipeline:\n  stages:\n    - orbit: "+name+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			flags := []string{"-f", appFile, "--orbit", name, "--orbit-file", orbitFile}
			mustSucceed(t, elevator(t, "", append([]string{"app", "up"}, flags...)...))
			mustSucceed(t, elevator(t, "", append([]string{"image", "allow"}, flags...)...))

			gate := newGate(t, tt.match)
			cmd := exec.Command(bin, "pipeline", "start", "--version", "1.0.0", "-f", appFile, "--orbit-file", orbitFile,
				"--poll-interval", "100ms", "--lease", "10s", "--endpoint-url", gate.URL)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-gate.held:
			case err := <-exited:
				t.Fatalf("pipeline start ended (%v) before the request held back:\n%s", err, stderr.String())
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-exited
			m := regexp.MustCompile(`pipeline ([0-9]{8}-[0-9]{9}-[0-9a-f]{8}) of shop`).FindStringSubmatch(stderr.String())
			if m == nil {
				t.Fatalf("never saw the execution id:\n%s", stderr.String())
			}
			time.Sleep(10 * time.Second) // the killed process's lease
			e := execution(t, elevator(t, "", "pipeline", "resume", m[1], "-f", appFile, "--orbit-file", orbitFile, "--poll-interval", "100ms", "--output", "json"))
			if got := e.states(); got != "Succeeded Succeeded" {
				t.Fatalf("after the resume: %s", got)
			}
			list := elevator(t, "", "release", "list", "--app", "shop", "--orbit", name, "--orbit-file", orbitFile, "--output", "json")
			mustSucceed(t, list)
			if n := strings.Count(list.stdout, `"id"`); n != 1 || !strings.Contains(list.stdout, e.Stages[0].Releases[name]) {
				t.Errorf("releases of shop, want only %s:\n%s", e.Stages[0].Releases[name], list.stdout)
			}
			// A document without a record is a release too, one that no
			// list shows: the killed process's is the only one.
			objs, err := s3.NewFromConfig(acct.Config("us-east-1"), func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(context.Background(),
				&s3.ListObjectsV2Input{Bucket: aws.String(domain.StateBucketName(acct.ID, "us-east-1", name)), Prefix: aws.String(domain.ReleasesPrefix)})
			if err != nil {
				t.Fatal(err)
			}
			var docs []string
			for _, o := range objs.Contents {
				if strings.HasSuffix(aws.ToString(o.Key), "/release.json") {
					docs = append(docs, aws.ToString(o.Key))
				}
			}
			if len(docs) != 1 {
				t.Errorf("release documents in the state bucket: %v, want one", docs)
			}
		})
	}
}
