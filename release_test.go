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
