package prepsheet

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"healthprep.dev/shared/chart"
)

// placement is one row of the mapping table: an item of kind
// whose category codings (or, with inCodes, whose own codes) include code
// is listed in section cat, with typ as its Type.
type placement struct {
	kind    chart.Kind
	inCodes bool
	code    chart.Code
	cat     Category
	typ     string
}

// Short names for the mapping table.
const (
	obs       = chart.Observation
	report    = chart.DiagnosticReport
	encounter = chart.Encounter
	request   = chart.ServiceRequest
	procedure = chart.Procedure
)

func cat(kind chart.Kind, system, code string, c Category, typ string) placement {
	return placement{kind: kind, code: chart.Code{System: system, Code: code}, cat: c, typ: typ}
}

func typed(kind chart.Kind, system, code string, c Category, typ string) placement {
	p := cat(kind, system, code, c, typ)
	p.inCodes = true
	return p
}

// itemPlacements is the mapping from what a record says about an entry to
// the prep sheet's sections. The first matching row wins, so an encounter's
// class (inpatient, emergency) decides before its type (a consultation
// during a stay belongs to the stay). Entries that match no row are not
// listed: routine office visits, vital signs, questionnaires (survey),
// exam findings, social history, medications, immunizations, orders for
// labs or imaging (plans, not results). Conditions have their own section.
// Image studies (chart.ImagingStudy) are always imaging; see modalities.
//
// The imaging section holds every diagnostic study read by a specialist:
// radiology and nuclear medicine, and the cardiology studies (ECG, echo,
// catheterisation) that a report category names.
var itemPlacements = []placement{
	// Observation.category (FHIR observation-category).
	cat(obs, chart.ObservationCategory, "laboratory", Lab, ""),
	cat(obs, chart.ObservationCategory, "imaging", Imaging, ""),

	// DiagnosticReport.category: HL7 v2 table 0074 (diagnostic service
	// section), as Synthea and most EHRs write it ...
	cat(report, chart.DiagnosticService, "LAB", Lab, ""),
	cat(report, chart.DiagnosticService, "OSL", Lab, "Outside lab"),
	cat(report, chart.DiagnosticService, "BG", Lab, "Blood gases"),
	cat(report, chart.DiagnosticService, "BLB", Lab, "Blood bank"),
	cat(report, chart.DiagnosticService, "CH", Lab, "Chemistry"),
	cat(report, chart.DiagnosticService, "CG", Lab, "Cytogenetics"),
	cat(report, chart.DiagnosticService, "CP", Lab, "Cytopathology"),
	cat(report, chart.DiagnosticService, "GE", Lab, "Genetics"),
	cat(report, chart.DiagnosticService, "HM", Lab, "Hematology"),
	cat(report, chart.DiagnosticService, "HLA", Lab, "HLA typing"),
	cat(report, chart.DiagnosticService, "IMM", Lab, "Immunology"),
	cat(report, chart.DiagnosticService, "MB", Lab, "Microbiology"),
	cat(report, chart.DiagnosticService, "MCB", Lab, "Mycobacteriology"),
	cat(report, chart.DiagnosticService, "MYC", Lab, "Mycology"),
	cat(report, chart.DiagnosticService, "PAT", Lab, "Pathology"),
	cat(report, chart.DiagnosticService, "SP", Lab, "Surgical pathology"),
	cat(report, chart.DiagnosticService, "SR", Lab, "Serology"),
	cat(report, chart.DiagnosticService, "TX", Lab, "Toxicology"),
	cat(report, chart.DiagnosticService, "URN", Lab, "Urinalysis"),
	cat(report, chart.DiagnosticService, "VR", Lab, "Virology"),
	cat(report, chart.DiagnosticService, "RAD", Imaging, ""),
	cat(report, chart.DiagnosticService, "CT", Imaging, "CT"),
	cat(report, chart.DiagnosticService, "MR", Imaging, "MRI"),
	cat(report, chart.DiagnosticService, "NMR", Imaging, "MRI"),
	cat(report, chart.DiagnosticService, "NMS", Imaging, "Nuclear medicine"),
	cat(report, chart.DiagnosticService, "US", Imaging, "Ultrasound"),
	cat(report, chart.DiagnosticService, "VUS", Imaging, "Vascular ultrasound"),
	cat(report, chart.DiagnosticService, "RX", Imaging, "X-ray"),
	cat(report, chart.DiagnosticService, "XRC", Imaging, "Cineradiography"),
	cat(report, chart.DiagnosticService, "CUS", Imaging, "Echocardiogram"),
	cat(report, chart.DiagnosticService, "EC", Imaging, "ECG"),
	cat(report, chart.DiagnosticService, "CTH", Imaging, "Cardiac catheterization"),
	// ... and the LOINC part codes US Core uses.
	cat(report, chart.LOINC, "LP29684-5", Imaging, "Radiology"),
	cat(report, chart.LOINC, "LP29708-2", Imaging, "Cardiology"),
	cat(report, chart.LOINC, "LP7839-6", Lab, "Pathology"),
	cat(report, chart.LOINC, "LP7819-8", Lab, "Microbiology"),

	// Encounter.class (v3 ActCode) first ...
	cat(encounter, chart.ActCode, "EMER", Hospital, "ED visit"),
	cat(encounter, chart.ActCode, "IMP", Hospital, "Inpatient"),
	cat(encounter, chart.ActCode, "ACUTE", Hospital, "Inpatient"),
	cat(encounter, chart.ActCode, "NONAC", Hospital, "Inpatient, non-acute"),
	cat(encounter, chart.ActCode, "OBSENC", Hospital, "Observation stay"),
	cat(encounter, chart.ActCode, "SS", Hospital, "Short stay"),
	// ... then Encounter.type, for records whose class is ambulatory or
	// missing.
	typed(encounter, chart.SNOMED, "50849002", Hospital, "ED visit"),   // Emergency room admission
	typed(encounter, chart.SNOMED, "4525004", Hospital, "ED visit"),    // Emergency department patient visit
	typed(encounter, chart.SNOMED, "183452005", Hospital, "Inpatient"), // Emergency hospital admission
	typed(encounter, chart.SNOMED, "183478001", Hospital, "Inpatient"), // Emergency hospital admission for asthma
	typed(encounter, chart.SNOMED, "32485007", Hospital, "Inpatient"),  // Hospital admission
	typed(encounter, chart.SNOMED, "8715000", Hospital, "Inpatient"),   // Hospital admission, elective
	typed(encounter, chart.CPT, "99281", Hospital, "ED visit"),
	typed(encounter, chart.CPT, "99282", Hospital, "ED visit"),
	typed(encounter, chart.CPT, "99283", Hospital, "ED visit"),
	typed(encounter, chart.CPT, "99284", Hospital, "ED visit"),
	typed(encounter, chart.CPT, "99285", Hospital, "ED visit"),
	typed(encounter, chart.CPT, "99221", Hospital, "Inpatient"),
	typed(encounter, chart.CPT, "99222", Hospital, "Inpatient"),
	typed(encounter, chart.CPT, "99223", Hospital, "Inpatient"),
	typed(encounter, chart.CPT, "99218", Hospital, "Observation stay"),
	typed(encounter, chart.CPT, "99219", Hospital, "Observation stay"),
	typed(encounter, chart.CPT, "99220", Hospital, "Observation stay"),
	typed(encounter, chart.SNOMED, "11429006", Consult, "Consultation"),
	typed(encounter, chart.SNOMED, "698314001", Consult, "Consultation"), // Consultation for treatment
	typed(encounter, chart.SNOMED, "281036007", Consult, "Follow-up consultation"),
	typed(encounter, chart.CPT, "99241", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99242", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99243", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99244", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99245", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99251", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99252", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99253", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99254", Consult, "Consultation"),
	typed(encounter, chart.CPT, "99255", Consult, "Consultation"),

	// ServiceRequest: referrals and consultation requests (US Core's
	// category 3457005 Patient referral), by category or by code.
	cat(request, chart.SNOMED, "3457005", Consult, "Referral"),
	cat(request, chart.SNOMED, "306206005", Consult, "Referral"), // Referral to service
	cat(request, chart.SNOMED, "11429006", Consult, "Consult request"),
	typed(request, chart.SNOMED, "3457005", Consult, "Referral"),
	typed(request, chart.SNOMED, "306206005", Consult, "Referral"),
	typed(request, chart.SNOMED, "103696004", Consult, "Referral"), // Patient referral to specialist
	typed(request, chart.SNOMED, "11429006", Consult, "Consult request"),

	// Procedure.category 363679005 Imaging.
	cat(procedure, chart.SNOMED, "363679005", Imaging, ""),
}

