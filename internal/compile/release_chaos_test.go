package compile

import (
	"testing"
	"time"
)

func TestReleaseDocumentCarriesTheChaosOptOut(t *testing.T) {
	a, o := releaseExample(t)
	build := func() bool {
		rel, err := ReleaseDocument(ReleaseRequest{Agent: fakeAgentBuilds(), App: a, Orbit: o, Version: "1", ID: "20261130-040000-0badcafe",
			CreatedAt: time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)}, releaseFactsFor("us-east-1", "us-west-2"))
		if err != nil {
			t.Fatal(err)
		}
		return rel.ChaosOptOut
	}
	if build() {
		t.Errorf("the example app does not opt out of chaos, its release does")
	}
	a.ChaosOptOut = true
	if !build() {
		t.Errorf("an app with chaos: false makes a release that does not opt out")
	}
}
