package localstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/prepsheettest"
)

// BenchmarkOpenPrepSheet reads one cached prep sheet of a large chart (25
// screenings, 60 entries per lookback section) from a store holding 500
// sheets: select, decrypt, decode. Target: ≤ 50 ms.
func BenchmarkOpenPrepSheet(b *testing.B) {
	ctx := context.Background()
	bu := setup(b)
	loc, err := time.LoadLocation("America/Chicago")
	mustNil(b, err)
	sheet, err := prepsheet.Assemble(prepsheettest.Large(loc, 25, 60))
	mustNil(b, err)
	changes := make([]localstore.Change, 0, 500)
	for i := range 500 {
		changes = append(changes, localstore.UpsertPrepSheet(localstore.PrepSheet{
			AppointmentID: fmt.Sprintf("appt-%d", i), PatientID: fmt.Sprintf("pat-%d", i), Sheet: sheet}))
	}
	bu.apply(b, changes...)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		got, err := bu.store.PrepSheet(ctx, fmt.Sprintf("appt-%d", i%500))
		if err != nil || len(got.Sheet.Screenings) == 0 {
			b.Fatalf("PrepSheet: %v", err)
		}
		i++
	}
}

// BenchmarkInsertEncrypted inserts 10,000 chart items of about 2 KiB each,
// sealed, in one page (one transaction) into a fresh store.
func BenchmarkInsertEncrypted(b *testing.B) {
	ctx := context.Background()
	page := localstore.Page{Changes: items("pat-bench", 0, 10000, 2048)}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		bu := setup(b)
		b.StartTimer()
		if err := bu.store.ApplyPage(ctx, page, "c1"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		bu.store.Close()
		b.StartTimer()
	}
}

// BenchmarkUnlockWithPassword is the offline sign-in: Argon2id (t=3,
// m=64 MiB, p=2) and one unwrap.
func BenchmarkUnlockWithPassword(b *testing.B) {
	ctx := context.Background()
	bu := setup(b)
	s, err := localstore.Open(ctx, localstore.Options{Path: bu.opts.Path, DeviceKeys: bu.keys})
	mustNil(b, err)
	defer s.Close()
	mustNil(b, s.UnlockWithDevice(ctx))
	mustNil(b, s.SetUserPassword(ctx, "user-7", "correct horse"))
	for b.Loop() {
		s.Lock()
		if err := s.UnlockWithPassword(ctx, "user-7", "correct horse"); err != nil {
			b.Fatal(err)
		}
	}
}
