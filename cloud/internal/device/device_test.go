package device_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/device"
	"healthprep.dev/cloud/internal/pgtest"
	"healthprep.dev/cloud/internal/tenancy"
)

var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

type bundle struct {
	db    *tenancy.DB
	super string
	store *device.Store
	clock *clock
	a, b  tenancy.OrgID
	admin device.Actor
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func setup(t *testing.T) bundle {
	t.Helper()
	d := pg.NewDB(t)
	db := tenancy.New(d.AppPool(t))
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	return bundle{db: db, super: d.SuperDSN, store: device.New(db, c.now), clock: c,
		a: createOrg(t, db, "clinic-a"), b: createOrg(t, db, "clinic-b"),
		admin: device.Actor{UserID: uuid.New(), Role: "admin", IP: "127.0.0.1"}}
}

func createOrg(t *testing.T, db *tenancy.DB, slug string) tenancy.OrgID {
	t.Helper()
	var id tenancy.OrgID
	err := db.WithPlatform(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `INSERT INTO organizations (name, slug, timezone) VALUES ($1, $1, 'UTC') RETURNING id`, slug).Scan(&id)
	})
	if err != nil {
		t.Fatalf("creating org: %v", err)
	}
	return id
}

func (b bundle) enrol(t *testing.T, org tenancy.OrgID, name string) device.Enrolled {
	t.Helper()
	ctx := context.Background()
	code, _, err := b.store.IssueCode(ctx, b.admin, org, 0)
	if err != nil {
		t.Fatalf("IssueCode: %v", err)
	}
	e, err := b.store.Enrol(ctx, device.Enrolment{Code: code, Name: name, OS: "linux/amd64", Version: "0.1.0"})
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	return e
}

func (b bundle) auditActions(t *testing.T, org tenancy.OrgID) string {
	t.Helper()
	var out []string
	err := b.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		rows, err := tx.Query(context.Background(), `SELECT action FROM audit_log WHERE org_id = $1 ORDER BY seq`, org)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

// TestLifeCycle: issue a code, enrol once, authenticate, appear in the
// list with a last-sync time, revoke (audited), and be refused after.
func TestLifeCycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	code, exp, err := b.store.IssueCode(ctx, b.admin, b.a, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := b.clock.now().Add(10 * time.Minute); !exp.Equal(want) {
		t.Errorf("expires %v; want %v", exp, want)
	}
	// People type codes loosely.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	e, err := b.store.Enrol(ctx, device.Enrolment{Code: typed, Name: "Front desk 1", OS: "windows/amd64", Version: "1.2.3"})
	if err != nil {
		t.Fatalf("Enrol: %v", err)
	}
	if e.Device.OrgID != b.a || e.Device.EnrolledBy != b.admin.UserID || !strings.HasPrefix(e.Token, device.TokenPrefix) {
		t.Errorf("enrolled %+v; want org A, enrolled by the admin, a device token", e.Device)
	}
	if _, err := b.store.Enrol(ctx, device.Enrolment{Code: code, Name: "Second"}); !errors.Is(err, device.ErrBadCode) {
		t.Errorf("second use of a code: %v; want ErrBadCode", err)
	}
	d, err := b.store.Authenticate(ctx, e.Token)
	if err != nil || d.ID != e.Device.ID || d.OrgID != b.a {
		t.Fatalf("Authenticate = %+v, %v; want the device", d, err)
	}
	list, err := b.store.List(ctx, b.a, false)
	if err != nil || len(list) != 1 || list[0].LastSyncAt.IsZero() || list[0].Name != "Front desk 1" {
		t.Errorf("List = %+v, %v; want the device with a last-sync time", list, err)
	}
	if other, _ := b.store.List(ctx, b.b, true); len(other) != 0 {
		t.Errorf("another organisation lists %d devices; want 0", len(other))
	}
	if _, err := b.store.Revoke(ctx, b.admin, b.b, e.Device.ID, "wrong org"); !errors.Is(err, device.ErrNotFound) {
		t.Errorf("revoking from another organisation: %v; want ErrNotFound", err)
	}
	r, err := b.store.Revoke(ctx, b.admin, b.a, e.Device.ID, "stolen laptop")
	if err != nil || r.RevokedAt.IsZero() {
		t.Fatalf("Revoke = %+v, %v", r, err)
	}
	if _, err := b.store.Authenticate(ctx, e.Token); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("after revocation: %v; want ErrRevoked", err)
	}
	if again, err := b.store.Revoke(ctx, b.admin, b.a, e.Device.ID, ""); err != nil || !again.RevokedAt.Equal(r.RevokedAt) {
		t.Errorf("revoking again = %v, %v; want the same revocation", again.RevokedAt, err)
	}
	if list, _ := b.store.List(ctx, b.a, false); len(list) != 0 {
		t.Errorf("active list after revocation has %d devices", len(list))
	}
	if got, want := b.auditActions(t, b.a), "device.enrolment_code.issue device.enrol device.revoke"; got != want {
		t.Errorf("audit actions %q; want %q", got, want)
	}
}

