package docgen

import (
	"fmt"
	"strings"

	"healthprep.dev/shared/phi"
)

// header writes the patient block in one of several layouts.
func (b *builder) header(p *patient) {
	switch b.r.IntN(4) {
	case 0:
		b.t("Patient: ")
		b.name(p.person)
		b.t(b.pick("    ", "\t", "  |  ", "\n"))
		b.t(b.pick("DOB: ", "DOB ", "Date of Birth: ", "D.O.B.: ", "Birth date: "))
		b.date(p.birth, true)
		b.t(b.pick("    ", "\n", "   ", "  |  "))
		b.t(b.pick("MRN: ", "MRN ", "MR#: ", "Medical Record Number: ", "Chart #: "))
		b.p(phi.MRN, p.mrn)
		b.t("\n")
	case 1:
		b.t("Name: ")
		b.name(p.person)
		b.t("\nDOB: ")
		b.date(p.birth, true)
		b.t(b.pick("   Sex: F", "   Sex: M", "   Gender: female", "   Gender: male"))
		b.t("\nMRN: ")
		b.p(phi.MRN, p.mrn)
		b.t("\n")
	case 2:
		b.t("RE: ")
		b.name(p.person)
		b.t(b.pick(" (DOB ", ", born ", ", date of birth "))
		b.date(p.birth, true)
		b.t(b.pick(")", ""))
		b.t(b.pick(", MRN ", "; chart no. ", "; MR# "))
		b.p(phi.MRN, p.mrn)
		b.t("\n")
	default:
		b.t("PATIENT NAME: ")
		b.name(p.person)
		b.t("\nPATIENT ID: ")
		b.p(phi.MRN, p.mrn)
		b.t("\nBIRTHDATE: ")
		b.date(p.birth, true)
		b.t("\n")
	}
	b.t("\n")
}

// clinical writes n filler sentences full of hard negatives.
func (b *builder) clinical(n int) {
	for i := 0; i < n; i++ {
		b.t(b.negative())
		b.t(" ")
	}
	b.t("\n")
}

