package elevator

// Fuzz targets for what Elevator reads from people and from its own store:
// release ids and versions (flags, S3 keys, user data, systemd units),
// schedules (manifests) and release documents (the state bucket). Run one
// with, for example:
//
//	go test . -run '^$' -fuzz FuzzCheckVersion -fuzztime 10m

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"
)

func FuzzCheckReleaseID(f *testing.F) {
	for _, s := range []string{"20261123-120000-9f86d081", "../../x", "20261123-120000-9f86d081\n", "20261123-120000-9F86D081",
		"20261123-120000-9f86d08", "releases/20261123-120000-9f86d081", "", "２0261123-120000-9f86d081",
		"20261123-120000123-9f86d081", "20261123-1200001-9f86d081", "20261123-120000123-9f86d081\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if CheckReleaseID(id) != nil {
			return
		}
		// An accepted id is one path segment of plain ASCII, safe in S3
		// keys, resource names and tags.
		if (len(id) != 24 && len(id) != 27) || strings.ContainsAny(id, "/.\\ \n\r\t%") {
			t.Fatalf("accepted release id %q", id)
		}
		for _, r := range id {
			if r > unicode.MaxASCII || !(r == '-' || unicode.IsDigit(r) || (r >= 'a' && r <= 'f')) {
				t.Fatalf("accepted release id %q with %q", id, r)
			}
		}
		if _, err := time.Parse("20060102-150405", id[:15]); err != nil && !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("accepted release id %q whose time does not parse: %v", id, err)
		}
		// Its stamp is its time, its short id the eight hex digits after.
		stamp := ReleaseIDStamp(id)
		if len(stamp) != len(id)-9 || id[len(stamp)] != '-' || (len(stamp) != 15 && len(stamp) != 18) {
			t.Fatalf("release id %q has the stamp %q", id, stamp)
		}
		if r := (&Release{ID: id}); r.ShortID() != id[len(id)-8:] {
			t.Fatalf("release id %q has the short id %q", id, r.ShortID())
		}
	})
}

// FuzzReleaseIDAt makes ids of any time: each is a release id whose stamp
// reads back as the time to the millisecond, and ids of two times sort as
// the times do.
func FuzzReleaseIDAt(f *testing.F) {
	f.Add(int64(1795521600123456789), int64(1795521600123456790), uint32(0x9f86d081))
	f.Add(int64(0), int64(-1), uint32(0))
	f.Fuzz(func(t *testing.T, a, b int64, r uint32) {
		ta, tb := time.Unix(0, a).UTC(), time.Unix(0, b).UTC()
		rnd := string([]byte{byte(r >> 24), byte(r >> 16), byte(r >> 8), byte(r)})
		ia, errA := ReleaseIDAt(ta, strings.NewReader(rnd))
		ib, errB := ReleaseIDAt(tb, strings.NewReader(rnd))
		if errA != nil || errB != nil {
			t.Fatalf("ReleaseIDAt(%s) = %v, ReleaseIDAt(%s) = %v", ta, errA, tb, errB)
		}
		if err := CheckReleaseID(ia); err != nil {
			t.Fatalf("ReleaseIDAt(%s) = %q, refused: %v", ta, ia, err)
		}
		back, err := time.Parse("20060102-150405.000", ReleaseIDStamp(ia)[:15]+"."+ReleaseIDStamp(ia)[15:])
		if err != nil || !back.Equal(ta.Truncate(time.Millisecond)) {
			t.Fatalf("id %q reads back as %s (%v), want %s", ia, back, err, ta.Truncate(time.Millisecond))
		}
		if at, ok := ReleaseIDTime(ia); !ok || !at.Equal(back) {
			t.Fatalf("ReleaseIDTime(%q) = %s, %v; want %s", ia, at, ok, back)
		}
		ma, mb := ta.Truncate(time.Millisecond), tb.Truncate(time.Millisecond)
		if ma.Before(mb) != (ia < ib) || ma.Equal(mb) != (ia == ib) {
			t.Fatalf("%s at %s and %s at %s sort the other way", ia, ta, ib, tb)
		}
	})
}

