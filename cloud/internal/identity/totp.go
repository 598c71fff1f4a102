package identity

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"healthprep.dev/cloud/internal/audit"
)

// Enrolment is what a person needs to add HealthPrep to an authenticator
// app: the otpauth URL, the same as a PNG QR code, and the secret for
// typing in by hand. It is shown once and never logged.
type Enrolment struct {
	URL    string
	QRCode []byte // PNG, 256×256
	Secret string // base32
}

func totpPurpose(user uuid.UUID) string { return "totp/user/" + user.String() }

// matchTOTP returns the time step whose code is code, among the current
// step and one either side, if that step is later than last (so each code
// is accepted once and never an older one after a newer).
func matchTOTP(secret, code string, now time.Time, last int64) (int64, bool) {
	cur := now.Unix() / totpPeriod
	found := int64(-1)
	for st := cur - 1; st <= cur+1; st++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(st), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && st > last && found < 0 {
			found = st
		}
	}
	return found, found >= 0
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// recoveryAlphabet has 32 symbols without look-alikes (no 0/o, 1/l).
const recoveryAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

func normRecovery(code string) (string, bool) {
	c := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(c) != 10 {
		return "", false
	}
	for _, r := range c {
		if !strings.ContainsRune(recoveryAlphabet, r) {
			return "", false
		}
	}
	return c, true
}

func newRecoveryCodes() ([]string, [][]byte) {
	codes := make([]string, RecoveryCodeCount)
	hashes := make([][]byte, RecoveryCodeCount)
	for i := range codes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			panic("identity: crypto/rand failed: " + err.Error())
		}
		for j := range b {
			b[j] = recoveryAlphabet[b[j]%32]
		}
		h := sha256.Sum256(b)
		codes[i], hashes[i] = string(b[:5])+"-"+string(b[5:]), h[:]
	}
	return codes, hashes
}

// checkSecondFactor accepts a TOTP code (6 digits) or an unused recovery
// code for u and consumes it. Anything else is ErrInvalidTOTP.
func (s *Service) checkSecondFactor(ctx context.Context, u *userRow, code string, c Client, now time.Time) (string, error) {
	if !u.enrolled() || u.totpEnc == nil {
		return "", ErrInvalidTOTP
	}
	code = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(code))
	if len(code) == 6 && isDigits(code) {
		secret, err := s.keys.Open(ctx, u.org, totpPurpose(u.id), u.totpEnc)
		if err != nil {
			return "", fmt.Errorf("opening TOTP secret: %w", err)
		}
		step, ok := matchTOTP(string(secret), code, now, u.lastStep)
		if !ok {
			return "", ErrInvalidTOTP
		}
		err = s.db.WithOrg(ctx, u.org, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2`, u.id, step)
			if err != nil {
				return fmt.Errorf("recording TOTP step: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return ErrInvalidTOTP // used concurrently
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		return "totp", nil
	}
	rc, ok := normRecovery(code)
	if !ok {
		return "", ErrInvalidTOTP
	}
	h := sha256.Sum256([]byte(rc))
	err := s.db.WithOrg(ctx, u.org, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
			u.id, h[:], now)
		if err != nil {
			return fmt.Errorf("using recovery code: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrInvalidTOTP
		}
		var left int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL`, u.id).Scan(&left); err != nil {
			return fmt.Errorf("counting recovery codes: %w", err)
		}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.recovery_code_use", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), IP: ipString(c), DeviceID: c.DeviceID,
			Details: map[string]string{"remaining": fmt.Sprint(left)},
		})
		return err
	})
	if err != nil {
		return "", err
	}
	return "recovery_code", nil
}

// BeginTOTPEnrolment creates a new TOTP secret for the caller (replacing
// an unconfirmed one) and returns it for the authenticator app. It takes
// effect once ConfirmTOTP accepts a first code.
func (s *Service) BeginTOTPEnrolment(ctx context.Context, p Principal) (Enrolment, error) {
	if p.Scope != ScopeFull && p.Scope != ScopeEnrol {
		return Enrolment{}, ErrMFARequired
	}
	now := s.clock()
	var en Enrolment
	err := s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		u, err := loadUser(ctx, tx, `WHERE u.id = $1 FOR UPDATE OF u`, p.UserID)
		if err != nil {
			return err
		}
		if u == nil {
			return ErrUnauthenticated
		}
		if u.enrolled() {
			return ErrTOTPEnrolled
		}
		key, err := totp.Generate(totp.GenerateOpts{
			Issuer: s.cfg.TOTPIssuer, AccountName: u.email, Period: totpPeriod, SecretSize: 20,
			Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
		})
		if err != nil {
			return fmt.Errorf("generating TOTP secret: %w", err)
		}
		img, err := key.Image(256, 256)
		if err != nil {
			return fmt.Errorf("drawing QR code: %w", err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return fmt.Errorf("encoding QR code: %w", err)
		}
		sealed, err := s.keys.Seal(ctx, u.org, totpPurpose(u.id), []byte(key.Secret()))
		if err != nil {
			return fmt.Errorf("sealing TOTP secret: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret_enc = $2, updated_at = $3 WHERE id = $1`, u.id, sealed, now); err != nil {
			return fmt.Errorf("storing TOTP secret: %w", err)
		}
		en = Enrolment{URL: key.URL(), QRCode: buf.Bytes(), Secret: key.Secret()}
		_, err = audit.Append(ctx, tx, u.org, audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.totp_enrol_start", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), DeviceID: p.DeviceID,
		})
		return err
	})
	if err != nil {
		return Enrolment{}, wrapUnlessSentinel("starting TOTP enrolment", err)
	}
	return en, nil
}

