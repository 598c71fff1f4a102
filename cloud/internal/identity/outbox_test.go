package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/identity"
	"healthprep.dev/cloud/internal/tenancy"
)

// statements records the SQL a pool sends while on.
type statements struct {
	mu  sync.Mutex
	on  bool
	sql []string
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		s.sql = append(s.sql, strings.Join(strings.Fields(d.SQL), " "))
	}
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// during returns the statements fn sends.
func (s *statements) during(fn func()) []string {
	s.mu.Lock()
	s.on, s.sql = true, nil
	s.mu.Unlock()
	fn()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	return s.sql
}

// TestResetRequestSameWork: whether the email is unknown, deactivated, over
// its hourly limit or gets a link, RequestPasswordReset sends the very same
// statements (one transaction) and returns before any mail is sent; the
// outbox sends the one real link afterwards.
func TestResetRequestSameWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	trace := &statements{}
	f := setupWith(t, options{tracer: trace})
	f.user(t, f.orgA, "known@a.example", identity.RoleNurse)
	f.user(t, f.orgA, "gone@a.example", identity.RoleNurse)
	f.exec(t, f.orgA, `UPDATE users SET status = 'deactivated' WHERE email = 'gone@a.example'`)
	f.user(t, f.orgA, "busy@a.example", identity.RoleNurse)
	for range identity.ResetsPerHour {
		if err := f.svc.RequestPasswordReset(ctx, "busy@a.example", web(ip1)); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: the platform org is looked up once per process.
	if err := f.svc.RequestPasswordReset(ctx, "warm@nowhere.example", web(ip1)); err != nil {
		t.Fatal(err)
	}
	sentBefore := len(f.mail.sent)

	cases := []struct{ name, email string }{
		{"unknown email", "nobody@a.example"},
		{"deactivated account", "gone@a.example"},
		{"over the hourly limit", "busy@a.example"},
		{"active account", "known@a.example"},
	}
	var want []string
	for _, c := range cases {
		got := trace.during(func() {
			if err := f.svc.RequestPasswordReset(ctx, c.email, web(ip1)); err != nil {
				t.Fatalf("%s: RequestPasswordReset = %v", c.name, err)
			}
		})
		if len(f.mail.sent) != sentBefore {
			t.Errorf("%s: %d mails sent before RequestPasswordReset returned; want 0", c.name, len(f.mail.sent)-sentBefore)
		}
		if want == nil {
			want = got
			if len(want) < 8 || !strings.EqualFold(want[0], "begin") || !strings.EqualFold(want[len(want)-1], "commit") {
				t.Fatalf("%s: statements = %q; want one transaction of the reset's work", c.name, want)
			}
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: statements differ from %s's:\n got %q\nwant %q", c.name, cases[0].name, got, want)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL`); n != 2 { // busy's newest and known's
		t.Errorf("pending mails = %d; want 2", n)
	}
	if got := len(f.mail.to("known@a.example")); got != 1 {
		t.Errorf("mails to the active account after delivery = %d; want 1", got)
	}
	for _, e := range []string{"nobody@a.example", "gone@a.example", "warm@nowhere.example"} {
		if got := len(f.mail.to(e)); got != 0 {
			t.Errorf("mails to %s = %d; want 0", e, got)
		}
	}
	for reason, want := range map[string]int{"unknown_account": 2, "deactivated": 1, "rate_limited": 1} {
		got := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'auth.password_reset_request' AND details->>'reason' = $1`, reason)
		if got != want {
			t.Errorf("reset requests audited with reason %s = %d; want %d", reason, got, want)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM audit_log WHERE details::text LIKE '%nobody%'`); n != 0 {
		t.Errorf("audit entries carrying the unknown email = %d; want 0", n)
	}
}

// flakyMailer fails while fail says so, and records what it sent.
type flakyMailer struct {
	mu       sync.Mutex
	fail     bool
	attempts int
	sent     []identity.Message
}

func (m *flakyMailer) Send(_ context.Context, msg identity.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.attempts++
	if m.fail {
		return errors.New("550 mailbox unavailable for someone@example.test")
	}
	m.sent = append(m.sent, msg)
	return nil
}

func (m *flakyMailer) set(fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = fail
}

func (m *flakyMailer) counts() (attempts, sent int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts, len(m.sent)
}

type outboxState struct {
	Attempts int
	Due      time.Time
	Sealed   bool // message_enc is present
	Sent     bool
	Failed   bool
}

func (f *fixture) outboxRow(t *testing.T, kind string) outboxState {
	t.Helper()
	var s outboxState
	err := f.db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT attempts, next_attempt_at, message_enc IS NOT NULL, sent_at IS NOT NULL,
			failed_at IS NOT NULL FROM mail_outbox WHERE kind = $1 ORDER BY created_at DESC, attempts DESC LIMIT 1`, kind).
			Scan(&s.Attempts, &s.Due, &s.Sealed, &s.Sent, &s.Failed)
	})
	if err != nil {
		t.Fatalf("reading outbox: %v", err)
	}
	s.Due = s.Due.UTC()
	return s
}

// TestMailOutboxRetries: with a failing transport the invite still exists,
// its mail is retried with backoff, a resend replaces it, and after
// MaxAttempts it is given up, erased and audited; a transport that
// recovers in time delivers.
func TestMailOutboxRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &flakyMailer{fail: true}
	f := setupWith(t, options{mailer: m, outbox: identity.OutboxConfig{
		MaxAttempts: 3,
		Backoff:     func(n int) time.Duration { return time.Duration(n) * time.Minute },
	}})
	root := f.root(t) // root sign-in mails nothing
	deliver := func(want int) {
		t.Helper()
		if got, err := f.svc.MailOutbox().DeliverDue(ctx); err != nil || got != want {
			t.Fatalf("DeliverDue = %d, %v; want %d sent", got, err, want)
		}
	}

	inv, err := f.svc.CreateInvite(ctx, root, f.orgA, "first@a.example", identity.RoleAdmin)
	if err != nil {
		t.Fatalf("CreateInvite with a failing transport = %v; want the invite to exist", err)
	}
	t0 := f.clock.Now()
	if got, want := f.outboxRow(t, "invite"), (outboxState{Attempts: 1, Due: t0.Add(time.Minute), Sealed: true}); got != want {
		t.Errorf("after the first attempt: %+v; want %+v", got, want)
	}
	deliver(0) // not due yet: nothing tried
	if a, _ := m.counts(); a != 1 {
		t.Errorf("attempts before the backoff ended = %d; want 1", a)
	}

	// A resend gives a new link and replaces the pending mail of the old.
	if _, err := f.svc.ResendInvite(ctx, root, f.orgA, inv.ID); err != nil {
		t.Fatalf("ResendInvite with a failing transport = %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM mail_outbox WHERE kind = 'invite' AND sent_at IS NULL AND failed_at IS NULL`); n != 1 {
		t.Errorf("pending invite mails after a resend = %d; want 1", n)
	}
	for i, want := range []outboxState{
		{Attempts: 2, Due: t0.Add(time.Minute + 2*time.Minute), Sealed: true},
		{Attempts: 3, Due: t0.Add(3 * time.Minute), Failed: true},
	} {
		f.clock.Advance(time.Minute * time.Duration(i+1))
		deliver(0)
		got := f.outboxRow(t, "invite")
		if i == 1 {
			want.Due = got.Due // the lease of the last attempt; not rescheduled
		}
		if got != want {
			t.Errorf("after attempt %d: %+v; want %+v", want.Attempts, got, want)
		}
	}
	if got := f.audits(t, f.orgA, "mail.undeliverable", "failure"); got != 1 {
		t.Fatalf("mail.undeliverable entries = %d; want 1", got)
	}
	var details string
	if err := f.db.WithOrg(ctx, f.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT target_type || ' ' || target_id || ' ' || details::text FROM audit_log WHERE action = 'mail.undeliverable'`).Scan(&details)
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(details, "invite "+inv.ID.String()) || !strings.Contains(details, `"attempts": "3"`) || strings.Contains(details, "@") {
		t.Errorf("undeliverable entry = %s; want the invite and 3 attempts, no address", details)
	}
	f.clock.Advance(time.Hour)
	deliver(0)
	if a, _ := m.counts(); a != 4 { // create, then 3 for the resent mail
		t.Errorf("send attempts = %d; want 4 (none after giving up)", a)
	}

	// The invite itself is still there: the admin resends it once the
	// transport works again.
	m.set(false)
	if _, err := f.svc.ResendInvite(ctx, root, f.orgA, inv.ID); err != nil {
		t.Fatalf("ResendInvite after giving up = %v", err)
	}
	if _, sent := m.counts(); sent != 1 {
		t.Fatalf("mails sent by the resend = %d; want 1", sent)
	}
	tok := m.sent[0].Text[strings.Index(m.sent[0].Text, "token=")+6:]
	if _, err := f.accept(strings.Fields(tok)[0]); err != nil {
		t.Errorf("accepting the delivered link = %v", err)
	}

	// A transport that recovers before MaxAttempts delivers the reset.
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	m.set(true)
	if err := f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1)); err != nil {
		t.Fatalf("RequestPasswordReset = %v", err)
	}
	deliver(0)
	f.clock.Advance(time.Minute)
	m.set(false)
	deliver(1)
	if got := f.outboxRow(t, "password_reset"); !got.Sent || got.Sealed || got.Attempts != 2 {
		t.Errorf("reset mail after recovery = %+v; want sent on attempt 2, message erased", got)
	}
}

// TestMailOutboxStorage: the outbox holds no link or address in clear, is
// row-level secured like every tenant table, and a row tampered with is
// given up rather than sent.
func TestMailOutboxStorage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
	if err := f.svc.RequestPasswordReset(ctx, "nurse@a.example", web(ip1)); err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := f.db.WithOrg(ctx, f.orgA, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT message_enc FROM mail_outbox`).Scan(&sealed)
	}); err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"nurse@a.example", "token=", "Reset your"} {
		if bytes.Contains(sealed, []byte(clear)) {
			t.Errorf("sealed message contains %q in clear", clear)
		}
	}
	var other int
	if err := f.db.WithOrg(ctx, f.orgB, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM mail_outbox`).Scan(&other)
	}); err != nil {
		t.Fatal(err)
	}
	if other != 0 {
		t.Errorf("org B sees %d of org A's outbox rows; want 0", other)
	}
	err := f.db.WithOrg(ctx, f.orgB, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mail_outbox (id, org_id, kind, ref_id, message_enc, created_at, next_attempt_at)
			VALUES (gen_random_uuid(), $1, 'invite', gen_random_uuid(), '\x00', now(), now())`, f.orgA)
		return err
	})
	if err == nil {
		t.Errorf("org B wrote a row into org A's outbox")
	}

	// Tampering: flip a byte of the sealed message.
	f.exec(t, f.orgA, `UPDATE mail_outbox SET message_enc = overlay(message_enc placing '\xff' from 30 for 1)`)
	if n, err := f.svc.MailOutbox().DeliverDue(ctx); err != nil || n != 0 {
		t.Fatalf("DeliverDue of a tampered row = %d, %v; want 0, nil", n, err)
	}
	if got := f.outboxRow(t, "password_reset"); !got.Failed || got.Sealed {
		t.Errorf("tampered row = %+v; want given up and erased", got)
	}
	if len(f.mail.sent) != 0 {
		t.Errorf("a tampered message was sent")
	}
	if got := f.count(t, `SELECT count(*) FROM audit_log WHERE action = 'mail.undeliverable' AND details->>'reason' = 'unreadable'`); got != 1 {
		t.Errorf("unreadable mail audited %d times; want 1", got)
	}
}

