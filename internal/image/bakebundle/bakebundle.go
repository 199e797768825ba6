// Package bakebundle writes and reads a bake's bundle: the gzipped tar a
// builder downloads from the state bucket (elevator.BakeBundleKey), with
// its elevator.BakePlan as elevator.BakePlanName and the files and
// scripts the plan names. `elevator image bake` writes it from an image
// manifest; the agent in bake mode extracts it on the builder.
package bakebundle

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	elevator "github.com/elevatorhq/elevator"
)

// Write writes the bundle of m's files and scripts, read from paths
// relative to m.Dir, to w, and returns its plan. A file that cannot be
// read is an EINVALID error naming the manifest's field.
func Write(w io.Writer, m *elevator.ImageManifest) (elevator.BakePlan, error) {
	plan := elevator.BakePlan{Files: []elevator.BakePlanFile{}, Scripts: []string{}}
	type entry struct{ name, src, field string }
	var entries []entry
	for i, f := range m.Files {
		name := "files/" + strconv.Itoa(i)
		plan.Files = append(plan.Files, elevator.BakePlanFile{Name: name, Dest: f.Dest, Mode: uint32(f.Mode.Perm()), Owner: f.Owner})
		entries = append(entries, entry{name, f.Source, f.Path})
	}
	for i, s := range m.Scripts {
		name := "scripts/" + strconv.Itoa(i) + "/" + path.Base(filepath.ToSlash(s.Source))
		plan.Scripts = append(plan.Scripts, name)
		entries = append(entries, entry{name, s.Source, s.Path})
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	js, err := json.Marshal(plan)
	if err != nil {
		return plan, err
	}
	if err := add(tw, elevator.BakePlanName, 0o644, int64(len(js)), strings.NewReader(string(js))); err != nil {
		return plan, err
	}
	for _, e := range entries {
		if err := addFile(tw, e.name, filepath.Join(m.Dir, e.src)); err != nil {
			return plan, elevator.Errorf(elevator.EINVALID, "%w", m.Source.Errorf(e.field, e.src, "cannot be read: %v", err))
		}
	}
	if err := tw.Close(); err != nil {
		return plan, err
	}
	return plan, gz.Close()
}

func addFile(tw *tar.Writer, name, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	return add(tw, name, 0o644, st.Size(), f)
}

func add(tw *tar.Writer, name string, mode int64, size int64, r io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := io.Copy(tw, r)
	return err
}

// MaxBundle bounds what Extract writes: 1 GiB.
const MaxBundle = 1 << 30

// Extract reads a bundle from r into dir, which must exist, and returns
// its plan. It takes only regular files with relative names that stay
// inside dir, refuses a bundle of more than MaxBundle bytes, and checks
// that every name the plan gives is in the bundle.
func Extract(r io.Reader, dir string) (elevator.BakePlan, error) {
	var plan elevator.BakePlan
	gz, err := gzip.NewReader(r)
	if err != nil {
		return plan, fmt.Errorf("bundle: %w", err)
	}
	tr := tar.NewReader(gz)
	have := map[string]bool{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return plan, fmt.Errorf("bundle: %w", err)
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || path.IsAbs(name) || name == "." || strings.HasPrefix(name, "../") || name == ".." {
			return plan, fmt.Errorf("bundle: entry %q: want a regular file with a relative name", h.Name)
		}
		if total += h.Size; total > MaxBundle {
			return plan, fmt.Errorf("bundle: more than %d bytes", MaxBundle)
		}
		dest := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
			return plan, err
		}
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return plan, err
		}
		_, err = io.Copy(f, io.LimitReader(tr, h.Size))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return plan, fmt.Errorf("bundle: %s: %w", name, err)
		}
		have[name] = true
	}
	if !have[elevator.BakePlanName] {
		return plan, fmt.Errorf("bundle: no %s", elevator.BakePlanName)
	}
	js, err := os.ReadFile(filepath.Join(dir, elevator.BakePlanName))
	if err != nil {
		return plan, err
	}
	if err := json.Unmarshal(js, &plan); err != nil {
		return plan, fmt.Errorf("bundle: %s: %w", elevator.BakePlanName, err)
	}
	for _, f := range plan.Files {
		if !have[f.Name] || !path.IsAbs(f.Dest) {
			return plan, fmt.Errorf("bundle: file %q to %q: not in the bundle, or not to an absolute path", f.Name, f.Dest)
		}
	}
	for _, s := range plan.Scripts {
		if !have[s] {
			return plan, fmt.Errorf("bundle: script %q is not in the bundle", s)
		}
	}
	return plan, nil
}
