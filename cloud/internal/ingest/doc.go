// Package ingest pulls each organisation's Epic data into Postgres and
// keeps it fresh.
//
//   - Parse validates one FHIR resource (with the shared FHIR mapper the
//     screening engine uses) and extracts what the store keeps in clear;
//     anything unusable becomes an *Invalid with a reason in words.
//   - Store holds patients, appointments and chart resources with PHI
//     sealed per field (package envelope), an MRN blind index, idempotent
//     upserts keyed by (org, resource type, FHIR id) that only move forward
//     in version, a quarantine, checkpoints, and the org's change feed (every
//     write stamps the row with the next organizations.change_seq; the
//     `changes` view of migration 00062 is what desktop sync pages).
//   - Run is one org's ingest: the appointment window, the patients on it,
//     then each patient's resources incremental by _lastUpdated; it can be
//     stopped at any point and run again without duplicates or gaps.
//   - PGLimiter is the org's FHIR rate limit shared by every replica (a
//     token bucket in Postgres).
//   - Jobs wires it all into River: a periodic ingest and token refresh
//     per connected org, and prep-sheet write-back to Epic.
//
// Nothing here logs PHI; errors name resources by type and FHIR id only.
package ingest