// modalities names DICOM modalities for an imaging study's Type.
var modalities = map[string]string{
	"CT": "CT", "MR": "MRI", "US": "Ultrasound", "DX": "X-ray", "CR": "X-ray", "RG": "X-ray",
	"MG": "Mammography", "NM": "Nuclear medicine", "PT": "PET", "XA": "Angiography",
	"RF": "Fluoroscopy", "BMD": "Bone densitometry", "IVUS": "Intravascular ultrasound",
	"ECG": "ECG", "OCT": "Optical coherence tomography", "OP": "Ophthalmic photography",
}

// docPlacement lists a document, besides in Documents, in another section.
type docPlacement struct {
	code chart.Code
	cat  Category
	typ  string
}

// docPlacements maps a document's type (LOINC document codes) to the
// section that also lists it. Every document is listed under Documents;
// these are listed a second time where staff look for them: a discharge
// summary under hospital/ED visits even when the stay itself is not in
// the record, a consult note under consults.
var docPlacements = []docPlacement{
	{chart.Code{System: chart.LOINC, Code: "18842-5"}, Hospital, "Discharge summary"},
	{chart.Code{System: chart.LOINC, Code: "34105-7"}, Hospital, "Discharge summary"}, // Hospital discharge summary
	{chart.Code{System: chart.LOINC, Code: "34111-5"}, Hospital, "ED note"},           // Emergency department note
	{chart.Code{System: chart.LOINC, Code: "34878-9"}, Hospital, "ED note"},           // Emergency medicine note
	{chart.Code{System: chart.LOINC, Code: "11488-4"}, Consult, "Consult note"},
	{chart.Code{System: chart.LOINC, Code: "18748-4"}, Imaging, "Imaging report"}, // Diagnostic imaging study
	{chart.Code{System: chart.LOINC, Code: "11502-2"}, Lab, "Lab report"},         // Laboratory report
}

