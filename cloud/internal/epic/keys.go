package epic

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Environment says which Epic environment a key is registered for.
type Environment string

// The environments. Epic registers production and non-production JWKS URLs
// separately.
const (
	Production    Environment = "production"
	NonProduction Environment = "nonproduction"
)

// Key is one of our signing keys.
type Key struct {
	// Name is the configuration name it came from ("P_KEY_2026A").
	Name string
	Env  Environment
	// Signer is the private key: *rsa.PrivateKey or *ecdsa.PrivateKey (P-384).
	Signer crypto.Signer
	// Alg is the JWS algorithm used with it: RS384 or ES384.
	Alg string
	// KID is the RFC 7638 JWK thumbprint (SHA-256, base64url).
	KID string
}

// Keys are the configured keys per environment, sorted by name.
type Keys struct {
	Production    []Key
	NonProduction []Key
}

// Find returns the key with that configuration name.
func (ks Keys) Find(name string) (Key, bool) {
	for _, k := range slices.Concat(ks.Production, ks.NonProduction) {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// KeysFromEnviron reads every P_KEY_* (production) and NP_KEY_*
// (non-production) variable of environ ("NAME=value", as os.Environ
// returns) as a PEM private key. Values may carry literal "\n" instead of
// newlines. An unreadable key is an error naming the variable, never its
// value.
func KeysFromEnviron(environ []string) (Keys, error) {
	var ks Keys
	for _, kv := range environ {
		name, val, _ := strings.Cut(kv, "=")
		var env Environment
		switch {
		case strings.HasPrefix(name, "P_KEY_"):
			env = Production
		case strings.HasPrefix(name, "NP_KEY_"):
			env = NonProduction
		default:
			continue
		}
		k, err := ParseKey(name, env, val)
		if err != nil {
			return Keys{}, err
		}
		if env == Production {
			ks.Production = append(ks.Production, k)
		} else {
			ks.NonProduction = append(ks.NonProduction, k)
		}
	}
	byName := func(a, b Key) int { return strings.Compare(a.Name, b.Name) }
	slices.SortFunc(ks.Production, byName)
	slices.SortFunc(ks.NonProduction, byName)
	return ks, nil
}

// ParseKey reads a PEM private key (PKCS#8, PKCS#1 RSA or SEC 1 EC): RSA
// of at least 2048 bits signs RS384, EC P-384 signs ES384.
func ParseKey(name string, env Environment, pemText string) (Key, error) {
	if !strings.Contains(pemText, "\n") {
		pemText = strings.ReplaceAll(pemText, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return Key{}, fmt.Errorf("reading key %s: not PEM", name)
	}
	var priv any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return Key{}, fmt.Errorf("reading key %s: PEM block %q is not a private key", name, block.Type)
	}
	if err != nil {
		return Key{}, fmt.Errorf("reading key %s: malformed private key", name)
	}
	k := Key{Name: name, Env: env}
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if p.N.BitLen() < 2048 {
			return Key{}, fmt.Errorf("reading key %s: RSA keys need at least 2048 bits, this one has %d", name, p.N.BitLen())
		}
		k.Signer, k.Alg = p, string(jose.RS384)
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P384() {
			return Key{}, fmt.Errorf("reading key %s: EC keys must be on P-384 (ES384)", name)
		}
		k.Signer, k.Alg = p, string(jose.ES384)
	default:
		return Key{}, fmt.Errorf("reading key %s: only RSA and EC P-384 keys are supported", name)
	}
	kid, err := Thumbprint(k.Signer.Public())
	if err != nil {
		return Key{}, fmt.Errorf("reading key %s: %w", name, err)
	}
	k.KID = kid
	return k, nil
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint of a public key,
// base64url without padding.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("computing key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// PublicJWK returns the key's public half as a JWK (use sig, alg, kid).
func (k Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Signer.Public(), KeyID: k.KID, Algorithm: k.Alg, Use: "sig"}
}

// JWKS returns the public JWK Set of keys.
func JWKS(keys []Key) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.PublicJWK())
	}
	return set
}

// JWKSMaxAge is how long clients and Epic may cache a published JWKS. A new
// key must be published at least this long before it signs anything.
const JWKSMaxAge = 900

// JWKSHandler serves /.well-known/jwks.json (production keys) and
// /nonprod/.well-known/jwks.json (non-production keys) with Cache-Control
// and ETag headers. Other paths answer 404.
func JWKSHandler(ks Keys) (http.Handler, error) {
	docs := map[string][]byte{}
	for path, keys := range map[string][]Key{
		"/.well-known/jwks.json":         ks.Production,
		"/nonprod/.well-known/jwks.json": ks.NonProduction,
	} {
		body, err := json.Marshal(JWKS(keys))
		if err != nil {
			return nil, fmt.Errorf("encoding JWKS: %w", err)
		}
		docs[path] = body
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", JWKSMaxAge))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), nil
}

var errNoKey = errors.New("no signing key configured")
