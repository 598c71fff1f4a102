package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"healthprep.dev/shared/fhir"
	"healthprep.dev/shared/phi"
)

// fhirPatient is the part of a FHIR R4 Patient that the chart model does
// not carry but redaction needs: every name, telecom, address and
// identifier.
type fhirPatient struct {
	ResourceType string `json:"resourceType"`
	Name         []struct {
		Text   string   `json:"text"`
		Family string   `json:"family"`
		Given  []string `json:"given"`
	} `json:"name"`
	Telecom []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"telecom"`
	Address []struct {
		Text       string   `json:"text"`
		Line       []string `json:"line"`
		City       string   `json:"city"`
		District   string   `json:"district"`
		PostalCode string   `json:"postalCode"`
	} `json:"address"`
	Identifier []struct {
		Value string `json:"value"`
	} `json:"identifier"`
	Contact []struct {
		Name struct {
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		Telecom []struct {
			Value string `json:"value"`
		} `json:"telecom"`
	} `json:"contact"`
}

// loadPatient reads a FHIR Patient (or a Bundle holding exactly one) and
// returns its identifiers. Errors name the file and the JSON path, never
// the identifiers themselves.
func loadPatient(file string) (*phi.Known, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading --patient: %w", err)
	}
	l := fhir.NewLoader(fhir.Options{})
	for _, e := range l.Add(file, data) {
		var perr *fhir.PathError
		if errors.As(e, &perr) && (perr.Resource == "Patient" || perr.Path == "$") {
			return nil, fmt.Errorf("--patient: %w", e)
		}
	}
	recs, _ := l.Records()
	if len(recs) != 1 {
		return nil, fmt.Errorf("--patient %s: want exactly one Patient resource, found %d", file, len(recs))
	}
	p := recs[0].Patient
	k := &phi.Known{BirthDate: p.BirthDate}
	if !p.Deceased.IsZero() {
		k.Dates = append(k.Dates, p.Deceased)
	}
	if p.MRN != "" {
		k.MRNs = append(k.MRNs, p.MRN)
	}
	if p.Name != "" {
		k.Names = append(k.Names, p.Name)
	}
	raw, err := patientResource(data)
	if err != nil {
		return nil, fmt.Errorf("--patient %s: %w", file, err)
	}
	for _, n := range raw.Name {
		k.Names = append(k.Names, joinName(n.Text, n.Given, n.Family)...)
	}
	for _, t := range raw.Telecom {
		switch t.System {
		case "email":
			k.Emails = append(k.Emails, t.Value)
		case "phone", "fax", "sms", "pager", "":
			k.Phones = append(k.Phones, t.Value)
		default:
			k.IDs = append(k.IDs, t.Value)
		}
	}
	for _, a := range raw.Address {
		for _, s := range append([]string{a.Text, a.City, a.District, a.PostalCode}, a.Line...) {
			if strings.TrimSpace(s) != "" {
				k.Addresses = append(k.Addresses, s)
			}
		}
	}
	for _, id := range raw.Identifier {
		if id.Value != "" && id.Value != p.MRN {
			k.IDs = append(k.IDs, id.Value)
		}
	}
	for _, c := range raw.Contact {
		k.Names = append(k.Names, joinName(c.Name.Text, c.Name.Given, c.Name.Family)...)
		for _, t := range c.Telecom {
			if strings.Contains(t.Value, "@") {
				k.Emails = append(k.Emails, t.Value)
			} else {
				k.Phones = append(k.Phones, t.Value)
			}
		}
	}
	return k, nil
}

func joinName(text string, given []string, family string) []string {
	var out []string
	if text != "" {
		out = append(out, text)
	}
	if full := strings.TrimSpace(strings.Join(append(append([]string{}, given...), family), " ")); full != "" {
		out = append(out, full)
	}
	return out
}

// patientResource finds the Patient in a resource or a Bundle.
func patientResource(data []byte) (fhirPatient, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fhirPatient{}, errors.New("not a FHIR resource")
	}
	if head.ResourceType == "Patient" {
		var p fhirPatient
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("reading the Patient: %s", jsonKind(err))
		}
		return p, nil
	}
	for i, e := range head.Entry {
		var p fhirPatient
		if err := json.Unmarshal(e.Resource, &p); err != nil {
			return p, fmt.Errorf("reading $.entry[%d].resource: %s", i, jsonKind(err))
		}
		if p.ResourceType == "Patient" {
			return p, nil
		}
	}
	return fhirPatient{}, errors.New("no Patient resource")
}

// jsonKind describes a decoding error without quoting the data.
func jsonKind(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %s has the wrong JSON type", te.Field)
	}
	return "malformed JSON"
}
