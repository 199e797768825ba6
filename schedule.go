package elevator

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSchedule reads Asiaq's scheduled capacity notation: one or more
// desired@cron separated by ':', such as "1@30 10 * * *:5@45 1 * * *"
// (one instance at 10:30 every day, five at 01:45). Cron expressions have
// five fields and are in UTC. It returns an EINVALID error naming the first
// problem.
func ParseSchedule(s string) ([]ReleaseSchedule, error) {
	var out []ReleaseSchedule
	for i, part := range strings.Split(s, ":") {
		desired, cron, ok := strings.Cut(strings.TrimSpace(part), "@")
		n, err := strconv.Atoi(strings.TrimSpace(desired))
		if !ok || err != nil || n < 0 {
			return nil, Errorf(EINVALID, "schedule %q: entry %d %q: want desired@cron, such as 1@30 10 * * *", s, i+1, part)
		}
		cron = strings.Join(strings.Fields(cron), " ")
		if err := CheckCron(cron); err != nil {
			return nil, Errorf(EINVALID, "schedule %q: entry %d: %v", s, i+1, err)
		}
		out = append(out, ReleaseSchedule{Desired: n, Cron: cron})
	}
	return out, nil
}

var cronFields = []struct {
	name     string
	min, max int
	names    []string // names for min, min+1, ...
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{"day of week", 0, 7, []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}},
}

// CheckCron returns an error naming the first bad field of a five-field
// cron expression (minute hour day-of-month month day-of-week), in the
// syntax Auto Scaling scheduled actions take: *, numbers, names of months
// and days, ranges a-b, steps /n and lists a,b.
func CheckCron(expr string) error {
	f := strings.Fields(expr)
	if len(f) != len(cronFields) {
		return fmt.Errorf("cron %q: want five fields: minute hour day-of-month month day-of-week", expr)
	}
	for i, field := range f {
		spec := cronFields[i]
		for _, item := range strings.Split(field, ",") {
			if err := checkCronItem(item, spec.min, spec.max, spec.names); err != nil {
				return fmt.Errorf("cron %q: %s %q: %v", expr, spec.name, field, err)
			}
		}
	}
	return nil
}

func checkCronItem(item string, lo, hi int, names []string) error {
	rng, step, stepped := strings.Cut(item, "/")
	if stepped {
		n, err := strconv.Atoi(step)
		if err != nil || n < 1 || n > hi {
			return fmt.Errorf("step %q: want 1 to %d", step, hi)
		}
	}
	if rng == "*" {
		return nil
	}
	value := func(s string) (int, error) {
		for i, n := range names {
			if strings.EqualFold(s, n) {
				return lo + i, nil
			}
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q: want %d to %d", s, lo, hi)
		}
		return n, nil
	}
	a, b, isRange := strings.Cut(rng, "-")
	x, err := value(a)
	if err != nil {
		return err
	}
	if !isRange {
		return nil
	}
	y, err := value(b)
	if err != nil {
		return err
	}
	if y < x {
		return fmt.Errorf("range %q runs backwards", rng)
	}
	return nil
}
