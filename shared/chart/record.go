package chart

import (
	"slices"
	"time"
)

// Sex is the administrative sex recorded for a patient.
type Sex string

// The recorded sexes. SexUnknown covers both "unknown" and absent.
const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

// Patient holds the facts about a patient that eligibility rules read.
type Patient struct {
	ID        string
	Name      string // display name; never used by rules
	MRN       string
	BirthDate Date // zero when unknown
	Sex       Sex
	Deceased  Date // zero when alive or unknown
	// Races are the recorded race codes (CDC Race and Ethnicity, system
	// CDCREC), both OMB categories and detailed races; empty when not
	// recorded. Rules read them only where a guideline's threshold depends
	// on them (e.g. BMI 23 for Asian American adults).
	Races []Code
}

// Kind says what sort of chart entry an Item is.
type Kind string

// The kinds of chart entries.
const (
	Condition        Kind = "condition"
	Procedure        Kind = "procedure"
	Observation      Kind = "observation"
	Encounter        Kind = "encounter"
	Immunization     Kind = "immunization"
	Medication       Kind = "medication"
	DeviceRequest    Kind = "device_request"
	ServiceRequest   Kind = "service_request"
	DiagnosticReport Kind = "diagnostic_report"
	// ImagingStudy is an imaging study's record (modality, body site):
	// the images exist, whether or not a report was written.
	ImagingStudy Kind = "imaging_study"
)

// Code is one coding: a code system short name (see the System constants)
// and a code.
type Code struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

func (c Code) String() string { return c.System + "|" + c.Code }

// Short names of the code systems the engine understands.
const (
	LOINC    = "LOINC"
	SNOMED   = "SNOMED"
	CPT      = "CPT"
	HCPCS    = "HCPCS"
	ICD10CM  = "ICD10CM"
	ICD10PCS = "ICD10PCS"
	ICD9CM   = "ICD9CM"
	CVX      = "CVX"
	RxNorm   = "RXNORM"
	CDT      = "CDT"
	HSLOC    = "HSLOC"
	ActCode  = "ACTCODE"
	// CDCREC is the CDC Race and Ethnicity code set (2028-9 is Asian).
	CDCREC = "CDCREC"
)

// Short names of the code systems that classify entries rather than say
// what was found (see Item.Category). Screening rules do not match them,
// so they are not among KnownSystems.
const (
	// ObservationCategory is FHIR's observation-category: laboratory,
	// imaging, vital-signs, survey, exam, ...
	ObservationCategory = "OBSCAT"
	// DiagnosticService is HL7 v2 table 0074, the diagnostic service
	// section of a report: LAB, RAD, CT, MR, US, CUS, EC, ...
	DiagnosticService = "V2-0074"
	// DICOM is the DICOM controlled terminology; imaging modalities (CT,
	// MR, US, DX, MG, ...) are its codes.
	DICOM = "DCM"
	// DocumentCategory is US Core's DocumentReference category
	// (clinical-note).
	DocumentCategory = "USCORE-DOCCAT"
)

// KnownSystems returns every code system short name the engine accepts.
func KnownSystems() []string {
	return []string{LOINC, SNOMED, CPT, HCPCS, ICD10CM, ICD10PCS, ICD9CM, CVX, RxNorm, CDT, HSLOC, ActCode, CDCREC}
}

// IsKnownSystem reports whether s is one of KnownSystems.
func IsKnownSystem(s string) bool { return slices.Contains(KnownSystems(), s) }

// Item is one coded chart entry. Its span runs from Start to End inclusive;
// a point event has End == Start, and a zero End means the entry is still
// ongoing (an active condition or medication).
type Item struct {
	Kind  Kind
	Ref   string // where it came from, e.g. "Procedure/abc"
	Codes []Code
	Text  string // display text of the main code, for people
	Start Date
	End   Date

	// Values are coded results or dispositions (an observation's
	// valueCodeableConcept, an encounter's discharge disposition).
	Values []Code
	// Quantity is a numeric result when HasQuantity is set.
	Quantity    float64
	Unit        string
	HasQuantity bool
	// HasValue reports whether the item carries any result at all.
	HasValue  bool
	BodySites []Code
	// Status is the FHIR status as written (final, completed, active, ...).
	Status string
	// NotDone marks items recorded as not done, not to be done, refused or
	// entered in error: they never count as completion.
	NotDone bool
	// Category holds the codings that classify the entry rather than say
	// what was found, as the source wrote them: an observation's or a
	// report's category, an encounter's class and service type, a
	// request's category and performer type, an imaging study's
	// modalities. The prep sheet reads them to place the entry in a
	// section (labs, imaging, consults, hospital/ED visits); screening
	// rules do not.
	Category []Code
}

// Ongoing reports whether the item has no end.
func (it Item) Ongoing() bool { return it.End.IsZero() }

// Document is free text with a date (a note, a scanned letter after OCR and
// redaction, a report's conclusion).
type Document struct {
	Ref   string
	Title string
	Date  Date
	Text  string
	// Category holds the codings that classify the document, as the source
	// wrote them: its type (LOINC 18842-5 Discharge summary, 11488-4
	// Consult note, ...), its category and its practice setting. Empty for
	// documents that carry none (a scanned letter); the prep sheet then
	// reads the title.
	Category []Code
}

// Appointment is a scheduled visit of the patient. Unlike chart entries it
// has a time of day: Start and End are instants.
type Appointment struct {
	Ref   string // e.g. "Appointment/abc"
	Start time.Time
	End   time.Time // zero when not recorded
	// Status is the FHIR status as written (booked, arrived, cancelled, ...).
	Status    string
	Provider  string // the practitioner's display name, for people
	Location  string
	VisitType string
}

// Record is everything known about one patient.
type Record struct {
	Patient   Patient
	Items     []Item
	Documents []Document
	// Appointments are the patient's scheduled visits, past and future,
	// in any order. Screening rules do not read them.
	Appointments []Appointment
}
