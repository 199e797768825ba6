package elevator

import (
	"strings"
	"testing"
)

func TestScheduleReadsAsiaqsNotation(t *testing.T) {
	got, err := ParseSchedule("1@30 10 * * *:5@45  1 * * MON-FRI")
	if err != nil {
		t.Fatal(err)
	}
	want := []ReleaseSchedule{{Desired: 1, Cron: "30 10 * * *"}, {Desired: 5, Cron: "45 1 * * MON-FRI"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ParseSchedule = %v, want %v", got, want)
	}
	bad := []struct{ name, in, want string }{
		{"no @", "30 10 * * *", "want desired@cron"},
		{"four fields", "1@30 10 * *", "five fields"},
		{"minute 60", "1@60 10 * * *", `minute "60"`},
		{"hour range backwards", "1@0 18-9 * * *", "runs backwards"},
		{"a step of zero", "1@*/0 * * * *", "step"},
		{"an unknown month", "1@0 0 1 FOO *", `month "FOO"`},
		{"negative desired", "-1@0 0 * * *", "want desired@cron"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchedule(tt.in)
			if ErrorCode(err) != EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSchedule(%q) = %v, want it to say %q", tt.in, err, tt.want)
			}
		})
	}
}
