package instancetest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/compile"
	"github.com/elevatorhq/elevator/internal/image/bakebundle"
	"github.com/elevatorhq/elevator/internal/instancetest"
)

// TestABuilderBootsRunsItsBakeAndReportsTheResult boots two image
// builders with Elevator's own builder user data (compile.BakeUserData),
// each with a bundle `image bake` would upload: the first places a file
// and runs two scripts, and reports success; the second has a script
// that fails, and reports it, its exit code and its output, without
// running the script after it. The result is read from moto's S3, the
// rest from inside the instance.
func TestABuilderBootsRunsItsBakeAndReportsTheResult(t *testing.T) {
	root := instancetest.Root(t)
	w := newWorld(t, "i-0b00751ce0000010")
	ctx := context.Background()
	bucket := elevator.StateBucketName(w.acct.ID, region, orbitName)
	s3c := s3.NewFromConfig(w.cfg, func(o *s3.Options) { o.UsePathStyle = true })

	// bake boots a builder of bake id with the manifest of files (name ->
	// content) and waits for its result.
	bake := func(t *testing.T, id, instanceID string, files map[string]string, m *elevator.ImageManifest) (*instancetest.Instance, elevator.BakeResult) {
		t.Helper()
		m.Dir = t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(m.Dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var bundle bytes.Buffer
		if _, err := bakebundle.Write(&bundle, m); err != nil {
			t.Fatal(err)
		}
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(elevator.BakeBundleKey(id)),
			Body: bytes.NewReader(bundle.Bytes())}); err != nil {
			t.Fatal(err)
		}
		userData, err := compile.BakeUserData(orbitName, region, id, 0, w.builds)
		if err != nil {
			t.Fatal(err)
		}
		inst := instancetest.Boot(t, root, instancetest.Seed{InstanceID: instanceID, UserData: userData,
			Files: map[string]string{elevator.AgentAWSEnvPath: w.awsEnv}})
		var res elevator.BakeResult
		if err := inst.Wait(3*time.Minute, func() error {
			out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(elevator.BakeResultKey(id))})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			return json.NewDecoder(out.Body).Decode(&res)
		}); err != nil {
			t.Fatalf("the builder uploaded no result: %v", err)
		}
		t.Logf("user data: %d bytes; bundle: %d bytes; result: %+v", len(userData), bundle.Len(), res)
		return inst, res
	}

	t.Run("a bake that succeeds", func(t *testing.T) {
		inst, res := bake(t, "20261130-bake-ok", "i-0b00751ce0000011", map[string]string{
			"shop.conf": "listen 8080\n",
			"install.sh": "#!/bin/sh\nset -eu\nmkdir -p /var/lib/shop\n" +
				"echo \"install $ELEVATOR_BAKE_ID $ELEVATOR_ORBIT $ELEVATOR_REGION $HOME\" > /var/lib/shop/trace\n" +
				"echo 'install: the console shows this'\n",
			"configure.py": "#!/usr/bin/env python3\n" +
				"import os\n" +
				"assert open('/var/lib/shop/trace').read().startswith('install '), 'install.sh did not run first'\n" +
				"open('/var/lib/shop/trace', 'a').write('configure ' + oct(os.stat('/etc/shop/shop.conf').st_mode & 0o777) + '\\n')\n",
		}, &elevator.ImageManifest{
			Files: []elevator.ImageFile{{Source: "shop.conf", Dest: "/etc/shop/shop.conf", Mode: 0o640, Owner: "www-data:adm", Path: "files[0]"}},
			Scripts: []elevator.ImageScript{
				{Source: "install.sh", Path: "scripts[0]"},
				{Source: "configure.py", Path: "scripts[1]"},
			},
		})
		if !res.OK || res.Script != "" || res.At.IsZero() {
			t.Fatalf("result = %+v, want OK", res)
		}
		trace, err := inst.ReadFile("/var/lib/shop/trace")
		if want := "install 20261130-bake-ok " + orbitName + " " + region + " /root\nconfigure 0o640\n"; err != nil || string(trace) != want {
			t.Errorf("the scripts left %q (%v), want %q: both, in order, with the bake's environment, after the file was placed", trace, err, want)
		}
		path, err := inst.Path("/etc/shop/shop.conf")
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("the file is not at its destination: %v", err)
		}
		// www-data is 33 and adm is 4 in Debian's base files.
		if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 33 || st.Gid != 4 {
			t.Errorf("the file is %04o %d:%d, want 0640 www-data:adm (33:4)", fi.Mode().Perm(), st.Uid, st.Gid)
		}
		if content, _ := os.ReadFile(path); string(content) != "listen 8080\n" {
			t.Errorf("the file holds %q", content)
		}
		if err := inst.Wait(30*time.Second, func() error {
			if !strings.Contains(inst.Console(), "install: the console shows this") {
				return errors.New("the script's output is not on the console")
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
		// A builder becomes an image: no unit of Elevator's, no SSH
		// settings, and no bundle left behind.
		for _, p := range []string{"/etc/systemd/system/elevator-agent.service", "/etc/ssh/sshd_config.d/50-elevator.conf"} {
			if _, err := inst.ReadFile(p); err == nil {
				t.Errorf("the builder has %s, which its image would keep", p)
			}
		}
		if _, err := inst.ReadFile(elevator.AgentStateDir + "/bake"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the bundle's directory is left on the builder: %v", err)
		}
	})

	t.Run("a bake whose script fails", func(t *testing.T) {
		inst, res := bake(t, "20261130-bake-fails", "i-0b00751ce0000012", map[string]string{
			"ok.sh":    "#!/bin/sh\nmkdir -p /var/lib/shop\necho ok > /var/lib/shop/ok\n",
			"fetch.sh": "#!/bin/sh\necho 'fetching shop-1.4.2.tar.gz'\necho 'curl: (6) Could not resolve host: mirror.invalid' >&2\nexit 6\n",
			"after.sh": "#!/bin/sh\ntouch /var/lib/shop/after\n",
		}, &elevator.ImageManifest{Scripts: []elevator.ImageScript{{Source: "ok.sh"}, {Source: "fetch.sh"}, {Source: "after.sh"}}})
		if res.OK || res.Script != "scripts/1/fetch.sh" || res.ExitCode != 6 ||
			res.Output != "fetching shop-1.4.2.tar.gz\ncurl: (6) Could not resolve host: mirror.invalid\n" {
			t.Errorf("result = %+v; want scripts/1/fetch.sh, exit code 6 and its output", res)
		}
		if _, err := inst.ReadFile("/var/lib/shop/ok"); err != nil {
			t.Errorf("the script before the failure did not run: %v", err)
		}
		if _, err := inst.ReadFile("/var/lib/shop/after"); err == nil {
			t.Error("the script after the failure ran")
		}
		if err := inst.Wait(30*time.Second, func() error {
			if c := inst.Console(); !strings.Contains(c, "scripts/1/fetch.sh failed with exit code 6") {
				return fmt.Errorf("the console does not say which script failed")
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})
}
