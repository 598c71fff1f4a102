package demodata

import (
	"fmt"
	"time"

	"healthprep.dev/shared/chart"
)

const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
	cvx    = "http://hl7.org/fhir/sid/cvx"
)

// code is one coding the generator writes.
type code struct{ system, code, display string }

// presetCodes maps each code the generator writes to the default preset's
// code set that must contain it (a test checks every one).
var presetCodes = map[string]code{
	"blood_pressure":         {loinc, "85354-9", "Blood pressure panel"},
	"bmi":                    {loinc, "39156-5", "Body mass index"},
	"tobacco_screen":         {loinc, "72166-2", "Tobacco smoking status"},
	"current_smoker":         {snomed, "449868002", "Smokes tobacco daily"},
	"depression_screen":      {loinc, "44249-1", "PHQ-9 quick depression assessment panel"},
	"mammography":            {loinc, "24606-6", "MG Breast Screening"},
	"bilateral_mastectomy":   {snomed, "27865001", "Bilateral mastectomy"},
	"pap_test":               {loinc, "10524-7", "Cytology report of cervical smear"},
	"hpv_test":               {loinc, "21440-3", "HPV DNA in cervix"},
	"hysterectomy_no_cervix": {snomed, "116140006", "Total hysterectomy"},
	"colonoscopy":            {snomed, "73761001", "Colonoscopy"},
	"fobt":                   {loinc, "29771-3", "Hemoglobin in stool by immunoassay (FIT)"},
	"total_colectomy":        {snomed, "26390003", "Total colectomy"},
	"diabetes":               {snomed, "44054006", "Diabetes mellitus type 2"},
	"hba1c":                  {loinc, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"},
	"egfr":                   {loinc, "48642-3", "eGFR (CKD-EPI)"},
	"retinal_exam":           {snomed, "252779009", "Retinal examination"},
	"foot_exam":              {snomed, "401191002", "Diabetic foot examination"},
	"psa":                    {loinc, "2857-1", "Prostate specific Ag"},
	"lipid_panel":            {loinc, "2093-3", "Cholesterol in Serum or Plasma"},
	"dexa":                   {loinc, "38263-0", "DXA Radius and Ulna [T-score]"},
	"hcv_test":               {loinc, "13955-0", "Hepatitis C virus Ab"},
	"hiv_lab_tests":          {loinc, "75622-1", "HIV 1 and 2 tests"},
	"falls_screening":        {loinc, "52552-7", "Falls risk assessment"},
	"influenza_vaccine":      {cvx, "197", "Influenza, high-dose, quadrivalent"},
	"td_vaccine":             {cvx, "115", "Tdap"},
	"zoster_vaccine":         {cvx, "187", "Zoster vaccine recombinant"},
	"pneumococcal_vaccine":   {cvx, "215", "Pneumococcal conjugate PCV 15"},
}

// Codes that need not be in a code set.
var (
	checkUp   = code{snomed, "185349003", "Encounter for check up"}
	systolic  = code{loinc, "8480-6", "Systolic blood pressure"}
	diastolic = code{loinc, "8462-4", "Diastolic blood pressure"}
	neverSmok = code{snomed, "266919005", "Never smoked tobacco"}
	formerSm  = code{snomed, "8517006", "Ex-smoker"}
	curSmoker = code{snomed, "77176002", "Smoker"}
)

func concept(c code) map[string]any {
	return map[string]any{"coding": []any{map[string]any{"system": c.system, "code": c.code, "display": c.display}}, "text": c.display}
}

var (
	femaleNames = []string{"Amara", "Beatriz", "Chloe", "Dalia", "Esme", "Farah", "Greta", "Hana", "Ines", "Joy", "Keiko", "Lena", "Maya", "Nadia", "Olga", "Priya", "Rosa", "Sofia", "Tamsin", "Uma", "Vera", "Wren", "Yara", "Zoe"}
	maleNames   = []string{"Aaron", "Bilal", "Caleb", "Dmitri", "Elias", "Felix", "Gideon", "Hugo", "Idris", "Jonah", "Kofi", "Luca", "Mateo", "Nikhil", "Omar", "Pavel", "Quinn", "Rafael", "Silas", "Tomas", "Umar", "Viktor", "Wyatt", "Yusuf"}
	familyNames = []string{"Abernathy", "Balogun", "Castellano", "Dvorak", "Eriksen", "Fairweather", "Gallagher", "Haddad", "Ibarra", "Jaworski", "Kowalczyk", "Lindqvist", "Moreau", "Nakamura", "Okonkwo", "Petrov", "Quintero", "Rasmussen", "Sandoval", "Thornbury", "Underwood", "Vasquez", "Whitlock", "Yamada", "Zielinski"}
)

type patientInfo struct {
	id   string
	name string
}

// patient generates one patient and their history.
func (g *gen) patient(i int) (patientInfo, []resource) {
	female := g.chance(0.52)
	var age int
	switch x := g.r.Float64(); {
	case x < 0.15:
		age = g.between(18, 34)
	case x < 0.35:
		age = g.between(35, 49)
	case x < 0.65:
		age = g.between(50, 64)
	case x < 0.90:
		age = g.between(65, 79)
	default:
		age = g.between(80, 92)
	}
	birth := g.asOf.AddYears(-age).AddDays(-g.between(1, 364))
	given := maleNames[g.r.IntN(len(maleNames))]
	sex := "male"
	if female {
		given, sex = femaleNames[g.r.IntN(len(femaleNames))], "female"
	}
	family := familyNames[g.r.IntN(len(familyNames))]
	p := patientInfo{id: g.uuid(), name: given + " " + family}
	ref := map[string]any{"reference": "Patient/" + p.id, "display": p.name}
	out := []resource{{
		"resourceType": "Patient", "id": p.id, "gender": sex, "birthDate": birth.String(),
		"name": []any{map[string]any{"use": "official", "family": family, "given": []any{given}}},
		"identifier": []any{map[string]any{
			"use": "usual", "system": "urn:healthprep:demo:mrn", "value": fmt.Sprintf("DEMO%06d", 100000+i),
			"type": map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}}},
		}},
		"telecom": []any{map[string]any{"system": "phone", "value": fmt.Sprintf("555-01%02d", i%100)}},
	}}
	h := history{g: g, ref: ref, out: &out}

	// Yearly check-ups with vitals, tobacco and depression screening.
	smoker := age >= 21 && g.chance(0.2)
	for y := 0; y < 3; y++ {
		if y > 0 && g.chance(0.25) {
			continue
		}
		d := g.asOf.AddMonths(-12*y - g.between(1, 11))
		h.encounter(d)
		h.bp(d)
		h.obs(presetCodes["bmi"], d, quantity(float64(g.between(190, 380))/10, "kg/m2"))
		smoke := neverSmok
		if smoker {
			smoke = curSmoker
		} else if age > 40 && g.chance(0.2) {
			smoke = formerSm
		}
		h.obs(presetCodes["tobacco_screen"], d, map[string]any{"valueCodeableConcept": concept(smoke)})
		if g.chance(0.7) {
			h.obs(presetCodes["depression_screen"], d, quantity(float64(g.between(0, 14)), "{score}"))
		}
		if age >= 65 && g.chance(0.6) {
			h.obs(presetCodes["falls_screening"], d, nil)
		}
	}
	if smoker {
		h.condition(presetCodes["current_smoker"], g.asOf.AddYears(-g.between(2, 20)))
		if age >= 50 && age <= 80 {
			h.withInterval(12, func(d chart.Date) {
				h.report(code{loinc, "87128-5", "CT Chest for lung cancer screening"}, d, "Lung-RADS 2: benign appearance.")
			})
		}
	}

	// Cancer screenings, with exclusions for some.
	if female && age >= 40 && age <= 74 {
		if g.chance(0.06) {
			h.procedure(presetCodes["bilateral_mastectomy"], g.asOf.AddYears(-g.between(2, 15)))
		} else {
			h.withInterval(24, func(d chart.Date) {
				h.report(presetCodes["mammography"], d, "BI-RADS 1: negative.")
			})
		}
	}
	if female && age >= 21 && age <= 64 {
		if age >= 35 && g.chance(0.12) {
			h.procedure(presetCodes["hysterectomy_no_cervix"], g.asOf.AddYears(-g.between(1, 20)))
		} else if age >= 30 && g.chance(0.5) {
			h.withInterval(60, func(d chart.Date) {
				h.obs(presetCodes["hpv_test"], d, map[string]any{"valueCodeableConcept": concept(code{snomed, "260385009", "Negative"})})
			})
		} else {
			h.withInterval(36, func(d chart.Date) {
				h.obs(presetCodes["pap_test"], d, map[string]any{"valueString": "Negative for intraepithelial lesion or malignancy."})
			})
		}
	}
	if age >= 45 && age <= 75 {
		switch x := g.r.Float64(); {
		case x < 0.03:
			h.procedure(presetCodes["total_colectomy"], g.asOf.AddYears(-g.between(2, 10)))
		case x < 0.6:
			h.withInterval(120, func(d chart.Date) { h.procedure(presetCodes["colonoscopy"], d) })
		default:
			h.withInterval(12, func(d chart.Date) {
				h.obs(presetCodes["fobt"], d, map[string]any{"valueCodeableConcept": concept(code{snomed, "260385009", "Negative"})})
			})
		}
	}
	if !female && age >= 55 && age <= 69 && g.chance(0.7) {
		h.withInterval(24, func(d chart.Date) { h.obs(presetCodes["psa"], d, quantity(float64(g.between(3, 40))/10, "ng/mL")) })
	}
	if female && age >= 65 {
		h.withInterval(24, func(d chart.Date) {
			h.obs(presetCodes["dexa"], d, quantity(float64(g.between(-25, 5))/10, "{T-score}"))
		})
	}

	// Diabetes and its follow-up.
	if age >= 30 && g.chance(0.18) {
		h.condition(presetCodes["diabetes"], g.asOf.AddYears(-g.between(1, 15)))
		h.withInterval(6, func(d chart.Date) {
			h.obs(presetCodes["hba1c"], d, quantity(float64(g.between(55, 110))/10, "%"))
			if g.chance(0.5) {
				h.obs(presetCodes["hba1c"], d.AddMonths(-6), quantity(float64(g.between(55, 110))/10, "%"))
			}
		})
		h.withInterval(12, func(d chart.Date) {
			h.obs(presetCodes["egfr"], d, quantity(float64(g.between(35, 110)), "mL/min/{1.73_m2}"))
		})
		h.withInterval(12, func(d chart.Date) { h.procedure(presetCodes["retinal_exam"], d) })
		h.withInterval(12, func(d chart.Date) { h.procedure(presetCodes["foot_exam"], d) })
	} else if age >= 35 && age <= 70 && g.chance(0.6) {
		h.withInterval(36, func(d chart.Date) { h.obs(presetCodes["hba1c"], d, quantity(float64(g.between(48, 60))/10, "%")) })
	}
	if age >= 40 && age <= 75 {
		h.withInterval(60, func(d chart.Date) {
			h.obs(presetCodes["lipid_panel"], d, quantity(float64(g.between(140, 260)), "mg/dL"))
		})
	}
	if g.chance(0.6) {
		h.obs(presetCodes["hcv_test"], g.asOf.AddYears(-g.between(1, 8)), map[string]any{"valueCodeableConcept": concept(code{snomed, "260385009", "Negative"})})
	}
	if age <= 65 && g.chance(0.5) {
		h.obs(presetCodes["hiv_lab_tests"], g.asOf.AddYears(-g.between(1, 10)), map[string]any{"valueCodeableConcept": concept(code{snomed, "260385009", "Negative"})})
	}

	// Vaccines.
	h.withInterval(12, func(d chart.Date) { h.immunization(presetCodes["influenza_vaccine"], d) })
	h.withInterval(120, func(d chart.Date) { h.immunization(presetCodes["td_vaccine"], d) })
	if age >= 50 && g.chance(0.55) {
		d := g.asOf.AddMonths(-g.between(3, 60))
		h.immunization(presetCodes["zoster_vaccine"], d.AddMonths(-3))
		h.immunization(presetCodes["zoster_vaccine"], d)
	}
	if age >= 65 && g.chance(0.65) {
		h.immunization(presetCodes["pneumococcal_vaccine"], g.asOf.AddMonths(-g.between(2, 96)))
	}
	return p, out
}

