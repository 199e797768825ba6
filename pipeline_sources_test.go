package elevator

import (
	"strings"
	"testing"
)

// FuzzPipelineIndexEntry: an entry made of an app and an id reads back as
// them; whatever ParsePipelineIndexEntry accepts, it made.
func FuzzPipelineIndexEntry(f *testing.F) {
	f.Add("shop", "20261129-120000-0000000a")
	f.Add("", "x")
	f.Add("a/b", "c")
	f.Fuzz(func(t *testing.T, app, id string) {
		entry := PipelineIndexEntry(app, id)
		a, i, ok := ParsePipelineIndexEntry(entry)
		valid := app != "" && id != "" && !strings.Contains(app, "/") && !strings.Contains(id, "/")
		if valid && (!ok || a != app || i != id) {
			t.Fatalf("entry %q of (%q, %q) reads back as (%q, %q, %v)", entry, app, id, a, i, ok)
		}
		if a, i, ok := ParsePipelineIndexEntry(app); ok && PipelineIndexEntry(a, i) != app {
			t.Fatalf("%q parsed as (%q, %q), which make %q", app, a, i, PipelineIndexEntry(a, i))
		}
	})
}
