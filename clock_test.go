package elevator

import (
	"testing"
	"time"
)

func TestJitterWaitsBetweenHalfTheTimeAndAllOfIt(t *testing.T) {
	tests := []struct {
		name   string
		d      time.Duration
		random float64
		want   time.Duration
	}{
		{"the lowest draw waits half", 10 * time.Second, 0, 5 * time.Second},
		{"a middle draw waits three quarters", 10 * time.Second, 0.5, 7500 * time.Millisecond},
		{"the highest draw stays under the whole wait", 10 * time.Second, 0.999999, 9999995 * time.Microsecond},
		{"no wait stays no wait", 0, 0.5, 0},
		{"a negative wait is no wait", -time.Second, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Jitter(tt.d, func() float64 { return tt.random }); got != tt.want {
				t.Errorf("Jitter(%s, %v) = %s, want %s", tt.d, tt.random, got, tt.want)
			}
		})
	}
}

func TestJitterWithoutASourceStaysInItsBounds(t *testing.T) {
	for range 1000 {
		if got := Jitter(time.Second, nil); got < time.Second/2 || got >= time.Second {
			t.Fatalf("Jitter(1s, nil) = %s, want within [500ms, 1s)", got)
		}
	}
}
