package elevator

import (
	"io/fs"
	"slices"
	"strings"
	"time"
)

// This file holds what Elevator's machine images are made of: the image
// manifest `elevator image bake` reads, the tags every baked image and
// each of its copies carries, the stages images are promoted through,
// and the objects a bake keeps in the orbit's state bucket.

// Image phases: a base image is baked from a third party's; a service's
// image from a base image, for one service of one app (Asiaq's phase 1
// and phase 2).
const (
	ImagePhaseBase    = "base"
	ImagePhaseService = "service"
)

// DefaultImageStages are an orbit's image stages when its manifest names
// none: a bake tags its image with the first; the last is the one that
// shares and copies.
var DefaultImageStages = []string{"untested", "tested"}

// ImageSettings is what an orbit's manifest says of machine images
// (images: in orbit.yml).
type ImageSettings struct {
	// Stages are the stages images are promoted through, in order; nil
	// means DefaultImageStages (see Orbit.ImageStages).
	Stages []string
	// MinStage is the first stage a release into the orbit accepts an
	// image at; "" accepts any image.
	MinStage string
	// ShareAccounts, ShareOrganizations and ShareOUs are whom an image
	// is shared with when it reaches the last stage: 12-digit account
	// ids, organization ARNs and organizational unit ARNs.
	ShareAccounts, ShareOrganizations, ShareOUs []string
	// KMSKey is the KMS key copies of an image to the orbit's other
	// regions are encrypted with: alias/NAME (an alias of that name in
	// each region) or a multi-region key (its mrk- id, or a key ARN whose
	// key id starts with mrk-), as the orbit manifest's schema allows; ""
	// leaves the copy of an unencrypted image unencrypted, and that of an
	// encrypted one under the region's default EBS key. See KMSKeyIn.
	KMSKey string
}

// KMSKeyIn is KMSKey as a copy into region names it: a key ARN with its
// region set to region (a multi-region key's replica there has the same
// key id), else KMSKey as it is (an alias or key id resolves in the
// region of the call).
func (s ImageSettings) KMSKeyIn(region string) string {
	parts := strings.SplitN(s.KMSKey, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kms" {
		return s.KMSKey
	}
	parts[3] = region
	return strings.Join(parts, ":")
}

// ImageStages are the orbit's image stages, in order.
func (o *Orbit) ImageStages() []string {
	if len(o.Images.Stages) == 0 {
		return DefaultImageStages
	}
	return o.Images.Stages
}

// ImageStageIndex is the position of stage among the orbit's image
// stages, or -1 when the orbit has no such stage.
func (o *Orbit) ImageStageIndex(stage string) int {
	return slices.Index(o.ImageStages(), stage)
}

// ImageManifest is what an image manifest (image.yml) says once parsed:
// how `elevator image bake` builds one machine image.
type ImageManifest struct {
	// Name is the image line: every image baked from the manifest is
	// tagged TagImage=Name, and the images of one line are listed,
	// promoted, kept and cleaned up together.
	Name string
	// Phase is ImagePhaseBase or ImagePhaseService; a service's image
	// names its App and Service.
	Phase        string
	App, Service string
	// Base is the image the bake starts from, when the manifest names it
	// by id, SSM parameter or name; empty when it names an image line.
	Base AMISelector
	// BaseLine, when set, names the base by image line instead: the
	// newest image of the account tagged TagImage=BaseLine, at BaseStage
	// or past it in the baking orbit's stages when BaseStage is set.
	BaseLine, BaseStage string
	// Files are copied onto the builder before the scripts run, in
	// manifest order.
	Files []ImageFile
	// Scripts run on the builder as root, in order; the first that fails
	// fails the bake.
	Scripts      []ImageScript
	InstanceType string
	VolumeSize   int    // GiB of the root volume
	Tier         string // the orbit tier the builder runs in
	// Timeout bounds how long the builder may take to run the scripts
	// and report.
	Timeout time.Duration
	// Dir is the directory of the manifest: files and scripts are read
	// from paths relative to it.
	Dir    string
	Source Source
}

// ImageFile is a file copied onto a builder.
type ImageFile struct {
	Source string      // the local file, relative to the manifest's directory
	Dest   string      // the absolute path on the builder
	Mode   fs.FileMode // permission bits
	Owner  string      // user or user:group on the builder; "" is root:root
	Path   string      // field path in the manifest, such as "files[0]"
}

