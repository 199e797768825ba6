package window

import (
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, s string) Window {
	t.Helper()
	w, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return w
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseReadsDaysHoursAndZone(t *testing.T) {
	for _, c := range []struct {
		name, in   string
		days       string // weekdays open, Sun first
		start, end int
	}{
		{"a range of days", "Mon-Thu 09:00-16:00 Europe/Berlin", ".xxxx..", 9 * 60, 16 * 60},
		{"a list of days and ranges", "mon,Wed-Thu,SAT 00:00-24:00 UTC", ".x.xx.x", 0, 24 * 60},
		{"a range that wraps past Sunday", "Fri-Mon 22:30-23:45 America/New_York", "xx...xx", 22*60 + 30, 23*60 + 45},
		{"one day", "Sun 07:05-07:06 Asia/Tokyo", "x......", 7*60 + 5, 7*60 + 6},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := mustParse(t, c.in)
			var got strings.Builder
			for _, open := range w.Days {
				if open {
					got.WriteByte('x')
				} else {
					got.WriteByte('.')
				}
			}
			if got.String() != c.days || w.Start != c.start || w.End != c.end || w.Text != c.in {
				t.Errorf("Parse(%q) = days %s %d-%d %q, want days %s %d-%d", c.in, got.String(), w.Start, w.End, w.Text, c.days, c.start, c.end)
			}
		})
	}
}

