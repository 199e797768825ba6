package release

import (
	"testing"

	"github.com/elevatorhq/elevator"
)

func TestTheGroupsOfAnAppThatOptsOutOfChaosSaySo(t *testing.T) {
	doc := &elevator.Release{ID: "20261130-040000-abcdef12", App: "shop", Orbit: "demo"}
	if v, ok := groupTags(doc, "web")[elevator.TagChaos]; ok {
		t.Errorf("a group of an app that does not opt out carries %s=%s", elevator.TagChaos, v)
	}
	doc.ChaosOptOut = true
	tags := groupTags(doc, "web")
	if tags[elevator.TagChaos] != elevator.ChaosOptOut || tags[elevator.TagService] != "web" || tags[elevator.TagRelease] != doc.ID {
		t.Errorf("tags of a group of an app that opts out: %v", tags)
	}
}
