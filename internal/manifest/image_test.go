package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// imageDir writes files (name -> content) into a temp dir and returns the
// path an image manifest there would have.
func imageDir(t testing.TB, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\ntrue\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "image.yml")
}

const serviceImage = `name: shop-web
phase: service
app: shop
service: web
base:
  image: base
  stage: tested
files: [{source: files/nginx.conf, dest: /etc/nginx/nginx.conf, mode: "0600", owner: "nginx:nginx"}]
scripts: [scripts/install.sh, scripts/check.sh]
instance_type: t3.medium
volume_size: 20
tier: maintenance
timeout: 45m
`

func TestParseImageReadsEveryField(t *testing.T) {
	file := imageDir(t, "files/nginx.conf", "scripts/install.sh", "scripts/check.sh")
	m, err := ParseImage(file, []byte(serviceImage))
	if err != nil {
		t.Fatalf("ParseImage: %v", err)
	}
	if m.Name != "shop-web" || m.Phase != elevator.ImagePhaseService || m.App != "shop" || m.Service != "web" {
		t.Errorf("line and phase: %+v", m)
	}
	if m.BaseLine != "base" || m.BaseStage != "tested" || m.Base.ID+m.Base.SSMParameter+m.Base.Name != "" {
		t.Errorf("base: line %q stage %q selector %+v", m.BaseLine, m.BaseStage, m.Base)
	}
	want := elevator.ImageFile{Source: "files/nginx.conf", Dest: "/etc/nginx/nginx.conf", Mode: 0o600, Owner: "nginx:nginx", Path: "files[0]"}
	if len(m.Files) != 1 || m.Files[0] != want {
		t.Errorf("files: %+v, want [%+v]", m.Files, want)
	}
	if len(m.Scripts) != 2 || m.Scripts[1] != (elevator.ImageScript{Source: "scripts/check.sh", Path: "scripts[1]"}) {
		t.Errorf("scripts: %+v", m.Scripts)
	}
	if m.InstanceType != "t3.medium" || m.VolumeSize != 20 || m.Tier != "maintenance" || m.Timeout != 45*time.Minute {
		t.Errorf("builder: %s %d GiB in %s for %s", m.InstanceType, m.VolumeSize, m.Tier, m.Timeout)
	}
	if m.Dir != filepath.Dir(file) {
		t.Errorf("dir %q, want %q", m.Dir, filepath.Dir(file))
	}
	if pos := m.Source.At("tier"); pos.Line != 12 || pos.Column != 7 {
		t.Errorf("position of tier: %+v, want 12:7", pos)
	}
}

func TestParseImageAppliesDefaults(t *testing.T) {
	m, err := ParseImage(imageDir(t), []byte("name: base\nbase: {ssm: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64}\n"))
	if err != nil {
		t.Fatalf("ParseImage: %v", err)
	}
	if m.Phase != elevator.ImagePhaseBase || m.InstanceType != elevator.DefaultBakeInstanceType || m.VolumeSize != elevator.DefaultBakeVolumeSize ||
		m.Tier != elevator.TierPrivate || m.Timeout != elevator.DefaultBakeTimeout || len(m.Files)+len(m.Scripts) != 0 {
		t.Errorf("defaults: %+v", m)
	}
}

