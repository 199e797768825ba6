package elevator

import "testing"

func TestExpandUserDataReplacesEveryPlaceholderAndNothingElse(t *testing.T) {
	got := ExpandUserData("{{RELEASE_ID}} {{APP}} {{ORBIT}} {{SERVICE}} {{REGION}} {{VERSION}} {{OTHER}} {{APP}}", UserDataVars{ReleaseID: "20261123-120000-9f86d081", App: "shop", Orbit: "prod", Service: "web", Region: "eu-west-1", Version: "1.4.2"})
	want := "20261123-120000-9f86d081 shop prod web eu-west-1 1.4.2 {{OTHER}} shop"
	if got != want {
		t.Errorf("ExpandUserData = %q, want %q", got, want)
	}
}
