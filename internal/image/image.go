// Package image allows machine images for releases: a release uses an
// image only when the image's tags allow its app in its orbit (see
// elevator.AllowTag). This is what `elevator image allow` does.
package image

import (
	"context"
	"sort"
	"strings"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/aws/ec2"
)

// Tagger tags EC2 resources in one region.
type Tagger interface {
	Image(ctx context.Context, id string) (ec2.Image, error)
	Tag(ctx context.Context, id string, tags map[string]string) error
}

// AllowImage tags image id so that releases of app into orbit may use it:
// it adds app to the image's elevator:allow:<orbit> tag (a comma-separated
// list), keeping what it allowed before. The tag pairs the app with the
// orbit, so allowing shop in production and billing in test never lets
// billing into production. It returns the tags it set.
func AllowImage(ctx context.Context, t Tagger, id, app, orbit string) (map[string]string, error) {
	img, err := t.Image(ctx, id)
	if err != nil {
		return nil, err
	}
	key := elevator.AllowTag(orbit)
	tags := map[string]string{key: addToList(img.Tags[key], app)}
	return tags, t.Tag(ctx, id, tags)
}

func addToList(list, v string) string {
	var items []string
	for _, it := range strings.Split(list, ",") {
		if it = strings.TrimSpace(it); it != "" {
			if it == v || it == "*" {
				return list
			}
			items = append(items, it)
		}
	}
	items = append(items, v)
	sort.Strings(items)
	return strings.Join(items, ",")
}
