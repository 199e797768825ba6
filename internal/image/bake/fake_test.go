package bake

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// fakeCloud is an in-memory EC2 and state bucket that behaves: instances
// go running -> stopping -> stopped -> terminated as asked (one look
// after each request), images go pending -> available with a snapshot,
// objects are stored. It stands in for AWS where the emulator cannot run
// a builder's scripts, and fails or crashes on request (hook).
type fakeCloud struct {
	mu        sync.Mutex
	objects   map[string][]byte
	instances map[string]*ec2.Instance
	images    map[string]*ec2.ImageDetail
	snapshots map[string]bool
	tags      map[string]map[string]string // snapshot tags
	launches  []ec2.BuilderInput
	calls     []string
	n         int
	// hook runs before each call (op is the method's name); an error it
	// returns is the call's. It may panic to play a crash.
	hook func(op string) error
	// onLaunch plays the builder: it runs when an instance is launched.
	onLaunch func(id string)
	// afterCall runs after each call succeeded; it may panic to play a
	// crash after AWS did the work but before the caller saw it.
	afterCall func(op string)
	// lostAnswer, when it returns an error for op, makes the call do its
	// work and return that error: an answer lost on the way back.
	lostAnswer func(op string) error
	// tagLag plays EC2's eventual consistency: a lookup by tag does not
	// see an instance until tagLag after its launch, by clock.
	tagLag   time.Duration
	clock    func() time.Time
	launched map[string]time.Time
	tokens   map[string]string // client token -> instance id
	// deleted lists the objects deleted, in order.
	deleted []string
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{objects: map[string][]byte{}, instances: map[string]*ec2.Instance{}, images: map[string]*ec2.ImageDetail{},
		snapshots: map[string]bool{}, tags: map[string]map[string]string{},
		clock: time.Now, launched: map[string]time.Time{}, tokens: map[string]string{}}
}

func (f *fakeCloud) call(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return elevator.Errorf(elevator.EINTERRUPTED, "%s: %w", op, err) // as the SDK does
	}
	f.mu.Lock()
	f.calls = append(f.calls, op)
	hook := f.hook
	f.mu.Unlock()
	if hook != nil {
		return hook(op)
	}
	return nil
}

func (f *fakeCloud) after(op string) {
	if f.afterCall != nil {
		f.afterCall(op)
	}
}

func (f *fakeCloud) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%017x", prefix, f.n)
}

func notFound(what string) error { return elevator.Errorf(elevator.ENOTFOUND, "no %s", what) }