// ConfirmTOTP completes enrolment with the first code from the app, marks
// the caller's session as second-factor verified and returns 10 new
// recovery codes (shown once; only their SHA-256 is stored).
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) ([]string, error) {
	if p.Scope != ScopeFull && p.Scope != ScopeEnrol {
		return nil, ErrMFARequired
	}
	now := s.clock()
	var codes []string
	var wrong bool
	err := s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		u, err := loadUser(ctx, tx, `WHERE u.id = $1 FOR UPDATE OF u`, p.UserID)
		if err != nil {
			return err
		}
		switch {
		case u == nil:
			return ErrUnauthenticated
		case u.enrolled():
			return ErrTOTPEnrolled
		case u.totpEnc == nil:
			return ErrTOTPNotEnrolled
		}
		ev := audit.Event{
			At: now, ActorUserID: u.id, ActorRole: string(u.role), Action: "auth.totp_enrol", Outcome: audit.Success,
			TargetType: "user", TargetID: u.id.String(), DeviceID: p.DeviceID,
		}
		secret, err := s.keys.Open(ctx, u.org, totpPurpose(u.id), u.totpEnc)
		if err != nil {
			return fmt.Errorf("opening TOTP secret: %w", err)
		}
		code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
		step, ok := matchTOTP(string(secret), code, now, u.lastStep)
		if !ok || len(code) != 6 || !isDigits(code) {
			wrong = true
			ev.Outcome = audit.Failure
			_, err := audit.Append(ctx, tx, u.org, ev)
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET totp_enabled_at = $2, totp_last_step = $3, updated_at = $2 WHERE id = $1`,
			u.id, now, step); err != nil {
			return fmt.Errorf("enabling TOTP: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, u.id); err != nil {
			return fmt.Errorf("clearing recovery codes: %w", err)
		}
		var hashes [][]byte
		codes, hashes = newRecoveryCodes()
		for _, h := range hashes {
			if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (org_id, user_id, code_hash, created_at) VALUES ($1, $2, $3, $4)`,
				u.org, u.id, h, now); err != nil {
				return fmt.Errorf("storing recovery codes: %w", err)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE sessions SET mfa_verified = true WHERE id = $1 AND user_id = $2`, p.SessionID, u.id); err != nil {
			return fmt.Errorf("marking session verified: %w", err)
		}
		_, err = audit.Append(ctx, tx, u.org, ev)
		return err
	})
	if err != nil {
		return nil, wrapUnlessSentinel("confirming TOTP enrolment", err)
	}
	if wrong {
		return nil, ErrInvalidTOTP
	}
	return codes, nil
}

// DisableTOTP turns the caller's TOTP off after checking a current code
// (or a recovery code). Refused with ErrMFARequired where TOTP is
// mandatory (admins, root admins, orgs requiring it for everyone).
func (s *Service) DisableTOTP(ctx context.Context, p Principal, code string) error {
	if err := requireFull(p); err != nil {
		return err
	}
	now := s.clock()
	var u *userRow
	err := s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		var err error
		u, err = loadUser(ctx, tx, `WHERE u.id = $1`, p.UserID)
		return err
	})
	if err != nil {
		return fmt.Errorf("disabling TOTP: %w", err)
	}
	switch {
	case u == nil:
		return ErrUnauthenticated
	case !u.enrolled():
		return ErrTOTPNotEnrolled
	case mfaRequired(u.role, u.requireAll):
		return ErrMFARequired
	}
	f := failure{user: u, emailHash: s.emailHash(u.email), now: now, counted: true, reason: "wrong_second_factor"}
	if u.locked(now) {
		return ErrLocked
	}
	if _, err := s.checkSecondFactor(ctx, u, code, Client{DeviceID: p.DeviceID}, now); err != nil {
		if errors.Is(err, ErrInvalidTOTP) {
			return s.fail(ctx, f, ErrInvalidTOTP)
		}
		return err
	}
	return s.db.WithOrg(ctx, p.OrgID, func(tx pgx.Tx) error {
		return s.clearTOTP(ctx, tx, u, p, "auth.totp_disable", now)
	})
}

// clearTOTP removes u's TOTP and recovery codes and records action.
func (s *Service) clearTOTP(ctx context.Context, tx pgx.Tx, u *userRow, actor Principal, action string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, updated_at = $2 WHERE id = $1`, u.id, now); err != nil {
		return fmt.Errorf("clearing TOTP: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, u.id); err != nil {
		return fmt.Errorf("clearing recovery codes: %w", err)
	}
	_, err := audit.Append(ctx, tx, u.org, audit.Event{
		At: now, ActorUserID: actor.UserID, ActorRole: string(actor.Role), Action: action, Outcome: audit.Success,
		TargetType: "user", TargetID: u.id.String(), DeviceID: actor.DeviceID,
	})
	return err
}

// wrapUnlessSentinel adds context to unexpected errors and passes this
// package's sentinels through unchanged, so messages stay person-readable.
func wrapUnlessSentinel(doing string, err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{ErrUnauthenticated, ErrTOTPEnrolled, ErrTOTPNotEnrolled, ErrInvalidTOTP, ErrMFARequired,
		ErrNotFound, ErrPermissionDenied, ErrLastAdmin, ErrMaxUsers, ErrInviteInvalid, ErrInviteOpen, ErrEmailInUse,
		ErrResetInvalid, ErrLocked, ErrInvalidInput, ErrWeakPassword} {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("%s: %w", doing, err)
}
