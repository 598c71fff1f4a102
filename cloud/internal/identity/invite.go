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

// Invite is an invitation as admins see it (never its token).
type Invite struct {
	ID        uuid.UUID
	OrgID     tenancy.OrgID
	Email     string
	Role      Role
	CreatedAt time.Time
	ExpiresAt time.Time
	SentCount int
}

func checkInviteRole(r Role) error {
	switch r {
	case RoleAdmin, RoleNurse, RoleMA:
		return nil
	}
	return &InputError{Field: "role", Reason: "must be admin, nurse or ma"}
}

// lockOrg locks org's row (serialising seat counting) and returns its name
// and max_users; ErrNotFound when the org is not visible.
func lockOrg(ctx context.Context, tx pgx.Tx, org tenancy.OrgID) (name string, maxUsers int, platform bool, err error) {
	err = tx.QueryRow(ctx, `SELECT name, max_users, is_platform FROM organizations WHERE id = $1 FOR UPDATE`, org).
		Scan(&name, &maxUsers, &platform)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, false, ErrNotFound
	}
	if err != nil {
		return "", 0, false, fmt.Errorf("locking organisation: %w", err)
	}
	return name, maxUsers, platform, nil
}

// seatsUsed counts active users plus open, unexpired invites of org,
// leaving out one invite (uuid.Nil for none).
func seatsUsed(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, except uuid.UUID, now time.Time) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE org_id = $1 AND status = 'active') +
		(SELECT count(*) FROM invites WHERE org_id = $1 AND id <> $2 AND accepted_at IS NULL
		   AND cancelled_at IS NULL AND expires_at > $3)`, org, except, now).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting seats: %w", err)
	}
	return n, nil
}

// CreateInvite invites email to org with role and mails the link through
// the outbox (see queueInvite: the invite exists even when the mail must
// be retried). Root admins invite into any org (an org's first admin);
// admins into their own.
func (s *Service) CreateInvite(ctx context.Context, actor Principal, org tenancy.OrgID, email string, role Role) (Invite, error) {
	if err := authorizeAdmin(actor, org); err != nil {
		return Invite{}, err
	}
	email, err := normEmail(email)
	if err != nil {
		return Invite{}, err
	}
	if err := checkInviteRole(role); err != nil {
		return Invite{}, err
	}
	now := s.clock()
	inv := Invite{OrgID: org, Email: email, Role: role, CreatedAt: now, ExpiresAt: now.Add(InviteValidity), SentCount: 1}
	mailID := uuid.New()
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		name, maxUsers, platform, err := lockOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		if platform {
			return &InputError{Field: "organisation", Reason: "root admins are not invited"}
		}
		var inUse, open bool
		err = tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM users WHERE email = $1),
			EXISTS (SELECT 1 FROM invites WHERE email = $1 AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > $2)`,
			email, now).Scan(&inUse, &open)
		if err != nil {
			return fmt.Errorf("checking email: %w", err)
		}
		if inUse {
			return ErrEmailInUse
		}
		if open {
			return ErrInviteOpen
		}
		// An expired open invite would block the unique index: close it.
		if _, err := tx.Exec(ctx, `UPDATE invites SET cancelled_at = $2 WHERE email = $1 AND accepted_at IS NULL AND cancelled_at IS NULL`,
			email, now); err != nil {
			return fmt.Errorf("closing expired invite: %w", err)
		}
		used, err := seatsUsed(ctx, tx, org, uuid.Nil, now)
		if err != nil {
			return err
		}
		if used >= maxUsers {
			return ErrMaxUsers
		}
		tok, hash := newToken()
		var invitedBy *uuid.UUID
		if actor.UserID != uuid.Nil {
			invitedBy = &actor.UserID
		}
		err = tx.QueryRow(ctx, `INSERT INTO invites (org_id, email, role, token_hash, invited_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, org, email, string(role), hash, invitedBy, now, inv.ExpiresAt).Scan(&inv.ID)
		if err != nil {
			return fmt.Errorf("storing invite: %w", err)
		}
		if _, err := audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "invite.create", Outcome: audit.Success,
			TargetType: "invite", TargetID: inv.ID.String(), DeviceID: actor.DeviceID, Details: map[string]string{"role": string(role)},
		}); err != nil {
			return err
		}
		return s.queueInvite(ctx, tx, mailID, inv, name, tok, now)
	})
	if err != nil {
		return Invite{}, wrapUnlessSentinel("creating invite", err)
	}
	s.outbox.deliverNow(ctx, mailID)
	return inv, nil
}

// queueInvite writes the invitation mail to the outbox in the invite's
// transaction. The invite exists once that transaction commits, whether or
// not the mail can be sent at once: CreateInvite and ResendInvite try to
// send it before returning, and MailOutbox retries it after a failure
// (resending the invite replaces a mail still pending with the new link).
func (s *Service) queueInvite(ctx context.Context, tx pgx.Tx, mailID uuid.UUID, inv Invite, orgName, tok string, now time.Time) error {
	msg, err := render("invite", inv.Email, "Your invitation to HealthPrep", mailData{Org: orgName, Link: s.link("/invite/accept", tok)})
	if err != nil {
		return fmt.Errorf("rendering invite mail: %w", err)
	}
	return s.enqueue(ctx, tx, outboxMail{id: mailID, org: inv.OrgID, kind: mailInvite, ref: inv.ID, msg: msg, write: true}, now)
}

// ListInvites lists org's open invitations (expired ones included, so
// they can be resent).
func (s *Service) ListInvites(ctx context.Context, actor Principal, org tenancy.OrgID) ([]Invite, error) {
	if err := authorizeAdmin(actor, org); err != nil {
		return nil, err
	}
	var out []Invite
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id, org_id, email, role, created_at, expires_at, sent_count FROM invites
			WHERE accepted_at IS NULL AND cancelled_at IS NULL ORDER BY created_at, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invite, error) {
			var i Invite
			var role string
			err := r.Scan(&i.ID, &i.OrgID, &i.Email, &role, &i.CreatedAt, &i.ExpiresAt, &i.SentCount)
			i.Role = Role(role)
			return i, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing invites: %w", err)
	}
	return out, nil
}

// ResendInvite gives an open invitation a new token and a fresh 7 days and
// mails it again; the old link stops working.
func (s *Service) ResendInvite(ctx context.Context, actor Principal, org tenancy.OrgID, inviteID uuid.UUID) (Invite, error) {
	if err := authorizeAdmin(actor, org); err != nil {
		return Invite{}, err
	}
	now := s.clock()
	var inv Invite
	mailID := uuid.New()
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		name, maxUsers, _, err := lockOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		used, err := seatsUsed(ctx, tx, org, inviteID, now)
		if err != nil {
			return err
		}
		tok, hash := newToken()
		var role string
		err = tx.QueryRow(ctx, `UPDATE invites SET token_hash = $2, expires_at = $3, sent_count = sent_count + 1
			WHERE id = $1 AND accepted_at IS NULL AND cancelled_at IS NULL
			RETURNING id, org_id, email, role, created_at, expires_at, sent_count`, inviteID, hash, now.Add(InviteValidity)).
			Scan(&inv.ID, &inv.OrgID, &inv.Email, &role, &inv.CreatedAt, &inv.ExpiresAt, &inv.SentCount)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("renewing invite: %w", err)
		}
		inv.Role = Role(role)
		if used >= maxUsers {
			return ErrMaxUsers
		}
		if _, err := audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "invite.resend", Outcome: audit.Success,
			TargetType: "invite", TargetID: inv.ID.String(), DeviceID: actor.DeviceID,
		}); err != nil {
			return err
		}
		return s.queueInvite(ctx, tx, mailID, inv, name, tok, now)
	})
	if err != nil {
		return Invite{}, wrapUnlessSentinel("resending invite", err)
	}
	s.outbox.deliverNow(ctx, mailID)
	return inv, nil
}

// CancelInvite cancels an open invitation; its link stops working.
func (s *Service) CancelInvite(ctx context.Context, actor Principal, org tenancy.OrgID, inviteID uuid.UUID) error {
	if err := authorizeAdmin(actor, org); err != nil {
		return err
	}
	now := s.clock()
	err := s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE invites SET cancelled_at = $2 WHERE id = $1 AND accepted_at IS NULL AND cancelled_at IS NULL`, inviteID, now)
		if err != nil {
			return fmt.Errorf("cancelling invite: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		if err := dropMail(ctx, tx, mailInvite, inviteID); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: "invite.cancel", Outcome: audit.Success,
			TargetType: "invite", TargetID: inviteID.String(), DeviceID: actor.DeviceID,
		})
		return err
	})
	return wrapUnlessSentinel("cancelling invite", err)
}

