package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// ErrShredded is returned for an organisation whose data key was destroyed:
// its ciphertexts are gone for good and no new key is made for it.
var ErrShredded = errors.New("envelope: the organisation's data key was destroyed")

// ErrOpen is returned for a field ciphertext that does not open: tampered,
// truncated, or sealed for another org, table, column or row. It does not
// say which.
var ErrOpen = errors.New("envelope: ciphertext does not open")

// Keys hands out organisations' data keys. It is safe for concurrent use.
type Keys struct {
	kms KMS

	mu sync.Mutex
	// cache maps SHA-256 of a wrapped key to its unwrapped OrgKey, so KMS
	// is asked once per key per process, while a shredded key (whose
	// wrapped form is gone from Postgres) is never found again.
	cache map[[32]byte]*OrgKey
}

// NewKeys returns a Keys unwrapping with k.
func NewKeys(k KMS) *Keys { return &Keys{kms: k, cache: map[[32]byte]*OrgKey{}} }

func keyContext(org tenancy.OrgID) map[string]string {
	return map[string]string{"healthprep_org": org.String(), "purpose": "org-data-key"}
}

// ForOrg returns org's data key, read in tx (a tenancy.WithOrg transaction
// for org, or a platform one). The first call for an org makes the key and
// stores it wrapped in the same transaction; concurrent first calls agree on
// one key.
func (k *Keys) ForOrg(ctx context.Context, tx pgx.Tx, org tenancy.OrgID) (*OrgKey, error) {
	if org.IsZero() {
		return nil, tenancy.ErrNoOrg
	}
	wrapped, shredded, err := k.load(ctx, tx, org)
	if err != nil {
		return nil, err
	}
	if shredded {
		return nil, ErrShredded
	}
	if wrapped == nil {
		pt, w, kekID, err := k.kms.GenerateDataKey(ctx, keyContext(org))
		if err != nil {
			return nil, err
		}
		clear(pt) // the stored wrapped key is the truth; unwrap it below
		if _, err := tx.Exec(ctx, `INSERT INTO org_data_keys (org_id, wrapped, kek_id) VALUES ($1, $2, $3)
			ON CONFLICT (org_id) DO NOTHING`, org, w, kekID); err != nil {
			return nil, fmt.Errorf("storing data key: %w", err)
		}
		if wrapped, shredded, err = k.load(ctx, tx, org); err != nil {
			return nil, err
		}
		if shredded || wrapped == nil {
			return nil, ErrShredded
		}
	}
	id := sha256.Sum256(append([]byte(org.String()+"|"), wrapped...))
	k.mu.Lock()
	ok := k.cache[id]
	k.mu.Unlock()
	if ok != nil {
		return ok, nil
	}
	dk, err := k.kms.Decrypt(ctx, wrapped, keyContext(org))
	if err != nil {
		return nil, err
	}
	defer clear(dk)
	key, err := newOrgKey(org, dk)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.cache[id] = key
	k.mu.Unlock()
	return key, nil
}

func (k *Keys) load(ctx context.Context, tx pgx.Tx, org tenancy.OrgID) (wrapped []byte, shredded bool, err error) {
	var destroyed bool
	err = tx.QueryRow(ctx, `SELECT wrapped, destroyed_at IS NOT NULL FROM org_data_keys WHERE org_id = $1`, org).
		Scan(&wrapped, &destroyed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("loading data key: %w", err)
	}
	return wrapped, destroyed, nil
}

// Shred destroys org's data key in tx (crypto-shredding): every field
// sealed for org becomes unreadable, on every replica, once tx commits.
// Shredding an org without a key records a destroyed key, so none is
// ever made for it. The caller audits.
func (k *Keys) Shred(ctx context.Context, tx pgx.Tx, org tenancy.OrgID) error {
	if org.IsZero() {
		return tenancy.ErrNoOrg
	}
	if _, err := tx.Exec(ctx, `INSERT INTO org_data_keys (org_id, wrapped, kek_id, destroyed_at)
		VALUES ($1, NULL, 'none', now())
		ON CONFLICT (org_id) DO UPDATE SET wrapped = NULL, destroyed_at = now()
		WHERE org_data_keys.wrapped IS NOT NULL`, org); err != nil {
		return fmt.Errorf("shredding data key: %w", err)
	}
	k.mu.Lock()
	for id, key := range k.cache {
		if key.org == org {
			key.destroy()
			delete(k.cache, id)
		}
	}
	k.mu.Unlock()
	return nil
}