func (f *fakeCloud) PutObject(ctx context.Context, key string, body []byte) error {
	if err := f.call(ctx, "PutObject"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = slices.Clone(body)
	return nil
}

func (f *fakeCloud) DeleteObject(ctx context.Context, key string) error {
	if err := f.call(ctx, "DeleteObject"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, key)
	f.deleted = append(f.deleted, key)
	return nil
}

func (f *fakeCloud) GetObject(ctx context.Context, key string) ([]byte, error) {
	if err := f.call(ctx, "GetObject"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[key]
	if !ok {
		return nil, notFound("object " + key)
	}
	return b, nil
}

func (f *fakeCloud) ListKeys(ctx context.Context, prefix string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (f *fakeCloud) RunBuilder(ctx context.Context, in ec2.BuilderInput) (string, error) {
	if err := f.call(ctx, "RunBuilder"); err != nil {
		return "", err
	}
	f.mu.Lock()
	if id, ok := f.tokens[in.ClientToken]; ok && in.ClientToken != "" {
		f.mu.Unlock()
		if f.lostAnswer != nil {
			if err := f.lostAnswer("RunBuilder"); err != nil {
				return "", err
			}
		}
		return id, nil // as EC2 does for a launch retried with its token
	}
	id := f.id("i")
	f.instances[id] = &ec2.Instance{ID: id, State: "running", Tags: maps.Clone(in.Tags)}
	f.launches = append(f.launches, in)
	f.launched[id] = f.clock()
	if in.ClientToken != "" {
		f.tokens[in.ClientToken] = id
	}
	onLaunch := f.onLaunch
	f.mu.Unlock()
	if onLaunch != nil {
		onLaunch(id)
	}
	f.after("RunBuilder")
	if f.lostAnswer != nil {
		if err := f.lostAnswer("RunBuilder"); err != nil {
			return "", err
		}
	}
	return id, nil
}

func (f *fakeCloud) InstancesTagged(ctx context.Context, tags map[string]string) ([]ec2.Instance, error) {
	if err := f.call(ctx, "InstancesTagged"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2.Instance
	for _, id := range slices.Sorted(maps.Keys(f.instances)) {
		i := f.instances[id]
		if f.clock().Sub(f.launched[id]) < f.tagLag {
			continue // not seen by tag yet
		}
		if hasTags(i.Tags, tags) {
			out = append(out, *i)
		}
	}
	return out, nil
}

func hasTags(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeCloud) Instances(ctx context.Context, ids []string) ([]ec2.Instance, error) {
	if err := f.call(ctx, "Instances"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2.Instance
	for _, id := range ids {
		if i, ok := f.instances[id]; ok {
			out = append(out, *i)
			if i.State == "stopping" {
				i.State = "stopped" // the next look sees it stopped
			}
		}
	}
	return out, nil
}

func (f *fakeCloud) StopInstance(ctx context.Context, id string) error {
	if err := f.call(ctx, "StopInstance"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[id]
	if !ok {
		return notFound("instance " + id)
	}
	if i.State == "running" {
		i.State = "stopping"
	}
	return nil
}

func (f *fakeCloud) TerminateInstance(ctx context.Context, id string) error {
	if err := f.call(ctx, "TerminateInstance"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.instances[id]
	if !ok {
		return notFound("instance " + id)
	}
	i.State = "terminated"
	return nil
}

func (f *fakeCloud) CreateImage(ctx context.Context, instanceID, name, description string, tags map[string]string) (string, error) {
	if err := f.call(ctx, "CreateImage"); err != nil {
		return "", err
	}
	f.mu.Lock()
	for _, img := range f.images {
		if img.Name == name {
			f.mu.Unlock()
			return "", elevator.Errorf(elevator.EINVALID, "image name %s is taken", name)
		}
	}
	if i := f.instances[instanceID]; i == nil || i.State != "stopped" {
		f.mu.Unlock()
		return "", elevator.Errorf(elevator.EAWS, "instance %s is not stopped", instanceID)
	}
	id, snap := f.id("ami"), f.id("snap")
	f.images[id] = &ec2.ImageDetail{Image: ec2.Image{ID: id, Name: name, State: "pending", Tags: maps.Clone(tags), Created: time.Now(), Snapshots: []string{snap}}, RootDevice: "/dev/xvda"}
	f.snapshots[snap] = true
	f.tags[snap] = maps.Clone(tags)
	f.mu.Unlock()
	f.after("CreateImage")
	return id, nil
}

func (f *fakeCloud) OwnImages(ctx context.Context, name string, tags map[string]string) ([]ec2.ImageDetail, error) {
	if err := f.call(ctx, "OwnImages"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ec2.ImageDetail
	for _, id := range slices.Sorted(maps.Keys(f.images)) {
		img := f.images[id]
		if (name == "" || img.Name == name) && hasTags(img.Tags, tags) {
			out = append(out, *img)
		}
	}
	return out, nil
}

func (f *fakeCloud) ImageDetail(ctx context.Context, id string) (ec2.ImageDetail, error) {
	if err := f.call(ctx, "ImageDetail"); err != nil {
		return ec2.ImageDetail{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[id]
	if !ok {
		return ec2.ImageDetail{}, notFound("image " + id)
	}
	out := *img
	if img.State == "pending" {
		img.State = "available" // the next look sees it available
	}
	return out, nil
}

func (f *fakeCloud) Tag(ctx context.Context, id string, tags map[string]string) error {
	if err := f.call(ctx, "Tag"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if img, ok := f.images[id]; ok {
		maps.Copy(img.Tags, tags)
		return nil
	}
	if f.snapshots[id] {
		maps.Copy(f.tags[id], tags)
		return nil
	}
	return notFound("resource " + id)
}

func (f *fakeCloud) DeregisterImage(ctx context.Context, id string) error {
	if err := f.call(ctx, "DeregisterImage"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.images[id]; !ok {
		return notFound("image " + id)
	}
	delete(f.images, id)
	return nil
}

func (f *fakeCloud) DeleteSnapshot(ctx context.Context, id string) error {
	if err := f.call(ctx, "DeleteSnapshot"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.snapshots[id] {
		return notFound("snapshot " + id)
	}
	delete(f.snapshots, id)
	delete(f.tags, id)
	return nil
}

// live returns the instances not terminated.
func (f *fakeCloud) live() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id, i := range f.instances {
		if i.State != "terminated" {
			out = append(out, id)
		}
	}
	return out
}

// report writes the builder's result, as the agent in bake mode does.
func (f *fakeCloud) report(id string, res elevator.BakeResult) {
	b := fmt.Appendf(nil, `{"ok":%t,"script":%q,"exit_code":%d,"output":%q}`, res.OK, res.Script, res.ExitCode, res.Output)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[elevator.BakeResultKey(id)] = b
}

// fakeLookup answers Start's look-ups: one orbit VPC with a subnet per
// tier, the bake security group and profile unless told otherwise, and
// images by id from the fake cloud.
type fakeLookup struct {
	cloud      *fakeCloud
	noGroup    bool
	noProfile  bool
	parameters map[string]string
}

func (l *fakeLookup) ImageExists(ctx context.Context, id string) error {
	_, err := l.cloud.ImageDetail(ctx, id)
	return err
}

func (l *fakeLookup) NewestImage(ctx context.Context, pattern string, owners []string) (string, error) {
	return "", notFound("image named " + pattern)
}

func (l *fakeLookup) Parameter(ctx context.Context, name string) (string, error) {
	if v, ok := l.parameters[name]; ok {
		return v, nil
	}
	return "", notFound("parameter " + name)
}

func (l *fakeLookup) VPCs(ctx context.Context, tag, value string) ([]ec2.VPC, error) {
	return []ec2.VPC{{ID: "vpc-1", Tags: map[string]string{tag: value}}}, nil
}

func (l *fakeLookup) Subnets(ctx context.Context, vpcID string) ([]ec2.Subnet, error) {
	return []ec2.Subnet{
		{ID: "subnet-pub", Tags: map[string]string{elevator.TagTier: "public"}},
		{ID: "subnet-priv", Tags: map[string]string{elevator.TagTier: "private"}},
	}, nil
}

func (l *fakeLookup) SecurityGroupNamed(ctx context.Context, vpcID, name string) (ec2.SecurityGroup, error) {
	if l.noGroup {
		return ec2.SecurityGroup{}, notFound("security group " + name)
	}
	return ec2.SecurityGroup{ID: "sg-bake", Name: name, VPCID: vpcID}, nil
}

func (l *fakeLookup) InstanceProfileExists(ctx context.Context, name string) error {
	if l.noProfile {
		return notFound("instance profile " + name)
	}
	return nil
}
