package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/schemas"
)

var imageSchema = mustCompileSchema("https://github.com/elevatorhq/elevator/schemas/image.schema.json", schemas.Image)

// Defaults of an image manifest that the root package does not hold.
const (
	// DefaultBakeTier is the orbit tier a builder runs in when the
	// manifest names none: private tiers reach AWS through NAT or
	// endpoints and take no traffic from the internet.
	DefaultBakeTier = elevator.TierPrivate
	// DefaultImageFileMode is a copied file's mode when it names none.
	DefaultImageFileMode fs.FileMode = 0o644
)

// Bounds of an image manifest's timeout.
const (
	MinBakeTimeout = time.Minute
	MaxBakeTimeout = 24 * time.Hour
)

// ParseImage parses and validates an image manifest (image.yml). file
// names the manifest in messages, and its directory is where the files
// and scripts the manifest names are read from: one that is not there is
// an error at parse, before anything is launched.
//
// It returns elevator.FieldErrors listing every problem found, each with
// file:line:column, the field, the value and what is allowed. What
// depends on the orbit the image is baked in (its tiers and stages) is
// checked by CheckImageOrbit.
func ParseImage(file string, data []byte) (*elevator.ImageManifest, error) {
	d := parseDocument(file, data)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	imageSchema.validate(d)
	root, ok := d.value.(map[string]any)
	if !ok {
		return nil, d.errs.Sorted()
	}
	schemaErrs := len(d.errs)
	b := &appBuilder{orbitBuilder: &orbitBuilder{d: d, root: root}}
	m := b.image(filepath.Dir(file))
	d.errs = append(d.errs[:schemaErrs], withoutFaulted(d.errs[:schemaErrs], d.errs[schemaErrs:])...)
	if len(d.errs) > 0 {
		return nil, d.errs.Sorted()
	}
	return m, nil
}

func (b *appBuilder) image(dir string) *elevator.ImageManifest {
	r := b.root
	m := &elevator.ImageManifest{
		Name:         str(r["name"]),
		Phase:        strOr(r["phase"], elevator.ImagePhaseBase),
		App:          str(r["app"]),
		Service:      str(r["service"]),
		InstanceType: strOr(r["instance_type"], elevator.DefaultBakeInstanceType),
		VolumeSize:   integer(r["volume_size"], elevator.DefaultBakeVolumeSize),
		Tier:         strOr(r["tier"], DefaultBakeTier),
		Dir:          dir,
		Source:       b.d.source,
	}
	m.Timeout = b.duration("timeout", r["timeout"], elevator.DefaultBakeTimeout, MinBakeTimeout, MaxBakeTimeout)
	switch {
	case m.Phase == elevator.ImagePhaseService && (m.App == "" || m.Service == ""):
		if _, ok := r["phase"]; ok {
			b.errorf("phase", m.Phase, "a service's image names its app and service: add app (such as shop) and service (such as web)")
		}
	case m.Phase == elevator.ImagePhaseBase && (m.App != "" || m.Service != ""):
		field := "app"
		if m.App == "" {
			field = "service"
		}
		b.errorf(field, r[field], "only a service's image names an app and service; add phase: service, or remove %s", field)
	}
	b.imageBase(m, obj(r["base"]))
	for i, item := range list(r["files"]) {
		f := obj(item)
		path := fmt.Sprintf("files[%d]", i)
		file := elevator.ImageFile{Source: str(f["source"]), Dest: str(f["dest"]), Mode: DefaultImageFileMode, Owner: str(f["owner"]), Path: path}
		if s, ok := f["mode"].(string); ok {
			if mode, err := strconv.ParseUint(s, 8, 32); err == nil && mode <= 0o777 {
				file.Mode = fs.FileMode(mode)
			}
		}
		if file.Dest != "" && (strings.HasSuffix(file.Dest, "/") || slices.Contains(strings.Split(file.Dest, "/"), "..")) {
			b.errorf(path+".dest", file.Dest, "not a file's path; want an absolute path to a file without '..', such as /etc/nginx/nginx.conf")
		}
		b.localFile(path+".source", dir, file.Source)
		m.Files = append(m.Files, file)
	}
	for i, item := range list(r["scripts"]) {
		path := fmt.Sprintf("scripts[%d]", i)
		s := str(item)
		b.localFile(path, dir, s)
		m.Scripts = append(m.Scripts, elevator.ImageScript{Source: s, Path: path})
	}
	return m
}

