package localstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Fixtures. Every person and identifier here is made up.
var (
	ann = chart.Patient{ID: "pat-ann", Name: "Annabel Whitcombe", MRN: "MRN-100234", BirthDate: chart.D(1962, 3, 14), Sex: chart.SexFemale}
	bob = chart.Patient{ID: "pat-bob", Name: "Bartholomew Quince", MRN: "MRN-100777", BirthDate: chart.D(1950, 7, 1), Sex: chart.SexMale}

	chicago, _ = time.LoadLocation("America/Chicago")
	monday     = time.Date(2025, 3, 17, 9, 30, 0, 0, chicago)

	apptAnn  = localstore.Appointment{ID: "appt-1", PatientID: ann.ID, Start: monday, Provider: "Dr Okafor", VisitType: "annual"}
	apptBob  = localstore.Appointment{ID: "appt-2", PatientID: bob.ID, Start: monday.Add(30 * time.Minute), Provider: "Dr Okafor"}
	apptNext = localstore.Appointment{ID: "appt-3", PatientID: ann.ID, Start: monday.AddDate(0, 0, 1)}

	colonoscopy = localstore.ChartItem{ID: "Procedure/colo-1", PatientID: ann.ID, Item: chart.Item{
		Kind: chart.Procedure, Ref: "Procedure/colo-1", Codes: []chart.Code{{System: chart.CPT, Code: "45378"}},
		Text: "Colonoscopy", Start: chart.D(2016, 2, 1), End: chart.D(2016, 2, 1), Status: "completed"}}
	a1c = localstore.ChartItem{ID: "Observation/a1c-1", PatientID: ann.ID, Item: chart.Item{
		Kind: chart.Observation, Ref: "Observation/a1c-1", Codes: []chart.Code{{System: chart.LOINC, Code: "4548-4"}},
		Text: "Hemoglobin A1c", Start: chart.D(2024, 12, 1), End: chart.D(2024, 12, 1), Quantity: 9.4, Unit: "%", HasQuantity: true, HasValue: true}}
	bobItem = localstore.ChartItem{ID: "Condition/htn", PatientID: bob.ID, Item: chart.Item{Kind: chart.Condition, Ref: "Condition/htn", Text: "Hypertension"}}

	letter = localstore.Document{ID: "doc-1", PatientID: ann.ID, Title: "GI consult letter", Type: "consult", Date: chart.D(2024, 5, 2),
		Text: "Colonoscopy showed one tubular adenoma; repeat in 3 years.", ContentType: "application/pdf",
		ContentSHA256: "ab12", PipelineVersion: "ocr-1", Content: []byte("%PDF-1.7 fake page bytes")}

	sheetAnn = localstore.PrepSheet{AppointmentID: apptAnn.ID, PatientID: ann.ID, Sheet: prepsheet.Sheet{
		AsOf: chart.D(2025, 3, 17), TimeZone: "America/Chicago",
		Header: prepsheet.Header{PatientID: ann.ID, Name: ann.Name, MRN: ann.MRN, Sex: chart.SexFemale,
			Age: prepsheet.Age{Known: true, Years: 63, Label: "63 years"}},
		Screenings: []prepsheet.ScreeningItem{{ID: "colorectal", Name: "Colorectal cancer screening", Status: screening.Overdue,
			Label: "OVERDUE", Symbol: "!!", LastDone: chart.D(2016, 2, 1), NextDue: chart.D(2019, 2, 1), Reason: "Adenoma: repeat in 3 years."}},
	}}

	postponed = localstore.Override{ID: "ov-1", PatientID: ann.ID, Override: screening.Override{
		TypeID: "colorectal", Kind: screening.Postponed, Date: chart.D(2025, 6, 1), By: "user-7", At: chart.D(2025, 3, 14), Why: "acute illness"}}
)

// asJSON compares values through their JSON form (times keep their
// instant, not their *Location pointer).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	if g, w := asJSON(t, got), asJSON(t, want); g != w {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