// history appends one patient's resources.
type history struct {
	g   *gen
	ref map[string]any
	out *[]resource
}

func (h history) add(r resource) {
	r["id"] = h.g.uuid()
	*h.out = append(*h.out, r)
}

// withInterval draws a last-done date for a screening repeated every
// months and calls fn with it (not at all for a never-done screening).
func (h history) withInterval(months int, fn func(chart.Date)) {
	if d, ok := h.g.lastDone(months, h.g.scenario()); ok {
		fn(d)
	}
}

func quantity(v float64, unit string) map[string]any {
	return map[string]any{"valueQuantity": map[string]any{"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}
}

func (h history) encounter(d chart.Date) {
	h.add(resource{"resourceType": "Encounter", "status": "finished",
		"class": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
		"type":  []any{concept(checkUp)}, "subject": h.ref,
		"period": map[string]any{"start": d.String() + "T09:00:00Z", "end": d.String() + "T09:30:00Z"}})
}

func (h history) obs(c code, d chart.Date, value map[string]any) {
	cat := "laboratory"
	switch c.code {
	case "85354-9", "39156-5":
		cat = "vital-signs"
	case "72166-2", "44249-1", "52552-7":
		cat = "survey"
	}
	r := resource{"resourceType": "Observation", "status": "final", "subject": h.ref, "code": concept(c),
		"effectiveDateTime": d.String(),
		"category":          []any{concept(code{"http://terminology.hl7.org/CodeSystem/observation-category", cat, cat})}}
	for k, v := range value {
		r[k] = v
	}
	h.add(r)
}

func (h history) bp(d chart.Date) {
	comp := func(c code, v int) map[string]any {
		return map[string]any{"code": concept(c), "valueQuantity": map[string]any{"value": v, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
	}
	h.obs(presetCodes["blood_pressure"], d, map[string]any{"component": []any{
		comp(systolic, h.g.between(105, 165)), comp(diastolic, h.g.between(60, 100)),
	}})
}

func (h history) report(c code, d chart.Date, conclusion string) {
	h.add(resource{"resourceType": "DiagnosticReport", "status": "final", "subject": h.ref, "code": concept(c),
		"category":          []any{concept(code{"http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology"})},
		"effectiveDateTime": d.String(), "issued": d.String() + "T16:00:00Z", "conclusion": conclusion})
}

func (h history) procedure(c code, d chart.Date) {
	h.add(resource{"resourceType": "Procedure", "status": "completed", "subject": h.ref, "code": concept(c), "performedDateTime": d.String()})
}

func (h history) condition(c code, onset chart.Date) {
	h.add(resource{"resourceType": "Condition", "subject": h.ref, "code": concept(c), "onsetDateTime": onset.String(),
		"clinicalStatus":     concept(code{"http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"}),
		"verificationStatus": concept(code{"http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"}),
		"category":           []any{concept(code{"http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", "Problem List Item"})}})
}

func (h history) immunization(c code, d chart.Date) {
	h.add(resource{"resourceType": "Immunization", "status": "completed", "patient": h.ref, "vaccineCode": concept(c),
		"occurrenceDateTime": d.String(), "primarySource": true})
}

// schedule books patients into 30-minute slots on weekdays from Start,
// each patient at most once while patients last.
func (g *gen) schedule(cfg Config, pats []patientInfo) []resource {
	var out []resource
	var doctors []map[string]any
	for _, n := range []struct{ given, family string }{{"Imani", "Whitfield"}, {"Rohan", "Mehta"}, {"Clara", "Lindgren"}} {
		id := g.uuid()
		out = append(out, resource{"resourceType": "Practitioner", "id": id,
			"name": []any{map[string]any{"family": n.family, "given": []any{n.given}, "prefix": []any{"Dr."}}}})
		doctors = append(doctors, map[string]any{"reference": "Practitioner/" + id, "display": "Dr. " + n.given + " " + n.family})
	}
	order := g.r.Perm(len(pats))
	next := 0
	y, m, d := cfg.Start.In(cfg.Location).Date()
	for day := range cfg.Days {
		date := time.Date(y, m, d+day, 0, 0, 0, 0, cfg.Location)
		if wd := date.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		slots := g.r.Perm(17)[:min(cfg.PerDay, 17)] // 08:00 .. 16:00
		for _, s := range slots {
			if next == len(order) {
				return out
			}
			p := pats[order[next]]
			next++
			start := date.Add(8*time.Hour + time.Duration(s)*30*time.Minute)
			doc := doctors[g.r.IntN(len(doctors))]
			kind := []string{"Annual wellness visit", "Follow-up", "Chronic care visit", "New patient visit"}[g.r.IntN(4)]
			out = append(out, resource{"resourceType": "Appointment", "id": g.uuid(), "status": "booked",
				"serviceType": []any{map[string]any{"text": kind}}, "description": kind,
				"start": start.Format(time.RFC3339), "end": start.Add(30 * time.Minute).Format(time.RFC3339),
				"minutesDuration": 30,
				"participant": []any{
					map[string]any{"actor": map[string]any{"reference": "Patient/" + p.id, "display": p.name}, "required": "required", "status": "accepted"},
					map[string]any{"actor": doc, "required": "required", "status": "accepted"},
				}})
		}
	}
	return out
}
