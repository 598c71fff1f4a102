// Package fhir maps FHIR R4 JSON — Bundles (such as Synthea transaction
// bundles) and single resources — to chart records: the patient's facts,
// coded items with their system, code, dates and classifying codings
// (Observation and DiagnosticReport category, Encounter class and service
// type, ImagingStudy modality, DocumentReference type and category), text
// documents, and appointments.
//
// It is deliberately lenient about what it does not use (unknown resource
// types and fields are ignored) and strict about what it does: a resource it
// cannot read is reported as a *PathError naming the file and the JSON path,
// and skipped, so one bad resource never hides the rest of a chart.
package fhir
