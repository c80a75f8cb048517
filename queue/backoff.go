package queue

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with full jitter on the upper half:
// attempt n waits between d/2 and d, where d = min(Base·Factorⁿ⁻¹, Cap).
type Backoff struct {
	Base        time.Duration
	Factor      float64
	Cap         time.Duration
	MaxAttempts int
}

// DefaultBackoff is DESIGN §4's policy: 1 min base, ×2, 1 h cap, 8 attempts.
var DefaultBackoff = Backoff{Base: time.Minute, Factor: 2, Cap: time.Hour, MaxAttempts: 8}

// Delay returns the wait before retrying after failure number n (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	d := float64(b.Base)
	for i := 1; i < n && d < float64(b.Cap); i++ {
		d *= b.Factor
	}
	d = min(d, float64(b.Cap))
	return time.Duration(d/2 + rand.Float64()*d/2)
}
