package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// PGLimiter is one organisation's FHIR rate limit, shared by every replica:
// a token bucket in fhir_rate_buckets refilled at PerHour/3600 tokens a
// second up to Burst, on the database's clock. Each Wait takes one token in
// one statement; when the bucket is empty the token is taken on credit (the
// balance goes negative) and Wait sleeps until it would have been refilled,
// so concurrent callers on every replica queue up in order and the long-run
// rate never exceeds PerHour. It implements epic.Limiter.
type PGLimiter struct {
	db      *tenancy.DB
	org     tenancy.OrgID
	perHour float64
	burst   float64
	// Sleep waits (nil: a timer honouring ctx).
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewPGLimiter returns org's limiter. burst 0 means ten seconds' worth of
// requests (at least 1).
func NewPGLimiter(db *tenancy.DB, org tenancy.OrgID, perHour, burst int) *PGLimiter {
	b := float64(burst)
	if burst <= 0 {
		b = max(1, float64(perHour)/360)
	}
	return &PGLimiter{db: db, org: org, perHour: float64(max(perHour, 1)), burst: b}
}

// Wait implements epic.Limiter.
func (l *PGLimiter) Wait(ctx context.Context) error {
	perSec := l.perHour / 3600
	var balance float64
	err := l.db.WithOrg(ctx, l.org, func(tx pgx.Tx) error {
		const take = `UPDATE fhir_rate_buckets
			SET tokens = least($2::float8, tokens + extract(epoch FROM clock_timestamp() - refilled_at)::float8 * $3::float8) - 1,
			    refilled_at = clock_timestamp()
			WHERE org_id = $1 RETURNING tokens`
		err := tx.QueryRow(ctx, take, l.org, l.burst, perSec).Scan(&balance)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, `INSERT INTO fhir_rate_buckets (org_id, tokens, refilled_at) VALUES ($1, $2, clock_timestamp())
				ON CONFLICT (org_id) DO NOTHING`, l.org, l.burst); err != nil {
				return err
			}
			err = tx.QueryRow(ctx, take, l.org, l.burst, perSec).Scan(&balance)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if balance >= 0 {
		return nil
	}
	wait := time.Duration(-balance / perSec * float64(time.Second))
	sleep := l.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	if err := sleep(ctx, wait); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