// FuzzReleaseIDTime reads any string: a time for the ids CheckReleaseID
// takes whose stamp is a real time, false for the others, never a panic.
func FuzzReleaseIDTime(f *testing.F) {
	f.Add("20261129-120000123-9f86d081")
	f.Add("20261129-120000-9f86d081")
	f.Add("20261399-120000-9f86d081")
	f.Add("../x")
	f.Fuzz(func(t *testing.T, id string) {
		at, ok := ReleaseIDTime(id)
		if ok && CheckReleaseID(id) != nil {
			t.Fatalf("ReleaseIDTime(%q) = %s, true; but CheckReleaseID refuses it", id, at)
		}
		if !ok && !at.IsZero() {
			t.Fatalf("ReleaseIDTime(%q) = %s, false; want the zero time", id, at)
		}
		if ok && !strings.HasPrefix(id, at.Format("20060102-150405")) {
			t.Fatalf("ReleaseIDTime(%q) = %s: not the time its stamp says", id, at)
		}
	})
}

func FuzzCheckVersion(f *testing.F) {
	for _, s := range []string{"1.4.2", "v1.0.0-rc.1", "latest", "1.0%H${HOME}\"x", "1.0 x", "1.0\nx", "-1", ".1", "", strings.Repeat("a", 129), "ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if CheckVersion(v) != nil {
			return
		}
		// An accepted version holds nothing a shell, a systemd unit, a
		// YAML or JSON document or a registry would read specially.
		if len(v) == 0 || len(v) > 128 || strings.ContainsAny(v, "%$\"'`\\ \t\n\r;&|<>(){}[]*?!#~=,:/@") || v[0] == '.' || v[0] == '-' {
			t.Fatalf("accepted version %q", v)
		}
		for _, r := range v {
			if r > unicode.MaxASCII {
				t.Fatalf("accepted version %q with %q", v, r)
			}
		}
	})
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"1@30 10 * * *", "1@30 10 * * *:5@45 1 * * *", "4@0 8 * * 1-5", "0@*/15 * * JAN-MAR MON,FRI",
		"x@1 2 3 4 5", "1@", "@", "1@61 * * * *", "-1@* * * * *", "1@* * * * * *", ":", "1@0 0 31 2 SUN/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := ParseSchedule(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("ParseSchedule(%q): %v, want EINVALID", s, err)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatalf("ParseSchedule(%q) accepted no entries", s)
		}
		for _, e := range entries {
			if e.Desired < 0 {
				t.Fatalf("ParseSchedule(%q): desired %d", s, e.Desired)
			}
			if err := CheckCron(e.Cron); err != nil {
				t.Fatalf("ParseSchedule(%q) accepted cron %q that CheckCron refuses: %v", s, e.Cron, err)
			}
			if len(strings.Fields(e.Cron)) != 5 || strings.ContainsAny(e.Cron, ":@\n") {
				t.Fatalf("ParseSchedule(%q) gave cron %q", s, e.Cron)
			}
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	rel := &Release{ID: "20261123-120000-9f86d081", CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), CreatedBy: "arn:aws:iam::123456789012:user/ana",
		App: "shop", Orbit: "prod", Version: "1.4.2", Regions: []string{"us-east-1"}, TimeoutSeconds: 600,
		Services: []ReleaseService{{Name: "web", InstanceType: "t3.small", UserData: "#!/bin/sh\necho {{VERSION}}\n",
			Capacity:   ReleaseCapacity{Min: 1, Max: 2},
			Placements: []ReleasePlacement{{Region: "us-east-1", Image: "ami-0123456789abcdef0", Subnets: []string{"subnet-1"}}}}}}
	doc, err := rel.Canonical()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	gated := *rel
	gated.Tests = &ReleaseTests{Smoke: []ReleaseTest{{Name: "health", Kind: TestCommand, Command: []string{"true"}}}, BakeSeconds: 60,
		Alarms: []string{"a"}, MissingData: MissingDataOK}
	if doc, err := gated.Canonical(); err == nil {
		f.Add(doc)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"../x"}`))
	f.Add(append(bytes.Clone(doc), '\n', '{', '}'))
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := ParseRelease(doc)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("ParseRelease: %v, want EINVALID", err)
			}
			return
		}
		// A parsed document is canonical: encoding it again gives the same
		// bytes, so its checksum names its content.
		again, err := r.Canonical()
		if err != nil {
			t.Fatalf("Canonical of a parsed release: %v", err)
		}
		if !bytes.Equal(again, doc) {
			t.Fatalf("ParseRelease accepted a document that does not round-trip:\n%s\n%s", doc, again)
		}
		if err := r.Check(); err == nil {
			if CheckReleaseID(r.ID) != nil || CheckVersion(r.Version) != nil {
				t.Fatalf("Check passed a release with id %q and version %q", r.ID, r.Version)
			}
		}
	})
}

func FuzzMatchPrincipal(f *testing.F) {
	for _, s := range [][2]string{
		{"arn:aws:iam::222222222222:role/ci-*", "arn:aws:sts::222222222222:assumed-role/ci-main/run-7"},
		{"arn:aws:iam::*:role/ops", "arn:aws:iam::111111111111:role/ops"},
		{"arn:aws:iam::111111111111:**", "arn:aws:iam::111111111111:role/a:b"},
		{"*", ""}, {"", "arn"}, {"arn:aws:sts::1:assumed-role//", "arn:aws:sts::1:assumed-role//"},
		{"email:*@example.com", "email:alice@example.com"}, {"email:*@example.com", "email:a@b@example.com"},
		{"group:ops", "group:ops"}, {"group:ops", "arn:aws:iam::111111111111:role/ops"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, arn string) {
		if !MatchPrincipal(pattern, arn) || CheckPrincipal(pattern) != nil {
			return
		}
		// An email principal matches only an address of its domain, a
		// group only itself.
		if d, ok := strings.CutPrefix(pattern, PrincipalEmail); ok {
			_, pd, _ := strings.Cut(d, "@")
			if !strings.HasPrefix(arn, PrincipalEmail) || !strings.HasSuffix(arn, "@"+pd) || strings.Count(arn, "@") != 1 {
				t.Fatalf("principal %q matched %q", pattern, arn)
			}
			return
		}
		if strings.HasPrefix(pattern, PrincipalGroup) {
			if pattern != arn {
				t.Fatalf("principal %q matched %q", pattern, arn)
			}
			return
		}
		// A principal an access rule may name never matches a caller of
		// another account or partition.
		p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
		if len(a) != 6 || a[1] != p[1] || a[4] != p[4] {
			t.Fatalf("principal %q matched %q", pattern, arn)
		}
	})
}

// FuzzParseOrbitSettings: the settings object in the state bucket is read
// by every pipeline decision; whatever it holds, parsing returns an error
// or settings of the orbit asked for, with valid roles only, and never
// panics.
func FuzzParseOrbitSettings(f *testing.F) {
	for _, s := range []string{`{"orbit":"prod","access":[{"role":"approver","principals":["arn:aws:iam::1:role/ops"]}],"self_approval":true}`,
		`{"orbit":"prod","access":[{"role":"god"}]}`, `{"orbit":"test"}`, `null`, `[]`, `{"orbit":"prod","identity_center_roles":["x"]}`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, err := ParseOrbitSettings("prod", []byte(body))
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Errorf("error %v, want EINVALID", err)
			}
			return
		}
		if s.Orbit != "prod" {
			t.Errorf("settings of %q accepted for prod", s.Orbit)
		}
		o := s.Deployed()
		for _, r := range o.Access {
			if !r.Role.Valid() {
				t.Errorf("role %q accepted", r.Role)
			}
		}
	})
}
