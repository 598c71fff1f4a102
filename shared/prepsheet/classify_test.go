package prepsheet_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/prepsheet"
)

// loadOne reads resources (FHIR R4 JSON, shaped as Synthea and US Core
// write them, subject "Patient/p") through the FHIR mapping and returns
// the patient's record.
func loadOne(t *testing.T, resources ...string) chart.Record {
	t.Helper()
	l := fhir.NewLoader(fhir.Options{})
	if errs := l.Add("p.json", []byte(`{"resourceType":"Patient","id":"p","gender":"female","birthDate":"1960-05-01"}`)); len(errs) > 0 {
		t.Fatalf("patient: %v", errs)
	}
	for i, r := range resources {
		if errs := l.Add(fmt.Sprintf("r%d.json", i), []byte(r)); len(errs) > 0 {
			t.Fatalf("resource %d: %v", i, errs)
		}
	}
	recs, errs := l.Records()
	if len(recs) != 1 || len(errs) > 0 {
		t.Fatalf("got %d records, %v; want one, no errors", len(recs), errs)
	}
	return recs[0]
}

func placed(es []prepsheet.Entry) string {
	var out []string
	for _, e := range es {
		s := fmt.Sprintf("%s/%s/%s", e.Category, e.Type, e.Title)
		if e.Detail != "" {
			s += ": " + e.Detail
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return strings.Join(out, " + ")
}

// TestEntriesFromFHIR is the mapping table, read from resources as
// Synthea, US Core and the eCQM test patients write them.
func TestEntriesFromFHIR(t *testing.T) {
	t.Parallel()
	const (
		subj     = `"subject":{"reference":"Patient/p"}`
		obsCat   = `"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"%s"}]}]`
		v2Cat    = `"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"%s"}]}]`
		actClass = `"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"%s"}`
		b64      = "UGF0aWVudCBkb2luZyB3ZWxsLg==" // "Patient doing well."
	)
	observation := func(category, code, display string) string {
		return `{"resourceType":"Observation","id":"o","status":"final",` + fmt.Sprintf(obsCat, category) + `,` + subj +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"` + code + `","display":"` + display + `"}]},"effectiveDateTime":"2025-01-10T08:00:00-05:00","valueQuantity":{"value":7.2,"unit":"%"}}`
	}
	report := func(category, display string) string {
		return `{"resourceType":"DiagnosticReport","id":"dr","status":"final",` + fmt.Sprintf(v2Cat, category) + `,` + subj +
			`,"code":{"coding":[{"system":"http://loinc.org","code":"24627-2"}],"text":"` + display + `"},"effectiveDateTime":"2025-01-10","conclusion":"No acute findings."}`
	}
	encounter := func(class, typeSystem, typeCode, display string) string {
		return `{"resourceType":"Encounter","id":"e","status":"finished",` + fmt.Sprintf(actClass, class) + `,` + subj +
			`,"type":[{"coding":[{"system":"` + typeSystem + `","code":"` + typeCode + `","display":"` + display + `"}]}],"period":{"start":"2025-01-02T10:00:00+00:00","end":"2025-01-04T12:00:00+00:00"}}`
	}
	document := func(typeCode, display string) string {
		return `{"resourceType":"DocumentReference","id":"d","status":"current",` + subj +
			`,"type":{"coding":[{"system":"http://loinc.org","code":"` + typeCode + `","display":"` + display + `"}]}` +
			`,"category":[{"coding":[{"system":"http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category","code":"clinical-note"}]}]` +
			`,"date":"2025-01-05T09:00:00Z","content":[{"attachment":{"contentType":"text/plain","data":"` + b64 + `"}}]}`
	}
	snomed, cpt := "http://snomed.info/sct", "http://www.ama-assn.org/go/cpt"
	tests := []struct {
		name     string
		resource string
		want     string // sorted category/type/title, " + " between entries; "" when not listed
	}{
		{"lab observation", observation("laboratory", "4548-4", "Hemoglobin A1c"), "lab//Hemoglobin A1c: 7.2 %"},
		{"imaging observation", observation("imaging", "24606-6", "MG Breast Screening"), "imaging//MG Breast Screening: 7.2 %"},
		{"vital signs are not listed", observation("vital-signs", "8480-6", "Systolic blood pressure"), ""},
		{"questionnaires are not listed", observation("survey", "44249-1", "PHQ-9 quick depression assessment panel"), ""},
		{"exam findings are not listed", observation("exam", "29463-7", "Body weight"), ""},
		{"observation without category is not listed",
			`{"resourceType":"Observation","id":"o","status":"final",` + subj + `,"code":{"coding":[{"system":"http://loinc.org","code":"2093-3"}],"text":"Cholesterol"},"effectiveDateTime":"2025-01-10"}`, ""},
		{"cancelled lab", strings.Replace(observation("laboratory", "4548-4", "Hemoglobin A1c"), `"final"`, `"cancelled"`, 1), ""},
		{"lab report (Synthea)", report("LAB", "Lipid Panel"), "lab//Lipid Panel: No acute findings."},
		{"hematology report", report("HM", "CBC"), "lab/Hematology/CBC: No acute findings."},
		{"radiology report", report("RAD", "Chest X-ray"), "imaging//Chest X-ray: No acute findings."},
		{"CT report", report("CT", "CT chest"), "imaging/CT/CT chest: No acute findings."},
		{"echocardiogram report", report("CUS", "Echo"), "imaging/Echocardiogram/Echo: No acute findings."},
		{"cardiology report (US Core LOINC category)",
			`{"resourceType":"DiagnosticReport","id":"dr","status":"final","category":[{"coding":[{"system":"http://loinc.org","code":"LP29708-2","display":"Cardiology"}]}],` + subj +
				`,"code":{"coding":[{"system":"http://loinc.org","code":"11524-6"}],"text":"EKG study"},"effectiveDateTime":"2025-01-10"}`, "imaging/Cardiology/EKG study"},
		{"report without category: its text is a document",
			`{"resourceType":"DiagnosticReport","id":"dr","status":"final",` + subj + `,"code":{"coding":[{"system":"http://loinc.org","code":"11502-2"}],"text":"Outside report"},"effectiveDateTime":"2025-01-10","conclusion":"Normal."}`,
			"document//Outside report"},
		{"ED visit by class (Synthea)", encounter("EMER", snomed, "50849002", "Emergency room admission (procedure)"), "hospital/ED visit/Emergency room admission (procedure)"},
		{"inpatient stay by class", encounter("IMP", snomed, "305411003", "Admission to thoracic surgery department"), "hospital/Inpatient/Admission to thoracic surgery department"},
		{"acute inpatient", encounter("ACUTE", snomed, "32485007", "Hospital admission"), "hospital/Inpatient/Hospital admission"},
		{"observation stay", encounter("OBSENC", snomed, "448337001", "Telemedicine consultation"), "hospital/Observation stay/Telemedicine consultation"},
		{"ED visit by type with an ambulatory class", encounter("AMB", cpt, "99284", "ED visit, high severity"), "hospital/ED visit/ED visit, high severity"},
		{"consultation (Synthea)", encounter("AMB", snomed, "698314001", "Consultation for treatment"), "consult/Consultation/Consultation for treatment"},
		{"office consultation by CPT", encounter("AMB", cpt, "99243", "Office consultation"), "consult/Consultation/Office consultation"},
		{"check-up is not listed", encounter("AMB", snomed, "185349003", "Encounter for check up (procedure)"), ""},
		{"ED visit with class only",
			`{"resourceType":"Encounter","id":"e","status":"finished",` + fmt.Sprintf(actClass, "EMER") + `,` + subj + `,"period":{"start":"2025-01-02T10:00:00Z"}}`,
			"hospital/ED visit/ED visit"},
		{"cancelled ED visit", strings.Replace(encounter("EMER", snomed, "50849002", "Emergency room admission"), `"finished"`, `"cancelled"`, 1), ""},
		{"referral (US Core category)",
			`{"resourceType":"ServiceRequest","id":"sr","status":"active","intent":"order","category":[{"coding":[{"system":"http://snomed.info/sct","code":"3457005","display":"Patient referral"}]}],` + subj +
				`,"code":{"coding":[{"system":"http://snomed.info/sct","code":"183519002"}],"text":"Referral to cardiology service"},"authoredOn":"2025-01-03"}`,
			"consult/Referral/Referral to cardiology service"},
		{"revoked referral",
			`{"resourceType":"ServiceRequest","id":"sr","status":"revoked","intent":"order","category":[{"coding":[{"system":"http://snomed.info/sct","code":"3457005"}]}],` + subj +
				`,"code":{"coding":[{"system":"http://snomed.info/sct","code":"183519002"}],"text":"Referral to cardiology service"},"authoredOn":"2025-01-03"}`, ""},
		{"lab order is not a result",
			`{"resourceType":"ServiceRequest","id":"sr","status":"active","intent":"order","category":[{"coding":[{"system":"http://snomed.info/sct","code":"108252007","display":"Laboratory procedure"}]}],` + subj +
				`,"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"HbA1c"},"authoredOn":"2025-01-03"}`, ""},
		{"imaging procedure",
			`{"resourceType":"Procedure","id":"pr","status":"completed","category":{"coding":[{"system":"http://snomed.info/sct","code":"363679005","display":"Imaging"}]},` + subj +
				`,"code":{"coding":[{"system":"http://www.ama-assn.org/go/cpt","code":"77067"}],"text":"Screening mammography"},"performedDateTime":"2025-01-10"}`, "imaging//Screening mammography"},
		{"imaging study (Synthea: modality only)",
			`{"resourceType":"ImagingStudy","id":"is","status":"available",` + subj + `,"started":"2025-01-10T00:11:58+00:00","series":[{"uid":"1.2","modality":{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"DX","display":"Digital Radiography"},"bodySite":{"system":"http://snomed.info/sct","code":"40983000","display":"Arm"}}]}`,
			"imaging/X-ray/Digital Radiography arm"},
		{"discharge summary: hospital and documents", document("18842-5", "Discharge summary"),
			"document/Discharge summary/Discharge summary + hospital/Discharge summary/Discharge summary"},
		{"consult note: consults and documents", document("11488-4", "Consult note"),
			"consult/Consult note/Consult note + document/Consult note/Consult note"},
		{"ED note", document("34111-5", "Emergency department Note"),
			"document/ED note/Emergency department Note + hospital/ED note/Emergency department Note"},
		{"history and physical: documents only (Synthea)", document("34117-2", "History and physical note"), "document/History and physical/History and physical note"},
		{"scanned letter placed by its title",
			`{"resourceType":"DocumentReference","id":"d","status":"current",` + subj + `,"description":"Cardiology consultation letter","date":"2025-01-05","content":[{"attachment":{"contentType":"text/plain","data":"` + b64 + `"}}]}`,
			"consult/Consult note/Cardiology consultation letter + document/Consult note/Cardiology consultation letter"},
		{"conditions have their own section",
			`{"resourceType":"Condition","id":"c",` + subj + `,"code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"}]},"onsetDateTime":"2020-01-01"}`, ""},
		{"immunizations are not listed",
			`{"resourceType":"Immunization","id":"i","status":"completed","patient":{"reference":"Patient/p"},"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"occurrenceDateTime":"2025-01-10"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := loadOne(t, tt.resource)
			if got := placed(prepsheet.Entries(rec)); got != tt.want {
				t.Errorf("placed as %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEntriesKeepDatesAndResults(t *testing.T) {
	t.Parallel()
	rec := loadOne(t,
		`{"resourceType":"Encounter","id":"stay","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},"subject":{"reference":"Patient/p"},"type":[{"text":"Hospital admission"}],"period":{"start":"2024-12-30","end":"2025-01-04"}}`,
		`{"resourceType":"Observation","id":"a1c","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}],"text":"Hemoglobin A1c"},"effectiveDateTime":"2025-01-10","valueQuantity":{"value":9.4,"unit":"%"}}`,
		// Synthea writes results with 15 decimals; the sheet shows 4.
		`{"resourceType":"Observation","id":"bun","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://loinc.org","code":"6299-2"}],"text":"Urea Nitrogen"},"effectiveDateTime":"2025-01-10","valueQuantity":{"value":16.888695888842058,"unit":"mg/dL"}}`,
	)
	got := prepsheet.Entries(rec)
	want := []prepsheet.Entry{
		{Category: prepsheet.Hospital, Ref: "Encounter/stay", Date: chart.D(2024, 12, 30), End: chart.D(2025, 1, 4), Title: "Hospital admission", Type: "Inpatient"},
		{Category: prepsheet.Lab, Ref: "Observation/a1c", Date: chart.D(2025, 1, 10), Title: "Hemoglobin A1c", Detail: "9.4 %"},
		{Category: prepsheet.Lab, Ref: "Observation/bun", Date: chart.D(2025, 1, 10), Title: "Urea Nitrogen", Detail: "16.8887 mg/dL"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Entries = %+v\nwant %+v", got, want)
	}
}

func TestNextAppointment(t *testing.T) {
	t.Parallel()
	chi, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	asOf := chart.D(2025, 3, 14)
	tests := []struct {
		name    string
		appts   []chart.Appointment
		want    string // Ref's start, "" for none
		wantRef string
	}{
		{"none", nil, "", ""},
		{"only past", []chart.Appointment{{Ref: "a", Start: at("2025-03-13T15:00:00Z"), Status: "fulfilled"}}, "", ""},
		{"on the as-of date counts",
			[]chart.Appointment{{Ref: "a", Start: at("2025-03-14T14:00:00Z"), Status: "booked"}, {Ref: "b", Start: at("2025-04-01T14:00:00Z"), Status: "booked"}},
			"2025-03-14T09:00:00-05:00", "a"},
		{"the as-of date is read in the clinic's zone: 01:30 UTC on the 14th is the 13th in Chicago",
			[]chart.Appointment{{Ref: "a", Start: at("2025-03-14T01:30:00Z"), Status: "booked"}}, "", ""},
		{"cancelled, missed and erroneous are skipped",
			[]chart.Appointment{
				{Ref: "a", Start: at("2025-03-15T14:00:00Z"), Status: "cancelled"},
				{Ref: "b", Start: at("2025-03-16T14:00:00Z"), Status: "noshow"},
				{Ref: "c", Start: at("2025-03-17T14:00:00Z"), Status: "entered-in-error"},
				{Ref: "d", Start: at("2025-03-20T14:00:00Z"), Status: "booked"},
			}, "2025-03-20T09:00:00-05:00", "d"},
		{"order does not matter: the earliest wins",
			[]chart.Appointment{{Ref: "late", Start: at("2025-05-01T14:00:00Z")}, {Ref: "early", Start: at("2025-03-18T14:00:00Z")}},
			"2025-03-18T09:00:00-05:00", "early"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := prepsheet.NextAppointment(tt.appts, asOf, chi)
			if tt.want == "" {
				if ok {
					t.Errorf("got %+v, want none", got)
				}
				return
			}
			if !ok || !got.Start.Equal(at(tt.want)) {
				t.Errorf("got %+v (%v), want the one at %s (%s)", got, ok, tt.want, tt.wantRef)
			}
		})
	}
}