func TestParseImageRefusesBadInputWithPositions(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		files     []string
		want      []string
	}{
		{"a missing script file", "name: base\nbase: {id: ami-0123456789abcdef0}\nscripts:\n  - install.sh\n  - missing.sh\n", []string{"install.sh"},
			[]string{`image.yml:5:5: scripts[1]: "missing.sh": no such file in`}},
		{"a missing file to copy", "name: base\nbase: {id: ami-0123456789abcdef0}\nfiles: [{source: a.conf, dest: /etc/a.conf}]\n", nil,
			[]string{`image.yml:3:18: files[0].source: "a.conf": no such file in`}},
		{"a script outside the manifest's directory", "name: base\nbase: {id: ami-0123456789abcdef0}\nscripts: [../x.sh]\n", nil,
			[]string{`image.yml:3:11: scripts[0]: "../x.sh": not a path inside the manifest's directory`}},
		{"a volume too small", "name: base\nbase: {id: ami-0123456789abcdef0}\nvolume_size: 4\n", nil,
			[]string{`image.yml:3:14: volume_size: 4: must be at least 8`}},
		{"a volume too large", "name: base\nbase: {id: ami-0123456789abcdef0}\nvolume_size: 20000\n", nil,
			[]string{`image.yml:3:14: volume_size: 20000: must be at most 16384`}},
		{"two bases", "name: base\nbase: {id: ami-0123456789abcdef0, name: debian-*}\n", nil,
			[]string{`image.yml:2:7: base: give exactly one of id`}},
		{"no base", "name: base\n", nil,
			[]string{`image.yml:1:1: missing required field "base"`}},
		{"a stage without an image line", "name: base\nbase: {id: ami-0123456789abcdef0, stage: tested}\n", nil,
			[]string{`image.yml:2:42: base.stage: "tested": stage only goes with image`}},
		{"a parameter the orbit may not read", "name: base\nbase: {ssm: /shop/secret}\n", nil,
			[]string{`image.yml:2:13: base.ssm: "/shop/secret": an image parameter must be one of AWS's`}},
		{"a service image without its service", "name: shop-web\nphase: service\napp: shop\nbase: {image: base}\n", nil,
			[]string{`image.yml:2:8: phase: "service": a service's image names its app and service`}},
		{"a base image naming an app", "name: base\napp: shop\nbase: {id: ami-0123456789abcdef0}\n", nil,
			[]string{`image.yml:2:6: app: "shop": only a service's image names an app and service`}},
		{"a line baked from itself", "name: base\nbase: {image: base}\n", nil,
			[]string{`image.yml:2:15: base.image: "base": an image line cannot be baked from itself`}},
		{"a bad timeout", "name: base\nbase: {id: ami-0123456789abcdef0}\ntimeout: 10s\n", nil,
			[]string{`image.yml:3:10: timeout: "10s": must be between 1m and 24h`}},
		{"a relative destination and a bad mode", "name: base\nbase: {id: ami-0123456789abcdef0}\nfiles: [{source: a, dest: etc/a, mode: \"999\"}]\n", []string{"a"},
			[]string{`image.yml:3:27: files[0].dest: "etc/a": not allowed; want the absolute path on the builder`,
				`image.yml:3:40: files[0].mode: "999": not allowed; want octal permission bits`}},
		{"a name pattern without owners", "name: base\nbase: {name: debian-12-*}\n", nil,
			[]string{`image.yml:2:14: base.name: "debian-12-*": a name pattern needs owners`}},
		{"empty owners", "name: base\nbase: {name: debian-12-*, owners: []}\n", nil,
			[]string{`image.yml:2:14: base.name: "debian-12-*": a name pattern needs owners`, `image.yml:2:35: base.owners: needs at least 1 item`}},
		{"an unknown field", "name: base\nbase: {id: ami-0123456789abcdef0}\nvolume: 8\n", nil,
			[]string{`image.yml:3:1: volume: unknown field "volume"; allowed here: app, base, files`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := imageDir(t, tc.files...)
			_, err := ParseImage(file, []byte(tc.src))
			if err == nil {
				t.Fatal("accepted")
			}
			got := strings.ReplaceAll(err.Error(), file, "image.yml")
			lines := strings.Split(got, "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%s", len(lines), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

func TestCheckImageOrbitRefusesATierAndAStageTheOrbitLacks(t *testing.T) {
	file := imageDir(t)
	m, err := ParseImage(file, []byte("name: web\nbase: {image: base, stage: approved}\ntier: maintenance\n"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOrbit("orbit.yml", []byte("name: test\nregions: {us-east-1: {}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = CheckImageOrbit(m, o, "us-east-1")
	got := strings.ReplaceAll(fmtErr(err), file, "image.yml")
	want := `image.yml:2:28: base.stage: "approved": orbit test has no image stage approved; stages are: untested, tested` + "\n" +
		`image.yml:3:7: tier: "maintenance": orbit test has no tier maintenance in us-east-1; tiers are: public, private, data`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	m.Tier, m.BaseStage = "private", "tested"
	if err := CheckImageOrbit(m, o, "us-east-1"); err != nil {
		t.Errorf("a tier and stage the orbit has: %v", err)
	}
}

func TestCheckImageOrbitRefusesAPublicTierButMaintenance(t *testing.T) {
	file := imageDir(t)
	m, err := ParseImage(file, []byte("name: web\nbase: {id: ami-0123456789abcdef0}\ntier: public\n"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := ParseOrbit("orbit.yml", []byte("name: test\nregions: {us-east-1: {}}\nnetwork:\n  tiers: [{name: public}, {name: private}, {name: maintenance}, {name: edge, access: public}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for tier, want := range map[string]string{
		"public":      `image.yml:3:7: tier: "public": tier public of orbit test is public (its instances get public IPs); a builder runs in a private tier such as private (with the orbit's NAT) or in maintenance`,
		"edge":        `image.yml:3:7: tier: "edge": tier edge of orbit test is public`,
		"private":     "<nil>",
		"maintenance": "<nil>",
	} {
		m.Tier = tier
		got := strings.ReplaceAll(fmtErr(CheckImageOrbit(m, o, "us-east-1")), file, "image.yml")
		if !strings.HasPrefix(got, want) {
			t.Errorf("tier %s:\n got %s\nwant %s...", tier, got, want)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func FuzzParseImage(f *testing.F) {
	f.Add([]byte(serviceImage))
	f.Add([]byte("name: base\nbase: {name: debian-12-*, owners: [amazon]}\nfiles: [{source: a, dest: /a, mode: \"755\"}]\n"))
	f.Add([]byte("name: base\nbase: {ssm: /elevator/images/x}\nvolume_size: 8.0\ntimeout: 1h30m\n"))
	f.Add([]byte("a: &a [*a]\n"))
	dir := imageDir(f, "files/nginx.conf", "scripts/install.sh", "scripts/check.sh", "a")
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseImage(dir, data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error with no message")
			}
			return
		}
		if m.Name == "" || m.VolumeSize < elevator.MinBakeVolumeSize || m.VolumeSize > elevator.MaxBakeVolumeSize || m.Timeout < MinBakeTimeout {
			t.Fatalf("accepted a manifest without a name, or with a bad volume or timeout: %+v", m)
		}
		set := 0
		for _, v := range []string{m.Base.ID, m.Base.SSMParameter, m.Base.Name, m.BaseLine} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("accepted a manifest with %d bases: %+v", set, m)
		}
	})
}
