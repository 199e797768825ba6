package elevator

import (
	"regexp"
	"strings"
	"time"
)

// This file holds the names Elevator and AWS agree on: tag keys, IAM
// paths, the state bucket and tables, tier names and what a region name
// looks like. They are persisted in AWS (on resources, in stacks), so their
// values never change; every package uses these and none restates them
// (contract_test.go fails when one does).

// Tags Elevator puts on the stacks and resources it creates, and that the
// release engine expects on the resources a release uses.
const (
	TagOrbit     = "elevator:orbit"
	TagRegion    = "elevator:region"
	TagManagedBy = "elevator:managed-by"
	TagTier      = "elevator:tier"    // on subnets: the tier they belong to
	TagApp       = "elevator:app"     // on an app's resources: the app
	TagService   = "elevator:service" // on a service's resources: the service
	TagRelease   = "elevator:release" // on a release's groups: the release id
	// TagAllow, followed by an orbit's name, lists the apps an image may be
	// released as in that orbit: elevator:allow:production=shop,blog (see
	// AllowTag). Elevator no longer writes it (see ImagesTableName), and
	// still honours it on images tagged so.
	TagAllow  = "elevator:allow:"
	ManagedBy = "elevator" // the value of TagManagedBy
)

// Tags of a baked image and of every copy of it (see docs/images.md). A
// copy in another region carries the same values plus TagImageCopiedFrom.
const (
	TagImage        = "elevator:image"   // the image line (ImageManifest.Name): images of a line are listed, promoted and cleaned up together
	TagImagePhase   = "elevator:phase"   // ImagePhaseBase or ImagePhaseService
	TagImageSource  = "elevator:source"  // the base image it was baked from: its id
	TagImageVersion = "elevator:version" // the version the bake was given
	TagImageStage   = "elevator:stage"   // the stage it has reached (ImageSettings.Stages)
	TagImageBuilt   = "elevator:built"   // when the bake made it, RFC 3339 in UTC
	TagImageCommit  = "elevator:commit"  // the git commit of the manifest's directory, when known
	TagImageBakeID  = "elevator:bake"    // the bake that made it (BakeRecord.ID)
	// TagImageRevoked holds the reason an image was revoked: releases
	// refuse it, groups already running it are left alone.
	TagImageRevoked = "elevator:revoked"
	// TagImageShared is on an image shared with other accounts,
	// organizations or units (the last stage shares): the accounts and
	// units it was shared with, comma-separated and cut to the tag's 256
	// characters. Uses in other accounts cannot be seen, so cleanup keeps
	// such an image unless told otherwise.
	TagImageShared = "elevator:shared"
	// TagImageRevokedBy and TagImageRevokedAt say who revoked it (the
	// caller's ARN) and when (RFC 3339 in UTC).
	TagImageRevokedBy = "elevator:revoked-by"
	TagImageRevokedAt = "elevator:revoked-at"
	// TagImageCopiedFrom, on a copy, is "<region>/<image id>" of the
	// image it was copied from.
	TagImageCopiedFrom = "elevator:copied-from"
	// TagBakeBuilder marks a bake's builder instance with the bake's id.
	TagBakeBuilder = "elevator:bake-builder"
)

// AllowTag is the key of the tag that lists the apps an image may be
// released as in orbit: elevator:allow:<orbit>. Older Elevators wrote it;
// it is read, never written (see ImagesTableName).
func AllowTag(orbit string) string { return TagAllow + orbit }

// AppPath is the path under which an app's resources in an orbit are
// named, in IAM, CloudWatch Logs and SSM Parameter Store:
// /elevator/<orbit>/<app>/.
func AppPath(orbit, app string) string { return OrbitPath(orbit) + app + "/" }

// OrbitPath is the IAM path under which an orbit's own resources (the
// deployer and submitter policies) and every app's are named:
// /elevator/<orbit>/.
func OrbitPath(orbit string) string { return "/elevator/" + orbit + "/" }

// IAMPath is the IAM path of a service's role and instance profile:
// /elevator/<orbit>/<app>/<service>/. A release uses only an instance
// profile on its service's path.
func IAMPath(orbit, app, service string) string { return AppPath(orbit, app) + service + "/" }

// StateBucketName is the name of an orbit's state bucket in a region:
// elevator-<account>-<region>-<orbit>. The orbit stack names it so (with
// its own account and region) and exports it as the StateBucket output.
func StateBucketName(account, region, orbit string) string {
	return "elevator-" + account + "-" + region + "-" + orbit
}

// ReleasesTableName is the name of an orbit's releases table in each of
// its regions.
func ReleasesTableName(orbit string) string { return orbit + "-elevator-releases" }

// LocksTableName is the name of an orbit's (app, orbit) release locks
// table in each of its regions.
func LocksTableName(orbit string) string { return orbit + "-elevator-locks" }

// ImagesTableName is the name of an orbit's image allow list in each of its
// regions: one item per app and image (partition key ImagesKeyApp, sort
// key ImagesKeyImage) that releases of the app into the orbit may use.
// `elevator image allow` writes it; the release engine reads it.
func ImagesTableName(orbit string) string { return orbit + "-elevator-images" }

