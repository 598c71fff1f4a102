package identity

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/identity/password"
	"healthprep.dev/cloud/internal/tenancy"
)

// SignInRequest is an email-and-password sign-in, optionally with the
// second factor (a TOTP code or a recovery code) in the same request.
type SignInRequest struct {
	Email        string
	Password     string
	SecondFactor string
	Client       Client
}

// userRow is a user as sign-in and second-factor checks need it.
type userRow struct {
	id          uuid.UUID
	org         tenancy.OrgID
	email       string
	role        Role
	status      string
	hash        *string
	lockedUntil *time.Time
	totpEnc     []byte
	totpEnabled *time.Time
	lastStep    int64
	requireAll  bool
	suspended   bool // the organisation is suspended (never the platform's)
}

func (u *userRow) enrolled() bool { return u.totpEnabled != nil }

func (u *userRow) locked(now time.Time) bool {
	return u.lockedUntil != nil && now.Before(*u.lockedUntil)
}

func (u *userRow) sessionUser() sessionUser {
	return sessionUser{id: u.id, org: u.org, role: u.role, enrolled: u.enrolled(), requireAll: u.requireAll}
}

// orgSuspended is true for a row o of organizations whose people are
// refused: status suspended, and never the platform organisation, so root
// admins are not locked out.
const orgSuspended = `(o.status = 'suspended' AND NOT o.is_platform)`

const userSelect = `SELECT u.id, u.org_id, u.email, u.role, u.status, u.password_hash, u.locked_until,
	u.totp_secret_enc, u.totp_enabled_at, u.totp_last_step, o.require_2fa_all,
	` + orgSuspended + `
	FROM users u JOIN organizations o ON o.id = u.org_id `

// loadUser reads one user by a WHERE clause on u; nil when there is none.
func loadUser(ctx context.Context, tx pgx.Tx, where string, args ...any) (*userRow, error) {
	var u userRow
	var role string
	err := tx.QueryRow(ctx, userSelect+where, args...).Scan(&u.id, &u.org, &u.email, &role, &u.status, &u.hash,
		&u.lockedUntil, &u.totpEnc, &u.totpEnabled, &u.lastStep, &u.requireAll, &u.suspended)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading user: %w", err)
	}
	u.role = Role(role)
	return &u, nil
}