// ImageScript is a provisioning script run on a builder.
type ImageScript struct {
	Source string // the local file, relative to the manifest's directory
	Path   string // field path in the manifest, such as "scripts[0]"
}

// Image manifest defaults and bounds.
const (
	DefaultBakeInstanceType = "t3.small"
	DefaultBakeVolumeSize   = 16 // GiB
	MinBakeVolumeSize       = 8
	MaxBakeVolumeSize       = 16384
	DefaultBakeTimeout      = 30 * time.Minute
)

// Where a bake keeps its objects in the state bucket of the region it
// bakes in: the record, the bundle of files and scripts the builder
// downloads, and the result the builder uploads.
const BakesPrefix = "images/bakes/"

// BakeRecordKey is the key of a bake's record.
func BakeRecordKey(id string) string { return BakesPrefix + id + "/record.json" }

// BakeBundleKey is the key of the bundle a bake's builder downloads: a
// gzipped tar of BakePlanName and the files and scripts it names.
func BakeBundleKey(id string) string { return BakesPrefix + id + "/bundle.tar.gz" }

// BakeResultKey is the key of the BakeResult a bake's builder uploads
// when its scripts are done.
func BakeResultKey(id string) string { return BakesPrefix + id + "/result.json" }

// BakePlanName is the name, in a bake's bundle, of its BakePlan as JSON.
const BakePlanName = "plan.json"

// BakePlan is what a builder does, in order: copy each file to its
// destination, then run each script. Names are paths inside the bundle.
type BakePlan struct {
	Files   []BakePlanFile `json:"files"`
	Scripts []string       `json:"scripts"`
}

// BakePlanFile is one file of a BakePlan.
type BakePlanFile struct {
	Name  string `json:"name"`
	Dest  string `json:"dest"`
	Mode  uint32 `json:"mode"`
	Owner string `json:"owner,omitempty"`
}

// BakeResult is what a builder reports: whether every script succeeded,
// or which one failed, its exit code and the end of its output
// (MaxBakeOutput bytes at most).
type BakeResult struct {
	OK       bool      `json:"ok"`
	Script   string    `json:"script,omitempty"` // the failed script's name, as the manifest gave it
	ExitCode int       `json:"exit_code"`
	Output   string    `json:"output,omitempty"`
	At       time.Time `json:"at"`
}

// MaxBakeOutput bounds the output a BakeResult carries: the last bytes of
// the failed script's output.
const MaxBakeOutput = 16 << 10

// Image audit actions.
const (
	AuditImageBake    = "image-bake"    // a bake ended; Outcome is its end state, Detail the image
	AuditImagePromote = "image-promote" // an image was promoted; Detail says from and to which stage
	AuditImageRevoke  = "image-revoke"  // an image was revoked; Detail is the reason
	AuditImageCleanup = "image-cleanup" // images were deregistered; Detail lists them
)

// ReleaseImages is what a release document carries of its orbit's image
// settings: the orbit's stages, in order, and the first stage a release
// accepts an image at (ImageSettings.MinStage).
type ReleaseImages struct {
	Stages   []string `json:"stages"`
	MinStage string   `json:"min_stage"`
}

// ReleaseImages returns what a release into the orbit carries of its
// image settings, or nil when the orbit accepts images at any stage.
func (o *Orbit) ReleaseImages() *ReleaseImages {
	if o.Images.MinStage == "" {
		return nil
	}
	return &ReleaseImages{Stages: slices.Clone(o.ImageStages()), MinStage: o.Images.MinStage}
}

// StageIndex is the position of stage among the stages, or -1.
func (ri *ReleaseImages) StageIndex(stage string) int { return slices.Index(ri.Stages, stage) }

func (ri *ReleaseImages) check(bad func(string, ...any)) {
	if ri == nil {
		return
	}
	if len(ri.Stages) == 0 {
		bad("images.stages: want at least one")
	}
	for i, s := range ri.Stages {
		if s == "" || slices.Index(ri.Stages, s) != i {
			bad("images.stages[%d] %q: empty or listed twice", i, s)
		}
	}
	if ri.StageIndex(ri.MinStage) < 0 {
		bad("images.min_stage %q: not one of images.stages", ri.MinStage)
	}
}
