// Package phi finds protected health information (PHI) in free text and
// redacts it.
//
// Detection covers the 18 HIPAA Safe Harbor identifier categories that can
// appear in text (photographs cannot): names, geographic subdivisions
// smaller than a state, every element of a date except the year (and ages
// over 89), telephone and fax numbers, e-mail addresses, social security,
// medical record, health-plan, account, certificate/licence, vehicle and
// device numbers, URLs, IP addresses, biometric identifiers and any other
// unique identifying number. It combines patterns with check digits (SSN
// validity, NPI and card Luhn, DEA, VIN, Medicare MBI), context words
// ("DOB:", "MRN", "Dr.", "Patient:"), public-domain name dictionaries
// (1990 US Census, see dict/SOURCE.md) and the patient's own identifiers
// ([Known]), matched tolerantly of OCR errors.
//
// The result of redaction is a [Redacted] value: a distinct type that only
// this package can fill, so that code uploading document text can accept
// nothing else. Service dates that screening needs ("Date of service:
// 03/04/2024") are extracted before redaction and returned as structured
// data.
//
// Offsets in [Span] count Unicode code points of the input, not bytes. An
// invalid UTF-8 byte counts as one code point and is written as U+FFFD in
// the redacted text.
//
// The package is pure: no I/O, no globals; a [Detector] is immutable and
// safe for concurrent use.
package phi
