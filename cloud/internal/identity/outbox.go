package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/tenancy"
)

// Mail kinds in the outbox.
const (
	mailInvite = "invite"
	mailReset  = "password_reset"
)

// OutboxConfig tunes the MailOutbox; zero fields take the defaults.
type OutboxConfig struct {
	// Poll is how often Run looks for due mail another replica wrote
	// (mail written through this process wakes it at once); default 5 s.
	Poll time.Duration
	// Batch is how many rows one claim takes; default 20.
	Batch int
	// MaxAttempts is how many sends are tried before the mail is given up
	// (audit mail.undeliverable); default 8.
	MaxAttempts int
	// Backoff is the wait after failed attempt n (1, 2, …); default
	// 30 s · 2^(n−1), at most 1 hour (8 attempts span about 1 h 04 min).
	Backoff func(attempt int) time.Duration
	// SendTimeout bounds one send; default 30 s. A claimed row is leased
	// for twice as long before another replica may try it.
	SendTimeout time.Duration
	// Logger receives delivery failures (row id, kind, attempt; never an
	// address, a link or the transport's error text, which may quote the
	// address); nil discards them.
	Logger *slog.Logger
}

func (c OutboxConfig) withDefaults() OutboxConfig {
	if c.Poll <= 0 {
		c.Poll = 5 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 20
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Backoff == nil {
		c.Backoff = func(n int) time.Duration {
			d := 30 * time.Second << min(n-1, 7)
			return min(d, time.Hour)
		}
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// MailOutbox delivers the mail that identity writes to the mail_outbox
// table (password resets and invitations). Requests only insert a sealed
// row in their own transaction; MailOutbox claims due rows with FOR UPDATE
// SKIP LOCKED under a lease, opens and sends each, marks it sent (erasing
// the sealed message), and on failure retries with backoff; after
// MaxAttempts it gives the mail up, erases it and appends mail.undeliverable
// to the org's audit log. Any number of replicas may run it at once: a row
// is claimed by one of them at a time. Delivery is at least once: a
// replica that dies between sending and marking leaves the row to be sent
// again when its lease ends.
//
// Get it from Service.MailOutbox and start Run once per process.
type MailOutbox struct {
	db   *tenancy.DB
	keys Sealer
	mail Mailer
	now  func() time.Time
	cfg  OutboxConfig
	wake chan struct{}
}

func newMailOutbox(db *tenancy.DB, keys Sealer, m Mailer, now func() time.Time, cfg OutboxConfig) *MailOutbox {
	return &MailOutbox{db: db, keys: keys, mail: m, now: now, cfg: cfg.withDefaults(), wake: make(chan struct{}, 1)}
}

// MailOutbox returns the component that delivers the Service's mail.
func (s *Service) MailOutbox() *MailOutbox { return s.outbox }

// Run delivers due mail until ctx ends: at once, then whenever this
// process writes mail, and every Poll for mail other replicas wrote.
// Failures are retried on the next round; Run returns only when ctx is
// done.
func (o *MailOutbox) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.wake:
		}
		if _, err := o.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			o.cfg.Logger.ErrorContext(ctx, "identity: delivering mail", "err", err)
		}
		t.Reset(o.cfg.Poll)
	}
}

// notify wakes Run without blocking.
func (o *MailOutbox) notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// DeliverDue sends every mail that is due now, batch by batch, and returns
// how many were sent. A failed send is not an error (the row is retried or
// given up); an error means the database could not be used.
func (o *MailOutbox) DeliverDue(ctx context.Context) (sent int, err error) {
	for {
		rows, err := o.claim(ctx, nil)
		if err != nil {
			return sent, err
		}
		for _, r := range rows {
			ok, err := o.deliver(ctx, r)
			if err != nil {
				return sent, err
			}
			if ok {
				sent++
			}
		}
		if len(rows) < o.cfg.Batch {
			return sent, nil
		}
	}
}

// deliverNow tries to send one row at once (invites, whose sender waits for
// the mail); a failure leaves it to Run's retries.
func (o *MailOutbox) deliverNow(ctx context.Context, id uuid.UUID) {
	rows, err := o.claim(ctx, &id)
	if err == nil && len(rows) == 1 {
		_, err = o.deliver(ctx, rows[0])
	}
	if err != nil {
		o.cfg.Logger.ErrorContext(ctx, "identity: delivering mail", "id", id, "err", err)
	}
}

type outboxRow struct {
	id       uuid.UUID
	org      tenancy.OrgID
	kind     string
	ref      uuid.UUID
	sealed   []byte
	attempts int
}

