package epic

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// MemoryLimiter is a Limiter for one process: a token bucket refilled at
// perHour requests per hour, holding at most burst.
type MemoryLimiter struct {
	l *rate.Limiter
}

// NewMemoryLimiter returns a limiter allowing perHour requests an hour with
// bursts of up to burst (at least 1).
func NewMemoryLimiter(perHour, burst int) *MemoryLimiter {
	return &MemoryLimiter{l: rate.NewLimiter(rate.Every(time.Hour/time.Duration(max(perHour, 1))), max(burst, 1))}
}

// Wait implements Limiter.
func (m *MemoryLimiter) Wait(ctx context.Context) error {
	if err := m.l.Wait(ctx); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}
