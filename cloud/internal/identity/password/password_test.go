package password_test

import (
	"errors"
	"strings"
	"testing"

	"healthprep.dev/cloud/internal/identity/password"
)

// cheap are test parameters: the policy and the PHC format do not depend on
// the cost, and the default cost is measured once in TestDefaultParams.
var cheap = password.Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("correct horse battery staple", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash = %q; want an argon2id PHC string with its parameters", h)
	}
	h2, _ := password.Hash("correct horse battery staple", cheap)
	if h == h2 {
		t.Errorf("two hashes of one password are equal; want distinct salts")
	}
	tests := []struct {
		pw   string
		want bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"Correct horse battery staple", false},
		{"", false},
		{strings.Repeat("x", password.MaxBytes+1), false},
	}
	for _, tt := range tests {
		ok, err := password.Verify(tt.pw, h)
		if err != nil || ok != tt.want {
			t.Errorf("Verify(%.20q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
}

// TestNFKC: a password typed with a composed or a decomposed accent, or
// with full-width letters, is the same password.
func TestNFKC(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("caf\u00e9 au lait please", cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"cafe\u0301 au lait please", "ｃａｆ\u00e9 au lait please"} {
		if ok, _ := password.Verify(pw, h); !ok {
			t.Errorf("Verify(%q) = false; want true (same after NFKC)", pw)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	for _, phc := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5", "$argon2id$v=18$m=64,t=1,p=1$x$y",
		"$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$!!!$a2V5",
	} {
		if ok, err := password.Verify("whatever password", phc); ok || !errors.Is(err, password.ErrMalformedHash) {
			t.Errorf("Verify(_, %q) = %v, %v; want false, ErrMalformedHash", phc, ok, err)
		}
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	p := password.DefaultParams()
	h, err := password.Hash("a long enough passphrase", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Errorf("default hash = %q; want m=65536,t=3,p=2", h)
	}
	if password.NeedsRehash(h, p) {
		t.Errorf("NeedsRehash(default hash, default params) = true")
	}
	if !password.NeedsRehash(h, cheap) {
		t.Errorf("NeedsRehash(default hash, cheap params) = false")
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	pol := password.NewPolicy()
	if n := pol.CommonCount(); n < 10000 {
		t.Fatalf("common list has %d entries; want at least 10,000", n)
	}
	const email = "jane.doe@clinic.example"
	tests := []struct {
		name, pw string
		reason   string // "" = accepted
	}{
		{"11 chars", "plumtreeowl", "at least 12"},
		{"12 chars", "plumtreeowls", ""},
		{"128 chars", strings.Repeat("plum tree ", 12) + "owlsowls", ""},
		{"129 chars", strings.Repeat("plum tree ", 12) + "owlsowlsx", "at most 128"},
		{"12 code points, 24 bytes", "àéîõüçñåøæœð", ""},
		{"11 code points after NFKC", "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301x", "at least 12"},
		{"way over the byte limit", strings.Repeat("ab", 600), "at most 128"},
		{"no composition rules: all lower case", "purple monkey dishwasher", ""},
		{"common", "qwertyuiopasdfgh", ""}, // not on the list: accepted
		{"common, on the list", "1qaz2wsx3edc", "most commonly used"},
		{"common, upper case", "LEAVEMEALONE", "most commonly used"},
		{"common with digits", "password123456", "most commonly used"},
		{"common with symbols both ends", "!!sunshine2024!!", "most commonly used"},
		{"repeated", "aaaaaaaaaaaaaa", "repeated or sequential"},
		{"alternating", "abababababab", "repeated or sequential"},
		{"sequential digits wrapping", "789012345678", "repeated or sequential"},
		{"descending letters", "zyxwvutsrqpo", "repeated or sequential"},
		{"email name", "my jane.doe password", "email name"},
		{"email name other case", "JANE.DOE is my name", "email name"},
		{"product name", "i love HealthPrep!", "product name"},
		{"control character", "tab\tinside password", "control characters"},
		{"invalid UTF-8", "abcdefghijkl\xff", "not valid text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := pol.Check(tt.pw, email)
			if tt.reason == "" {
				if err != nil {
					t.Errorf("Check = %v; want accepted", err)
				}
				return
			}
			var we *password.WeakError
			if !errors.As(err, &we) || !errors.Is(err, password.ErrWeak) || !strings.Contains(we.Reason, tt.reason) {
				t.Fatalf("Check = %v; want a WeakError mentioning %q", err, tt.reason)
			}
			if len(tt.pw) > 4 && strings.Contains(err.Error(), tt.pw) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
	if err := pol.Check("a@clinic.example is short-local", "a@clinic.example"); err != nil {
		t.Errorf("a one-letter email name must not block every password containing it: %v", err)
	}
}

func BenchmarkHashDefault(b *testing.B) {
	p := password.DefaultParams()
	for b.Loop() {
		if _, err := password.Hash("a long enough passphrase", p); err != nil {
			b.Fatal(err)
		}
	}
}
