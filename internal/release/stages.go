package release

import (
	"fmt"
	"strings"
	"time"

	"github.com/elevatorhq/elevator"
)

// imageStageRule is what an image lacks for its stage: "" when it may be
// released, else what it should be.
//
// A revoked image (elevator:revoked) never may, whatever the orbit. When
// the orbit sets a min_stage, the image's elevator:stage must be it or a
// later stage of the orbit. Tags do not cross accounts: an image owned by
// another account and shared with this one (not public) counts as at the
// last stage, since images are shared only at the last stage; a public
// image of another account has no stage Elevator can trust, and is
// refused. For the same reason another account's privately shared image
// whose owner has deprecated it (the deprecation time has passed) never may: revoking an
// image deprecates it, and that, unlike its tags, is seen by the accounts
// it is shared with.
func imageStageRule(x Resource, s scope) string {
	if reason, ok := x.Tags[elevator.TagImageRevoked]; ok {
		return fmt.Sprintf("an image that is not revoked (it was revoked: %s)", reason)
	}
	// A public image's deprecation is AWS's default two years after it
	// was made, not a revocation: only a privately shared one counts.
	if x.Foreign && !x.Public && !x.Deprecated.IsZero() && !x.Deprecated.After(s.now) {
		return fmt.Sprintf("an image that is not deprecated (deprecated by its owner at %s: revoked?)", x.Deprecated.UTC().Format(time.RFC3339))
	}
	ri := s.images
	if ri == nil {
		return ""
	}
	if x.Foreign && !x.Public {
		return ""
	}
	want := fmt.Sprintf("an image at stage %s or later (of %s)", ri.MinStage, strings.Join(ri.Stages, ", "))
	if x.Foreign {
		return want + "; it is another account's public image, whose stage this account cannot see: bake an image from it, or copy it into this account"
	}
	promote := fmt.Sprintf("`elevator image promote --image %s --stage %s --orbit %s` promotes it", x.ID, ri.MinStage, s.orbit)
	stage, ok := x.Tags[elevator.TagImageStage]
	switch {
	case !ok:
		return fmt.Sprintf("%s; it has no %s tag (%s)", want, elevator.TagImageStage, promote)
	case ri.StageIndex(stage) < 0:
		return fmt.Sprintf("%s; it is at stage %q, which the orbit does not have (%s)", want, stage, promote)
	case ri.StageIndex(stage) < ri.StageIndex(ri.MinStage):
		return fmt.Sprintf("%s; it is at stage %s (%s)", want, stage, promote)
	}
	return ""
}
