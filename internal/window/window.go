// Package window reads the time windows a pipeline stage may run in, such
// as "Mon-Thu 09:00-16:00 Europe/Berlin", and the freeze dates that close
// them, and answers when the next window opens.
package window

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a weekly time span in one IANA time zone: the days it opens on,
// and the minutes of the day it opens and closes at, closing at End on the
// same day (End is at most 24*60, midnight of the next day).
type Window struct {
	Days       [7]bool // by time.Weekday
	Start, End int     // minutes after local midnight; Start < End
	Location   *time.Location
	Text       string // as written
}

// Forms says how a window is written, for error messages.
const Forms = "DAYS HH:MM-HH:MM ZONE, such as Mon-Thu 09:00-16:00 Europe/Berlin: days Mon..Sun as one day, a range (Mon-Fri, Fri-Mon wraps) or a comma list of those; the end is after the start, 24:00 at most; ZONE an IANA time zone such as UTC or America/New_York"

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Parse reads a window written as DAYS HH:MM-HH:MM ZONE (see Forms). It
// returns an error saying which part is wrong and what is allowed.
func Parse(s string) (Window, error) {
	w := Window{Text: s}
	f := strings.Fields(s)
	if len(f) != 3 {
		return w, fmt.Errorf("want three parts, days, hours and time zone: %s", Forms)
	}
	for _, part := range strings.Split(f[0], ",") {
		from, to, isRange := strings.Cut(part, "-")
		a := slices.Index(dayNames, strings.ToLower(from))
		b := a
		if isRange {
			b = slices.Index(dayNames, strings.ToLower(to))
		}
		if a < 0 || b < 0 {
			return w, fmt.Errorf("days %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun, a range such as Mon-Fri, or a comma list of those", part)
		}
		for d := a; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(f[1], "-")
	var err error
	if !ok {
		return w, fmt.Errorf("hours %q: want HH:MM-HH:MM, such as 09:00-16:00", f[1])
	}
	if w.Start, err = clock(from, false); err != nil {
		return w, err
	}
	if w.End, err = clock(to, true); err != nil {
		return w, err
	}
	if w.End <= w.Start {
		return w, fmt.Errorf("hours %q: the end must be after the start on the same day; write 22:00-24:00 and 00:00-06:00 as two windows", f[1])
	}
	// "Local" would make a window depend on the machine that reads it.
	if f[2] == "Local" || f[2] == "" {
		return w, fmt.Errorf("time zone %q: want an IANA time zone such as UTC or Europe/Berlin", f[2])
	}
	if w.Location, err = time.LoadLocation(f[2]); err != nil {
		return w, fmt.Errorf("time zone %q: not an IANA time zone, such as UTC or Europe/Berlin", f[2])
	}
	return w, nil
}

// clock reads HH:MM as minutes after midnight; 24:00 only when end is set.
func clock(s string, end bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || len(hh) != 2 || len(mm) != 2 || err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, fmt.Errorf("time %q: want HH:MM from 00:00 to 23:59 (24:00 as an end)", s)
	}
	return h*60 + m, nil
}

// Date is a calendar day, such as a freeze date (a holiday) on which no
// window opens; it is a day in each window's own time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads a date written YYYY-MM-DD. It returns an error for any
// other form or a day that does not exist.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD, such as 2026-12-24", s)
	}
	return Date{t.Year(), t.Month(), t.Day()}, nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Schedule is when a stage may run: inside any of Windows, on no Freeze
// date. A schedule without windows is always open, freeze dates aside —
// which a manifest cannot write, as freeze dates need a window's zone.
type Schedule struct {
	Windows []Window
	Freeze  []Date
}

// Horizon is how far ahead NextOpen looks: a schedule that opens later
// than this (every day frozen, say) counts as never opening.
const Horizon = 400 * 24 * time.Hour

// Open reports whether the schedule is open at t.
func (s Schedule) Open(t time.Time) bool {
	next, ok := s.NextOpen(t)
	return ok && next.Equal(t)
}

// NextOpen returns t when the schedule is open at t, else the first
// instant after t at which it opens, and whether it opens within Horizon.
// Days are days of each window's own zone, so a daylight saving change
// moves a window's opening in UTC, not on the wall clock; an opening time
// that does not exist on the day the clocks go forward opens when that
// wall time would have been (time.Date's rule).
func (s Schedule) NextOpen(t time.Time) (time.Time, bool) {
	if len(s.Windows) == 0 {
		if len(s.Freeze) == 0 {
			return t, true
		}
		return time.Time{}, false
	}
	var best time.Time
	found := false
	for _, w := range s.Windows {
		lt := t.In(w.Location)
		y, m, d := lt.Date()
		for i := 0; i <= int(Horizon/(24*time.Hour)); i++ {
			day := time.Date(y, m, d+i, 0, 0, 0, 0, w.Location)
			if found && !day.Before(best) {
				break
			}
			if !w.Days[day.Weekday()] || slices.Contains(s.Freeze, Date{day.Year(), day.Month(), day.Day()}) {
				continue
			}
			start := time.Date(day.Year(), day.Month(), day.Day(), 0, w.Start, 0, 0, w.Location)
			end := time.Date(day.Year(), day.Month(), day.Day(), 0, w.End, 0, 0, w.Location)
			if !t.Before(end) {
				continue
			}
			at := start
			if t.After(start) {
				at = t
			}
			if !found || at.Before(best) {
				best, found = at, true
			}
			break
		}
	}
	return best, found
}
