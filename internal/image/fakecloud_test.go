package image

// fakeRegion is a fake, not moto: an in-memory region behind the same
// interfaces as the EC2 and Auto Scaling adapters (RegionImages,
// RegionGroups, Remover) that really stores, answers as AWS does
// (deleting a snapshot an image still names fails), counts every call by
// kind, and can fail chosen calls. It stands in for AWS where moto cannot
// show a behaviour (a thousand images in three regions, a failing
// deregister) and counts the calls a cleanup makes.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/elevatorhq/elevator/internal/aws/autoscaling"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
	"github.com/elevatorhq/elevator/internal/aws/ssm"
)

type fakeRegion struct {
	mu        sync.Mutex
	images    map[string]ec2.ImageDetail
	snapshots map[string]bool
	snapOf    map[string]string              // snapshot -> the image that names it
	templates map[string][]ec2.TemplateImage // by template name: versions 1..n
	defaults  map[string]int64               // template name -> default version
	groups    []autoscaling.GroupLaunch
	configs   []autoscaling.LaunchConfiguration
	instances []ec2.InstanceImage
	params    []ssm.NamedValue
	// pageSize is how many items one describe call returns, by call (AWS's
	// largest page when absent): a paginated read makes a call per page.
	pageSize map[string]int
	calls    map[string]int
	// fail makes the named call on the named id fail: "DeregisterImage ami-1".
	fail map[string]bool
	// inUse makes DeleteSnapshot of a snapshot answer that it is in use
	// (as AWS may for a while after its image was deregistered) that many
	// more times.
	inUse map[string]int
}

func newFakeRegion() *fakeRegion {
	return &fakeRegion{images: map[string]ec2.ImageDetail{}, snapshots: map[string]bool{}, snapOf: map[string]string{}, templates: map[string][]ec2.TemplateImage{},
		defaults: map[string]int64{}, pageSize: map[string]int{}, calls: map[string]int{}, fail: map[string]bool{}, inUse: map[string]int{}}
}

// awsPageSizes are the largest pages AWS returns (MaxResults or
// MaxRecords), which the adapters ask for.
var awsPageSizes = map[string]int{"DescribeImages": 1000, "DescribeLaunchTemplateVersions": 200, "DescribeAutoScalingGroups": 100,
	"DescribeLaunchConfigurations": 100, "DescribeInstances": 1000, "GetParametersByPath": 10}

// pages is how many calls a paginated read of n items makes.
func (f *fakeRegion) pages(call string, n int) int {
	size := f.pageSize[call]
	if size == 0 {
		size = awsPageSizes[call]
	}
	if n == 0 {
		return 1
	}
	return (n + size - 1) / size
}

func (f *fakeRegion) count(call string, n int) {
	f.calls[call] += n
}

func (f *fakeRegion) addImage(img ec2.ImageDetail) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if img.State == "" {
		img.State = "available"
	}
	if img.Snapshots == nil {
		img.Snapshots = []string{"snap-" + img.ID[4:]}
	}
	for _, s := range img.Snapshots {
		f.snapshots[s] = true
		f.snapOf[s] = img.ID
	}
	f.images[img.ID] = img
}

// addTemplate adds a template whose versions launch images, in order;
// the first version is the default.
func (f *fakeRegion) addTemplate(name string, images ...string) {
	for i, id := range images {
		f.templates[name] = append(f.templates[name], ec2.TemplateImage{TemplateID: "lt-" + name, TemplateName: name, Version: int64(i + 1), ImageID: id})
	}
	f.defaults[name] = 1
}

