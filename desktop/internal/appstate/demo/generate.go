// Package demo is an in-memory implementation of the appstate interfaces on
// deterministic synthetic patients: the data behind the window's screenshots,
// its widget tests and its benchmarks. Every person, date and identifier here
// is made up; nothing is read from disk or the network.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"healthprep.dev/shared/chart"
)

// Providers and locations of the synthetic clinic.
func Providers() []string {
	return []string{"Dr. Ana Whitfield", "Dr. Samuel Okafor", "Dr. Lena Marsh", "NP Grace Tan"}
}

// Locations of the synthetic clinic.
func Locations() []string { return []string{"Main Street Clinic", "Riverside Clinic"} }

var (
	firstF = []string{"Maria", "Linda", "Grace", "Olivia", "Helen", "Rosa", "Aisha", "Nadia", "Emma", "Joan", "Ruth", "Sofia", "Mei", "Irene", "Clara"}
	firstM = []string{"James", "Robert", "David", "Omar", "Luis", "Peter", "Henry", "Samuel", "Arjun", "Victor", "Thomas", "Karl", "Daniel", "Felix", "Hugo"}
	last   = []string{"Alvarez", "Brennan", "Chen", "Dubois", "Eriksen", "Fontaine", "Garcia", "Haddad", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okoye", "Petrov", "Quinn", "Rossi", "Santos", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Young", "Zimmer"}
)

// Generate returns n synthetic patient records, each with one appointment
// on one of the days working days from first (weekends skipped) between 08:00
// and 17:00 in loc, spread over the providers and locations. The same seed
// gives the same records.
func Generate(seed uint64, n int, first chart.Date, days int, loc *time.Location) []chart.Record {
	if days < 1 {
		days = 1
	}
	rng := rand.New(rand.NewPCG(seed, 0x4845414c5448))
	var workdays []chart.Date
	for d := first; len(workdays) < days; d = d.AddDays(1) {
		if wd := d.Time().Weekday(); wd != time.Saturday && wd != time.Sunday {
			workdays = append(workdays, d)
		}
	}
	recs := make([]chart.Record, n)
	for i := range n {
		day := workdays[i%len(workdays)]
		slot := i / len(workdays) // 36 quarter-hour slots a day
		recs[i] = patient(rng, i, day, slot, loc)
	}
	return recs
}