// imageBase reads base: exactly one of id, ssm, name (with owners) or
// image (with stage).
func (b *appBuilder) imageBase(m *elevator.ImageManifest, base map[string]any) {
	if base == nil {
		return // absent, or the schema has said what is wrong
	}
	m.Base = elevator.AMISelector{ID: str(base["id"]), SSMParameter: str(base["ssm"]), Name: str(base["name"])}
	for _, o := range list(base["owners"]) {
		m.Base.Owners = append(m.Base.Owners, str(o))
	}
	m.BaseLine, m.BaseStage = str(base["image"]), str(base["stage"])
	set := 0
	for _, v := range []string{m.Base.ID, m.Base.SSMParameter, m.Base.Name, m.BaseLine} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		b.errorf("base", nil, "give exactly one of id (such as ami-0abcdef1234567890), ssm (a parameter such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64), name (with owners) or image (one of your image lines, with stage) (found %d)", set)
	}
	if set == 1 && m.Base.Name != "" && len(m.Base.Owners) == 0 {
		// Anyone may publish an image of any name: without owners, the
		// newest public image matching could be anybody's, run as root
		// with the bake's role.
		b.errorf("base.name", m.Base.Name, "a name pattern needs owners, the accounts the image may come from, such as owners: [amazon] or the publisher's account id: anyone may publish a public image of any name")
	}
	if len(m.Base.Owners) > 0 && m.Base.Name == "" {
		b.errorf("base.owners", nil, "owners only goes with name")
	}
	if m.BaseStage != "" && m.BaseLine == "" {
		b.errorf("base.stage", m.BaseStage, "stage only goes with image")
	}
	if p := m.Base.SSMParameter; p != "" && !elevator.ImageParameterAllowed(p) {
		b.errorf("base.ssm", p, "an image parameter must be one of AWS's, under %s, or the account's under %s, such as %sbase",
			elevator.AWSParameterPrefix, elevator.ImageParameterPrefix, elevator.ImageParameterPrefix)
	}
	if m.BaseLine != "" && m.BaseLine == m.Name {
		b.errorf("base.image", m.BaseLine, "an image line cannot be baked from itself; name the line of its base, such as base")
	}
}

// localFile checks that the file a manifest field names, relative to
// dir, is a regular file that stays inside dir.
func (b *appBuilder) localFile(path, dir, name string) {
	if name == "" {
		return // the schema has said what is wrong
	}
	if filepath.IsAbs(name) || !filepath.IsLocal(filepath.FromSlash(name)) {
		b.errorf(path, name, "not a path inside the manifest's directory; want a relative path without '..', such as scripts/install.sh")
		return
	}
	st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
	switch {
	case err != nil && os.IsNotExist(err):
		b.errorf(path, name, "no such file in %s; want a file relative to the manifest's directory", displayDir(dir))
	case err != nil:
		b.errorf(path, name, "cannot be read: %v", err)
	case !st.Mode().IsRegular():
		b.errorf(path, name, "not a regular file; want a file relative to the manifest's directory")
	}
}

func displayDir(dir string) string {
	if dir == "" || dir == "." {
		return "the current directory"
	}
	return dir
}

// CheckImageOrbit checks what an image manifest says against the orbit
// it is baked in, in region: its tier must be one of the region's tiers,
// and not one whose access is public, but for maintenance (a builder
// bakes in a private tier or in maintenance); its base's stage must be
// one of the orbit's image stages. It returns elevator.FieldErrors at the
// manifest's positions, or nil.
func CheckImageOrbit(m *elevator.ImageManifest, o *elevator.Orbit, region string) error {
	var errs elevator.FieldErrors
	for _, r := range o.Regions {
		if r.Name != region {
			continue
		}
		var names []string
		for _, t := range r.Tiers {
			names = append(names, t.Name)
			if t.Name == m.Tier && t.Access == elevator.AccessPublic && t.Name != elevator.TierMaintenance {
				errs = append(errs, m.Source.Errorf("tier", m.Tier, "tier %s of orbit %s is public (its instances get public IPs); a builder runs in a private tier such as %s (with the orbit's NAT) or in %s",
					m.Tier, o.Name, elevator.TierPrivate, elevator.TierMaintenance))
			}
		}
		if !slices.Contains(names, m.Tier) {
			errs = append(errs, m.Source.Errorf("tier", m.Tier, "orbit %s has no tier %s in %s; tiers are: %s", o.Name, m.Tier, region, strings.Join(names, ", ")))
		}
	}
	if m.BaseStage != "" && o.ImageStageIndex(m.BaseStage) < 0 {
		errs = append(errs, m.Source.Errorf("base.stage", m.BaseStage, "orbit %s has no image stage %s; stages are: %s", o.Name, m.BaseStage, strings.Join(o.ImageStages(), ", ")))
	}
	if len(errs) > 0 {
		return errs.Sorted()
	}
	return nil
}