func TestParseRefusesWhatIsNotAWindow(t *testing.T) {
	for _, c := range []struct{ name, in, says string }{
		{"no time zone", "Mon-Thu 09:00-16:00", "three parts"},
		{"an unknown day", "Mon-Fry 09:00-16:00 UTC", `days "Mon-Fry"`},
		{"an empty day in a list", "Mon,,Tue 09:00-16:00 UTC", `days ""`},
		{"hours without a dash", "Mon 0900 UTC", `hours "0900"`},
		{"an hour past 24", "Mon 09:00-25:00 UTC", `time "25:00"`},
		{"minutes past 59", "Mon 09:60-10:00 UTC", `time "09:60"`},
		{"24:00 as a start", "Mon 24:00-24:00 UTC", `time "24:00"`},
		{"a one-digit hour", "Mon 9:00-16:00 UTC", `time "9:00"`},
		{"an end before the start", "Mon 16:00-09:00 UTC", "end must be after the start"},
		{"an unknown time zone", "Mon 09:00-16:00 Europe/Atlantis", `time zone "Europe/Atlantis"`},
		{"the machine's zone", "Mon 09:00-16:00 Local", `time zone "Local"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.in)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Parse(%q) = %v, want an error saying %q", c.in, err, c.says)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	if d, err := ParseDate("2026-12-24"); err != nil || d != (Date{2026, time.December, 24}) || d.String() != "2026-12-24" {
		t.Errorf("ParseDate(2026-12-24) = %v, %v", d, err)
	}
	for _, in := range []string{"2026-02-30", "24.12.2026", "2026-1-2", ""} {
		if _, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) = nil error, want one", in)
		}
	}
}

func TestNextWindowOpensAt(t *testing.T) {
	berlin := "Mon-Thu 09:00-16:00 Europe/Berlin"
	for _, c := range []struct {
		name    string
		windows []string
		freeze  []string
		now     string
		want    string // "" when it never opens
	}{
		{"inside the window it is open now", []string{berlin}, nil, "2026-11-30T10:00:00+01:00", "2026-11-30T10:00:00+01:00"},
		{"at the opening minute it is open", []string{berlin}, nil, "2026-11-30T09:00:00+01:00", "2026-11-30T09:00:00+01:00"},
		{"at the closing minute it waits for the next day", []string{berlin}, nil, "2026-11-30T16:00:00+01:00", "2026-12-01T09:00:00+01:00"},
		{"before the opening on a window day", []string{berlin}, nil, "2026-12-01T07:59:00+01:00", "2026-12-01T09:00:00+01:00"},
		{"on Friday it waits for Monday", []string{berlin}, nil, "2026-12-04T12:00:00+01:00", "2026-12-07T09:00:00+01:00"},
		{"the time zone is the window's, not the caller's", []string{berlin}, nil, "2026-11-30T07:30:00Z", "2026-11-30T08:00:00Z"},
		{"a UTC instant late on Thursday is Friday in Tokyo", []string{"Thu 09:00-17:00 Asia/Tokyo"}, nil, "2026-12-03T16:00:00Z", "2026-12-10T00:00:00Z"},
		{"a freeze date skips the day", []string{berlin}, []string{"2026-12-01"}, "2026-11-30T17:00:00+01:00", "2026-12-02T09:00:00+01:00"},
		{"a freeze date closes an open window", []string{berlin}, []string{"2026-11-30", "2026-12-01"}, "2026-11-30T10:00:00+01:00", "2026-12-02T09:00:00+01:00"},
		{"the earliest of two windows wins", []string{berlin, "Fri 18:00-20:00 UTC"}, nil, "2026-12-04T12:00:00+01:00", "2026-12-04T18:00:00Z"},
		{"a window open until midnight", []string{"Sat 20:00-24:00 UTC"}, nil, "2026-12-05T23:59:00Z", "2026-12-05T23:59:00Z"},
		{"after summer time starts the window opens at the same wall time", []string{"Sun 09:00-10:00 Europe/Berlin"}, nil, "2026-03-28T12:00:00Z", "2026-03-29T09:00:00+02:00"},
		{"an opening in the hour the clocks skip opens an hour later", []string{"Sun 02:30-04:00 Europe/Berlin"}, nil, "2026-03-29T00:00:00Z", "2026-03-29T03:30:00+02:00"},
		{"every day frozen: it never opens", []string{"Mon 09:00-10:00 UTC"}, freezeMondays("2026-11-30", 60), "2026-11-29T00:00:00Z", ""},
		{"no windows: always open", nil, nil, "2026-11-29T03:00:00Z", "2026-11-29T03:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s Schedule
			for _, w := range c.windows {
				s.Windows = append(s.Windows, mustParse(t, w))
			}
			for _, f := range c.freeze {
				d, err := ParseDate(f)
				if err != nil {
					t.Fatal(err)
				}
				s.Freeze = append(s.Freeze, d)
			}
			now := at(t, c.now)
			got, ok := s.NextOpen(now)
			if c.want == "" {
				if ok {
					t.Fatalf("NextOpen(%s) = %s, want never", c.now, got)
				}
				return
			}
			want := at(t, c.want)
			if !ok || !got.Equal(want) {
				t.Fatalf("NextOpen(%s) = %s, %v; want %s", c.now, got, ok, want)
			}
			if s.Open(now) != got.Equal(now) {
				t.Errorf("Open(%s) = %v, but NextOpen says %s", c.now, s.Open(now), got)
			}
		})
	}
}

// freezeMondays lists n Mondays from the first, as freeze dates.
func freezeMondays(first string, n int) []string {
	d, _ := time.Parse(time.DateOnly, first)
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, d.AddDate(0, 0, 7*i).Format(time.DateOnly))
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"Mon-Thu 09:00-16:00 Europe/Berlin", "Fri-Mon 00:00-24:00 UTC", "x 1-2 y"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Parse(s)
		if err != nil {
			return
		}
		if w.Start >= w.End || w.End > 24*60 || w.Location == nil {
			t.Fatalf("Parse(%q) accepted %+v", s, w)
		}
		next, ok := Schedule{Windows: []Window{w}}.NextOpen(now)
		if !ok || next.Before(now) || next.Sub(now) > 8*24*time.Hour {
			t.Fatalf("NextOpen for %q = %s, %v", s, next, ok)
		}
	})
}
