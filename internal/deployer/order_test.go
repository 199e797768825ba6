package deployer

import (
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// Releases of an app take their turns in the order they were made: by the
// time in their ids, to the millisecond, whatever their random parts;
// ids of the form made before ids counted milliseconds come first in their
// second; ids of one millisecond (made by two processes) by submission.
func TestMadeBeforeOrdersReleasesByTheTimeInTheirIds(t *testing.T) {
	early := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	late := early.Add(time.Minute)
	rec := func(id string, submitted time.Time) *elevator.ReleaseRecord {
		return &elevator.ReleaseRecord{ID: id, SubmittedAt: submitted}
	}
	tests := []struct {
		name        string
		first, then *elevator.ReleaseRecord
	}{
		{"a millisecond apart, the later one with the smaller random part",
			rec("20261123-120000001-ffffffff", late), rec("20261123-120000002-00000000", early)},
		{"an id of the old form and one of the new in its second",
			rec("20261123-120000-ffffffff", late), rec("20261123-120000000-00000000", early)},
		{"an id of the new form and one of the old in the next second",
			rec("20261123-120000999-ffffffff", late), rec("20261123-120001-00000000", early)},
		{"one millisecond, submitted one after the other",
			rec("20261123-120000001-ffffffff", early), rec("20261123-120000001-00000000", late)},
		{"one second of the old form, submitted one after the other",
			rec("20261123-120000-ffffffff", early), rec("20261123-120000-00000000", late)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !madeBefore(tt.first, tt.then) || madeBefore(tt.then, tt.first) {
				t.Errorf("madeBefore(%s, %s) = %v, madeBefore(%s, %s) = %v; want true, false",
					tt.first.ID, tt.then.ID, madeBefore(tt.first, tt.then), tt.then.ID, tt.first.ID, madeBefore(tt.then, tt.first))
			}
		})
	}
}