// TestMailOutboxReplicas: two processes run MailOutbox.Run on one database
// while requests arrive; every mail is sent exactly once.
func TestMailOutboxReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := setup(t)
	second, err := identity.New(tenancy.New(f.pool), f.keys, f.mail, f.clock.Now, identity.Config{
		BaseURL: "https://app.healthprep.test", EmailHashKey: bytes.Repeat([]byte{9}, 32), Password: cheap,
		Outbox: identity.OutboxConfig{Poll: 5 * time.Millisecond, Batch: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 24
	for i := range n {
		f.user(t, f.orgA, fmt.Sprintf("user%02d@a.example", i), identity.RoleNurse)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, o := range []*identity.MailOutbox{f.svc.MailOutbox(), second.MailOutbox()} {
		wg.Go(func() { o.Run(runCtx) })
	}
	for i := range n {
		svc := f.svc
		if i%2 == 1 {
			svc = second
		}
		if err := svc.RequestPasswordReset(ctx, fmt.Sprintf("user%02d@a.example", i), web(ip1)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for f.count(t, `SELECT count(*) FROM mail_outbox WHERE sent_at IS NOT NULL`) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
	stop()
	wg.Wait()
	f.mail.mu.Lock()
	defer f.mail.mu.Unlock()
	per := map[string]int{}
	for _, m := range f.mail.sent {
		per[m.To]++
	}
	for i := range n {
		if e := fmt.Sprintf("user%02d@a.example", i); per[e] != 1 {
			t.Errorf("mails to %s = %d; want exactly 1", e, per[e])
		}
	}
	if len(f.mail.sent) != n {
		t.Errorf("mails sent = %d; want %d", len(f.mail.sent), n)
	}
}
