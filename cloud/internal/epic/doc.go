// Package epic is HealthPrep's client for an organisation's Epic (or any
// SMART on FHIR R4 server): discovery, the two OAuth flows, the keys we
// publish, and a FHIR client built for ingest.
//
//   - Discover reads <base>/.well-known/smart-configuration.
//   - AuthCode runs a SMART standalone launch: authorization code + PKCE
//     S256 + state (+ nonce and a verified id_token when openid is asked).
//     Start gives the URL to send the browser to and the secrets to keep
//     until the callback; Exchange checks the callback and returns a Grant.
//   - Backend runs SMART Backend Services: client_credentials with a
//     private_key_jwt assertion (RS384 or ES384, exp ≤ 5 min, a unique jti,
//     aud = the token URL, kid = the key's RFC 7638 thumbprint).
//   - Tokens caches an access token, renews it before expiry, and is told
//     by the FHIR client when the server rejected it (401), so one request
//     renews it and retries once.
//   - KeysFromEnviron reads our signing keys (P_KEY_* production,
//     NP_KEY_* non-production, PEM) and JWKSHandler publishes them at
//     /.well-known/jwks.json and /nonprod/.well-known/jwks.json: every
//     configured key, so a new key is published before the old one retires.
//   - Client is the FHIR R4 client: searches with _count following next
//     links (page by page, resumable from a saved next link; a last page
//     with no next link while the Bundle's total promises more is
//     ErrIncomplete, never a quiet loss), _lastUpdated incremental, reads, Binary content, DocumentReference write-back,
//     retries with exponential backoff and jitter on 429/5xx honouring
//     Retry-After within a bounded budget, a Limiter for the organisation's
//     rate limit, and errors that say what failed without PHI: an
//     OperationOutcome becomes an *Error carrying its issue codes only.
//
// Nothing in this package logs; errors never carry tokens, secrets, query
// values or response bodies.
package epic