// docTypes names other common document types for the Documents section.
var docTypes = map[chart.Code]string{
	{System: chart.LOINC, Code: "34117-2"}: "History and physical",
	{System: chart.LOINC, Code: "11506-3"}: "Progress note",
	{System: chart.LOINC, Code: "28570-0"}: "Procedure note",
	{System: chart.LOINC, Code: "57133-1"}: "Referral note",
	{System: chart.LOINC, Code: "51845-6"}: "Outpatient note",
	{System: chart.LOINC, Code: "18761-7"}: "Transfer summary",
}

// Classify says which lookback section a chart item belongs to, and the
// Type to show (e.g. "ED visit", "Echocardiogram"), from the item's kind,
// its category codings and, for encounters and requests, its own codes
// (see the mapping table in the source). It returns false for items no
// section lists, and for items not done, cancelled, revoked or entered in
// error.
func Classify(it chart.Item) (Category, string, bool) {
	if it.NotDone {
		return "", "", false
	}
	switch it.Status {
	case "draft", "revoked", "cancelled", "entered-in-error", "planned", "not-done":
		return "", "", false
	}
	if it.Kind == chart.ImagingStudy {
		for _, c := range it.Category {
			if name, ok := modalities[c.Code]; ok && c.System == chart.DICOM {
				return Imaging, name, true
			}
		}
		return Imaging, "", true
	}
	for _, p := range itemPlacements {
		if p.kind != it.Kind {
			continue
		}
		codes := it.Category
		if p.inCodes {
			codes = it.Codes
		}
		if slices.Contains(codes, p.code) {
			return p.cat, p.typ, true
		}
	}
	return "", "", false
}