func patient(rng *rand.Rand, i int, day chart.Date, slot int, loc *time.Location) chart.Record {
	female := rng.IntN(2) == 0
	first := firstM[rng.IntN(len(firstM))]
	sex := chart.SexMale
	if female {
		first, sex = firstF[rng.IntN(len(firstF))], chart.SexFemale
	}
	name := first + " " + last[rng.IntN(len(last))]
	age := 25 + rng.IntN(60)
	birth := day.AddYears(-age).AddDays(-rng.IntN(365))
	id := fmt.Sprintf("demo-%04d", i+1)
	p := chart.Patient{ID: id, Name: name, MRN: fmt.Sprintf("MRN%06d", 100000+i*37%900000), BirthDate: birth, Sex: sex}

	y, m, d := day.YMD()
	start := time.Date(y, m, d, 8, 0, 0, 0, loc).Add(time.Duration(slot%36) * 15 * time.Minute)
	appt := chart.Appointment{
		Ref: "Appointment/" + id, Start: start, End: start.Add(15 * time.Minute), Status: "booked",
		Provider:  Providers()[(i/3)%len(Providers())],
		Location:  Locations()[(i/7)%len(Locations())],
		VisitType: []string{"Annual wellness", "Follow-up", "Chronic care", "New patient"}[rng.IntN(4)],
	}
	rec := chart.Record{Patient: p, Appointments: []chart.Appointment{appt}}
	ago := func(maxDays int) chart.Date { return day.AddDays(-1 - rng.IntN(maxDays)) }
	add := func(kind chart.Kind, ref string, code chart.Code, text string, date chart.Date, cat ...chart.Code) *chart.Item {
		rec.Items = append(rec.Items, chart.Item{Kind: kind, Ref: ref, Codes: []chart.Code{code}, Text: text,
			Start: date, End: date, Status: "final", Category: cat})
		return &rec.Items[len(rec.Items)-1]
	}
	lab := chart.Code{System: chart.ObservationCategory, Code: "laboratory"}
	vital := chart.Code{System: chart.ObservationCategory, Code: "vital-signs"}
	if rng.IntN(3) > 0 {
		it := add(chart.Observation, "Observation/bp-"+id, chart.Code{System: chart.LOINC, Code: "85354-9"}, "Blood pressure panel", ago(500), vital)
		it.HasValue = true
	}
	if rng.IntN(3) > 0 {
		it := add(chart.Observation, "Observation/bmi-"+id, chart.Code{System: chart.LOINC, Code: "39156-5"}, "Body mass index", ago(500), vital)
		it.Quantity, it.Unit, it.HasQuantity, it.HasValue = 22+float64(rng.IntN(140))/10, "kg/m2", true, true
	}
	if rng.IntN(4) == 0 {
		cond := add(chart.Condition, "Condition/dm-"+id, chart.Code{System: chart.ICD10CM, Code: "E11.9"}, "Type 2 diabetes mellitus without complications", day.AddYears(-1-rng.IntN(10)))
		cond.End, cond.Status = chart.Date{}, "active"
		it := add(chart.Observation, "Observation/a1c-"+id, chart.Code{System: chart.LOINC, Code: "4548-4"}, "Hemoglobin A1c", ago(400), lab)
		it.Quantity, it.Unit, it.HasQuantity, it.HasValue = 6+float64(rng.IntN(40))/10, "%", true, true
	}
	if age >= 45 && rng.IntN(2) == 0 {
		add(chart.Procedure, "Procedure/colo-"+id, chart.Code{System: chart.CPT, Code: "44388"}, "Colonoscopy", ago(4500))
	}
	if female && age >= 40 && rng.IntN(3) > 0 {
		add(chart.DiagnosticReport, "DiagnosticReport/mammo-"+id, chart.Code{System: chart.LOINC, Code: "24604-1"}, "Mammogram diagnostic", ago(1100),
			chart.Code{System: chart.DiagnosticService, Code: "RAD"})
	}
	if rng.IntN(2) == 0 {
		it := add(chart.Observation, "Observation/ldl-"+id, chart.Code{System: chart.LOINC, Code: "13457-7"}, "LDL cholesterol", ago(2000), lab)
		it.Quantity, it.Unit, it.HasQuantity, it.HasValue = float64(70+rng.IntN(110)), "mg/dL", true, true
	}
	if rng.IntN(2) == 0 {
		it := add(chart.Observation, "Observation/phq-"+id, chart.Code{System: chart.LOINC, Code: "44249-1"}, "PHQ-9 total score", ago(700), chart.Code{System: chart.ObservationCategory, Code: "survey"})
		it.Quantity, it.HasQuantity, it.HasValue = float64(rng.IntN(12)), true, true
	}
	if rng.IntN(2) == 0 {
		add(chart.Immunization, "Immunization/flu-"+id, chart.Code{System: chart.CVX, Code: "140"}, "Influenza vaccine", ago(500))
	}
	if rng.IntN(5) == 0 {
		add(chart.Encounter, "Encounter/ed-"+id, chart.Code{System: chart.SNOMED, Code: "50849002"}, "Emergency department visit", ago(300),
			chart.Code{System: chart.ActCode, Code: "EMER"})
	}
	if rng.IntN(4) == 0 {
		rec.Documents = append(rec.Documents, chart.Document{Ref: "DocumentReference/letter-" + id, Title: "Outside consult letter", Date: ago(200),
			Text: "Cardiology consultation. Echocardiogram normal. Screening colonoscopy done 2019."})
	}
	return rec
}