// negative returns a sentence with clinical terms, numbers and codes that
// are not PHI.
func (b *builder) negative() string {
	drug := drugs[b.r.IntN(len(drugs))]
	age := 18 + b.r.IntN(72)
	year := 1990 + b.r.IntN(35)
	switch b.r.IntN(22) {
	case 0:
		return fmt.Sprintf("Continue %s %d mg %s.", drug, []int{5, 10, 20, 25, 40, 50, 81, 100, 500, 1000}[b.r.IntN(10)], b.pick("daily", "BID", "twice daily", "at bedtime", "PRN"))
	case 1:
		return fmt.Sprintf("HbA1c %.1f%%, LDL %d mg/dL, creatinine %.1f mg/dL, eGFR %d.", 5+b.r.Float64()*5, 60+b.r.IntN(120), 0.6+b.r.Float64(), 30+b.r.IntN(80))
	case 2:
		return fmt.Sprintf("BP %d/%d, HR %d, SpO2 %d%%, temp %.1f F.", 100+b.r.IntN(60), 60+b.r.IntN(30), 55+b.r.IntN(50), 90+b.r.IntN(10), 97+b.r.Float64()*2)
	case 3:
		return fmt.Sprintf("Diagnoses: %s (ICD-10 %s).", b.pick("type 2 diabetes mellitus", "essential hypertension", "hyperlipidemia", "screening for malignant neoplasm of colon", "CKD stage 3a"), b.pick("E11.9", "I10", "E78.5", "Z12.11", "N18.31", "Z12.31", "Z86.010"))
	case 4:
		return fmt.Sprintf("Colonoscopy (CPT %s) was last done in %d.", b.pick("45378", "45380", "45385", "G0121"), year)
	case 5:
		return fmt.Sprintf("The patient is a %d-year-old %s with a history of %s.", age, b.pick("man", "woman", "male", "female"), b.pick("Hodgkin lymphoma", "Parkinson disease", "Graves disease", "Crohn disease", "Barrett esophagus", "Bell palsy", "Cushing syndrome", "Addison disease", "Down syndrome", "Wilson disease"))
	case 6:
		return fmt.Sprintf("%s sign negative; %s.", b.pick("Murphy's", "Homans", "Babinski", "Romberg", "Tinel's", "Phalen's"), b.pick("Foley catheter removed", "Holter monitor placed", "Apgar scores 8 and 9", "Gleason score 3+4=7", "Glasgow Coma Scale 15", "Wells score low"))
	case 7:
		return fmt.Sprintf("The patient may %s.", b.pick("need a repeat colonoscopy in 5 years", "benefit from statin therapy", "return in 3 months", "stop aspirin 7 days before the procedure"))
	case 8:
		return fmt.Sprintf("LOINC %s; NDC %s.", b.pick("4548-4", "2345-7", "13457-7", "2093-3"), b.pick("0002-1433-80", "00071-0155-23", "0378-1805-01"))
	case 9:
		return fmt.Sprintf("Platelets %d,000; WBC %.1f; hemoglobin %.1f g/dL.", 150+b.r.IntN(250), 4+b.r.Float64()*6, 10+b.r.Float64()*6)
	case 10:
		return fmt.Sprintf("Pain %d/10. Mammogram in %d was BI-RADS %d.", b.r.IntN(10), year, 1+b.r.IntN(3))
	case 11:
		return fmt.Sprintf("Vitamin D %d IU daily and %s %d mcg.", []int{1000, 2000, 50000}[b.r.IntN(3)], b.pick("levothyroxine", "cyanocobalamin", "folic acid"), 25*(1+b.r.IntN(8)))
	case 12:
		return fmt.Sprintf("Will follow up after %s. No acute distress.", b.pick("the MRI", "the CT abdomen", "labs", "the echocardiogram", "the PSA"))
	case 13:
		return fmt.Sprintf("Family history of colon cancer in a first-degree relative diagnosed at age %d.", 40+b.r.IntN(45))
	case 14:
		return fmt.Sprintf("Since %d she has used %s. Smoking history %d pack-years.", year, drug, b.r.IntN(40))
	case 15:
		return fmt.Sprintf("Assessment: stable. Plan: %s in %d weeks.", b.pick("recheck", "follow up", "repeat labs"), 2+b.r.IntN(10))
	case 16:
		return fmt.Sprintf("Urine albumin/creatinine ratio %d mg/g; TSH %.2f mIU/L.", b.r.IntN(300), 0.5+b.r.Float64()*4)
	case 17:
		return fmt.Sprintf("Dexa scan T-score -%.1f at the femoral neck; FRAX 10-year risk %d%%.", b.r.Float64()*3, 5+b.r.IntN(20))
	case 18:
		return fmt.Sprintf("Influenza vaccine given (CVX %s), lot not recorded.", b.pick("150", "158", "185"))
	case 19:
		return fmt.Sprintf("Reviewed USPSTF guidance from %d on breast cancer screening.", 2009+b.r.IntN(16))
	case 20:
		return fmt.Sprintf("Stage II adenocarcinoma, T2 N0 M0, treated %d–%d.", year, year+1)
	}
	return fmt.Sprintf("Ordered %s %d mg tablets, #%d, %d refills.", drug, 10*(1+b.r.IntN(10)), 30*(1+b.r.IntN(3)), b.r.IntN(6))
}