// OrgKey is one organisation's unwrapped data key, as the two subkeys
// derived from it: one sealing fields, one keying blind indexes.
type OrgKey struct {
	org tenancy.OrgID

	mu   sync.RWMutex
	aead cipher.AEAD // nil once destroyed
	bidx []byte
}

func newOrgKey(org tenancy.OrgID, dk []byte) (*OrgKey, error) {
	if len(dk) != DataKeySize {
		return nil, ErrUnwrap
	}
	fk, err := hkdf.Key(sha256.New, dk, nil, "healthprep envelope v1 field "+org.String(), 32)
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving field key: %w", err)
	}
	defer clear(fk)
	bk, err := hkdf.Key(sha256.New, dk, nil, "healthprep envelope v1 blind index "+org.String(), 32)
	if err != nil {
		return nil, fmt.Errorf("envelope: deriving index key: %w", err)
	}
	block, err := aes.NewCipher(fk)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("envelope: %w", err)
	}
	return &OrgKey{org: org, aead: aead, bidx: bk}, nil
}

func (o *OrgKey) destroy() {
	o.mu.Lock()
	o.aead = nil
	clear(o.bidx)
	o.bidx = nil
	o.mu.Unlock()
}

// Org is the organisation the key belongs to.
func (o *OrgKey) Org() tenancy.OrgID { return o.org }

// Field names where a ciphertext lives. Table and Column are the SQL names;
// RowID is the row's stable id (its primary key as text).
type Field struct {
	Table, Column, RowID string
}

func (o *OrgKey) aad(f Field) []byte {
	return fmt.Appendf(nil, "healthprep/envelope/field/v1|org=%s|table=%d:%s|column=%d:%s|row=%d:%s",
		o.org, len(f.Table), f.Table, len(f.Column), f.Column, len(f.RowID), f.RowID)
}

// field ciphertext layout: 0x01 | nonce (12) | ciphertext+tag.
const fieldVersion = 1

// Seal encrypts plaintext for field f. A nil plaintext seals to nil (an
// absent value stays NULL).
func (o *OrgKey) Seal(f Field, plaintext []byte) ([]byte, error) {
	if plaintext == nil {
		return nil, nil
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.aead == nil {
		return nil, ErrShredded
	}
	out := make([]byte, 13, 13+len(plaintext)+o.aead.Overhead())
	out[0] = fieldVersion
	if _, err := rand.Read(out[1:13]); err != nil {
		return nil, fmt.Errorf("envelope: drawing nonce: %w", err)
	}
	return o.aead.Seal(out, out[1:13], plaintext, o.aad(f)), nil
}

// SealString is Seal for text; "" seals to nil.
func (o *OrgKey) SealString(f Field, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return o.Seal(f, []byte(s))
}

// Open decrypts a ciphertext sealed for the same field. nil opens to nil.
func (o *OrgKey) Open(f Field, ciphertext []byte) ([]byte, error) {
	if ciphertext == nil {
		return nil, nil
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.aead == nil {
		return nil, ErrShredded
	}
	if len(ciphertext) < 13+o.aead.Overhead() || ciphertext[0] != fieldVersion {
		return nil, ErrOpen
	}
	pt, err := o.aead.Open(nil, ciphertext[1:13], ciphertext[13:], o.aad(f))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// OpenString is Open for text.
func (o *OrgKey) OpenString(f Field, ciphertext []byte) (string, error) {
	b, err := o.Open(f, ciphertext)
	return string(b), err
}

// BlindIndex returns a keyed hash of value for exact-match lookups of kind
// (e.g. "mrn"): equal normalised values give equal indexes within one org,
// and nothing can be learnt from an index without the org's data key.
// Values are normalised with NormalizeIdentifier first.
func (o *OrgKey) BlindIndex(kind, value string) []byte {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.bidx == nil {
		return nil
	}
	m := hmac.New(sha256.New, o.bidx)
	fmt.Fprintf(m, "%d:%s|%s", len(kind), kind, NormalizeIdentifier(value))
	return m.Sum(nil)
}

// NormalizeIdentifier folds an identifier such as an MRN the way people type
// it: surrounding space dropped, inner spaces and dashes removed, letters
// upper-cased ("ab-12 34" and "AB1234" match).
func NormalizeIdentifier(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return unicode.ToUpper(r)
	}, s)
}
