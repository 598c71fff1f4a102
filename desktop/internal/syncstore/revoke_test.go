package syncstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
	"healthprep.dev/desktop/internal/syncstore"
)

// TestRevokedUsersLoseOfflineAccess: a page carrying the organisation's
// revoked_users record destroys those users' password wraps in the page's
// transaction; they can no longer unlock offline (ErrUnknownUser: "sign in
// online first", which the cloud then refuses) and other users are
// unaffected. A page that is not applied removes nobody; an unreadable
// list is counted and removes nobody.
func TestRevokedUsersLoseOfflineAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := setup(t)
	ls := s.Local()
	pw := map[string]string{"alice": "alice's long password", "bob": "bob's long password", "carol": "carol's long password"}
	for u, p := range pw {
		if err := ls.SetUserPassword(ctx, u, p); err != nil {
			t.Fatal(err)
		}
	}
	revoked := func(ids string) syncagent.Change {
		return syncagent.Change{Kind: "config", ID: syncstore.RevokedUsersID, Payload: []byte(`{"user_ids":` + ids + `}`), Seq: 1}
	}
	users := func() []string {
		t.Helper()
		us, err := ls.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return us
	}

	// A stale page (wrong From) changes nothing, wraps included.
	err := s.ApplyPage(ctx, syncagent.Page{From: "stale", Next: "x", Changes: []syncagent.Change{revoked(`["bob"]`)}})
	if !errors.Is(err, syncagent.ErrCursorMismatch) {
		t.Fatalf("stale page: %v; want ErrCursorMismatch", err)
	}
	if got, want := users(), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("after a stale page, users %v; want %v", got, want)
	}
	// An unreadable list is counted and removes nobody.
	page(s, t, revoked(`"bob"`))
	if got, want := users(), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) || s.Unreadable() != 1 {
		t.Fatalf("after an unreadable list, users %v, unreadable %d; want %v, 1", got, s.Unreadable(), want)
	}
	// The list (with a user who never signed in here) removes bob only.
	page(s, t, patientChange("p1"), revoked(`["bob","never-here"]`))
	if got, want := users(), []string{"alice", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("after the list, users %v; want %v", got, want)
	}
	ls.Lock()
	for _, tt := range []struct {
		user    string
		wantErr error
	}{{"bob", localstore.ErrUnknownUser}, {"alice", nil}, {"carol", nil}} {
		err := ls.UnlockWithPassword(ctx, tt.user, pw[tt.user])
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("UnlockWithPassword(%s) = %v; want %v", tt.user, err, tt.wantErr)
		}
		ls.Lock()
	}
	if err := ls.UnlockWithPassword(ctx, "alice", pw["alice"]); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Patient(ctx, "p1"); err != nil {
		t.Errorf("the page's other change: %v; want the patient stored with the list", err)
	}
}

func patientChange(id string) syncagent.Change {
	return syncagent.Change{Kind: "patient", ID: id, Payload: patientJSON(id, "Ann"), Seq: 2}
}
