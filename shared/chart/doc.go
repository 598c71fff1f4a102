// Package chart is the patient's record as the screening engine sees it: who
// the patient is (birth date, sex), the coded clinical items found in the
// chart (conditions, procedures, observations, encounters, immunizations,
// orders) and free-text documents, each with calendar dates, and the
// patient's appointments. Items and documents also carry the codings that
// classify them (an observation's category, an encounter's class, a
// document's type), which the prep sheet reads to place them in sections.
//
// It also owns the one calendar arithmetic used everywhere (Date, Period):
// civil dates without time zones, and month/year steps that clamp to the last
// day of the target month, so 31 January + 1 month is 28 (or 29) February and
// 29 February + 1 year is 28 February. Nothing here reads the clock; the
// as-of date is always a parameter.
package chart