// identifiers writes a block of other identifiers of the patient, each
// after a label or bare, in varied wording.
func (b *builder) identifiers(p *patient, n int) {
	all := []func(){
		func() {
			b.t(b.pick("SSN: ", "SSN ", "Social Security No.: ", "SS# "))
			b.p(phi.SSN, b.ssnFormat(p.ssn))
		},
		func() {
			b.t(b.pick("Member ID: ", "Member ID ", "Subscriber #: ", "Policy number ", "Insurance ID: ", "Medicare ID: "))
			b.p(phi.HealthPlan, p.plan)
		},
		func() {
			b.t(b.pick("Account #: ", "Acct: ", "Account number ", "Billing acct "))
			b.p(phi.Account, p.account)
		},
		func() { b.t(b.pick("Home phone: ", "Phone: ", "Tel ", "Cell: ", "Call ")); b.phone(phi.Phone, p.phone) },
		func() { b.t(b.pick("Email: ", "E-mail: ", "email ")); b.p(phi.Email, p.email) },
		func() {
			b.t(b.pick("Driver's license: ", "DL# ", "License no. "))
			b.p(phi.License, fmt.Sprintf("%c%03d-%04d-%04d", 'A'+rune(b.r.IntN(26)), b.r.IntN(1000), b.r.IntN(10000), b.r.IntN(10000)))
		},
		func() { b.t(b.pick("VIN: ", "VIN ", "Vehicle VIN ")); b.p(phi.Vehicle, vin(b)) },
		func() {
			b.t(b.pick("License plate: ", "plate ", "Plate # "))
			b.p(phi.Vehicle, b.pick(fmt.Sprintf("%d%c%c%c%03d", 1+b.r.IntN(9), 'A'+rune(b.r.IntN(26)), 'A'+rune(b.r.IntN(26)), 'A'+rune(b.r.IntN(26)), b.r.IntN(1000)), fmt.Sprintf("%c%c-%04d", 'A'+rune(b.r.IntN(26)), 'A'+rune(b.r.IntN(26)), b.r.IntN(10000))))
		},
		func() {
			b.t(b.pick("Pacemaker serial number ", "Device serial: ", "S/N ", "Insulin pump SN: ", "UDI "))
			b.p(phi.Device, b.pick(fmt.Sprintf("PJN%06dQ", b.r.IntN(1000000)), fmt.Sprintf("(01)%014d(21)%d", b.r.Int64N(1e14), b.r.IntN(1000000)), fmt.Sprintf("%04d-AA-%04d", b.r.IntN(10000), b.r.IntN(10000))))
		},
		func() { b.t(b.pick("Portal: ", "Patient portal ", "see ")); b.p(phi.URL, b.url(p)) },
		func() {
			b.t(b.pick("Last login from ", "IP address ", "Accessed from "))
			if b.chance(0.7) {
				b.p(phi.IP, fmt.Sprintf("%d.%d.%d.%d", 1+b.r.IntN(223), b.r.IntN(256), b.r.IntN(256), 1+b.r.IntN(254)))
			} else {
				b.p(phi.IP, fmt.Sprintf("2001:db8:%x:%x::%x", b.r.IntN(65536), b.r.IntN(65536), 1+b.r.IntN(65535)))
			}
		},
		func() {
			b.t(b.pick("Fingerprint ID: ", "Retinal scan ID ", "Voiceprint ID: ", "Biometric template # "))
			b.p(phi.Biometric, fmt.Sprintf("%s-%05d-%c", b.pick("FP", "RS", "VP", "BT"), b.r.IntN(100000), 'A'+rune(b.r.IntN(26))))
		},
		func() {
			b.t(b.pick("Accession: ", "Accession # ", "Specimen ID: ", "Order # "))
			b.p(phi.ID, fmt.Sprintf("%s%02d-%07d", b.pick("S", "CP", "", "M"), 18+b.r.IntN(8), b.r.IntN(10000000)))
		},
		func() {
			b.t(b.pick("Employer: Harlow Freight, employee ID ", "Passport number ", "Case number "))
			b.p(phi.ID, fmt.Sprintf("%c%08d", 'A'+rune(b.r.IntN(26)), b.r.IntN(100000000)))
		},
	}
	for i := 0; i < n; i++ {
		all[b.r.IntN(len(all))]()
		b.t(b.pick("\n", ".  ", "; ", "\n", "   "))
	}
	b.t("\n")
}

func (b *builder) ssnFormat(s string) string {
	switch b.r.IntN(4) {
	case 0:
		return strings.ReplaceAll(s, "-", " ")
	case 1:
		return strings.ReplaceAll(s, "-", "")
	}
	return s
}

func (b *builder) url(p *patient) string {
	return b.pick("https://", "http://", "www.", "https://www.") + b.pick("portal.example-clinic.org", "harlowhealth.example.com", "mychart.example.org") +
		b.pick("/p/", "/patients/", "/u/", "/records?id=") + fmt.Sprint(1000+b.r.IntN(900000))
}

func vin(b *builder) string {
	const chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
	v := []byte{}
	for i := 0; i < 17; i++ {
		v = append(v, chars[b.r.IntN(len(chars))])
	}
	v[8] = phi.VINCheckDigit(string(v))
	return string(v)
}

func (b *builder) signature() {
	b.t(b.pick("Electronically signed by ", "Signed: ", "Sincerely,\n\n", "Dictated by ", "Attending: ", "", "Reviewed and signed: "))
	b.provider()
	if b.chance(0.4) {
		b.t(b.pick("\nNPI ", "\nNPI: ", "  NPI "))
		b.p(phi.License, npi(b))
	}
	if b.chance(0.3) {
		b.t(b.pick("\nDEA ", "  DEA# "))
		b.p(phi.License, dea(b))
	}
	b.t("\n")
}

func npi(b *builder) string {
	for {
		s := fmt.Sprintf("1%09d", b.r.IntN(1000000000))
		if luhn("80840" + s) {
			return s
		}
	}
}

