package elevator

import (
	"slices"
	"strings"
	"sync"
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
	made, err := NewReleaseID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	at, err := ReleaseIDAt(time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.FixedZone("X", 3600)), strings.NewReader("\x9f\x86\xd0\x81"))
	if err != nil || at != "20261123-110000123-9f86d081" {
		t.Fatalf("ReleaseIDAt = %q, %v, want 20261123-110000123-9f86d081", at, err)
	}
	// Ids made before they counted milliseconds are still release ids.
	for _, id := range []string{made, at, "20261123-120000-9f86d081"} {
		if err := CheckReleaseID(id); err != nil {
			t.Errorf("CheckReleaseID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "../../x", "20261123-120000-9f86d081/../x", "20261123-120000-9F86D081", "20261123-120000-9f86d08",
		"20261123-120000-9f86d0811", " 20261123-120000-9f86d081", "20261123-1200001-9f86d081", "20261123-12000012-9f86d081",
		"20261123-1200001234-9f86d081", "20261123-120000123-9f86d08", "20261123-120000123-", "20261123-120000123"} {
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

func TestReleaseIDAtRefusesAYearOfOtherThanFourDigits(t *testing.T) {
	for _, at := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if id, err := ReleaseIDAt(at, strings.NewReader("abcd")); ErrorCode(err) != EINVALID {
			t.Errorf("ReleaseIDAt(%s) = %q, %v, want an invalid-input error", at, id, err)
		}
	}
	if _, err := ReleaseIDAt(time.Now(), strings.NewReader("ab")); err == nil {
		t.Error("ReleaseIDAt with a reader of two bytes made an id")
	}
}

// Ids of both forms, listed in the order of the times they stand for: an
// id of the old form stands for the start of its second, before every id
// of the new form in that second. Sorted as strings (as DynamoDB and S3
// sort them) they keep this order, and so do their stamps.
func TestReleaseIDsOfBothFormsSortByTheTimeTheyWereMade(t *testing.T) {
	inOrder := []string{
		"20261123-115959-ffffffff",
		"20261123-115959999-00000000",
		"20261123-120000-00000000",
		"20261123-120000-ffffffff",
		"20261123-120000000-00000000",
		"20261123-120000000-ffffffff",
		"20261123-120000001-00000000",
		"20261123-120000999-ffffffff",
		"20261123-120001-00000000",
		"20261123-120001000-00000000",
		"20261124-000000-00000000",
	}
	for i := range inOrder {
		for j := range inOrder {
			a, b := inOrder[i], inOrder[j]
			if (a < b) != (i < j) {
				t.Errorf("%s < %s is %v, want %v", a, b, a < b, i < j)
			}
			sa, sb := ReleaseIDStamp(a), ReleaseIDStamp(b)
			if sa != sb && (sa < sb) != (i < j) {
				t.Errorf("stamps %s < %s is %v, want %v", sa, sb, sa < sb, i < j)
			}
		}
	}
	shuffled := slices.Clone(inOrder)
	slices.Reverse(shuffled)
	slices.Sort(shuffled)
	if !slices.Equal(shuffled, inOrder) {
		t.Errorf("sorted: %v, want %v", shuffled, inOrder)
	}
}

func TestReleaseIDStampIsTheTimePartOfAnId(t *testing.T) {
	for id, want := range map[string]string{
		"20261123-120000123-9f86d081": "20261123-120000123",
		"20261123-120000-9f86d081":    "20261123-120000",
		"20261123-120000":             "20261123-120000",
		"x":                           "x",
		"":                            "",
	} {
		if got := ReleaseIDStamp(id); got != want {
			t.Errorf("ReleaseIDStamp(%q) = %q, want %q", id, got, want)
		}
	}
}

// Ids made in one process sort in the order they were made, even when
// the clock reads the same millisecond each time or steps back.
func TestNewReleaseIDsOfOneProcessSortInTheOrderTheyWereMade(t *testing.T) {
	now := time.Now()
	clock := []time.Time{now, now, now.Add(time.Microsecond), now.Add(-time.Second), now.Add(-time.Hour), now, now.Add(time.Millisecond)}
	var ids []string
	for _, at := range clock {
		id, err := NewReleaseID(at, strings.NewReader("\x00\x00\x00\x00"))
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckReleaseID(id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i := 1; i < len(ids); i++ {
		if ReleaseIDStamp(ids[i-1]) >= ReleaseIDStamp(ids[i]) {
			t.Errorf("id %d %s does not sort after id %d %s", i, ids[i], i-1, ids[i-1])
		}
	}
	if first, _ := ReleaseIDAt(now, strings.NewReader("\x00\x00\x00\x00")); ids[0] < first {
		t.Errorf("the first id %s is before its clock's %s", ids[0], first)
	}
}

// Ids made at once by many goroutines are all different in their stamps.
func TestNewReleaseIDsMadeAtOnceHaveDifferentStamps(t *testing.T) {
	const n = 200
	stamps := make(chan string, n)
	var wg sync.WaitGroup
	now := time.Now()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := NewReleaseID(now, nil)
			if err != nil {
				t.Error(err)
			}
			stamps <- ReleaseIDStamp(id)
		}()
	}
	wg.Wait()
	close(stamps)
	seen := map[string]bool{}
	for s := range stamps {
		if seen[s] {
			t.Errorf("two ids with the stamp %s", s)
		}
		seen[s] = true
	}
}

// An id refused (a time beyond year 9999) does not move the clock of the
// ids made after it.
func TestARefusedReleaseIDLeavesTheNextOnesAlone(t *testing.T) {
	if id, err := NewReleaseID(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), nil); err == nil {
		t.Fatalf("NewReleaseID in the year 10000 = %q", id)
	}
	now := time.Now()
	id, err := NewReleaseID(now, nil)
	if err != nil {
		t.Fatalf("NewReleaseID after a refused one: %v", err)
	}
	if !strings.HasPrefix(id, now.UTC().Format("20060102")) && !strings.HasPrefix(id, now.UTC().Add(time.Hour).Format("20060102")) {
		t.Errorf("NewReleaseID after a refused one = %q, want an id of about %s", id, now.UTC())
	}
}

func TestReleaseIDTimeIsWhenTheIdWasMade(t *testing.T) {
	at := time.Date(2026, 11, 29, 12, 30, 15, 123_000_000, time.UTC)
	id, err := ReleaseIDAt(at, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id   string
		want time.Time
		ok   bool
	}{
		{id, at, true},
		{"20261129-123015-9f86d081", at.Truncate(time.Second), true},
		{"../x", time.Time{}, false},
		{"20261399-123015-9f86d081", time.Time{}, false},
	} {
		got, ok := ReleaseIDTime(c.id)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("ReleaseIDTime(%q) = %v, %v; want %v, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}
