package identity_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"healthprep.dev/cloud/internal/identity"
)

// TestThrottleByNetwork: failures count per address for IPv4 and per /64
// for IPv6, both for the throttle and for spraying detection.
func TestThrottleByNetwork(t *testing.T) {
	t.Parallel()
	addr := func(format string) func(i int) netip.Addr {
		return func(i int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf(format, i+1)) }
	}
	same := func(a string) func(int) netip.Addr {
		return func(int) netip.Addr { return netip.MustParseAddr(a) }
	}
	for _, tt := range []struct {
		name      string
		attackers func(i int) netip.Addr // where failure i comes from
		next      netip.Addr             // where the next, correct attempt comes from
		throttled bool
		spraying  int // alerts after the failures
	}{
		{"IPv6: rotating addresses in one /64", addr("2001:db8:1:2::%x"), netip.MustParseAddr("2001:db8:1:2::ffff"), true, 1},
		{"IPv6: the next /64 is another network", addr("2001:db8:1:2::%x"), netip.MustParseAddr("2001:db8:1:3::1"), false, 1},
		{"IPv6: one address per /64", addr("2001:db8:1:%x::1"), netip.MustParseAddr("2001:db8:1:ff::1"), false, 0},
		{"IPv4: one address", same("203.0.113.66"), netip.MustParseAddr("203.0.113.66"), true, 1},
		{"IPv4: neighbours in a /24 are separate", addr("203.0.113.%d"), netip.MustParseAddr("203.0.113.200"), false, 0},
		{"IPv4-mapped IPv6 counts as its IPv4 address", same("203.0.113.66"), netip.MustParseAddr("::ffff:203.0.113.66"), true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.user(t, f.orgA, "nurse@a.example", identity.RoleNurse)
			for i := range identity.ThrottleFailures {
				email := fmt.Sprintf("a%d@x.example", i%identity.SprayAccounts)
				if err := f.try(email, "wrong password!", tt.attackers(i)); !errors.Is(err, identity.ErrInvalidCredentials) && !errors.Is(err, identity.ErrLocked) {
					t.Fatalf("failure %d from %s = %v", i, tt.attackers(i), err)
				}
			}
			err := f.try("nurse@a.example", pw, tt.next)
			if got := errors.Is(err, identity.ErrThrottled); got != tt.throttled {
				t.Errorf("next attempt from %s = %v; want throttled %v", tt.next, err, tt.throttled)
			}
			if !tt.throttled && err != nil {
				t.Errorf("next attempt from %s = %v; want success", tt.next, err)
			}
			if got := f.audits(t, f.platform, "auth.password_spraying", "alert"); got != tt.spraying {
				t.Errorf("spraying alerts = %d; want %d", got, tt.spraying)
			}
		})
	}
}