func dea(b *builder) string {
	var d [6]int
	for i := range d {
		d[i] = b.r.IntN(10)
	}
	c := (d[0] + d[2] + d[4] + 2*(d[1]+d[3]+d[5])) % 10
	return fmt.Sprintf("%c%c%d%d%d%d%d%d%d", "ABFGM"[b.r.IntN(5)], 'A'+rune(b.r.IntN(26)), d[0], d[1], d[2], d[3], d[4], d[5], c)
}

func luhn(s string) bool {
	sum, dbl := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return sum%10 == 0
}

// narrative writes sentences that mention people and dates in the text.
func (b *builder) narrative(p *patient) {
	switch b.r.IntN(8) {
	case 0:
		b.honorific(p.person)
		b.tf(" is a %d-year-old %s seen today. ", 40+b.r.IntN(45), b.pick("man", "woman"))
	case 1:
		b.t("I saw ")
		b.honorific(p.person)
		b.t(" on ")
		b.date(b.recent(), false)
		b.t(b.pick(" for follow-up. ", " in clinic. "))
	case 2:
		b.t(b.pick("Her ", "His ", "The patient's "))
		rel := b.pick("daughter", "son", "wife", "husband", "sister", "brother", "niece", "caregiver")
		b.t(rel + " ")
		q := newPerson(b)
		b.p(phi.Name, q.first)
		if b.chance(0.5) {
			b.t(" ")
			b.p(phi.Name, q.last)
		}
		b.t(b.pick(" was present. ", " can be reached at "))
		if strings.HasSuffix(b.b.String(), "at ") {
			b.phone(phi.Phone, b.randPhone())
			b.t(". ")
		}
	case 3:
		b.t("The patient, now ")
		b.p(phi.Age, fmt.Sprint(90+b.r.IntN(15)))
		b.t(", lives alone. ")
	case 4:
		b.p(phi.Age, fmt.Sprintf("%d-year-old", 90+b.r.IntN(15)))
		b.t(b.pick(" woman with dementia. ", " man, independent in ADLs. "))
	case 5:
		b.t("She lives in ")
		b.p(phi.Address, p.city)
		b.t(b.pick(" with her husband. ", " and drives. "))
	case 6:
		b.t("Discussed with ")
		b.provider()
		b.t(b.pick(" on ", " by phone on "))
		b.date(b.recent(), false)
		b.t(". ")
	default:
		b.t(b.pick("Spoke with ", "Left a message for ", "Called "))
		b.name(p.person)
		b.t(b.pick(" at ", " on her cell, "))
		b.phone(phi.Phone, p.phone)
		b.t(". ")
	}
}

func progressNote(b *builder, p *patient) {
	b.t(b.pick("PROGRESS NOTE\n", "Office Visit\n", "CLINIC NOTE\n\n"))
	b.header(p)
	b.t(b.pick("Date of service: ", "DOS: ", "Visit date: "))
	b.serviceDate(b.recent())
	b.t("\n\nSUBJECTIVE: ")
	b.narrative(p)
	b.clinical(2 + b.r.IntN(3))
	b.t("OBJECTIVE: ")
	b.clinical(2)
	b.narrative(p)
	b.t("\nASSESSMENT AND PLAN: ")
	b.clinical(2 + b.r.IntN(2))
	b.identifiers(p, 1+b.r.IntN(3))
	b.signature()
}

func referralLetter(b *builder, p *patient) {
	b.t(b.pick("Harlow Springs Family Medicine\n", "Northside Internal Medicine\n", "Lakeview Cardiology Associates\n"))
	b.p(phi.Address, street(b))
	b.t(", ")
	c := cities[b.r.IntN(len(cities))]
	b.p(phi.Address, c[0])
	b.t(", " + c[1] + " ")
	b.p(phi.ZIP, fmt.Sprintf("%05d", 1000+b.r.IntN(98000)))
	b.t(b.pick("\nTel ", "\nPhone: ", "\nP: "))
	b.phone(phi.Phone, b.randPhone())
	b.t(b.pick("  Fax ", " · Fax: ", "  F: "))
	b.phone(phi.Fax, b.randPhone())
	b.t("\n\n")
	b.date(b.recent(), false)
	b.t("\n\n")
	b.header(p)
	b.t("Dear ")
	b.provider()
	b.t(",\n\nThank you for seeing ")
	b.honorific(p.person)
	b.t(b.pick(" for evaluation. ", ", whom I referred for a screening colonoscopy. "))
	b.clinical(3)
	b.narrative(p)
	b.t("Her address is ")
	b.address(p)
	b.t(".\n")
	b.identifiers(p, 1+b.r.IntN(2))
	b.signature()
}

