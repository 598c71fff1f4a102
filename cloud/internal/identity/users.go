package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/tenancy"
)

// User is an account as admins see it.
type User struct {
	ID          uuid.UUID
	OrgID       tenancy.OrgID
	Email       string
	DisplayName string
	Role        Role
	Active      bool
	TOTPEnabled bool
	LockedUntil *time.Time
	CreatedAt   time.Time
}

// Self is the signed-in person's own account and session, for the
// "signed in as" line of a client.
type Self struct {
	User             User
	SessionExpiresAt time.Time // the absolute end of the session
}

// Self reads p's own account and the absolute expiry of p's session (any
// role, in any scope: it reveals nothing beyond the caller's own record).
// ErrUnauthenticated when the session or the user is gone.
func (s *Service) Self(ctx context.Context, p Principal) (Self, error) {
	var me Self
	var role string
	err := s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT u.id, u.org_id, u.email, u.display_name, u.role, u.status = 'active',
			u.totp_enabled_at IS NOT NULL, u.locked_until, u.created_at, s.expires_at
			FROM users u JOIN sessions s ON s.user_id = u.id
			WHERE u.id = $1 AND s.id = $2`, p.UserID, p.SessionID).
			Scan(&me.User.ID, &me.User.OrgID, &me.User.Email, &me.User.DisplayName, &role, &me.User.Active,
				&me.User.TOTPEnabled, &me.User.LockedUntil, &me.User.CreatedAt, &me.SessionExpiresAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Self{}, ErrUnauthenticated
	}
	if err != nil {
		return Self{}, fmt.Errorf("reading own account: %w", err)
	}
	me.User.Role = Role(role)
	return me, nil
}

// ListUsers lists org's users, active and deactivated.
func (s *Service) ListUsers(ctx context.Context, actor Principal, org tenancy.OrgID) ([]User, error) {
	if err := authorizeAdmin(actor, org); err != nil {
		return nil, err
	}
	var out []User
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, org_id, email, display_name, role, status = 'active',
			totp_enabled_at IS NOT NULL, locked_until, created_at FROM users ORDER BY email`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) {
			var u User
			var role string
			err := r.Scan(&u.ID, &u.OrgID, &u.Email, &u.DisplayName, &role, &u.Active, &u.TOTPEnabled, &u.LockedUntil, &u.CreatedAt)
			u.Role = Role(role)
			return u, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}

// targetUser locks a user of the transaction's org for change; ErrNotFound
// when not visible. Root admins are changed by nobody through this path.
func targetUser(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*userRow, error) {
	u, err := loadUser(ctx, tx, `WHERE u.id = $1 FOR UPDATE OF u`, id)
	if err != nil {
		return nil, err
	}
	if u == nil || u.role == RoleRootAdmin {
		return nil, ErrNotFound
	}
	return u, nil
}

// otherActiveAdmins counts active admins of the org other than id.
func otherActiveAdmins(ctx context.Context, tx pgx.Tx, id uuid.UUID) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active' AND id <> $1`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting admins: %w", err)
	}
	return n, nil
}