// conformance is the specification of the store's operations. Each case
// starts from an empty store, applies its pages in order, then checks.
var conformance = []struct {
	name  string
	pages [][]localstore.Change
	check func(t *testing.T, s *localstore.Store)
}{
	{
		name:  "patient by id and by MRN",
		pages: [][]localstore.Change{{localstore.UpsertPatient(ann), localstore.UpsertPatient(bob)}},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			got, err := s.Patient(ctx, ann.ID)
			if err != nil || !reflect.DeepEqual(got, ann) {
				t.Errorf("Patient(ann): got %+v, %v; want %+v", got, err, ann)
			}
			got, err = s.PatientByMRN(ctx, bob.MRN)
			if err != nil || !reflect.DeepEqual(got, bob) {
				t.Errorf("PatientByMRN(bob): got %+v, %v; want %+v", got, err, bob)
			}
			if _, err := s.Patient(ctx, "pat-nobody"); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("Patient(unknown): got %v, want ErrNotFound", err)
			}
			if _, err := s.PatientByMRN(ctx, "MRN-0"); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("PatientByMRN(unknown): got %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "a later upsert replaces, including the MRN index",
		pages: [][]localstore.Change{
			{localstore.UpsertPatient(ann)},
			{localstore.UpsertPatient(chart.Patient{ID: ann.ID, Name: "Annabel W. Whitcombe", MRN: "MRN-2"})},
		},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			if got, _ := s.Patient(ctx, ann.ID); got.Name != "Annabel W. Whitcombe" || got.MRN != "MRN-2" {
				t.Errorf("got %+v, want the second version", got)
			}
			if _, err := s.PatientByMRN(ctx, ann.MRN); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("old MRN: got %v, want ErrNotFound", err)
			}
		},
	},
	{
		name:  "appointments in a half-open range, by start",
		pages: [][]localstore.Change{{localstore.UpsertAppointment(apptNext), localstore.UpsertAppointment(apptBob), localstore.UpsertAppointment(apptAnn)}},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			ids := func(from, to time.Time) []string {
				as, err := s.Appointments(ctx, from, to)
				if err != nil {
					t.Fatalf("Appointments: %v", err)
				}
				var out []string
				for _, a := range as {
					out = append(out, a.ID)
				}
				return out
			}
			day := time.Date(2025, 3, 17, 0, 0, 0, 0, chicago)
			for _, tt := range []struct {
				from, to time.Time
				want     []string
			}{
				{day, day.AddDate(0, 0, 1), []string{"appt-1", "appt-2"}},
				{day, day.AddDate(0, 0, 7), []string{"appt-1", "appt-2", "appt-3"}},
				{monday, monday.Add(30 * time.Minute), []string{"appt-1"}}, // end excluded
				{monday.Add(time.Minute), monday.Add(31 * time.Minute), []string{"appt-2"}},
				{day.AddDate(0, 0, -7), day, nil},
			} {
				if got := ids(tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Appointments(%v, %v): got %v, want %v", tt.from, tt.to, got, tt.want)
				}
			}
			as, _ := s.Appointments(ctx, day, day.AddDate(0, 0, 1))
			if len(as) > 0 && !as[0].Start.Equal(monday) {
				t.Errorf("start: got %v, want %v", as[0].Start, monday)
			}
		},
	},
	{
		name:  "chart items belong to their patient",
		pages: [][]localstore.Change{{localstore.UpsertChartItem(colonoscopy), localstore.UpsertChartItem(bobItem)}, {localstore.UpsertChartItem(a1c)}},
		check: func(t *testing.T, s *localstore.Store) {
			got, err := s.ChartItems(context.Background(), ann.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "ann's items", got, []localstore.ChartItem{a1c, colonoscopy})
		},
	},
	{
		name:  "documents: metadata listed, content read separately",
		pages: [][]localstore.Change{{localstore.UpsertDocument(letter)}},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			docs, err := s.Documents(ctx, ann.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := letter
			want.Content = nil
			sameJSON(t, "documents", docs, []localstore.Document{want})
			if len(docs) == 1 && docs[0].Content != nil {
				t.Errorf("listing returned content; want nil")
			}
			content, err := s.DocumentContent(ctx, letter.ID)
			if err != nil || string(content) != string(letter.Content) {
				t.Errorf("DocumentContent: got %q, %v; want %q", content, err, letter.Content)
			}
		},
	},
	{
		name:  "prep sheet by appointment",
		pages: [][]localstore.Change{{localstore.UpsertPrepSheet(sheetAnn)}},
		check: func(t *testing.T, s *localstore.Store) {
			got, err := s.PrepSheet(context.Background(), apptAnn.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "sheet", got, sheetAnn)
			if _, err := s.PrepSheet(context.Background(), apptBob.ID); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("missing sheet: got %v, want ErrNotFound", err)
			}
		},
	},
	{
		name:  "overrides per patient",
		pages: [][]localstore.Change{{localstore.UpsertOverride(postponed)}},
		check: func(t *testing.T, s *localstore.Store) {
			got, err := s.Overrides(context.Background(), ann.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameJSON(t, "overrides", got, []localstore.Override{postponed})
			if got, _ := s.Overrides(context.Background(), bob.ID); len(got) != 0 {
				t.Errorf("bob's overrides: got %v, want none", got)
			}
		},
	},
	{
		name: "record gathers the patient, items and document text",
		pages: [][]localstore.Change{{localstore.UpsertPatient(ann), localstore.UpsertChartItem(colonoscopy),
			localstore.UpsertChartItem(a1c), localstore.UpsertDocument(letter), localstore.UpsertChartItem(bobItem)}},
		check: func(t *testing.T, s *localstore.Store) {
			got, err := s.Record(context.Background(), ann.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := chart.Record{Patient: ann, Items: []chart.Item{a1c.Item, colonoscopy.Item},
				Documents: []chart.Document{{Ref: "DocumentReference/doc-1", Title: letter.Title, Date: letter.Date, Text: letter.Text}}}
			sameJSON(t, "record", got, want)
			if _, err := s.Record(context.Background(), "pat-nobody"); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("Record(unknown): got %v, want ErrNotFound", err)
			}
		},
	},
	{
		name: "deleting a patient deletes everything about them",
		pages: [][]localstore.Change{
			{localstore.UpsertPatient(ann), localstore.UpsertPatient(bob), localstore.UpsertAppointment(apptAnn), localstore.UpsertAppointment(apptBob),
				localstore.UpsertChartItem(colonoscopy), localstore.UpsertChartItem(bobItem), localstore.UpsertDocument(letter),
				localstore.UpsertPrepSheet(sheetAnn), localstore.UpsertOverride(postponed)},
			{localstore.Delete(localstore.KindPatient, ann.ID)},
		},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			if _, err := s.Patient(ctx, ann.ID); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("patient: got %v, want ErrNotFound", err)
			}
			if _, err := s.PrepSheet(ctx, apptAnn.ID); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("sheet: got %v, want ErrNotFound", err)
			}
			if _, err := s.DocumentContent(ctx, letter.ID); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("document: got %v, want ErrNotFound", err)
			}
			items, _ := s.ChartItems(ctx, ann.ID)
			ovs, _ := s.Overrides(ctx, ann.ID)
			appts, _ := s.Appointments(ctx, monday.AddDate(0, 0, -1), monday.AddDate(0, 0, 1))
			if len(items) != 0 || len(ovs) != 0 || len(appts) != 1 || appts[0].ID != apptBob.ID {
				t.Errorf("left over: %d items, %d overrides, appointments %v; want 0, 0, [appt-2]", len(items), len(ovs), appts)
			}
			if got, _ := s.Patient(ctx, bob.ID); !reflect.DeepEqual(got, bob) {
				t.Errorf("bob: got %+v, want untouched", got)
			}
		},
	},
	{
		name: "single deletes; deleting twice or a missing row is fine",
		pages: [][]localstore.Change{
			{localstore.UpsertChartItem(colonoscopy), localstore.UpsertChartItem(a1c), localstore.UpsertOverride(postponed), localstore.UpsertPrepSheet(sheetAnn)},
			{localstore.Delete(localstore.KindChartItem, a1c.ID), localstore.Delete(localstore.KindChartItem, a1c.ID),
				localstore.Delete(localstore.KindOverride, postponed.ID), localstore.Delete(localstore.KindPrepSheet, apptAnn.ID),
				localstore.Delete(localstore.KindDocument, "doc-never")},
		},
		check: func(t *testing.T, s *localstore.Store) {
			ctx := context.Background()
			items, _ := s.ChartItems(ctx, ann.ID)
			sameJSON(t, "items", items, []localstore.ChartItem{colonoscopy})
			if ovs, _ := s.Overrides(ctx, ann.ID); len(ovs) != 0 {
				t.Errorf("overrides: got %v, want none", ovs)
			}
			if _, err := s.PrepSheet(ctx, apptAnn.ID); !errors.Is(err, localstore.ErrNotFound) {
				t.Errorf("sheet: got %v, want ErrNotFound", err)
			}
		},
	},
	{
		name:  "the cursor follows the pages",
		pages: [][]localstore.Change{{localstore.UpsertPatient(ann)}, {}, {localstore.UpsertPatient(bob)}},
		check: func(t *testing.T, s *localstore.Store) {
			if got, err := s.Cursor(context.Background()); got != "+++" || err != nil {
				t.Errorf("Cursor: got %q, %v; want %q", got, err, "+++")
			}
		},
	},
}