// TestBadCodesAndTokens: what a person or an attacker sees, and that
// nothing was created.
func TestBadCodesAndTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	expired, _, err := b.store.IssueCode(ctx, b.admin, b.a, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.add(2 * time.Minute)
	for _, tt := range []struct {
		name string
		in   device.Enrolment
		want string
	}{
		{"expired", device.Enrolment{Code: expired, Name: "x"}, device.ErrBadCode.Error()},
		{"unknown", device.Enrolment{Code: "AAAAA-AAAAA", Name: "x"}, device.ErrBadCode.Error()},
		{"garbage", device.Enrolment{Code: "'; DROP TABLE devices; --", Name: "x"}, device.ErrBadCode.Error()},
		{"no name", device.Enrolment{Code: expired, Name: "  "}, "name: must be 1–100 printable characters"},
		{"control characters", device.Enrolment{Code: expired, Name: "a\nb"}, "name: must be 1–100 printable characters"},
	} {
		if _, err := b.store.Enrol(ctx, tt.in); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", tt.name, err, tt.want)
		}
	}
	if _, _, err := b.store.IssueCode(ctx, b.admin, b.a, 48*time.Hour); err == nil || err.Error() != "valid_minutes: must be 1–1440" {
		t.Errorf("a two-day code: %v", err)
	}
	e := b.enrol(t, b.a, "ok")
	forged := device.TokenPrefix + strings.ReplaceAll(uuid.NewString(), "-", "") + e.Token[strings.LastIndex(e.Token, "_"):]
	for _, tok := range []string{"", "session-token", device.TokenPrefix, forged, e.Token + "x"} {
		if _, err := b.store.Authenticate(ctx, tok); !errors.Is(err, device.ErrInvalidToken) {
			t.Errorf("token %q: %v; want ErrInvalidToken", tok, err)
		}
	}
	if list, _ := b.store.List(ctx, b.a, true); len(list) != 1 {
		t.Errorf("%d devices after the failed enrolments; want only the good one", len(list))
	}
	// Stored as hashes only.
	conn, err := pgx.Connect(ctx, b.super)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	secret := e.Token[strings.LastIndex(e.Token, "_")+1:]
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM devices WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`, secret).Scan(&n); err != nil || n != 0 {
		t.Errorf("the token's secret appears in the devices table (%d rows, %v)", n, err)
	}
}

// TestCodeIsSingleUseUnderRace: two workstations racing with one code get
// one device.
func TestCodeIsSingleUseUnderRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	code, _, err := b.store.IssueCode(ctx, b.admin, b.a, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.store.Enrol(ctx, device.Enrolment{Code: code, Name: "racer"})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, device.ErrBadCode) {
			t.Errorf("racing enrolment: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d enrolments succeeded with one code; want 1", ok)
	}
}

// setStatus moves org to status as the org service would (arrangement; the
// lifecycle rules are tested in package org, the RPC in package api).
func (b bundle) setStatus(t *testing.T, org tenancy.OrgID, status string) {
	t.Helper()
	err := b.db.WithOrg(context.Background(), org, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `UPDATE organizations SET status = $2 WHERE id = $1`, org, status)
		return err
	})
	if err != nil {
		t.Fatalf("setting status %s: %v", status, err)
	}
}

// TestSuspendedOrganisation: while its organisation is suspended a
// workstation's token and an unused enrolment code are refused with
// ErrOrgSuspended (not ErrRevoked: nothing is shredded, and a refused
// contact is not a sync); other organisations are unaffected; reinstating
// restores both without re-enrolment. Revocation still wins.
func TestSuspendedOrganisation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	e := b.enrol(t, b.a, "Front desk")
	gone := b.enrol(t, b.a, "Stolen laptop")
	other := b.enrol(t, b.b, "Clinic B desk")
	code, _, err := b.store.IssueCode(ctx, b.admin, b.a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.Revoke(ctx, b.admin, b.a, gone.Device.ID, "stolen"); err != nil {
		t.Fatal(err)
	}
	synced, err := b.store.Authenticate(ctx, e.Token)
	if err != nil {
		t.Fatal(err)
	}

	b.setStatus(t, b.a, "suspended")
	b.clock.add(10 * time.Minute) // past lastSyncEvery, within the code's hour
	for _, tt := range []struct {
		name, token string
		want        error
	}{
		{"enrolled workstation", e.Token, device.ErrOrgSuspended},
		{"revoked workstation", gone.Token, device.ErrRevoked},
	} {
		if _, err := b.store.Authenticate(ctx, tt.token); !errors.Is(err, tt.want) {
			t.Errorf("%s while suspended: %v; want %v", tt.name, err, tt.want)
		}
	}
	if _, err := b.store.Authenticate(ctx, e.Token); err == nil || err.Error() != "device: this organisation's HealthPrep account is suspended" {
		t.Errorf("message while suspended: %v", err)
	}
	if _, err := b.store.Enrol(ctx, device.Enrolment{Code: code, Name: "New desk"}); !errors.Is(err, device.ErrOrgSuspended) {
		t.Errorf("enrolling while suspended: %v; want ErrOrgSuspended", err)
	}
	if _, err := b.store.Authenticate(ctx, other.Token); err != nil {
		t.Errorf("another organisation's workstation: %v; want accepted", err)
	}
	list, err := b.store.List(ctx, b.a, true)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %d devices, %v; want 2 (no enrolment while suspended)", len(list), err)
	}
	for _, d := range list {
		if d.ID == e.Device.ID && !d.LastSyncAt.Equal(synced.LastSyncAt) {
			t.Errorf("last sync moved to %v while refused; want %v", d.LastSyncAt, synced.LastSyncAt)
		}
	}

	b.setStatus(t, b.a, "live")
	if d, err := b.store.Authenticate(ctx, e.Token); err != nil || d.ID != e.Device.ID {
		t.Errorf("after reinstatement: %+v, %v; want the same device, same token", d, err)
	}
	if _, err := b.store.Enrol(ctx, device.Enrolment{Code: code, Name: "New desk"}); err != nil {
		t.Errorf("the code kept during suspension, after reinstatement: %v; want enrolled", err)
	}
	if _, err := b.store.Authenticate(ctx, gone.Token); !errors.Is(err, device.ErrRevoked) {
		t.Errorf("revoked workstation after reinstatement: %v; want ErrRevoked", err)
	}
}
