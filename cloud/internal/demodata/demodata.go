// Package demodata generates synthetic FHIR R4 demo data, deterministically
// from a seed: patients with realistic preventive-screening histories (ages
// and sexes spread; mammograms, colonoscopies, FIT, Pap/HPV, A1c for
// diabetics, vaccines with CVX codes, and exclusions such as hysterectomy or
// bilateral mastectomy) and a clinic schedule of Appointments for the days
// after a given date. Every code comes from the code sets of the default
// screening presets (shared/preset), so the screening engine recognises it,
// and each history is drawn so that the patients show a mix of complete, due
// soon, due, overdue and excluded screenings on the schedule's first day.
//
// The output is one collection Bundle per patient and one for the schedule,
// which the sandbox (and shared/fhir) load as they are. All names are
// invented; nothing comes from a real person.
package demodata

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"healthprep.dev/shared/chart"
)

// Config says what to generate.
type Config struct {
	// Seed makes the output reproducible: the same Config gives the same bytes.
	Seed uint64
	// Patients is how many patients to make (default 200).
	Patients int
	// Start is the schedule's first day (its date in Location); histories
	// are drawn relative to it.
	Start time.Time
	// Days of schedule from Start (default 14); weekends have no clinic.
	Days int
	// PerDay is how many appointments a clinic day has (default 14).
	PerDay int
	// Location is the clinic's time zone for appointment times (default UTC).
	Location *time.Location
}

// Dataset is the generated data.
type Dataset struct {
	// Patients are one collection Bundle per patient, in order.
	Patients []File
	// Schedule is a collection Bundle of the Practitioners and Appointments.
	Schedule File
	// Counts per resource type, over all files.
	Counts map[string]int
}

// File is one JSON document and the name it is written under.
type File struct {
	Name string
	Data []byte
}

// Generate builds a dataset.
func Generate(cfg Config) (*Dataset, error) {
	if cfg.Start.IsZero() {
		return nil, errors.New("generating demo data: a start date is required")
	}
	if cfg.Patients == 0 {
		cfg.Patients = 200
	}
	if cfg.Days == 0 {
		cfg.Days = 14
	}
	if cfg.PerDay == 0 {
		cfg.PerDay = 14
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Patients < 1 || cfg.Days < 1 || cfg.PerDay < 1 {
		return nil, errors.New("generating demo data: patients, days and appointments per day must be positive")
	}
	g := &gen{
		r:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		asOf:   chart.FromTime(cfg.Start.In(cfg.Location)),
		counts: map[string]int{},
	}
	ds := &Dataset{Counts: g.counts}
	var pats []patientInfo
	for i := range cfg.Patients {
		p, res := g.patient(i)
		pats = append(pats, p)
		data, err := g.bundle(res)
		if err != nil {
			return nil, err
		}
		ds.Patients = append(ds.Patients, File{Name: fmt.Sprintf("patients/%03d-%s.json", i+1, p.id), Data: data})
	}
	data, err := g.bundle(g.schedule(cfg, pats))
	if err != nil {
		return nil, err
	}
	ds.Schedule = File{Name: "schedule.json", Data: data}
	return ds, nil
}

// WriteDir writes the dataset under dir (patients/*.json, schedule.json).
func (d *Dataset) WriteDir(dir string) error {
	for _, f := range append(append([]File{}, d.Patients...), d.Schedule) {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("writing demo data: %w", err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return fmt.Errorf("writing demo data: %w", err)
		}
	}
	return nil
}

type gen struct {
	r      *rand.Rand
	asOf   chart.Date
	counts map[string]int
}

type resource = map[string]any

func (g *gen) bundle(rs []resource) ([]byte, error) {
	entries := make([]any, 0, len(rs))
	for _, r := range rs {
		g.counts[r["resourceType"].(string)]++
		entries = append(entries, map[string]any{"fullUrl": "urn:uuid:" + r["id"].(string), "resource": r})
	}
	data, err := json.MarshalIndent(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries}, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encoding demo bundle: %w", err)
	}
	return data, nil
}

// uuid returns a random (seeded) version 4 UUID.
func (g *gen) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// scenario is how a screening with an interval should come out.
type scenario int

const (
	scComplete scenario = iota
	scDueSoon
	scDue
	scOverdue
	scNever
)

func (g *gen) scenario() scenario {
	x := g.r.Float64()
	switch {
	case x < 0.45:
		return scComplete
	case x < 0.57:
		return scDueSoon
	case x < 0.70:
		return scDue
	case x < 0.87:
		return scOverdue
	}
	return scNever
}

// lastDone picks when a screening with an interval of months was last done
// so that it lands in scenario s (ok is false for never).
func (g *gen) lastDone(months int, s scenario) (chart.Date, bool) {
	due := g.asOf.AddMonths(-months) // done on this day → due today
	switch s {
	case scComplete:
		span := due.DaysUntil(g.asOf) - 45
		return g.asOf.AddDays(-g.between(7, max(span, 8))), true
	case scDueSoon:
		return due.AddDays(g.between(2, 25)), true
	case scDue:
		return due.AddDays(-g.between(0, 75)), true
	case scOverdue:
		return due.AddMonths(-g.between(4, 30)), true
	}
	return chart.Date{}, false
}
