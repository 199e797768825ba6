// Package awsrelease runs the release engine (internal/release) on AWS: a
// Cloud per region on Elevator's AWS adapters, and a Store and a Locker on
// the state bucket and tables that every orbit region has (see
// internal/compile's region stack). Records, halts and locks live in the
// orbit's home region, its first, so that any machine can observe, halt or
// resume a release.
//
//	b, err := awsrelease.New(awsrelease.Config{Orbit: "prod", AWS: cfgs,
//		Bucket: outputs["StateBucket"]})
//	engine, err := release.New(b.EngineConfig(owner))
//
// Differences from AWS that matter here, checked on moto 5.2.5: target
// health is only healthy, unused (a stopped instance) or draining; an
// Auto Scaling group is deleted at once; a second CreateAutoScalingGroup
// of a name replaces the group (see createRetryer); launch templates
// ignore client tokens; lifecycle hooks given at creation are dropped
// (CreateGroup puts them after); the CloudWatch client must speak
// awsQuery (internal/aws/cloudwatch).
package awsrelease

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/s3"
	"github.com/elevatorhq/elevator/internal/release"
)

// Config is what New needs to run releases of one orbit.
type Config struct {
	Orbit string
	// AWS has one aws.Config per region of the orbit, the home region
	// (the orbit's first) first.
	AWS []aws.Config
	// Bucket is the state bucket of the home region: the orbit stack's
	// StateBucket output there (see elevator.StateBucketName).
	Bucket string
	// ReleasesTable and LocksTable name the home region's tables;
	// elevator.ReleasesTableName(Orbit) and elevator.LocksTableName(Orbit)
	// when empty.
	ReleasesTable, LocksTable string
	// Now is the time source of audit entries without a time; time.Now
	// when nil.
	Now func() time.Time
	// ECS says the orbit has an ECS cluster (its manifest's `ecs:`
	// section: Orbit.ECS != nil). Without one the deployer has no ECS
	// permissions, so the Clouds look up no ECS service or task
	// definition (see Cloud.WithECS).
	ECS bool
}

// Backend is the Store, the Locker and the Clouds the engine needs for an
// orbit.
type Backend struct {
	Store  *Store
	Locker *Locker
	Clouds []release.Cloud
}

// New returns the Backend of an orbit: its Store and Locker in the home
// region (AWS[0]), and a Cloud per region. It returns EINVALID when the
// orbit, a region or the bucket is missing, or a region is given twice.
// It makes no call.
func New(c Config) (*Backend, error) {
	if c.Orbit == "" || c.Bucket == "" || len(c.AWS) == 0 {
		return nil, elevator.Errorf(elevator.EINVALID, "release backend: an orbit, its state bucket and at least one region are required")
	}
	if c.ReleasesTable == "" {
		c.ReleasesTable = elevator.ReleasesTableName(c.Orbit)
	}
	if c.LocksTable == "" {
		c.LocksTable = elevator.LocksTableName(c.Orbit)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	home := c.AWS[0]
	items := dynamodb.New(home)
	b := &Backend{
		Store: &Store{orbit: c.Orbit, bucket: c.Bucket, table: c.ReleasesTable, locks: c.LocksTable, objects: s3.New(home), records: items,
			now: c.Now, apps: map[string]string{}},
		Locker: &Locker{orbit: c.Orbit, table: c.LocksTable, items: items},
	}
	seen := map[string]bool{}
	for _, cfg := range c.AWS {
		if cfg.Region == "" || seen[cfg.Region] {
			return nil, elevator.Errorf(elevator.EINVALID, "release backend of orbit %s: region %q is empty or given twice", c.Orbit, cfg.Region)
		}
		seen[cfg.Region] = true
		b.Clouds = append(b.Clouds, NewCloud(cfg).WithECS(c.ECS))
	}
	return b, nil
}

// EngineConfig returns a release.Config with the backend's parts and
// owner; the caller sets the rest (clock, poll interval, lease, logger).
func (b *Backend) EngineConfig(owner string) release.Config {
	return release.Config{Store: b.Store, Locker: b.Locker, Clouds: b.Clouds, Owner: owner}
}
