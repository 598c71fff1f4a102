// Package sandbox is a FHIR R4 + SMART server that behaves like the parts of
// Epic HealthPrep talks to, for development, demos and tests.
//
// It loads a directory of FHIR R4 JSON (Synthea transaction Bundles and
// one-resource-per-file folders) into memory and serves, under <root>/fhir:
//
//   - the searches the Epic client uses: Patient by _id and identifier;
//     Appointment by date (ge/gt/le/lt/eq), status and patient; Encounter,
//     Condition, Observation, Procedure, DiagnosticReport, DocumentReference
//     and Immunization by patient (patient= takes "Patient/<id>" or "<id>");
//     _lastUpdated with prefixes; _count with searchset Bundles whose next
//     links page stably (a cursor on insertion order, so a resource created
//     while a client pages appears once, at the end);
//   - reads of any loaded resource, Binary content (raw, or as a Binary
//     resource when asked for FHIR JSON), DocumentReference create and update
//     (write-back), the CapabilityStatement and SMART discovery;
//   - an authorization server (<root>/oauth2): authorization code + PKCE S256
//     with an automatic consent page, refresh tokens, and SMART Backend
//     Services (client_credentials with a private_key_jwt assertion, RS384
//     or ES384, verified against the client's registered JWKS URL).
//
// Every FHIR call needs a bearer token the sandbox issued. Faults can be
// injected per instance (Sandbox.InjectFault, or POST /_sandbox/faults) or per
// request (the X-Sandbox-Fault header or the _fault query parameter): 429 with
// Retry-After, 500, slow responses, truncated or malformed JSON, and expired
// tokens. The sandbox holds synthetic data only and is meant for loopback.
package sandbox
