package elevator

import (
	"strings"
	"testing"
	"time"
)

func TestCheckVersionTakesOCITagsOnly(t *testing.T) {
	tests := []struct {
		name, version string
		ok            bool
	}{
		{"a semantic version", "1.4.2", true},
		{"a tag with letters, underscores and dashes", "v2_rc-1.build.7", true},
		{"a tag starting with an underscore", "_latest", true},
		{"128 characters", strings.Repeat("a", 128), true},
		{"nothing", "", false},
		{"129 characters", strings.Repeat("a", 129), false},
		{"a space", "1.0 0", false},
		{"a newline", "1.0\n", false},
		{"a systemd specifier and a shell expansion", `1.0%H${HOME}"x`, false},
		{"a slash", "1.0/../x", false},
		{"a leading dot", ".1", false},
		{"a leading dash", "-1", false},
		{"a non-ASCII letter", "1.0é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckVersion(tt.version)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckVersion(%q) = %v, want ok %v", tt.version, err, tt.ok)
			}
			if err != nil && ErrorCode(err) != EINVALID {
				t.Errorf("code %q, want %q", ErrorCode(err), EINVALID)
			}
		})
	}
}

func TestCheckReleaseIDTakesWhatNewReleaseIDMakes(t *testing.T) {
	made, err := NewReleaseID(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), strings.NewReader("\x9f\x86\xd0\x81"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckReleaseID(made); err != nil {
		t.Errorf("CheckReleaseID(%q) = %v, want nil", made, err)
	}
	for _, id := range []string{"", "../../x", "20261123-120000-9f86d081/../x", "20261123-120000-9F86D081", "20261123-120000-9f86d08", "20261123-120000-9f86d0811", " 20261123-120000-9f86d081"} {
		if err := CheckReleaseID(id); ErrorCode(err) != EINVALID {
			t.Errorf("CheckReleaseID(%q) = %v, want an invalid-input error", id, err)
		}
	}
}

func TestReleaseCheckRefusesAVersionThatIsNoTag(t *testing.T) {
	r := Release{ID: "20261123-120000-9f86d081", Version: "1.0%H"}
	err := r.Check()
	if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), `version "1.0%H": want an OCI image tag`) {
		t.Errorf("Check() = %v, want it to refuse the version", err)
	}
}

// TestReleaseCheckMeasuresUserDataAsTheEngineFillsIt: a document (one
// written by hand, say) whose user data fits as written but not once the
// engine has filled its placeholders for a region is refused, naming the
// service, the region and the size.
func TestReleaseCheckMeasuresUserDataAsTheEngineFillsIt(t *testing.T) {
	ud := "#!/bin/sh\n" + strings.Repeat("echo {{REGION}}\n", 1000) // 16,010 bytes as written
	r := Release{ID: "20261123-120000-9f86d081", App: "shop", Orbit: "prod", Version: "1.4.2", Services: []ReleaseService{{
		Name: "web", UserData: ud,
		Placements: []ReleasePlacement{{Region: "us-east-1"}, {Region: "ap-southeast-2"}},
	}}}
	if len(ud) > MaxUserData {
		t.Fatalf("the user data as written is %d bytes, over the limit already", len(ud))
	}
	err := r.CheckUserData()
	if ErrorCode(err) != EINVALID {
		t.Fatalf("CheckUserData() = %v, want EINVALID", err)
	}
	want := "service web: user data of 20010 bytes in ap-southeast-2 once its placeholders are filled; EC2 takes at most 16384 (16 KB)"
	if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("CheckUserData() = %v, want it to say %q and nothing of us-east-1 (15,010 bytes filled)", err, want)
	}
	if err := r.Check(); err == nil || !strings.Contains(err.Error(), "services[0]: user data of 20010 bytes in ap-southeast-2") {
		t.Errorf("Check() = %v, want it to refuse the user data", err)
	}
}

func TestSubmissionKeyNamesTheReleaseID(t *testing.T) {
	id := "20261123-120000-9f86d081"
	if got, ok := SubmissionID(SubmissionKey(id)); !ok || got != id {
		t.Errorf("SubmissionID(SubmissionKey(%q)) = %q, %v", id, got, ok)
	}
	for _, key := range []string{"submissions/.json", "submissions/a/b.json", "releases/x.json", "submissions/x"} {
		if _, ok := SubmissionID(key); ok {
			t.Errorf("SubmissionID(%q) is ok", key)
		}
	}
}
