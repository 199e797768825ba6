package bakebundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	elevator "github.com/elevatorhq/elevator"
)

func TestABundleCarriesItsFilesAndScriptsInOrder(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"nginx.conf": "worker_processes 1;\n", "install.sh": "#!/bin/sh\necho hi\n", "more/setup.sh": "#!/bin/sh\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &elevator.ImageManifest{Dir: dir,
		Files:   []elevator.ImageFile{{Source: "nginx.conf", Dest: "/etc/nginx/nginx.conf", Mode: 0o640, Owner: "www-data", Path: "files[0]"}},
		Scripts: []elevator.ImageScript{{Source: "install.sh", Path: "scripts[0]"}, {Source: "more/setup.sh", Path: "scripts[1]"}},
	}
	var buf bytes.Buffer
	plan, err := Write(&buf, m)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	got, err := Extract(&buf, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Files) != 1 || got.Files[0] != plan.Files[0] || got.Files[0].Mode != 0o640 || got.Files[0].Owner != "www-data" {
		t.Errorf("files: got %+v, wrote %+v", got.Files, plan.Files)
	}
	if strings.Join(got.Scripts, " ") != "scripts/0/install.sh scripts/1/setup.sh" {
		t.Errorf("scripts: %v", got.Scripts)
	}
	if b, _ := os.ReadFile(filepath.Join(out, got.Scripts[0])); string(b) != "#!/bin/sh\necho hi\n" {
		t.Errorf("script content %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(out, got.Files[0].Name)); string(b) != "worker_processes 1;\n" {
		t.Errorf("file content %q", b)
	}
}

func TestAMissingScriptIsAnErrorAtItsField(t *testing.T) {
	m := &elevator.ImageManifest{Dir: t.TempDir(), Scripts: []elevator.ImageScript{{Source: "gone.sh", Path: "scripts[0]"}},
		Source: elevator.Source{File: "image.yml", Positions: map[string]elevator.Pos{"scripts[0]": {Line: 7, Column: 5}}}}
	_, err := Write(&bytes.Buffer{}, m)
	if err == nil || elevator.ErrorCode(err) != elevator.EINVALID || !strings.Contains(err.Error(), "image.yml:7:5: scripts[0]") {
		t.Fatalf("got %v", err)
	}
}

func TestExtractRefusesEntriesOutsideItsDirectory(t *testing.T) {
	for _, h := range []tar.Header{
		{Name: "../escape", Typeflag: tar.TypeReg},
		{Name: "/etc/passwd", Typeflag: tar.TypeReg},
		{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "/etc"},
	} {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		tw.Close()
		gz.Close()
		if _, err := Extract(&buf, t.TempDir()); err == nil || !strings.Contains(err.Error(), "want a regular file") {
			t.Errorf("%s: got %v", h.Name, err)
		}
	}
}

func TestExtractRefusesAPlanNamingWhatIsNotThere(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	js := `{"files":[],"scripts":["scripts/0/x.sh"]}`
	tw.WriteHeader(&tar.Header{Name: elevator.BakePlanName, Typeflag: tar.TypeReg, Size: int64(len(js)), Mode: 0o644})
	tw.Write([]byte(js))
	tw.Close()
	gz.Close()
	if _, err := Extract(&buf, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not in the bundle") {
		t.Fatalf("got %v", err)
	}
}