// ClassifyDocument says which section, besides Documents, also lists d,
// and its type as people name it ("Discharge summary"), from its type
// codes (see docPlacements); a document without codes (a scanned letter)
// is placed by its title: "discharge summary" means hospital, the word
// "consult" or "consultation" a consult. also is "" when Documents alone
// lists it.
func ClassifyDocument(d chart.Document) (also Category, docType string) {
	for _, p := range docPlacements {
		if slices.Contains(d.Category, p.code) {
			return p.cat, p.typ
		}
	}
	for _, c := range d.Category {
		if t, ok := docTypes[c]; ok {
			docType = t
			break
		}
	}
	words := strings.FieldsFunc(strings.ToLower(d.Title), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
	})
	for i, w := range words {
		switch {
		case w == "discharge" && i+1 < len(words) && words[i+1] == "summary":
			return Hospital, "Discharge summary"
		case w == "consult" || w == "consultation":
			return Consult, "Consult note"
		}
	}
	return "", docType
}

// Entries returns the lookback entries of rec, in no particular order:
// every item Classify places (a report's with the first line of its text,
// the conclusion, as detail), and every document under Documents (and,
// when ClassifyDocument says so, a second time in its other section). A
// document made from a report's text (same Ref as a listed item) is not
// listed again; one from a report no section lists is.
func Entries(rec chart.Record) []Entry {
	var out []Entry
	listed := map[string]bool{}
	reportText := map[string]string{}
	for _, d := range rec.Documents {
		if strings.HasPrefix(d.Ref, "DiagnosticReport/") {
			reportText[d.Ref] = d.Text
		}
	}
	for _, it := range rec.Items {
		c, typ, ok := Classify(it)
		if !ok {
			continue
		}
		e, ok := EntryFromItem(c, it)
		if !ok {
			continue
		}
		e.Type = typ
		if e.Title == "" {
			e.Title = typ
		}
		if e.Detail == "" {
			e.Detail = impression(reportText[it.Ref])
		}
		out = append(out, e)
		listed[it.Ref] = true
	}
	for _, d := range rec.Documents {
		if listed[d.Ref] {
			continue
		}
		also, typ := ClassifyDocument(d)
		e := EntryFromDocument(d, typ)
		if e.Title == "" {
			e.Title = cmp.Or(typ, "Untitled document")
		}
		out = append(out, e)
		if also != "" {
			e.Category = also
			out = append(out, e)
		}
	}
	return out
}

// maxImpression is how many characters of a report's text an entry shows.
const maxImpression = 100

// impression is the first line of a report's text (its conclusion comes
// first), cut at maxImpression characters.
func impression(text string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if r := []rune(line); len(r) > maxImpression {
		line = strings.TrimSpace(string(r[:maxImpression-3])) + "..."
	}
	return line
}

// NextAppointment returns the patient's first appointment on or after the
// as-of date (appointments are compared by their start's calendar date in
// loc, nil meaning UTC), skipping those cancelled, missed (noshow) or
// entered in error. Ties go to the earlier start, then the reference. It
// returns false when there is none.
func NextAppointment(appts []chart.Appointment, asOf chart.Date, loc *time.Location) (Appointment, bool) {
	if loc == nil {
		loc = time.UTC
	}
	var best *chart.Appointment
	for i := range appts {
		a := &appts[i]
		switch a.Status {
		case "cancelled", "noshow", "entered-in-error":
			continue
		}
		if a.Start.IsZero() || chart.FromTime(a.Start.In(loc)).Before(asOf) {
			continue
		}
		if best == nil || a.Start.Before(best.Start) || a.Start.Equal(best.Start) && a.Ref < best.Ref {
			best = a
		}
	}
	if best == nil {
		return Appointment{}, false
	}
	return Appointment{Start: best.Start, Provider: best.Provider, Location: best.Location, VisitType: best.VisitType}, true
}
