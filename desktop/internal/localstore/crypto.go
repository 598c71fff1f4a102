package localstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

const (
	keySize   = 32 // AES-256, HMAC-SHA256
	nonceSize = 12 // GCM standard nonce
	saltSize  = 16
	blindSize = 16 // bytes of HMAC-SHA256 kept as a row identity
	// sealVersion is the first byte of every sealed value, so the format can
	// change later without guessing.
	sealVersion = 1
)

// KDFParams are the Argon2id parameters that derive a user's wrapping key
// from their password. They are stored with each wrap.
type KDFParams struct {
	Time      uint32 // iterations
	MemoryKiB uint32
	Threads   uint8
}

// DefaultKDF is the production setting: t=3, m=64 MiB, p=2 (≈ 270 ms on a
// 2-core workstation).
var DefaultKDF = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// validStored bounds parameters read back from the file, so that an edited
// file cannot make unlocking allocate without limit.
func (p KDFParams) validStored() error {
	if p.Time < 1 || p.Time > 64 || p.MemoryKiB < 8 || p.MemoryKiB > 4*1024*1024 || p.Threads < 1 || p.Threads > 64 {
		return fmt.Errorf("%w: key derivation parameters out of range", ErrTampered)
	}
	return nil
}

func (p KDFParams) derive(password string, salt []byte) []byte {
	return argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keySize)
}

// keys are the working keys derived from the data key. They live only in
// memory while the store is unlocked.
type keys struct {
	data  []byte      // the random data key itself (to wrap it for new users)
	aead  cipher.AEAD // AES-256-GCM for values
	blind []byte      // HMAC key for row identities and lookup indexes
}

func newKeys(data []byte) (*keys, error) {
	if len(data) != keySize {
		return nil, fmt.Errorf("%w: data key has %d bytes", ErrTampered, len(data))
	}
	enc, err := hkdf.Key(sha256.New, data, nil, "healthprep localstore v1 values", keySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the value key: %w", err)
	}
	blind, err := hkdf.Key(sha256.New, data, nil, "healthprep localstore v1 row identities", keySize)
	if err != nil {
		return nil, fmt.Errorf("deriving the identity key: %w", err)
	}
	aead, err := newGCM(enc)
	clear(enc)
	if err != nil {
		return nil, err
	}
	return &keys{data: append([]byte(nil), data...), aead: aead, blind: blind}, nil
}

// wipe overwrites the key bytes it owns (best effort: the AES key schedule
// inside aead cannot be reached and is dropped for the GC).
func (k *keys) wipe() {
	clear(k.data)
	clear(k.blind)
	k.aead = nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating the cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating the cipher: %w", err)
	}
	return aead, nil
}

// id returns the stored identity of (kind, value): a keyed hash, so the
// file reveals neither patient ids nor MRNs, yet equal inputs meet.
func (k *keys) id(kind, value string) []byte {
	m := hmac.New(sha256.New, k.blind)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)[:blindSize]
}

// aad binds a sealed value to where it is stored: the table, the column and
// the row's identity. A value copied to another row or column fails to open.
func aad(table, column string, row []byte) []byte {
	b := make([]byte, 0, len(table)+len(column)+len(row)+2)
	b = append(b, table...)
	b = append(b, 0)
	b = append(b, column...)
	b = append(b, 0)
	return append(b, row...)
}

// seal encrypts plain as version || nonce || ciphertext+tag.
func (k *keys) seal(plain, ad []byte) ([]byte, error) {
	return sealWith(k.aead, plain, ad)
}

func sealWith(aead cipher.AEAD, plain, ad []byte) ([]byte, error) {
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1 : 1+nonceSize]); err != nil {
		return nil, fmt.Errorf("reading random nonce: %w", err)
	}
	return aead.Seal(out, out[1:1+nonceSize], plain, ad), nil
}

// open reverses seal. Any change to the stored bytes, or opening it under
// another row, column or key, fails with ErrTampered.
func (k *keys) open(sealed, ad []byte) ([]byte, error) {
	return openWith(k.aead, sealed, ad)
}

func openWith(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1+nonceSize+aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrTampered
	}
	plain, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], ad)
	if err != nil {
		return nil, ErrTampered
	}
	return plain, nil
}

// errWrapAuth is what a failed unwrap reports before the caller decides
// whether it means a wrong password, a wrong device key or tampering.
var errWrapAuth = errors.New("wrapped key failed authentication")

// wrap encrypts the data key under kek, bound to the wrap's identity.
func wrap(kek, dataKey, ad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	return sealWith(aead, dataKey, ad)
}

func unwrap(kek, wrapped, ad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	dk, err := openWith(aead, wrapped, ad)
	if err != nil {
		return nil, errWrapAuth
	}
	return dk, nil
}

func randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("reading random bytes: %w", err)
	}
	return b, nil
}