// claim leases due rows (only the row only, when given): it counts the
// attempt and pushes next_attempt_at past the send timeout, in a short
// transaction of its own, so other replicas skip them meanwhile.
func (o *MailOutbox) claim(ctx context.Context, only *uuid.UUID) ([]outboxRow, error) {
	now := o.now().UTC()
	var out []outboxRow
	err := o.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $2
			WHERE id IN (SELECT id FROM mail_outbox
				WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND ($4::uuid IS NULL OR id = $4)
				ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
			RETURNING id, org_id, kind, ref_id, message_enc, attempts`,
			now, now.Add(2*o.cfg.SendTimeout), o.cfg.Batch, only)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (outboxRow, error) {
			var x outboxRow
			err := r.Scan(&x.id, &x.org, &x.kind, &x.ref, &x.sealed, &x.attempts)
			return x, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming mail: %w", err)
	}
	return out, nil
}

// deliver sends one claimed row and records the outcome; ok reports a
// successful send.
func (o *MailOutbox) deliver(ctx context.Context, r outboxRow) (ok bool, err error) {
	var msg Message
	plain, err := o.keys.Open(ctx, r.org, outboxPurpose(r.id), r.sealed)
	if err == nil {
		err = json.Unmarshal(plain, &msg)
	}
	if err != nil {
		// Nothing to retry: a message that does not open never will.
		return false, o.giveUp(ctx, r, "unreadable")
	}
	sctx, cancel := context.WithTimeout(ctx, o.cfg.SendTimeout)
	sendErr := o.mail.Send(sctx, msg)
	cancel()
	now := o.now().UTC()
	if sendErr == nil {
		err := o.db.WithOrg(ctx, r.org, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE mail_outbox SET sent_at = $3, message_enc = NULL
				WHERE id = $1 AND attempts = $2 AND sent_at IS NULL AND failed_at IS NULL`, r.id, r.attempts, now)
			return err
		})
		if err != nil {
			return true, fmt.Errorf("marking mail sent: %w", err)
		}
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err() // shutting down: the lease ends and the row is retried
	}
	o.cfg.Logger.WarnContext(ctx, "identity: sending mail failed", "id", r.id, "kind", r.kind, "attempt", r.attempts)
	if r.attempts >= o.cfg.MaxAttempts {
		return false, o.giveUp(ctx, r, "send_failed")
	}
	err = o.db.WithOrg(ctx, r.org, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mail_outbox SET next_attempt_at = $3
			WHERE id = $1 AND attempts = $2 AND sent_at IS NULL AND failed_at IS NULL`, r.id, r.attempts, now.Add(o.cfg.Backoff(r.attempts)))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("scheduling mail retry: %w", err)
	}
	return false, nil
}

// giveUp erases a mail that will not be sent and audits it in its org.
func (o *MailOutbox) giveUp(ctx context.Context, r outboxRow, reason string) error {
	now := o.now().UTC().Truncate(time.Microsecond)
	err := o.db.WithOrg(ctx, r.org, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE mail_outbox SET failed_at = $3, message_enc = NULL
			WHERE id = $1 AND attempts = $2 AND sent_at IS NULL AND failed_at IS NULL`, r.id, r.attempts, now)
		if err != nil || tag.RowsAffected() == 0 {
			return err // dropped or handled meanwhile: nothing to audit
		}
		target := "user"
		if r.kind == mailInvite {
			target = "invite"
		}
		_, err = audit.Append(ctx, tx, r.org, audit.Event{
			At: now, Action: "mail.undeliverable", Outcome: audit.Failure, TargetType: target, TargetID: r.ref.String(),
			Details: map[string]string{"kind": r.kind, "attempts": fmt.Sprint(r.attempts), "reason": reason, "mail_id": r.id.String()},
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("giving up mail: %w", err)
	}
	return nil
}

func outboxPurpose(id uuid.UUID) string { return "mail/outbox/" + id.String() }

// outboxMail is one message to write to the outbox.
type outboxMail struct {
	id   uuid.UUID
	org  tenancy.OrgID
	kind string
	ref  uuid.UUID
	msg  Message
	// write false runs the same statements without writing anything, so
	// a request that sends nothing costs the same as one that does.
	write bool
}

// enqueue drops the pending mail of older links for the same ref and
// writes m sealed, in the caller's transaction. It always runs the same
// two statements.
func (s *Service) enqueue(ctx context.Context, tx pgx.Tx, m outboxMail, now time.Time) error {
	plain, err := json.Marshal(m.msg)
	if err != nil {
		return fmt.Errorf("encoding mail: %w", err)
	}
	sealed, err := s.keys.Seal(ctx, m.org, outboxPurpose(m.id), plain)
	if err != nil {
		return fmt.Errorf("sealing mail: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM mail_outbox WHERE kind = $1 AND ref_id = $2
		AND sent_at IS NULL AND failed_at IS NULL AND $3::boolean`, m.kind, m.ref, m.write); err != nil {
		return fmt.Errorf("dropping superseded mail: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO mail_outbox (id, org_id, kind, ref_id, message_enc, created_at, next_attempt_at)
		SELECT $1::uuid, $2::uuid, $3::text, $4::uuid, $5::bytea, $6::timestamptz, $6::timestamptz WHERE $7::boolean`,
		m.id, m.org, m.kind, m.ref, sealed, now, m.write); err != nil {
		return fmt.Errorf("queueing mail: %w", err)
	}
	return nil
}

// dropMail drops the pending mail about ref (a cancelled invitation).
func dropMail(ctx context.Context, tx pgx.Tx, kind string, ref uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM mail_outbox WHERE kind = $1 AND ref_id = $2 AND sent_at IS NULL AND failed_at IS NULL`,
		kind, ref); err != nil {
		return fmt.Errorf("dropping mail: %w", err)
	}
	return nil
}
