package elevator

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the time source of every part of Elevator that reads the time
// or waits: the release engine and the stack applier take one, so that
// tests run on a fake clock instead of sleeping.
type Clock interface {
	Now() time.Time
	// After sends the time on the channel once d has passed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// After waits for d.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Sleep waits for d, or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Jitter is Elevator's one jitter policy: a wait of d becomes a random time
// between half of d and d, so that regions, engines and processes polling
// together spread their calls, and no wait is ever longer than asked (the
// release engine bounds its waits by its lease). random returns numbers in
// [0, 1); nil means math/rand/v2's.
func Jitter(d time.Duration, random func() float64) time.Duration {
	if d <= 0 {
		return 0
	}
	if random == nil {
		random = rand.Float64
	}
	return d/2 + time.Duration(random()*float64(d/2))
}