// SignIn checks an email and password (and second factor when given) and
// opens a session. See the package documentation for lockout, throttling
// and the scopes of the returned session.
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (Session, error) {
	c, err := checkClient(req.Client)
	if err != nil {
		return Session{}, err
	}
	email, err := normEmail(req.Email)
	if err != nil {
		return Session{}, err
	}
	eh := s.emailHash(email)
	now := s.clock()

	var (
		u             *userRow
		throttled     bool
		unknownLocked bool
	)
	err = s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var fails int
		var alreadyThrottled bool
		err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE NOT throttled), coalesce(bool_or(throttled), false)
			FROM login_attempts WHERE ip <<= $1::cidr AND at > $2 AND NOT success`,
			throttleNet(c.IP).String(), now.Add(-ThrottleWindow)).Scan(&fails, &alreadyThrottled)
		if err != nil {
			return fmt.Errorf("counting failures: %w", err)
		}
		if fails >= ThrottleFailures {
			throttled = true
			if _, err := tx.Exec(ctx, `INSERT INTO login_attempts (ip, email_hash, success, throttled, at) VALUES ($1, $2, false, true, $3)`,
				c.IP.String(), eh, now); err != nil {
				return fmt.Errorf("recording attempt: %w", err)
			}
			if alreadyThrottled {
				return nil
			}
			return s.platformAudit(ctx, tx, audit.Event{
				At: now, Action: "auth.throttled", Outcome: audit.Alert, IP: c.IP.String(), DeviceID: c.DeviceID,
				Details: map[string]string{"failures": fmt.Sprint(fails), "window_minutes": "15", "network": throttleNet(c.IP).String()},
			})
		}
		if u, err = loadUser(ctx, tx, `WHERE u.email = $1`, email); err != nil {
			return err
		}
		if u == nil {
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM login_locks WHERE email_hash = $1 AND locked_until > $2)`,
				eh, now).Scan(&unknownLocked)
			if err != nil {
				return fmt.Errorf("reading lock: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Session{}, fmt.Errorf("signing in: %w", err)
	}
	if throttled {
		return Session{}, ErrThrottled
	}

	// The same Argon2id work whether or not the account exists.
	phc := s.dummy
	if u != nil && u.hash != nil {
		phc = *u.hash
	}
	ok, err := password.Verify(req.Password, phc)
	if err != nil {
		ok = false // a malformed stored hash is a wrong password, never a distinct answer
	}
	ok = ok && u != nil && u.hash != nil && u.status == "active"

	f := failure{user: u, emailHash: eh, client: c, now: now}
	switch {
	case (u != nil && u.locked(now)) || unknownLocked:
		f.reason = "locked"
		return Session{}, s.fail(ctx, f, ErrLocked)
	case !ok:
		f.counted = true
		f.reason = "wrong_password"
		switch {
		case u == nil:
			f.reason = "unknown_account"
		case u.status != "active":
			f.reason = "deactivated"
		}
		return Session{}, s.fail(ctx, f, ErrInvalidCredentials)
	case u.suspended:
		// Only now, with the password verified, is the status told.
		return Session{}, s.refuseSuspended(ctx, u, c, now)
	}

	method := "none"
	if u.enrolled() {
		method = "pending"
		if req.SecondFactor != "" {
			m, err := s.checkSecondFactor(ctx, u, req.SecondFactor, c, now)
			if errors.Is(err, ErrInvalidTOTP) {
				f.counted, f.reason = true, "wrong_second_factor"
				return Session{}, s.fail(ctx, f, ErrInvalidTOTP)
			}
			if err != nil {
				return Session{}, err
			}
			method = m
		}
	}
	var rehash string
	if password.NeedsRehash(phc, s.cfg.Password) {
		if rehash, err = password.Hash(req.Password, s.cfg.Password); err != nil {
			return Session{}, fmt.Errorf("signing in: %w", err)
		}
	}

	var sess Session
	err = s.db.WithOrg(ctx, u.org, func(tx pgx.Tx) error {
		var lockedUntil *time.Time
		if err := tx.QueryRow(ctx, `SELECT locked_until FROM users WHERE id = $1 FOR UPDATE`, u.id).Scan(&lockedUntil); err != nil {
			return fmt.Errorf("locking user: %w", err)
		}
		if lockedUntil != nil && now.Before(*lockedUntil) {
			return ErrLocked // locked by a concurrent failure
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL,
			password_hash = CASE WHEN $2 = '' THEN password_hash ELSE $2 END WHERE id = $1`, u.id, rehash); err != nil {
			return fmt.Errorf("resetting failures: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO login_attempts (ip, email_hash, success, at) VALUES ($1, $2, true, $3)`,
			c.IP.String(), eh, now); err != nil {
			return fmt.Errorf("recording attempt: %w", err)
		}
		var err error
		sess, err = s.createSession(ctx, tx, u.sessionUser(), c, method == "totp" || method == "recovery_code", now)
		if err != nil {
			return err
		}
		if sess.Principal.Scope == ScopeEnrol {
			method = "enrolment_required"
		}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.signin", Outcome: audit.Success,
			TargetType: "session", TargetID: sess.Principal.SessionID.String(), IP: c.IP.String(), DeviceID: c.DeviceID,
			Details: map[string]string{"second_factor": method, "kind": string(c.Kind)},
		})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return Session{}, ErrLocked
		}
		return Session{}, fmt.Errorf("signing in: %w", err)
	}
	return sess, nil
}

// VerifyTOTP completes a sign-in whose session awaits the second factor
// (ScopeSecondFactor) with a TOTP code or a recovery code. The pending
// session is replaced by a new full one, whose token is returned.
func (s *Service) VerifyTOTP(ctx context.Context, p Principal, code string) (Session, error) {
	if p.Scope != ScopeSecondFactor {
		return Session{}, ErrPermissionDenied
	}
	now := s.clock()
	var (
		u  *userRow
		c  Client
		ip *string
	)
	err := s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		var err error
		if u, err = loadUser(ctx, tx, `WHERE u.id = $1`, p.UserID); err != nil {
			return err
		}
		var kind string
		err = tx.QueryRow(ctx, `SELECT host(ip), device_id, kind, user_agent FROM sessions
			WHERE id = $1 AND revoked_at IS NULL`, p.SessionID).Scan(&ip, &c.DeviceID, &kind, &c.UserAgent)
		c.Kind = Kind(kind)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && (u == nil || u.status != "active")) {
		return Session{}, ErrUnauthenticated
	}
	if err != nil {
		return Session{}, fmt.Errorf("verifying second factor: %w", err)
	}
	if ip != nil {
		c.IP, _ = netip.ParseAddr(*ip)
	}
	f := failure{user: u, emailHash: s.emailHash(u.email), client: c, now: now, pending: p.SessionID}
	if u.locked(now) {
		f.reason = "locked"
		return Session{}, s.fail(ctx, f, ErrLocked)
	}
	method, err := s.checkSecondFactor(ctx, u, code, c, now)
	if errors.Is(err, ErrInvalidTOTP) {
		f.counted, f.reason = true, "wrong_second_factor"
		return Session{}, s.fail(ctx, f, ErrInvalidTOTP)
	}
	if err != nil {
		return Session{}, err
	}
	var sess Session
	err = s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = 'second_factor_done'
			WHERE id = $1 AND revoked_at IS NULL`, p.SessionID, now)
		if err != nil {
			return fmt.Errorf("closing pending session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrUnauthenticated
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET failed_logins = 0 WHERE id = $1`, u.id); err != nil {
			return fmt.Errorf("resetting failures: %w", err)
		}
		if sess, err = s.createSession(ctx, tx, u.sessionUser(), c, true, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.second_factor", Outcome: audit.Success,
			TargetType: "session", TargetID: sess.Principal.SessionID.String(), IP: ipString(c), DeviceID: c.DeviceID,
			Details: map[string]string{"method": method},
		})
		return err
	})
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			return Session{}, err
		}
		return Session{}, fmt.Errorf("verifying second factor: %w", err)
	}
	return sess, nil
}

