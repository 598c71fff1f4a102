package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"healthprep.dev/cloud/internal/keyring"
	"healthprep.dev/cloud/internal/tenancy"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, keyring.KeySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kr, err := keyring.NewLocal(key(1))
	if err != nil {
		t.Fatal(err)
	}
	org := tenancy.NewOrgID()
	for _, pt := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret"), 1000)} {
		ct, err := kr.Seal(ctx, org, "totp/user/1", pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(pt) > 3 && bytes.Contains(ct, pt) {
			t.Errorf("ciphertext contains the plaintext")
		}
		got, err := kr.Open(ctx, org, "totp/user/1", ct)
		if err != nil {
			t.Fatalf("Open(Seal(%d bytes)) = %v", len(pt), err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open(Seal(x)) = %q; want %q", got, pt)
		}
	}
	a, _ := kr.Seal(ctx, org, "p", []byte("same"))
	b, _ := kr.Seal(ctx, org, "p", []byte("same"))
	if bytes.Equal(a, b) {
		t.Errorf("two seals of the same plaintext are equal; want fresh nonces")
	}
}

// TestOpenRefuses shows every way a ciphertext must fail to open, with the
// one error a caller sees.
func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	kr, _ := keyring.NewLocal(key(1))
	other, _ := keyring.NewLocal(key(2))
	orgA, orgB := tenancy.NewOrgID(), tenancy.NewOrgID()
	ct, err := kr.Seal(ctx, orgA, "totp/user/1", []byte("JBSWY3DPEHPK3PXP"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 1; return c }
	tests := []struct {
		name    string
		kr      *keyring.Local
		org     tenancy.OrgID
		purpose string
		ct      []byte
	}{
		{"other org", kr, orgB, "totp/user/1", ct},
		{"other purpose", kr, orgA, "totp/user/2", ct},
		{"other master key", other, orgA, "totp/user/1", ct},
		{"flipped version", kr, orgA, "totp/user/1", flip(0)},
		{"flipped key id", kr, orgA, "totp/user/1", flip(2)},
		{"flipped nonce", kr, orgA, "totp/user/1", flip(8)},
		{"flipped body", kr, orgA, "totp/user/1", flip(len(ct) - 20)},
		{"flipped tag", kr, orgA, "totp/user/1", flip(len(ct) - 1)},
		{"truncated", kr, orgA, "totp/user/1", ct[:len(ct)-1]},
		{"header only", kr, orgA, "totp/user/1", ct[:17]},
		{"empty", kr, orgA, "totp/user/1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.kr.Open(ctx, tt.org, tt.purpose, tt.ct)
			if !errors.Is(err, keyring.ErrOpen) || got != nil {
				t.Errorf("Open = %q, %v; want nil, ErrOpen", got, err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	org := tenancy.NewOrgID()
	old, _ := keyring.NewLocal(key(1))
	ct, _ := old.Seal(ctx, org, "p", []byte("kept"))
	rotated, err := keyring.NewLocal(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open(ctx, org, "p", ct); err != nil || string(got) != "kept" {
		t.Errorf("rotated keyring opens old ciphertext = %q, %v; want kept", got, err)
	}
	fresh, _ := rotated.Seal(ctx, org, "p", []byte("new"))
	if _, err := old.Open(ctx, org, "p", fresh); !errors.Is(err, keyring.ErrOpen) {
		t.Errorf("old keyring opens a ciphertext sealed after rotation: %v; want ErrOpen (sealed with the new key)", err)
	}
}

func TestNewLocalRejectsBadKeys(t *testing.T) {
	t.Parallel()
	for _, k := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		if _, err := keyring.NewLocal(k); err == nil {
			t.Errorf("NewLocal(%d-byte key) succeeded; want an error", len(k))
		}
	}
	if _, err := keyring.NewLocal(key(1), make([]byte, 31)); err == nil {
		t.Errorf("NewLocal with a 31-byte previous key succeeded; want an error")
	}
	kr, _ := keyring.NewLocal(key(1))
	if _, err := kr.Seal(context.Background(), tenancy.OrgID{}, "p", []byte("x")); err == nil {
		t.Errorf("Seal for the zero org succeeded; want an error")
	}
}