func consultReport(b *builder, p *patient) {
	b.t("CONSULTATION REPORT\n")
	b.header(p)
	b.t("Referring physician: ")
	b.provider()
	b.t("\nDate of consultation: ")
	b.serviceDate(b.recent())
	b.t("\n\nREASON FOR CONSULTATION: ")
	b.clinical(1)
	b.t("HISTORY: ")
	b.narrative(p)
	b.narrative(p)
	b.clinical(3)
	b.t("IMPRESSION: ")
	b.clinical(2)
	b.identifiers(p, 2)
	b.signature()
}

func dischargeSummary(b *builder, p *patient) {
	b.t("DISCHARGE SUMMARY\n")
	b.header(p)
	b.t("Admission date: ")
	b.date(b.recent(), false)
	b.t("    Discharge date: ")
	b.serviceDate(b.recent())
	b.t("\nAttending: ")
	b.provider()
	b.t("\n\nHOSPITAL COURSE: ")
	b.narrative(p)
	b.clinical(4)
	b.narrative(p)
	b.t("\nDISPOSITION: home. Address on file: ")
	b.address(p)
	b.t("\nPhone: ")
	b.phone(phi.Phone, p.phone)
	b.t("\n")
	b.identifiers(p, 2+b.r.IntN(3))
	b.signature()
}

func labReport(b *builder, p *patient) {
	b.t(b.pick("LABORATORY REPORT\n", "Quest-style Lab Results\n", "CHEMISTRY\n"))
	b.header(p)
	b.t("Collected: ")
	b.serviceDate(b.recent())
	b.t(b.pick(" 08:15", "", " 07:42 AM"))
	b.t("    Received: ")
	b.date(b.recent(), false)
	b.t("\nOrdering provider: ")
	b.provider()
	b.t("\n")
	b.identifiers(p, 1)
	for i := 0; i < 6; i++ {
		b.t(b.pick("Sodium          139 mmol/L   (135-145)\n", "Potassium       4.2 mmol/L   (3.5-5.1)\n", "Glucose         112 mg/dL    (70-99)  H\n",
			"Hemoglobin A1c  7.4 %        (<5.7)   H\n", "LDL cholesterol 131 mg/dL\n", "TSH             2.10 mIU/L\n", "Creatinine      0.9 mg/dL\n", "eGFR            78 mL/min/1.73m2\n", "PSA             1.2 ng/mL\n", "FIT             negative\n"))
	}
	b.clinical(1)
	b.signature()
}

func imagingReport(b *builder, p *patient) {
	b.t(b.pick("RADIOLOGY REPORT\n", "DIAGNOSTIC IMAGING\n"))
	b.header(p)
	b.t(b.pick("Exam: SCREENING MAMMOGRAM BILATERAL\n", "Exam: CT ABDOMEN PELVIS WITH CONTRAST\n", "Exam: DXA BONE DENSITY\n", "Exam: LOW-DOSE CT CHEST\n"))
	b.t(b.pick("Exam date: ", "Date of exam: ", "Study date: "))
	b.serviceDate(b.recent())
	b.t("\nComparison: ")
	b.date(b.recent(), false)
	b.t("\nFINDINGS: ")
	b.clinical(3)
	b.t("IMPRESSION: BI-RADS 1. ")
	b.clinical(1)
	b.t("Interpreted by: ")
	b.provider()
	b.t("\n")
}

func pathologyReport(b *builder, p *patient) {
	b.t("SURGICAL PATHOLOGY REPORT\n")
	b.header(p)
	b.t("Accession: ")
	b.p(phi.ID, fmt.Sprintf("S%02d-%05d", 18+b.r.IntN(8), b.r.IntN(100000)))
	b.t("\nProcedure date: ")
	b.serviceDate(b.recent())
	b.t("\nSurgeon: ")
	b.provider()
	b.t("\nSPECIMEN: colon, polyp at 30 cm, polypectomy.\nDIAGNOSIS: tubular adenoma, negative for high-grade dysplasia. ")
	b.clinical(2)
	b.t("Pathologist: ")
	b.provider()
	b.t("\n")
}

