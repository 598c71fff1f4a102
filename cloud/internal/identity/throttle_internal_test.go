package identity

import (
	"net/netip"
	"testing"
)

func TestThrottleNet(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ ip, want string }{
		{"203.0.113.66", "203.0.113.66/32"},
		{"203.0.113.67", "203.0.113.67/32"},
		{"::ffff:203.0.113.66", "203.0.113.66/32"}, // IPv4-mapped counts as IPv4
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		if got := throttleNet(netip.MustParseAddr(tt.ip)).String(); got != tt.want {
			t.Errorf("throttleNet(%s) = %s; want %s", tt.ip, got, tt.want)
		}
	}
}
