// Package envelope is HealthPrep's envelope encryption of PHI and secrets at
// rest in Postgres.
//
//   - Every organisation has one data key: 256 random bits made by a KMS
//     (GenerateDataKey) and stored only wrapped by the KMS's key-encryption
//     key, in org_data_keys (migration 00060). KMS is an interface with two
//     implementations: AWSKMS (aws-sdk-go-v2, production) and LocalKMS (a
//     key-encryption key from configuration, for development and tests).
//   - Keys.ForOrg unwraps an org's data key inside the caller's tenant
//     transaction (creating it on first use) and returns an OrgKey, which
//     seals fields with AES-256-GCM bound, as additional authenticated data,
//     to the org, table, column and row id, so a ciphertext moved to another
//     row, column or org does not open; and computes blind indexes
//     (HMAC-SHA256 under a per-org key derived from the data key) for exact
//     lookups such as by MRN.
//   - Keys.Shred crypto-shreds an org: its wrapped data key is destroyed,
//     so everything sealed for it is unreadable from then on, on every
//     replica (the wrapped key is re-read in each transaction; unwrapped keys
//     are cached only by the wrapped key's hash).
//
// Nothing here logs; errors never carry key material or plaintext.
package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DataKeySize is the size of a data key and of a local key-encryption key.
const DataKeySize = 32

// KMS makes and unwraps data keys. keyContext is bound to the wrapped key
// (KMS encryption context): Decrypt fails unless it is given the same one.
type KMS interface {
	// GenerateDataKey returns a fresh random 256-bit key in plaintext and
	// wrapped, and the id of the key-encryption key that wrapped it.
	GenerateDataKey(ctx context.Context, keyContext map[string]string) (plaintext, wrapped []byte, kekID string, err error)
	// Decrypt unwraps a key made by GenerateDataKey.
	Decrypt(ctx context.Context, wrapped []byte, keyContext map[string]string) ([]byte, error)
}

// ErrUnwrap is returned when a wrapped key does not unwrap: tampered, made
// for another context, or under a key-encryption key this KMS does not hold.
var ErrUnwrap = errors.New("envelope: data key does not unwrap")

// LocalKMS wraps data keys with AES-256-GCM under a key-encryption key held
// in memory (from configuration). It is for development and tests; in
// production the key-encryption key never leaves AWS KMS.
//
// Wrapped layout: 0x01 | KEK id (4 bytes) | nonce (12) | ciphertext+tag.
type LocalKMS struct {
	current [4]byte
	keks    map[[4]byte]cipher.AEAD
}

// NewLocalKMS returns a LocalKMS wrapping with current and unwrapping with
// current or any of previous (rotation). Every key is DataKeySize bytes.
func NewLocalKMS(current []byte, previous ...[]byte) (*LocalKMS, error) {
	l := &LocalKMS{keks: map[[4]byte]cipher.AEAD{}}
	for i, k := range append([][]byte{current}, previous...) {
		if len(k) != DataKeySize {
			return nil, fmt.Errorf("envelope: local key-encryption key %d is %d bytes; want %d", i, len(k), DataKeySize)
		}
		sum := sha256.Sum256(k)
		id := [4]byte(sum[:4])
		if i == 0 {
			l.current = id
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
		l.keks[id] = aead
	}
	return l, nil
}

// GenerateDataKey implements KMS.
func (l *LocalKMS) GenerateDataKey(_ context.Context, keyContext map[string]string) ([]byte, []byte, string, error) {
	pt := make([]byte, DataKeySize)
	if _, err := rand.Read(pt); err != nil {
		return nil, nil, "", fmt.Errorf("envelope: drawing data key: %w", err)
	}
	out := make([]byte, 1+4+12, 1+4+12+DataKeySize+16)
	out[0] = 1
	copy(out[1:5], l.current[:])
	if _, err := rand.Read(out[5:17]); err != nil {
		return nil, nil, "", fmt.Errorf("envelope: drawing nonce: %w", err)
	}
	out = l.keks[l.current].Seal(out, out[5:17], pt, contextAAD(keyContext))
	return pt, out, fmt.Sprintf("local:%x", l.current), nil
}

// Decrypt implements KMS.
func (l *LocalKMS) Decrypt(_ context.Context, wrapped []byte, keyContext map[string]string) ([]byte, error) {
	if len(wrapped) < 17+16 || wrapped[0] != 1 {
		return nil, ErrUnwrap
	}
	aead, ok := l.keks[[4]byte(wrapped[1:5])]
	if !ok {
		return nil, ErrUnwrap
	}
	pt, err := aead.Open(nil, wrapped[5:17], wrapped[17:], contextAAD(keyContext))
	if err != nil {
		return nil, ErrUnwrap
	}
	return pt, nil
}

// contextAAD encodes an encryption context canonically (sorted keys,
// length-prefixed so no two contexts encode alike).
func contextAAD(c map[string]string) []byte {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString("healthprep/envelope/kek/v1")
	for _, k := range keys {
		fmt.Fprintf(&b, "|%d:%s=%d:%s", len(k), k, len(c[k]), c[k])
	}
	return []byte(b.String())
}