// BakeInstanceProfileName is the name of the instance profile (and of
// its role) an orbit's image builders run with, on the IAM path
// BakeIAMPath: it may read the orbit's agent builds and a bake's bundle,
// write a bake's result, and be reached through Session Manager; nothing
// else.
func BakeInstanceProfileName(orbit string) string { return "elevator-" + orbit + "-bake" }

// BakeIAMPath is the IAM path of an orbit's bake role and instance
// profile: /elevator/<orbit>/bake/.
func BakeIAMPath(orbit string) string { return OrbitPath(orbit) + "bake/" }

// BakeSecurityGroupName is the name of the security group an orbit's
// image builders run in, in each region's VPC: no way in, any way out.
func BakeSecurityGroupName(orbit string) string { return "elevator-" + orbit + "-bake" }

// AppRepositoryName is the name of the ECR repository of an app's Docker
// service in an orbit, which the app stack makes in each region:
// <orbit>/<app>/<service>.
func AppRepositoryName(orbit, app, service string) string { return orbit + "/" + app + "/" + service }

// ContainerImage is the id of the container image tagged tag in an ECR
// repository, as releases and the image allow list name it:
// <repository>:<tag>.
func ContainerImage(repository, tag string) string { return repository + ":" + tag }

// The key attributes of an images table (see ImagesTableName).
const (
	ImagesKeyApp   = "app"
	ImagesKeyImage = "image"
)

// Tier names with a meaning. An orbit whose manifest lists no tiers has
// TierPublic, TierPrivate and TierData. An app's resources go in the tier
// of their role's name when the orbit has one (see internal/compile):
// public load balancers in TierPublic, instances in TierPrivate (the tier
// a release's subnets must be tagged with unless its placement names
// another), databases in TierData. A bastion runs in TierMaintenance when
// the orbit has one.
const (
	TierPublic      = "public"
	TierPrivate     = "private"
	TierData        = "data"
	TierMaintenance = "maintenance"
)

// DefaultReleaseTimeout bounds each wait of a release when the app's
// manifest says nothing (Release.TimeoutSeconds), as Odin's default.
const DefaultReleaseTimeout = 10 * time.Minute

// regionPattern is what an AWS region name looks like: two letters, one
// or more words and a number, such as us-east-1, us-gov-west-1 or
// eu-isoe-west-1 (botocore's partitions allow numbers of several digits).
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// IsRegionName reports whether name has the form of an AWS region name. It
// does not say whether the region exists.
func IsRegionName(name string) bool { return regionPattern.MatchString(name) }

// IAM kept in files (`elevator iam`): paths its files may not own.
const (
	// IAMElevatorPath is the IAM path every orbit's own roles and
	// policies are under (OrbitPath): /elevator/.
	IAMElevatorPath = "/elevator/"
)

// IAMReservedPaths are the IAM paths AWS keeps for its own roles: service-
// linked roles, IAM Identity Center's, and those its console creates.
var IAMReservedPaths = []string{"/aws-service-role/", "/aws-reserved/", "/service-role/"}

// Run Command (elevator exec, the release gates' ssm tests).
const (
	// ShellDocument is the SSM document that runs shell lines on Linux
	// instances; its executionTimeout parameter bounds how long they run.
	ShellDocument = "AWS-RunShellScript"
)

// ECS services a release detaches (docs/ecs.md).
const (
	// TagDetachedDesired is on an ECS service that a release detached
	// from all its target groups at cut-over, with the desired count it
	// had (a decimal number): detaching scales the service to 0 (ECS
	// deregisters and drains its tasks), and attaching it again after a
	// failure gives it that count back.
	TagDetachedDesired = "elevator:detached-desired"
)

// Chaos (`elevator chaos`, docs/operations.md#chaos).
const (
	// TagChaos is on the groups of a release whose app's manifest says
	// `chaos: false`, with the value ChaosOptOut: `elevator chaos` leaves
	// those groups alone. A group without it may lose instances.
	TagChaos    = "elevator:chaos"
	ChaosOptOut = "false"
	// ChaosOutageKey is the object, in the home region's state bucket,
	// that records a zone taken away by `elevator chaos --az` (the groups
	// and their subnets before), from when the first group loses a subnet
	// until every group has them back; `elevator chaos restore` reads it.
	ChaosOutageKey = "chaos/outage.json"
	// ChaosRunPrefix begins the id of a chaos run, which a chaos run puts
	// in the ReleaseID (and Owner) of the app locks it holds: a lock whose
	// ReleaseID has it names no release.
	ChaosRunPrefix = "chaos-"
)

// IsChaosRun reports whether a lock's ReleaseID is a chaos run's id
// rather than a release's.
func IsChaosRun(id string) bool { return strings.HasPrefix(id, ChaosRunPrefix) }

// ECSInstanceIAMPath is the IAM path of the role and instance profile of
// an orbit's ECS container instances (its cluster's EC2 capacity):
// /elevator/<orbit>/ecs/. Each region's ECS stack makes its own pair on it.
func ECSInstanceIAMPath(orbit string) string { return OrbitPath(orbit) + "ecs/" }

// ReservedAppNames are the names an app may not take: an app's IAM path
// is AppPath(orbit, app), and the orbit's own roles live on these
// (BakeIAMPath, ECSInstanceIAMPath).
var ReservedAppNames = []string{"bake", "ecs"}
