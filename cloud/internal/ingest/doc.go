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
//   - A DocumentReference's attachments given by url are fetched at ingest
//     (epic.Client.Binary), sealed with the org's key in document_contents,
//     once per document version; content over RunOptions.MaxDocumentBytes
//     (or missing, or not a Binary under the FHIR base) quarantines the
//     document with the reason in words while the document itself is kept.
//   - PGLimiter is the org's FHIR rate limit shared by every replica (a
//     token bucket in Postgres).
//   - WriteBack files a visit's prep sheet in the org's Epic: the sheet is
//     assembled from the stored chart with the shared screening engine and
//     the default presets, rendered as PDF, and sent as a DocumentReference
//     (LOINC 11506-3, subject = the patient, context = the visit, our
//     identifier and tag so ingest skips it). The first write creates it;
//     later ones replace it in place (If-Match on our version), an unchanged
//     sheet is not sent, and at most the org's limit per patient per day
//     reaches Epic. One row per visit (prep_sheet_writebacks) records the
//     document, its version, attempts and the last error in words.
//   - Jobs wires it all into River: a periodic ingest and token refresh
//     per connected org (authorization code or backend services), and,
//     after each successful ingest with write-back on, a write-back job per
//     visit of the day, retried with backoff.
//
// Nothing here logs PHI; errors name resources by type and FHIR id only.
package ingest
