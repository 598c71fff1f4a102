package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/identity/password"
)

// RequestPasswordReset mails a reset link to email if it belongs to an
// active account. The answer is the same (nil) whether or not it does;
// only a malformed email or client is refused. At most ResetsPerHour links
// are sent per account per hour; a new link supersedes older ones (and a
// mail of an older link still waiting in the outbox).
//
// The caller's response time does not tell whether the account exists:
// no mail is sent here (the message goes, sealed, into the mail outbox,
// and MailOutbox sends it), and one transaction runs the same statements
// in the same order for an unknown email, a deactivated account, an
// account over its hourly limit and an account that gets a link; only
// their parameters differ (a user that matches no row, a flag that makes
// an INSERT insert nothing). Each case leaves an audit entry
// (auth.password_reset_request: success, or failure with a reason; an
// unknown email in the platform org, without the email).
func (s *Service) RequestPasswordReset(ctx context.Context, email string, c Client) error {
	c, err := checkClient(c)
	if err != nil {
		return err
	}
	email, err = normEmail(email)
	if err != nil {
		return err
	}
	now := s.clock()
	tok, hash := newToken()
	mailID := uuid.New()
	msg, err := render("reset", email, "Reset your HealthPrep password", mailData{Link: s.link("/password/reset", tok)})
	if err != nil {
		return fmt.Errorf("rendering reset mail: %w", err)
	}
	err = s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		u, err := loadUser(ctx, tx, `WHERE u.email = $1`, email)
		if err != nil {
			return err
		}
		org, err := s.platformOrg(ctx, tx)
		if err != nil {
			return err
		}
		user, active := uuid.Nil, false // uuid.Nil matches no row
		ev := audit.Event{
			At: now, Action: "auth.password_reset_request", Outcome: audit.Failure, TargetType: "account",
			IP: c.IP.String(), DeviceID: c.DeviceID, Details: map[string]string{"reason": "unknown_account"},
		}
		if u != nil {
			org, user, active = u.org, u.id, u.status == "active"
			ev.TargetType, ev.TargetID, ev.Details["reason"] = "user", u.id.String(), "deactivated"
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, user); err != nil {
			return fmt.Errorf("locking user: %w", err)
		}
		var recent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM password_resets WHERE user_id = $1 AND created_at > $2`,
			user, now.Add(-ResetValidity)).Scan(&recent); err != nil {
			return fmt.Errorf("counting resets: %w", err)
		}
		issue := active && recent < ResetsPerHour
		switch {
		case issue:
			ev.Outcome, ev.Details = audit.Success, nil
		case active:
			ev.Details["reason"] = "rate_limited" // quietly: the answer must not differ
		}
		if _, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL AND $3::boolean`,
			user, now, issue); err != nil {
			return fmt.Errorf("superseding resets: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (org_id, user_id, token_hash, created_at, expires_at)
			SELECT $1::uuid, $2::uuid, $3::bytea, $4::timestamptz, $5::timestamptz WHERE $6::boolean`,
			org, user, hash, now, now.Add(ResetValidity), issue); err != nil {
			return fmt.Errorf("storing reset: %w", err)
		}
		if err := s.enqueue(ctx, tx, outboxMail{id: mailID, org: org, kind: mailReset, ref: user, msg: msg, write: issue}, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, ev)
		return err
	})
	if err != nil {
		return fmt.Errorf("requesting password reset: %w", err)
	}
	s.outbox.notify()
	return nil
}

// CheckPasswordReset reports whether a reset link can still be used,
// without changing anything, and whether completing it will need the
// second factor (the user has TOTP enrolled). Every link that cannot be
// used (malformed, unknown, expired, used, superseded by a newer request,
// or of a deactivated account) is ErrResetInvalid, not saying which.
func (s *Service) CheckPasswordReset(ctx context.Context, token string) (needsSecondFactor bool, err error) {
	hash, ok := tokenHash(token)
	if !ok {
		return false, ErrResetInvalid
	}
	u, err := s.resetUser(ctx, hash, s.clock())
	if err != nil {
		return false, fmt.Errorf("checking password reset: %w", err)
	}
	if u == nil || u.status != "active" {
		return false, ErrResetInvalid
	}
	return u.enrolled(), nil
}

// resetUser loads the user of an open reset link; nil when there is none.
func (s *Service) resetUser(ctx context.Context, hash []byte, now time.Time) (*userRow, error) {
	var u *userRow
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = loadUser(ctx, tx, `WHERE u.id = (SELECT user_id FROM password_resets
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)`, hash, now)
		return err
	})
	return u, err
}

// CompletePasswordResetRequest completes a reset: the token from the
// link, the new password, and the second factor when the user has one.
type CompletePasswordResetRequest struct {
	Token        string
	Password     string
	SecondFactor string
	Client       Client
}

// CompletePasswordReset sets a new password from a reset link. It needs
// the TOTP (or a recovery code) when the user has enrolled; wrong codes
// count towards the lockout. On success the link is used up, the account
// unlocked and every session of the user revoked.
func (s *Service) CompletePasswordReset(ctx context.Context, req CompletePasswordResetRequest) error {
	c, err := checkClient(req.Client)
	if err != nil {
		return err
	}
	hash, ok := tokenHash(req.Token)
	if !ok {
		return ErrResetInvalid
	}
	now := s.clock()
	u, err := s.resetUser(ctx, hash, now)
	if err != nil {
		return fmt.Errorf("completing password reset: %w", err)
	}
	if u == nil || u.status != "active" {
		return ErrResetInvalid
	}
	if err := s.policy.Check(req.Password, u.email); err != nil {
		return err
	}
	if u.enrolled() {
		f := failure{user: u, emailHash: s.emailHash(u.email), client: c, now: now, counted: true, reason: "wrong_second_factor"}
		if u.locked(now) {
			f.counted, f.reason = false, "locked"
			return s.fail(ctx, f, ErrLocked)
		}
		if req.SecondFactor == "" {
			return ErrMFARequired
		}
		if _, err := s.checkSecondFactor(ctx, u, req.SecondFactor, c, now); err != nil {
			if errors.Is(err, ErrInvalidTOTP) {
				return s.fail(ctx, f, ErrInvalidTOTP)
			}
			return err
		}
	}
	phc, err := password.Hash(req.Password, s.cfg.Password)
	if err != nil {
		return fmt.Errorf("completing password reset: %w", err)
	}
	err = s.db.WithOrg(ctx, u.org, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, hash, now)
		if err != nil {
			return fmt.Errorf("using reset: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrResetInvalid
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0,
			locked_until = NULL, updated_at = $3 WHERE id = $1`, u.id, phc, now); err != nil {
			return fmt.Errorf("storing password: %w", err)
		}
		n, err := revokeAll(ctx, tx, u.id, "password_reset", now)
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.password_reset", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), IP: c.IP.String(), DeviceID: c.DeviceID,
			Details: map[string]string{"sessions_revoked": fmt.Sprint(n)},
		})
		return err
	})
	return wrapUnlessSentinel("completing password reset", err)
}
