package measure

import (
	"errors"
	"testing"
	"time"
)

// TestMemoRetries: the full-digest backend's setup is kept once it
// succeeds; a failure is kept for digestRetry and then tried again, so a
// long-lived process does not fall back to 64-bit tags for good after one
// passing failure.
func TestMemoRetries(t *testing.T) {
	clock := time.Unix(1000, 0)
	calls := 0
	results := []error{errors.New("busy"), errors.New("busy again"), nil, errors.New("never asked")}
	m := memo[int]{
		fn: func() (int, error) {
			err := results[calls]
			calls++
			return calls, err
		},
		now: func() time.Time { return clock },
	}
	steps := []struct {
		advance time.Duration
		calls   int  // fn calls so far
		ok      bool // get succeeds
	}{
		{0, 1, false},                         // first failure
		{digestRetry - time.Second, 1, false}, // remembered
		{time.Second, 2, false},               // tried again: fails again
		{digestRetry / 2, 2, false},           // remembered
		{digestRetry / 2, 3, true},            // tried again: succeeds
		{10 * digestRetry, 3, true},           // kept for good
	}
	for i, s := range steps {
		clock = clock.Add(s.advance)
		v, err := m.get()
		if calls != s.calls || (err == nil) != s.ok {
			t.Fatalf("step %d: %d calls, value %d, error %v; want %d calls, success %v", i, calls, v, err, s.calls, s.ok)
		}
		if s.ok && v != 3 {
			t.Fatalf("step %d: value %d, want the successful call's 3", i, v)
		}
	}
}