func (f *fakeRegion) OwnImagesTagged(_ context.Context, key string) ([]ec2.ImageDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2.ImageDetail
	for _, img := range f.images {
		if _, ok := img.Tags[key]; ok {
			out = append(out, img)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	f.count("DescribeImages", f.pages("DescribeImages", len(out)))
	return out, nil
}

func (f *fakeRegion) version(name string, v int64) ec2.TemplateImage {
	ti := f.templates[name][v-1]
	ti.Default = f.defaults[name] == v
	return ti
}

func (f *fakeRegion) UsableTemplateImages(context.Context) ([]ec2.TemplateImage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2.TemplateImage
	for _, name := range sortedNames(f.templates) {
		out = append(out, f.version(name, f.defaults[name]))
		if latest := int64(len(f.templates[name])); latest != f.defaults[name] {
			out = append(out, f.version(name, latest))
		}
	}
	f.count("DescribeLaunchTemplateVersions", f.pages("DescribeLaunchTemplateVersions", len(out)))
	return out, nil
}

func (f *fakeRegion) TemplateVersionImages(_ context.Context, idOrName string, versions []string) ([]ec2.TemplateImage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DescribeLaunchTemplateVersions", 1)
	name := idOrName
	if len(name) > 3 && name[:3] == "lt-" {
		name = name[3:]
	}
	var out []ec2.TemplateImage
	for _, v := range versions {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || int(n) > len(f.templates[name]) {
			continue
		}
		out = append(out, f.version(name, n))
	}
	return out, nil
}

func (f *fakeRegion) LiveInstanceImages(context.Context) ([]ec2.InstanceImage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DescribeInstances", f.pages("DescribeInstances", len(f.instances)))
	return slices.Clone(f.instances), nil
}

func (f *fakeRegion) GroupLaunches(context.Context) ([]autoscaling.GroupLaunch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DescribeAutoScalingGroups", f.pages("DescribeAutoScalingGroups", len(f.groups)))
	return slices.Clone(f.groups), nil
}

func (f *fakeRegion) LaunchConfigurations(context.Context) ([]autoscaling.LaunchConfiguration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DescribeLaunchConfigurations", f.pages("DescribeLaunchConfigurations", len(f.configs)))
	return slices.Clone(f.configs), nil
}

func (f *fakeRegion) ParametersUnder(_ context.Context, path string) ([]ssm.NamedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ssm.NamedValue
	for _, p := range f.params {
		if strings.HasPrefix(p.Name, path) {
			out = append(out, p)
		}
	}
	f.count("GetParametersByPath", f.pages("GetParametersByPath", len(out)))
	return out, nil
}

func (f *fakeRegion) DeregisterImage(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DeregisterImage", 1)
	if f.fail["DeregisterImage "+id] {
		return fmt.Errorf("deregister image %s: injected failure", id)
	}
	delete(f.images, id)
	return nil
}

func (f *fakeRegion) DeleteSnapshot(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count("DeleteSnapshot", 1)
	if f.fail["DeleteSnapshot "+id] {
		return fmt.Errorf("delete snapshot %s: injected failure", id)
	}
	if img, ok := f.images[f.snapOf[id]]; ok && slices.Contains(img.Snapshots, id) {
		return fmt.Errorf("delete snapshot %s: InvalidSnapshot.InUse by %s: %w", id, img.ID, ec2.ErrSnapshotInUse)
	}
	if f.inUse[id] > 0 {
		f.inUse[id]--
		return fmt.Errorf("delete snapshot %s: InvalidSnapshot.InUse: %w", id, ec2.ErrSnapshotInUse)
	}
	delete(f.snapshots, id)
	return nil
}

func sortedNames[T any](m map[string]T) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// fakeCloud is fake regions by name.
type fakeCloud map[string]*fakeRegion

func (c fakeCloud) regions() []Region {
	var rs []Region
	for _, name := range sortedNames(c) {
		rs = append(rs, Region{Name: name, Images: c[name], Groups: c[name], Parameters: c[name]})
	}
	return rs
}

func (c fakeCloud) removers() map[string]Remover {
	m := map[string]Remover{}
	for name, r := range c {
		m[name] = r
	}
	return m
}

// calls sums the calls of every region by kind.
func (c fakeCloud) calls() map[string]int {
	sum := map[string]int{}
	for _, r := range c {
		r.mu.Lock()
		for k, n := range r.calls {
			sum[k] += n
		}
		r.mu.Unlock()
	}
	return sum
}
