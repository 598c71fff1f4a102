package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
)

// sessionUser is what creating a session needs to know about its user.
type sessionUser struct {
	id         uuid.UUID
	org        tenancy.OrgID
	role       Role
	enrolled   bool
	requireAll bool
}

// createSession inserts a session for u in tx (scoped to u's org or the
// platform). pending makes a short-lived session awaiting the second factor.
func (s *Service) createSession(ctx context.Context, tx pgx.Tx, u sessionUser, c Client, verified bool, now time.Time) (Session, error) {
	col := "session_idle_minutes"
	if c.Kind == KindDesktop {
		col = "desktop_idle_minutes"
	}
	var idle int
	if err := tx.QueryRow(ctx, `SELECT `+col+` FROM organizations WHERE id = $1`, u.org).Scan(&idle); err != nil {
		return Session{}, fmt.Errorf("reading session settings: %w", err)
	}
	scope := scopeOf(u.role, u.requireAll, u.enrolled, verified)
	expires := now.Add(SessionAbsolute)
	if scope == ScopeSecondFactor {
		expires = now.Add(SecondFactorTimeout)
	}
	tok, hash := newToken()
	var ip any
	if c.IP.IsValid() {
		ip = c.IP.String()
	}
	var id uuid.UUID
	err := tx.QueryRow(ctx, `
		INSERT INTO sessions (org_id, user_id, token_hash, device_id, kind, mfa_verified, ip, user_agent,
		                      created_at, last_seen_at, idle_minutes, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id`,
		u.org, u.id, hash, c.DeviceID, string(c.Kind), verified, ip, c.UserAgent, now, idle, expires).Scan(&id)
	if err != nil {
		return Session{}, fmt.Errorf("creating session: %w", err)
	}
	return Session{
		Token:     tok,
		ExpiresAt: expires,
		Principal: Principal{
			UserID: u.id, OrgID: u.org, Role: u.role, SessionID: id, DeviceID: c.DeviceID,
			Kind: c.Kind, MFAVerified: verified, Scope: scope,
		},
	}, nil
}

// touchInterval is how often a session's last use is written: a request
// within a minute of the last recorded one writes nothing, so validation is
// a read on the hot path. Idle time counts from the last recorded use, so
// a session may end up to this much early, never late.
const touchInterval = time.Minute

// Validate returns the principal of a session token and records the use
// (sliding the idle timeout, see touchInterval). A malformed, unknown, tampered, expired,
// idle-timed-out or revoked token, or one whose user is deactivated, gives
// ErrUnauthenticated. A session that is otherwise valid but whose
// organisation is suspended gives ErrOrgSuspended and is not touched; it
// validates again once the organisation is reinstated (if it has not
// expired meanwhile). The role, scope and organisation status are read
// live, so a role change, a new 2FA requirement or a suspension applies
// to open sessions at once.
func (s *Service) Validate(ctx context.Context, token string) (Principal, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	now := s.clock()
	var (
		p                    Principal
		kind, role           string
		enrolled, requireAll bool
		suspended            bool
	)
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH s AS (
				SELECT s.id, s.org_id, s.user_id, u.role, s.device_id, s.kind, s.mfa_verified,
				       u.totp_enabled_at IS NOT NULL AS enrolled, o.require_2fa_all, s.last_seen_at,
				       `+orgSuspended+` AS suspended
				FROM sessions s JOIN users u ON u.id = s.user_id JOIN organizations o ON o.id = s.org_id
				WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
				  AND s.last_seen_at + make_interval(mins => s.idle_minutes) > $2
				  AND u.status = 'active'),
			touch AS (
				UPDATE sessions SET last_seen_at = $2
				WHERE id = (SELECT id FROM s WHERE NOT suspended) AND last_seen_at <= $2 - make_interval(secs => $3))
			SELECT id, org_id, user_id, role, device_id, kind, mfa_verified, enrolled, require_2fa_all, suspended FROM s`,
			hash, now, touchInterval.Seconds()).
			Scan(&p.SessionID, &p.OrgID, &p.UserID, &role, &p.DeviceID, &kind, &p.MFAVerified, &enrolled, &requireAll, &suspended)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("validating session: %w", err)
	}
	if suspended {
		return Principal{}, ErrOrgSuspended
	}
	p.Role, p.Kind = Role(role), Kind(kind)
	p.Scope = scopeOf(p.Role, requireAll, enrolled, p.MFAVerified)
	return p, nil
}

// SignOut revokes the caller's session.
func (s *Service) SignOut(ctx context.Context, p Principal) error {
	now := s.clock()
	return s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $3, revoke_reason = 'signout'
			WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`, p.SessionID, p.UserID, now)
		if err != nil {
			return fmt.Errorf("signing out: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrUnauthenticated
		}
		_, err = audit.Append(ctx, tx, p.OrgID, audit.Event{
			At: now, ActorUserID: p.UserID, ActorRole: string(p.Role), Action: "auth.signout", Outcome: audit.Success,
			TargetType: "session", TargetID: p.SessionID.String(), DeviceID: p.DeviceID,
		})
		return err
	})
}

// RevokeSession revokes one session: the caller's own, or, for an admin,
// any session in the org.
func (s *Service) RevokeSession(ctx context.Context, actor Principal, sessionID uuid.UUID) error {
	if err := requireFull(actor); err != nil {
		return err
	}
	now := s.clock()
	return s.db.WithOrg(ctx, actor.OrgID, func(tx pgx.Tx) error {
		var owner uuid.UUID
		err := tx.QueryRow(ctx, `SELECT user_id FROM sessions WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, sessionID).Scan(&owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("finding session: %w", err)
		}
		if owner != actor.UserID && actor.Role != RoleAdmin && actor.Role != RoleRootAdmin {
			return ErrNotFound // not even its existence is the caller's business
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = 'revoked' WHERE id = $1`, sessionID, now); err != nil {
			return fmt.Errorf("revoking session: %w", err)
		}
		_, err = audit.Append(ctx, tx, actor.OrgID, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "session.revoke", Outcome: audit.Success,
			TargetType: "session", TargetID: sessionID.String(), Details: map[string]string{"user_id": owner.String()},
		})
		return err
	})
}

// RevokeUserSessions revokes every open session of a user of org and
// returns how many there were.
func (s *Service) RevokeUserSessions(ctx context.Context, actor Principal, org tenancy.OrgID, userID uuid.UUID) (int, error) {
	if err := authorizeAdmin(actor, org); err != nil {
		return 0, err
	}
	now := s.clock()
	var n int
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, userID).Scan(&exists); err != nil {
			return fmt.Errorf("finding user: %w", err)
		}
		if !exists {
			return ErrNotFound
		}
		var err error
		n, err = revokeAll(ctx, tx, userID, "revoked_by_admin", now)
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "session.revoke_all", Outcome: audit.Success,
			TargetType: "user", TargetID: userID.String(), Details: map[string]string{"sessions": fmt.Sprint(n)},
		})
		return err
	})
	return n, err
}

// revokeAll revokes every open session of a user in tx.
func revokeAll(ctx context.Context, tx pgx.Tx, userID uuid.UUID, reason string, now time.Time) (int, error) {
	tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, now, reason)
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
