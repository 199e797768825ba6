package awsrelease

// The end-to-end scenarios again, with every call of the engine going
// through a fault-injecting proxy in front of moto (faultproxy): 20% of
// calls throttled, 5% answered 503, and 5% carried out with their answer
// lost (a 500). The SDK retries what it can; the engine retries its steps;
// idempotent calls, conditional writes and look-ups before creates make
// the retries safe. The world is set up and checked without the proxy.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	elevator "github.com/elevatorhq/elevator"
	"github.com/elevatorhq/elevator/internal/emulator/emulatortest"
	"github.com/elevatorhq/elevator/internal/emulator/faultproxy"
	"github.com/elevatorhq/elevator/internal/release"
)

// faulty returns a backend whose calls go through a fault proxy with the
// issue's rates and a fixed seed, and the proxy.
func (w *world) faulty(t *testing.T, seed uint64) (*Backend, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.Start(emulatortest.Endpoint(), faultproxy.Config{Throttle: 0.20, Unavailable: 0.05, LostAnswer: 0.05, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	var cfgs []aws.Config
	for _, r := range w.regions {
		c := w.cfg(r)
		c.BaseEndpoint = aws.String(p.URL)
		// The SDK's standard retryer waits up to 20 s between tries; on a
		// local emulator a tenth of a second says the same.
		c.Retryer = func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxBackoff = 100 * time.Millisecond })
		}
		cfgs = append(cfgs, c)
	}
	return w.backend(cfgs...), p
}

func TestReleasesThroughAFaultyNetworkNeverEndDirty(t *testing.T) {
	w := newWorld(t, twoRegions...)
	a := w.newApp("shop", []string{"web", "worker"}, "web")
	b, proxy := w.faulty(t, 42)

	var serving string
	t.Run("two releases in a row both succeed", func(t *testing.T) {
		e := w.engine(b, "engine-a")
		for _, version := range []string{"1.0.0", "1.1.0"} {
			rel := w.release(a, version, withScaling)
			rec := runThrough(t, e, rel)
			if rec.State != elevator.StateSuccess {
				t.Fatalf("release %s ended %s (path %v, error %s, leftovers %v)", version, rec.State, rec.Path, rec.Error, rec.Leftovers)
			}
			serving = rel.ID
			w.assertServing(t, a, rel.ID)
		}
	})
	t.Run("a release whose new instances never serve ends FailureClean", func(t *testing.T) {
		if serving == "" {
			t.Skip("nothing serves")
		}
		var id string
		e := w.engine(b, "engine-b", func(c *release.Config) { c.Observe = stopNewWeb(w, a, &id, w.regions[0]) })
		bad := w.release(a, "2.0.0", func(r *elevator.Release) { r.TimeoutSeconds = 2 })
		id = bad.ID
		rec := runThrough(t, e, bad)
		if rec.State != elevator.StateFailureClean {
			t.Fatalf("ended %s (path %v, error %s, leftovers %v), want FailureClean", rec.State, rec.Path, rec.Error, rec.Leftovers)
		}
		w.assertServing(t, a, serving)
	})
	t.Run("a release halted while it waits for health ends FailureClean", func(t *testing.T) {
		if serving == "" {
			t.Skip("nothing serves")
		}
		// The new web instances are stopped so that the release waits in
		// CheckHealthy: the engine skips a halt check that fails (the next
		// poll looks again), and on moto a release that is not made to
		// wait leaves CheckHealthy at its first look.
		var e *release.Engine
		var id string
		stop := stopNewWeb(w, a, &id, w.regions[1])
		e = w.engine(b, "engine-c", func(c *release.Config) {
			c.Observe = func(rec elevator.ReleaseRecord) {
				if rec.State != elevator.StateCheckHealthy {
					return
				}
				stop(rec)
				// Through the faulty network too: Halt may fail like any
				// call; the operator tries again.
				for attempt := 1; ; attempt++ {
					err := e.Halt(context.Background(), id, "bob", "stop")
					if err == nil {
						return
					}
					if attempt == 10 {
						t.Errorf("halt: %v", err)
						return
					}
				}
			}
		})
		halted := w.release(a, "3.0.0")
		id = halted.ID
		rec := runThrough(t, e, halted)
		if rec.State != elevator.StateFailureClean || rec.Halt == nil || !errors.Is(rec.Err(), elevator.FailureHalted) || !strings.Contains(rec.Error, "halted by bob") {
			t.Fatalf("ended %s with halt %v (path %v, error %s, leftovers %v), want FailureClean by the halt", rec.State, rec.Halt, rec.Path, rec.Error, rec.Leftovers)
		}
		w.assertServing(t, a, serving)
	})
	c := proxy.Counts()
	t.Logf("proxy: %d requests, %d throttled, %d answered 503, %d answers lost", c.Requests, c.Throttled, c.Unavailable, c.LostAnswers)
	if c.Throttled == 0 || c.Unavailable == 0 || c.LostAnswers == 0 {
		t.Errorf("the proxy injected no faults of some kind: %+v", c)
	}
}

// runThrough submits and runs rel to its end as a caller on a faulty
// network would: the engine retries what it does inside a release, but
// Submit, and the first read and write of Run, are the caller's to retry.
// Submit is idempotent; a Run whose start was stored though its answer
// was lost is resumed.
func runThrough(t *testing.T, e *release.Engine, rel *elevator.Release) *elevator.ReleaseRecord {
	t.Helper()
	ctx := context.Background()
	sum, err := rel.Checksum()
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		if _, err = e.Submit(ctx, rel); err == nil {
			break
		}
		if attempt == 10 {
			t.Fatalf("submit: %v", err)
		}
	}
	for attempt := 1; ; attempt++ {
		rec, err := e.Run(ctx, rel.ID, sum)
		if elevator.ErrorCode(err) == elevator.ECONFLICT && rec != nil && len(rec.Path) > 0 {
			rec, err = e.Resume(ctx, rel.ID, "test")
		}
		if err == nil && rec.State.Ended() {
			return rec
		}
		if attempt == 10 {
			t.Fatalf("run: %v (record %+v)", err, rec)
		}
	}
}