// ChangeRole sets a user's role (admin, nurse or ma). The org keeps at
// least one active admin. Open sessions take the new role at once.
func (s *Service) ChangeRole(ctx context.Context, actor Principal, org tenancy.OrgID, userID uuid.UUID, role Role) error {
	if err := authorizeAdmin(actor, org); err != nil {
		return err
	}
	if err := checkInviteRole(role); err != nil {
		return err
	}
	now := s.clock()
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		if _, _, _, err := lockOrg(ctx, tx, org); err != nil {
			return err
		}
		u, err := targetUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.role == role {
			return nil
		}
		if u.role == RoleAdmin && u.status == "active" {
			if n, err := otherActiveAdmins(ctx, tx, u.id); err != nil {
				return err
			} else if n == 0 {
				return ErrLastAdmin
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $2, updated_at = $3 WHERE id = $1`, u.id, string(role), now); err != nil {
			return fmt.Errorf("changing role: %w", err)
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "user.role_change", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), DeviceID: actor.DeviceID,
			Details: map[string]string{"from": string(u.role), "to": string(role)},
		})
		return err
	})
	return wrapUnlessSentinel("changing role", err)
}

// Deactivate disables a user and revokes their sessions. The org keeps at
// least one active admin.
func (s *Service) Deactivate(ctx context.Context, actor Principal, org tenancy.OrgID, userID uuid.UUID) error {
	if err := authorizeAdmin(actor, org); err != nil {
		return err
	}
	now := s.clock()
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		if _, _, _, err := lockOrg(ctx, tx, org); err != nil {
			return err
		}
		u, err := targetUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.status != "active" {
			return nil
		}
		if u.role == RoleAdmin {
			if n, err := otherActiveAdmins(ctx, tx, u.id); err != nil {
				return err
			} else if n == 0 {
				return ErrLastAdmin
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET status = 'deactivated', updated_at = $2 WHERE id = $1`, u.id, now); err != nil {
			return fmt.Errorf("deactivating user: %w", err)
		}
		n, err := revokeAll(ctx, tx, u.id, "deactivated", now)
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "user.deactivate", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), DeviceID: actor.DeviceID,
			Details: map[string]string{"sessions_revoked": fmt.Sprint(n)},
		})
		return err
	})
	return wrapUnlessSentinel("deactivating user", err)
}

// ResetTOTP removes a user's TOTP and recovery codes (a lost phone) and
// revokes their sessions; where TOTP is mandatory they must enrol again at
// their next sign-in.
func (s *Service) ResetTOTP(ctx context.Context, actor Principal, org tenancy.OrgID, userID uuid.UUID) error {
	if err := authorizeAdmin(actor, org); err != nil {
		return err
	}
	now := s.clock()
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		u, err := targetUser(ctx, tx, userID)
		if err != nil {
			return err
		}
		if !u.enrolled() && u.totpEnc == nil {
			return ErrTOTPNotEnrolled
		}
		if _, err := revokeAll(ctx, tx, u.id, "totp_reset", now); err != nil {
			return err
		}
		return s.clearTOTP(ctx, tx, u, actor, "auth.totp_reset", now)
	})
	return wrapUnlessSentinel("resetting TOTP", err)
}

// CreateRootAdmin creates a root admin in the platform organisation with
// the given password (policy applies). It is for bootstrapping (hpctl,
// `make run`) and has no caller check: only operator tooling may call it.
func (s *Service) CreateRootAdmin(ctx context.Context, email, pw, displayName string) (uuid.UUID, error) {
	email, err := normEmail(email)
	if err != nil {
		return uuid.Nil, err
	}
	name, err := checkDisplayName(displayName)
	if err != nil {
		return uuid.Nil, err
	}
	if err := s.policy.Check(pw, email); err != nil {
		return uuid.Nil, err
	}
	phc, err := password.Hash(pw, s.cfg.Password)
	if err != nil {
		return uuid.Nil, fmt.Errorf("creating root admin: %w", err)
	}
	now := s.clock()
	var org tenancy.OrgID
	if err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		org, err = s.platformOrg(ctx, tx)
		return err
	}); err != nil {
		return uuid.Nil, fmt.Errorf("creating root admin: %w", err)
	}
	var id uuid.UUID
	err = s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO users (org_id, email, display_name, role, password_hash, password_changed_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'root_admin', $4, $5, $5, $5) RETURNING id`, org, email, name, phc, now).Scan(&id)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return ErrEmailInUse
		}
		if err != nil {
			return fmt.Errorf("storing user: %w", err)
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, Action: "user.create", Outcome: audit.Success, TargetType: "user", TargetID: id.String(),
			Details: map[string]string{"role": string(RoleRootAdmin), "via": "bootstrap"},
		})
		return err
	})
	if err != nil {
		return uuid.Nil, wrapUnlessSentinel("creating root admin", err)
	}
	return id, nil
}
