package api

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "healthprep.dev/proto/gen/healthprep/v1"
)

// TestWhoAmINamesTheCaller drives WhoAmI through the real Connect handler
// on identity and Postgres: each caller — a root admin, and two nurses of
// one clinic — gets its own email and display name (what a status bar
// shows as "signed in as"), its own role and session, and a session expiry
// in the future; never another person's account.
func TestWhoAmINamesTheCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cl := newCluster(t, 1)
	n := cl.nodes[0]
	root := cl.rootSession(t, n, n)
	created, err := n.orgs.CreateOrg(ctx, withToken(root, &v1.CreateOrgRequest{Name: "Lakeside Clinic", Slug: "lakeside"}))
	if err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	orgID := created.Msg.GetOrganization().GetId()
	join := func(email, name string) string {
		t.Helper()
		if _, err := n.users.InviteUser(ctx, withToken(root, &v1.InviteUserRequest{OrgId: orgID, Email: email, Role: v1.Role_ROLE_NURSE})); err != nil {
			t.Fatalf("InviteUser(%s): %v", email, err)
		}
		acc, err := n.auth.AcceptInvite(ctx, connect.NewRequest(&v1.AcceptInviteRequest{
			Token: cl.mail.token(t, email), Password: "a long and unusual passphrase 7", DisplayName: name,
		}))
		if err != nil {
			t.Fatalf("AcceptInvite(%s): %v", email, err)
		}
		return acc.Msg.GetSessionToken()
	}
	ana := join("ana@lakeside.test", "Ana Reyes")
	ben := join("ben@lakeside.test", "Ben Okafor")

	tests := []struct {
		name, token, email, display, org string
		role                             v1.Role
	}{
		{"root admin", root, rootEmail, "Root", "", v1.Role_ROLE_ROOT_ADMIN},
		{"first nurse", ana, "ana@lakeside.test", "Ana Reyes", orgID, v1.Role_ROLE_NURSE},
		{"second nurse", ben, "ben@lakeside.test", "Ben Okafor", orgID, v1.Role_ROLE_NURSE},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		res, err := n.auth.WhoAmI(ctx, withToken(tt.token, &v1.WhoAmIRequest{}))
		if err != nil {
			t.Fatalf("%s: WhoAmI: %v", tt.name, err)
		}
		me := res.Msg
		if me.GetEmail() != tt.email || me.GetDisplayName() != tt.display || me.GetRole() != tt.role {
			t.Errorf("%s: WhoAmI = %q %q %v; want %q %q %v", tt.name, me.GetEmail(), me.GetDisplayName(), me.GetRole(), tt.email, tt.display, tt.role)
		}
		if tt.org != "" && me.GetOrgId() != tt.org {
			t.Errorf("%s: org %s; want %s", tt.name, me.GetOrgId(), tt.org)
		}
		if other, dup := seen[me.GetUserId()]; dup {
			t.Errorf("%s: user ID %s is also %s's", tt.name, me.GetUserId(), other)
		}
		seen[me.GetUserId()] = tt.name
		if me.GetSessionId() == "" || !me.GetSessionExpiresAt().AsTime().After(time.Now()) {
			t.Errorf("%s: session %q expires %v; want a session expiring in the future", tt.name, me.GetSessionId(), me.GetSessionExpiresAt().AsTime())
		}
	}

	if _, err := n.auth.SignOut(ctx, withToken(ben, &v1.SignOutRequest{})); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	if _, err := n.auth.WhoAmI(ctx, withToken(ben, &v1.WhoAmIRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("WhoAmI after sign-out: %v; want Unauthenticated", err)
	}
}