// TestConformance runs the specification against a store unlocked with the
// device key, and against the same kind of store reopened and unlocked
// offline with a password.
func TestConformance(t *testing.T) {
	t.Parallel()
	opens := []struct {
		name string
		open func(t *testing.T, b *bundle) *localstore.Store
	}{
		{"device unlock", func(t *testing.T, b *bundle) *localstore.Store { return b.store }},
		{"reopened, password unlock", func(t *testing.T, b *bundle) *localstore.Store {
			ctx := context.Background()
			if err := b.store.SetUserPassword(ctx, "user-7", "correct horse"); err != nil {
				t.Fatal(err)
			}
			s := b.reopen(t)
			if err := s.UnlockWithPassword(ctx, "user-7", "correct horse"); err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
	for _, o := range opens {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range conformance {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					b := setup(t)
					for _, p := range tt.pages {
						b.apply(t, p...)
					}
					tt.check(t, o.open(t, b))
				})
			}
		})
	}
}

func TestOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	s := b.store

	var ids []string
	for _, kind := range []string{"override", "print_event", "ocr_result"} {
		err := s.Update(ctx, func(tx *localstore.Tx) error {
			if kind == "override" {
				if err := tx.PutOverride(postponed); err != nil {
					return err
				}
			}
			id, err := tx.Enqueue(localstore.OutboxEntry{Kind: kind, Payload: []byte(`{"what":"` + kind + `"}`)})
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	fixed := "0b5c2f9e-3a55-4b8e-9b1a-6f6c1d0a2e11"
	if err := s.Update(ctx, func(tx *localstore.Tx) error {
		_, err := tx.Enqueue(localstore.OutboxEntry{ID: fixed, Kind: "override", Payload: []byte("x")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, fixed)

	if err := s.MarkAttempted(ctx, ids[0], ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAttempted(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outbox(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("Outbox: got %d entries, want 4", len(got))
	}
	for i, e := range got {
		if e.ID != ids[i] {
			t.Errorf("entry %d: got id %s, want %s (enqueue order)", i, e.ID, ids[i])
		}
		if !e.CreatedAt.Equal(fixedNow) {
			t.Errorf("entry %d: created %v, want %v", i, e.CreatedAt, fixedNow)
		}
	}
	if got[0].Attempts != 2 || got[1].Attempts != 1 || got[2].Attempts != 0 {
		t.Errorf("attempts: got %d %d %d, want 2 1 0", got[0].Attempts, got[1].Attempts, got[2].Attempts)
	}
	if string(got[1].Payload) != `{"what":"print_event"}` || got[1].Kind != "print_event" {
		t.Errorf("entry 1: got %s %q", got[1].Kind, got[1].Payload)
	}

	// Enqueueing an id twice fails and the rest of that write is rolled back.
	err = s.Update(ctx, func(tx *localstore.Tx) error {
		if err := tx.PutPatient(ann); err != nil {
			return err
		}
		_, err := tx.Enqueue(localstore.OutboxEntry{ID: fixed, Kind: "override", Payload: []byte("y")})
		return err
	})
	if err == nil {
		t.Errorf("duplicate id: got no error")
	}
	if _, err := s.Patient(ctx, ann.ID); !errors.Is(err, localstore.ErrNotFound) {
		t.Errorf("patient of the failed write: got %v, want ErrNotFound", err)
	}
	if err := s.Update(ctx, func(tx *localstore.Tx) error {
		_, err := tx.Enqueue(localstore.OutboxEntry{ID: "not-a-uuid", Kind: "x"})
		return err
	}); err == nil || err.Error() != "enqueueing: id is not a UUID" {
		t.Errorf("bad id: got %v, want %q", err, "enqueueing: id is not a UUID")
	}

	// Only acknowledgement removes entries; a repeated ack is harmless.
	if err := s.Ack(ctx, ids[1], ids[1], "7f0e6c4e-0000-4000-8000-000000000000"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	s = b.reopen(t)
	if err := s.UnlockWithDevice(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Outbox(ctx, 10)
	var left []string
	for _, e := range got {
		left = append(left, e.ID)
	}
	if want := []string{ids[0], ids[2], ids[3]}; !reflect.DeepEqual(left, want) {
		t.Errorf("after ack and reopen: got %v, want %v", left, want)
	}
	if got, _ := s.Outbox(ctx, 1); len(got) != 1 || got[0].ID != ids[0] {
		t.Errorf("limit 1: got %v, want the oldest", got)
	}
}
