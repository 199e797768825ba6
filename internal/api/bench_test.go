package api

import (
	"net/http"
	"slices"
	"testing"
	"time"

	elevator "github.com/elevatorhq/elevator"
)

// BenchmarkList lists the newest page of an app with 10,000 releases
// behind the fake, signed as a viewer, and reports the p99 latency. The
// fake counts what List reads: a page reads its own records only, never
// every record. The Authenticator asks STS (the emulator) once for the
// signed request and remembers the answer for its 15 minutes.
//
//	go test ./internal/api -run '^$' -bench List -benchtime 2000x
func BenchmarkList(b *testing.B) {
	h := newHarness(b)
	const n = 10_000
	for i := 1; i <= n; i++ {
		h.fake.put(record("shop", i, elevator.StateSuccess))
	}
	auth, err := h.viewer.Authorization(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1/releases?app=shop&limit=20", nil)
	req.Header.Set("Authorization", auth)
	do := func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	do() // the one call to STS
	h.fake.read = 0
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		do()
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	if per := float64(h.fake.read) / float64(len(lat)); per > 20 {
		b.Fatalf("a page of 20 read %.0f records", per)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(h.fake.read)/float64(len(lat)), "records-read/op")
}