func emailMessage(b *builder, p *patient) {
	b.t("From: ")
	b.name(p.person)
	b.t(" <")
	b.p(phi.Email, p.email)
	b.t(">\nTo: ")
	b.p(phi.Email, b.pick("scheduling@example-clinic.org", "frontdesk@harlowhealth.example.com", "nurse.line@example.org"))
	b.t("\nSent: ")
	b.date(b.recent(), false)
	b.t(b.pick(" 9:41 AM", " 14:02", ""))
	b.t("\nSubject: " + b.pick("appointment", "my results", "refill request") + "\n\n")
	b.t(b.pick("Hi, this is ", "Hello, my name is ", "Dear Dr. team, I am "))
	b.name(p.person)
	b.t(b.pick(" and I was born on ", ", date of birth "))
	b.date(p.birth, true)
	b.t(". ")
	b.t(b.pick("My chart number is ", "My MRN is ", "My patient ID is "))
	b.p(phi.MRN, p.mrn)
	b.t(". I live at ")
	b.address(p)
	b.t(". Please call me at ")
	b.phone(phi.Phone, p.phone)
	b.t(b.pick(" after 5pm.", ".", " or email back."))
	b.t(" I may be late. Thanks,\n")
	if p.nick != "" {
		b.p(phi.Name, p.nick)
	} else {
		b.p(phi.Name, p.first)
	}
	b.t("\n")
}

func registrationForm(b *builder, p *patient) {
	b.t("PATIENT REGISTRATION FORM\n")
	b.t("Last name: ")
	b.p(phi.Name, p.last)
	b.t("    First name: ")
	b.p(phi.Name, p.first)
	if p.middle != "" {
		b.t("    Middle: ")
		b.p(phi.Name, p.middle)
	}
	b.t("\nPreferred name: ")
	if p.nick != "" {
		b.p(phi.Name, p.nick)
	} else {
		b.t("none")
	}
	b.t("\nDate of birth: ")
	b.date(p.birth, true)
	b.t(b.pick("    Age: ", "  Age "))
	age := 2025 - func() int { y, _, _ := p.birth.YMD(); return y }()
	if age > 89 {
		b.p(phi.Age, fmt.Sprint(age))
	} else {
		b.t(fmt.Sprint(age))
	}
	b.t("\nStreet: ")
	b.p(phi.Address, p.street)
	b.t("\nCity: ")
	b.p(phi.Address, p.city)
	b.t("   State: " + p.state + "   ZIP: ")
	b.p(phi.ZIP, p.zip)
	b.t("\nPhone: ")
	b.phone(phi.Phone, p.phone)
	b.t("\nEmail: ")
	b.p(phi.Email, p.email)
	b.t("\nSSN: ")
	b.p(phi.SSN, b.ssnFormat(p.ssn))
	b.t("\nEmergency contact: ")
	b.name(newPerson(b))
	b.t(" (" + b.pick("spouse", "daughter", "son", "friend") + ")  ")
	b.phone(phi.Phone, b.randPhone())
	b.t("\nPrimary care physician: ")
	b.provider()
	b.t("\n")
	b.identifiers(p, 3+b.r.IntN(3))
}

// procedureReport is an endoscopy or minor procedure report. It is not in
// the mix Generate draws from (see GenerateAll).
func procedureReport(b *builder, p *patient) {
	b.t(b.pick("PROCEDURE REPORT\n", "COLONOSCOPY REPORT\n", "ENDOSCOPY PROCEDURE NOTE\n", "OPERATIVE REPORT\n"))
	b.header(p)
	b.t(b.pick("Procedure date: ", "Date of procedure: "))
	b.serviceDate(b.recent())
	b.t("\nProcedure: " + b.pick("Screening colonoscopy", "Colonoscopy with cold snare polypectomy", "Upper endoscopy (EGD) with biopsy", "Flexible sigmoidoscopy", "Diagnostic colonoscopy"))
	b.t("\nEndoscopist: ")
	b.provider()
	b.t("\nIndication: " + b.pick("average-risk screening.", "surveillance after adenoma.", "iron deficiency anemia.", "positive FIT.") + " ")
	b.t("\nSedation: " + b.pick("monitored anesthesia care with propofol.", "moderate sedation, midazolam 2 mg and fentanyl 50 mcg.") + "\n")
	b.t("FINDINGS: ")
	b.clinical(2)
	b.t(b.pick("The cecum was reached; withdrawal time 9 minutes. ", "Two small polyps were removed. ", "Mild gastritis; biopsies taken. "))
	b.t("\nComplications: none. Estimated blood loss: minimal.\n")
	b.t("RECOMMENDATIONS: " + b.pick("repeat colonoscopy in 10 years.", "repeat in 5 years pending pathology.", "follow up in clinic.") + "\n")
	b.narrative(p)
	b.t("\n")
	b.signature()
}