// ChangePassword replaces the caller's password after checking the current
// one, revokes every session of the user and returns a new one for the
// caller.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next string, c Client) (Session, error) {
	if err := requireFull(p); err != nil {
		return Session{}, err
	}
	c, err := checkClient(c)
	if err != nil {
		return Session{}, err
	}
	now := s.clock()
	var u *userRow
	err = s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		u, err = loadUser(ctx, tx, `WHERE u.id = $1`, p.UserID)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("changing password: %w", err)
	}
	if u == nil || u.hash == nil || u.status != "active" {
		return Session{}, ErrUnauthenticated
	}
	f := failure{user: u, emailHash: s.emailHash(u.email), client: c, now: now}
	if u.locked(now) {
		f.reason = "locked"
		return Session{}, s.fail(ctx, f, ErrLocked)
	}
	if ok, _ := password.Verify(current, *u.hash); !ok {
		f.counted, f.reason = true, "wrong_password"
		return Session{}, s.fail(ctx, f, ErrInvalidCredentials)
	}
	if err := s.policy.Check(next, u.email); err != nil {
		return Session{}, err
	}
	hash, err := password.Hash(next, s.cfg.Password)
	if err != nil {
		return Session{}, fmt.Errorf("changing password: %w", err)
	}
	var sess Session
	err = s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0,
			updated_at = $3 WHERE id = $1`, u.id, hash, now); err != nil {
			return fmt.Errorf("storing password: %w", err)
		}
		n, err := revokeAll(ctx, tx, u.id, "password_change", now)
		if err != nil {
			return err
		}
		if sess, err = s.createSession(ctx, tx, u.sessionUser(), c, p.MFAVerified, now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.password_change", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), IP: c.IP.String(), DeviceID: c.DeviceID,
			Details: map[string]string{"sessions_revoked": fmt.Sprint(n)},
		})
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("changing password: %w", err)
	}
	return sess, nil
}

// refuseSuspended audits a sign-in refused because u's organisation is
// suspended and returns ErrOrgSuspended. The credentials were right, so
// nothing counts towards lockout, throttling or spraying detection.
func (s *Service) refuseSuspended(ctx context.Context, u *userRow, c Client, now time.Time) error {
	err := s.db.WithOrg(ctx, u.org, func(tx pgx.Tx) error {
		return s.audit(ctx, tx, u, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.signin", Outcome: audit.Failure,
			IP: ipString(c), DeviceID: c.DeviceID,
			Details: map[string]string{"reason": "org_suspended", "kind": string(c.Kind)},
		})
	})
	if err != nil {
		return fmt.Errorf("recording refused sign-in: %w", err)
	}
	return ErrOrgSuspended
}

// failure is one failed attempt to record.
type failure struct {
	user      *userRow // nil for an unknown email
	emailHash []byte
	client    Client
	now       time.Time
	reason    string
	counted   bool      // counts towards the account's lockout
	pending   uuid.UUID // a pending session to revoke if the account locks
}

// fail records f (attempt row, lockout counting, audit, spraying
// detection) in one platform transaction and returns want, or the
// recording error.
func (s *Service) fail(ctx context.Context, f failure, want error) error {
	ip := ipString(f.client)
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		if f.client.IP.IsValid() {
			if err := s.detectSpraying(ctx, tx, f); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO login_attempts (ip, email_hash, success, at) VALUES ($1, $2, false, $3)`,
				ip, f.emailHash, f.now); err != nil {
				return fmt.Errorf("recording attempt: %w", err)
			}
		}
		locked := false
		if f.counted {
			var n int
			var err error
			if f.user != nil {
				err = tx.QueryRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1
					WHERE id = $1 RETURNING failed_logins`, f.user.id).Scan(&n)
			} else {
				err = tx.QueryRow(ctx, `INSERT INTO login_locks (email_hash, failures, updated_at) VALUES ($1, 1, $2)
					ON CONFLICT (email_hash) DO UPDATE SET failures = login_locks.failures + 1, updated_at = $2
					RETURNING failures`, f.emailHash, f.now).Scan(&n)
			}
			if err != nil {
				return fmt.Errorf("counting failure: %w", err)
			}
			locked = n >= MaxFailures
		}
		ev := audit.Event{
			At: f.now, Action: "auth.signin", Outcome: audit.Failure, IP: ip, DeviceID: f.client.DeviceID,
			Details: map[string]string{"reason": f.reason},
		}
		if f.reason == "wrong_second_factor" {
			ev.Action = "auth.second_factor"
		}
		if err := s.audit(ctx, tx, f.user, ev); err != nil {
			return err
		}
		if !locked {
			return nil
		}
		until := f.now.Add(LockDuration)
		var err error
		if f.user != nil {
			_, err = tx.Exec(ctx, `UPDATE users SET failed_logins = 0, locked_until = $2 WHERE id = $1`, f.user.id, until)
			if err == nil && f.pending != (uuid.UUID{}) {
				_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = 'lockout' WHERE id = $1 AND revoked_at IS NULL`, f.pending, f.now)
			}
		} else {
			_, err = tx.Exec(ctx, `UPDATE login_locks SET failures = 0, locked_until = $2 WHERE email_hash = $1`, f.emailHash, until)
		}
		if err != nil {
			return fmt.Errorf("locking account: %w", err)
		}
		return s.audit(ctx, tx, f.user, audit.Event{
			At: f.now, Action: "auth.lockout", Outcome: audit.Failure, IP: ip, DeviceID: f.client.DeviceID,
			Details: map[string]string{"failures": fmt.Sprint(MaxFailures), "minutes": fmt.Sprint(int(LockDuration.Minutes()))},
		})
	})
	if err != nil {
		return fmt.Errorf("recording failed sign-in: %w", err)
	}
	return want
}

