// Package keyring encrypts small secrets at rest (TOTP seeds today; Epic
// client secrets and tokens later) with AES-256-GCM, binding every
// ciphertext to its organisation and purpose as additional authenticated
// data, so a ciphertext copied to another org's row or to another column does
// not open.
//
// Local is the implementation for now: one 32-byte master key from
// configuration, from which a per-organisation key is derived with HKDF-SHA256.
// Consumers depend on Seal/Open only (declared as their own interface), so
// issue 5 can swap in per-org data keys wrapped by KMS without touching them.
//
// Ciphertext layout (version 1):
//
//	0x01 | key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext and tag
//
// The key id is the first four bytes of SHA-256 over the master key; Open
// finds the master key by it, so old keys given to NewLocal keep opening old
// ciphertexts after a rotation while Seal always uses the current one.
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"healthprep.dev/cloud/internal/tenancy"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

const (
	version   = 1
	keyIDSize = 4
	nonceSize = 12
	header    = 1 + keyIDSize + nonceSize
)

// ErrOpen is returned for any ciphertext that does not open: tampered,
// truncated, sealed for another org or purpose, or under an unknown key. It
// deliberately does not say which.
var ErrOpen = errors.New("keyring: ciphertext does not open")

// Local seals with a master key held in memory (from configuration).
type Local struct {
	current [keyIDSize]byte
	keys    map[[keyIDSize]byte][]byte
}

// NewLocal returns a keyring sealing with current and also opening
// ciphertexts sealed under any of previous. Every key must be KeySize bytes.
func NewLocal(current []byte, previous ...[]byte) (*Local, error) {
	l := &Local{keys: map[[keyIDSize]byte][]byte{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("keyring: master key %d is %d bytes; want %d", i, len(k), KeySize)
		}
		id := keyID(k)
		if i == 0 {
			l.current = id
		}
		l.keys[id] = append([]byte(nil), k...)
	}
	return l, nil
}

func keyID(k []byte) [keyIDSize]byte {
	sum := sha256.Sum256(k)
	return [keyIDSize]byte(sum[:keyIDSize])
}

// Seal encrypts plaintext for org and purpose (a short label such as
// "totp/user/<id>"; the same label must be given to Open).
func (l *Local) Seal(_ context.Context, org tenancy.OrgID, purpose string, plaintext []byte) ([]byte, error) {
	aead, err := l.aead(l.current, org)
	if err != nil {
		return nil, err
	}
	out := make([]byte, header, header+len(plaintext)+aead.Overhead())
	out[0] = version
	copy(out[1:], l.current[:])
	if _, err := rand.Read(out[1+keyIDSize : header]); err != nil {
		return nil, fmt.Errorf("keyring: drawing nonce: %w", err)
	}
	return aead.Seal(out, out[1+keyIDSize:header], plaintext, aad(org, purpose)), nil
}

// Open decrypts a ciphertext made by Seal with the same org and purpose.
func (l *Local) Open(_ context.Context, org tenancy.OrgID, purpose string, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < header || ciphertext[0] != version {
		return nil, ErrOpen
	}
	id := [keyIDSize]byte(ciphertext[1 : 1+keyIDSize])
	if _, ok := l.keys[id]; !ok {
		return nil, ErrOpen
	}
	aead, err := l.aead(id, org)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, ciphertext[1+keyIDSize:header], ciphertext[header:], aad(org, purpose))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// aead derives org's key from the master key id and returns its AES-GCM.
func (l *Local) aead(id [keyIDSize]byte, org tenancy.OrgID) (cipher.AEAD, error) {
	if org.IsZero() {
		return nil, errors.New("keyring: no organisation given")
	}
	k, err := hkdf.Key(sha256.New, l.keys[id], nil, "healthprep keyring v1 org "+org.String(), 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: deriving org key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return cipher.NewGCM(block)
}

// aad binds a ciphertext to its org and purpose (length-prefixed so no two
// pairs encode alike).
func aad(org tenancy.OrgID, purpose string) []byte {
	return fmt.Appendf(nil, "healthprep/keyring/v1|org=%s|purpose=%d:%s", org, len(purpose), purpose)
}