// InviteInfo is what the holder of an invitation link is shown before
// accepting it: the organisation and the role. Nothing else (not even the
// email the link was sent to) is revealed to whoever holds the link.
type InviteInfo struct {
	OrgName string
	Role    Role
}

// CheckInvite reports whether an invitation link can still be accepted,
// without changing anything. Every link that cannot (malformed, unknown,
// expired, accepted, cancelled, or replaced by a resend) is
// ErrInviteInvalid, deliberately not saying which.
func (s *Service) CheckInvite(ctx context.Context, token string) (InviteInfo, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return InviteInfo{}, ErrInviteInvalid
	}
	now := s.clock()
	var (
		info InviteInfo
		role string
	)
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT o.name, i.role FROM invites i JOIN organizations o ON o.id = i.org_id
			WHERE i.token_hash = $1 AND i.accepted_at IS NULL AND i.cancelled_at IS NULL AND i.expires_at > $2`, hash, now).
			Scan(&info.OrgName, &role)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return InviteInfo{}, ErrInviteInvalid
	}
	if err != nil {
		return InviteInfo{}, fmt.Errorf("checking invite: %w", err)
	}
	info.Role = Role(role)
	return info, nil
}

// AcceptInviteRequest accepts an invitation: the new user's password and
// name, and where the request comes from.
type AcceptInviteRequest struct {
	Token       string
	Password    string
	DisplayName string
	Client      Client
}

// AcceptInvite creates the invited user with the chosen password (policy
// applies) and opens their first session (ScopeEnrol when TOTP is
// mandatory for them). An invitation is accepted at most once, even by
// concurrent requests on different replicas.
func (s *Service) AcceptInvite(ctx context.Context, req AcceptInviteRequest) (Session, error) {
	c, err := checkClient(req.Client)
	if err != nil {
		return Session{}, err
	}
	name, err := checkDisplayName(req.DisplayName)
	if err != nil {
		return Session{}, err
	}
	hash, ok := tokenHash(req.Token)
	if !ok {
		return Session{}, ErrInviteInvalid
	}
	now := s.clock()
	var (
		inviteID uuid.UUID
		org      tenancy.OrgID
		email    string
	)
	err = s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT id, org_id, email FROM invites
			WHERE token_hash = $1 AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > $2`, hash, now).
			Scan(&inviteID, &org, &email)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrInviteInvalid
	}
	if err != nil {
		return Session{}, fmt.Errorf("accepting invite: %w", err)
	}
	if err := s.policy.Check(req.Password, email); err != nil {
		return Session{}, err
	}
	phc, err := password.Hash(req.Password, s.cfg.Password)
	if err != nil {
		return Session{}, fmt.Errorf("accepting invite: %w", err)
	}
	var sess Session
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		_, maxUsers, _, err := lockOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		var role string
		err = tx.QueryRow(ctx, `UPDATE invites SET accepted_at = $3
			WHERE id = $1 AND token_hash = $2 AND accepted_at IS NULL AND cancelled_at IS NULL AND expires_at > $3
			RETURNING role`, inviteID, hash, now).Scan(&role)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrInviteInvalid // accepted, resent or cancelled meanwhile
		}
		if err != nil {
			return fmt.Errorf("claiming invite: %w", err)
		}
		used, err := seatsUsed(ctx, tx, org, inviteID, now)
		if err != nil {
			return err
		}
		if used >= maxUsers {
			return ErrMaxUsers
		}
		var uid uuid.UUID
		err = tx.QueryRow(ctx, `INSERT INTO users (org_id, email, display_name, role, password_hash, password_changed_at, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $6) RETURNING id`, org, email, name, role, phc, now).Scan(&uid)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			return ErrEmailInUse
		}
		if err != nil {
			return fmt.Errorf("creating user: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE invites SET accepted_user_id = $2 WHERE id = $1`, inviteID, uid); err != nil {
			return fmt.Errorf("linking invite: %w", err)
		}
		var requireAll bool
		if err := tx.QueryRow(ctx, `SELECT require_2fa_all FROM organizations WHERE id = $1`, org).Scan(&requireAll); err != nil {
			return fmt.Errorf("reading settings: %w", err)
		}
		u := sessionUser{id: uid, org: org, role: Role(role), requireAll: requireAll}
		if sess, err = s.createSession(ctx, tx, u, c, false, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, org, audit.Event{
			At: now, ActorUserID: uid, ActorRole: role, Action: "invite.accept", Outcome: audit.Success,
			TargetType: "invite", TargetID: inviteID.String(), IP: c.IP.String(), DeviceID: c.DeviceID,
			Details: map[string]string{"user_id": uid.String(), "role": role},
		})
		return err
	})
	if err != nil {
		return Session{}, wrapUnlessSentinel("accepting invite", err)
	}
	return sess, nil
}
