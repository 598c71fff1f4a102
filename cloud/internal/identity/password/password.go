// Package password hashes and checks HealthPrep passwords.
//
// Hashing is Argon2id stored as a PHC string
// ($argon2id$v=19$m=65536,t=3,p=2$salt$hash). Default parameters are t=3,
// m=64 MiB, p=2: the RFC 9106 second recommendation scaled to p=2 for the
// 2-vCPU API replicas, ≈ 270 ms per hash on them, which bounds a replica to
// a handful of concurrent verifications, and the per-IP throttle in package
// identity keeps attackers from queueing more. Verify reads the parameters
// from the stored string, so raising them later keeps old hashes working
// (NeedsRehash tells when to upgrade one).
//
// The policy follows NIST SP 800-63B: passwords are normalised to NFKC and
// counted in Unicode code points, 12 to 128 long, no composition rules; the
// most common/breached passwords (an embedded list of 30,000, see
// common-passwords.SOURCE.md) are refused, also with digits or symbols
// stuck on either end, as are trivially repetitive or sequential strings
// and passwords containing the account's email name or the product name.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Params are Argon2id cost parameters.
type Params struct {
	Time      uint32 // iterations
	MemoryKiB uint32
	Threads   uint8
	SaltLen   uint32
	KeyLen    uint32
}

// DefaultParams are the production parameters (t=3, m=64 MiB, p=2).
func DefaultParams() Params {
	return Params{Time: 3, MemoryKiB: 64 * 1024, Threads: 2, SaltLen: 16, KeyLen: 32}
}

// Validate reports parameters too weak or too large to use.
func (p Params) Validate() error {
	switch {
	case p.Time < 1 || p.Time > 20:
		return fmt.Errorf("argon2id time %d out of range 1..20", p.Time)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > 1<<21:
		return fmt.Errorf("argon2id memory %d KiB out of range", p.MemoryKiB)
	case p.Threads < 1:
		return errors.New("argon2id needs at least one thread")
	case p.SaltLen < 16 || p.KeyLen < 16 || p.SaltLen > 64 || p.KeyLen > 64:
		return errors.New("argon2id salt and key must be 16..64 bytes")
	}
	return nil
}

// MaxBytes bounds the encoded size of a password accepted anywhere, before
// any work is done on it (128 code points of up to 4 bytes, with room for
// decomposed input).
const MaxBytes = 1024

// Normalize returns the NFKC form every password is hashed and checked in.
func Normalize(pw string) string { return norm.NFKC.String(pw) }

// Hash returns the PHC string of Argon2id over the normalised password.
func Hash(pw string, p Params) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	if len(pw) > MaxBytes {
		return "", errors.New("password too long to hash")
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("drawing salt: %w", err)
	}
	key := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// ErrMalformedHash is returned for a stored hash that is not an Argon2id
// PHC string this package can read.
var ErrMalformedHash = errors.New("password: malformed stored hash")

// Verify reports whether pw matches the PHC string phc, in time that depends
// only on the stored parameters. A password over MaxBytes never matches.
func Verify(pw, phc string) (bool, error) {
	p, salt, want, err := parse(phc)
	if err != nil {
		return false, err
	}
	if len(pw) > MaxBytes {
		pw = "" // still do the work, so the answer takes as long
	}
	got := argon2.IDKey([]byte(Normalize(pw)), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && len(pw) > 0, nil
}

// NeedsRehash reports whether phc was made with parameters other than p.
func NeedsRehash(phc string, p Params) bool {
	got, salt, key, err := parse(phc)
	return err != nil || got.Time != p.Time || got.MemoryKiB != p.MemoryKiB ||
		got.Threads != p.Threads || uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen
}

func parse(phc string) (Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if p.Validate() != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
