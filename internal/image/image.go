// Package image allows machine images for releases: a release uses an
// image only when the orbit's image allow list has the image for its app
// (see elevator.ImagesTableName), or, on images older Elevators tagged,
// when the image's tags allow the app in the orbit (see
// elevator.AllowTag). This is what `elevator image allow` writes and what
// the release engine reads.
//
// # Why a table, and who may write it
//
// An allow tag listed the apps of an orbit in one value, which AWS caps at
// 256 characters (16 apps or so) and 50 tags per image; and anyone who may
// call ec2:CreateTags on an image — often every image builder — could
// allow it anywhere. The allow list is an item per (app, image) in a table
// of the orbit, in the image's region: 100 apps in 5 orbits are 100 items
// in each of 5 tables, far from any DynamoDB limit, and the image itself
// is not changed. Allowing is writing that table (dynamodb:PutItem on
// <orbit>-elevator-images), which IAM grants apart from releasing (which
// writes the locks and releases tables and only reads this one) and apart
// from tagging images; the app is the partition key, so
// dynamodb:LeadingKeys can limit a team to its own app's images. An item
// names exactly one app, one image and (by its table) one orbit, and is
// read by that exact key: allowing one pair never allows another, and
// there is no wildcard. Images tagged by older Elevators stay allowed by
// their tags until those are removed; denying ec2:CreateTags on the
// elevator:* keys of images leaves the table as the only way to allow one.
package image

import (
	"context"
	"errors"
	"time"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/dynamodb"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// Finder looks images up in one region.
type Finder interface {
	Image(ctx context.Context, id string) (ec2.Image, error)
}

// Items reads and writes items of DynamoDB tables in one region.
type Items interface {
	PutItem(ctx context.Context, table string, item dynamodb.Item, conds ...dynamodb.Condition) error
	GetItem(ctx context.Context, table string, key dynamodb.Item) (dynamodb.Item, error)
}

// AllowList is an orbit's image allow list in one region: its images
// table (elevator.ImagesTableName).
type AllowList struct {
	Orbit string
	Items Items
}

// Allowance is one entry of an allow list: releases of App into Orbit may
// use Image. By and At say who allowed it and when.
type Allowance struct {
	Orbit, App, Image string
	By                string
	At                time.Time
}

func (l AllowList) table() string { return elevator.ImagesTableName(l.Orbit) }

func key(app, image string) dynamodb.Item {
	return dynamodb.Item{elevator.ImagesKeyApp: app, elevator.ImagesKeyImage: image}
}

// Allow lets releases of app into the list's orbit use image. Allowing an
// allowed image again only updates who allowed it and when. Errors are the
// adapter's; an ENOTFOUND one wrapping dynamodb.ErrTableNotFound says the
// orbit's stack predates allow lists (`elevator orbit up` makes it).
func (l AllowList) Allow(ctx context.Context, app, image, by string, at time.Time) error {
	item := key(app, image)
	item["allowed_by"], item["allowed_at"] = by, at.Unix()
	return l.Items.PutItem(ctx, l.table(), item)
}

// Allows reports whether the list lets releases of app into its orbit use
// image. A region whose orbit has no allow list yet (its stack predates
// them) allows nothing. Other errors are the adapter's.
func (l AllowList) Allows(ctx context.Context, app, image string) (bool, error) {
	_, err := l.Items.GetItem(ctx, l.table(), key(app, image))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, dynamodb.ErrNotFound), errors.Is(err, dynamodb.ErrTableNotFound):
		return false, nil
	}
	return false, err
}

// AllowImage adds image id, after checking it exists (ENOTFOUND when it
// does not), to the allow list for app, and returns what it allowed. It
// does not change the image: its tags, which older Elevators wrote, are
// read but never written.
func AllowImage(ctx context.Context, images Finder, list AllowList, id, app, by string, now time.Time) (Allowance, error) {
	if _, err := images.Image(ctx, id); err != nil {
		return Allowance{}, err
	}
	a := Allowance{Orbit: list.Orbit, App: app, Image: id, By: by, At: now.UTC()}
	if err := list.Allow(ctx, app, id, by, now); err != nil {
		if errors.Is(err, dynamodb.ErrTableNotFound) {
			return Allowance{}, elevator.Errorf(elevator.ENOTFOUND, "allow image %s for %s in orbit %s: the orbit has no image allow list (%s) yet; run `elevator orbit up` first: %w",
				id, app, list.Orbit, list.table(), err)
		}
		return Allowance{}, err
	}
	return a, nil
}