// detectSpraying raises one alert when this failure makes its IP's
// failures in the window span SprayAccounts distinct emails.
func (s *Service) detectSpraying(ctx context.Context, tx pgx.Tx, f failure) error {
	var distinct int
	var seen bool
	err := tx.QueryRow(ctx, `
		SELECT count(DISTINCT email_hash), coalesce(bool_or(email_hash = $3), false)
		FROM login_attempts WHERE ip <<= $1::cidr AND at > $2 AND NOT success AND NOT throttled`,
		throttleNet(f.client.IP).String(), f.now.Add(-ThrottleWindow), f.emailHash).Scan(&distinct, &seen)
	if err != nil {
		return fmt.Errorf("counting accounts tried: %w", err)
	}
	if seen || distinct+1 != SprayAccounts {
		return nil
	}
	return s.platformAudit(ctx, tx, audit.Event{
		At: f.now, Action: "auth.password_spraying", Outcome: audit.Alert, IP: ipString(f.client), DeviceID: f.client.DeviceID,
		Details: map[string]string{"accounts": fmt.Sprint(SprayAccounts), "window_minutes": "15", "network": throttleNet(f.client.IP).String()},
	})
}

// throttleNet is the network whose failures count together for
// throttling and spraying detection: the address itself for IPv4 (and
// IPv4-mapped IPv6), its /64 for IPv6. A /64 is one subscriber's LAN: its
// owner can rotate through 2^64 addresses at will, so counting per IPv6
// address would never throttle anyone.
func throttleNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 32
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		panic("identity: throttle network of an invalid address") // checkClient refused it
	}
	return p
}

// audit appends e to u's org (u as target), or to the platform org when u
// is nil (an email without an account).
func (s *Service) audit(ctx context.Context, tx pgx.Tx, u *userRow, e audit.Event) error {
	if u == nil {
		e.TargetType = "account"
		return s.platformAudit(ctx, tx, e)
	}
	e.TargetType, e.TargetID = "user", u.id.String()
	_, err := audit.Append(ctx, tx, u.org, e)
	return err
}

func (s *Service) platformAudit(ctx context.Context, tx pgx.Tx, e audit.Event) error {
	org, err := s.platformOrg(ctx, tx)
	if err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, org, e)
	return err
}

func ipString(c Client) string {
	if !c.IP.IsValid() {
		return ""
	}
	return c.IP.String()
}
