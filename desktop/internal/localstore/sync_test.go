package localstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"healthprep.dev/desktop/internal/keystore"
	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/shared/chart"
)

// items returns n chart items of patient with ~size bytes of text each.
func items(patientID string, from, n, size int) []localstore.Change {
	out := make([]localstore.Change, n)
	text := strings.Repeat("x", size)
	for i := range out {
		ref := fmt.Sprintf("Observation/%s-%d", patientID, from+i)
		out[i] = localstore.UpsertChartItem(localstore.ChartItem{ID: ref, PatientID: patientID,
			Item: chart.Item{Kind: chart.Observation, Ref: ref, Text: text, Start: chart.D(2024, 1, 1)}})
	}
	return out
}

func TestApplyPageIsAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bad := localstore.UpsertAppointment(localstore.Appointment{ID: "appt-bad", Start: monday}) // no patient
	tests := []struct {
		name    string
		page    localstore.Page
		wantErr string
		is      error
	}{
		{
			name:    "an invalid change in the middle",
			page:    localstore.Page{From: "c1", Changes: append(append([]localstore.Change{localstore.UpsertPatient(bob)}, items(ann.ID, 0, 50, 100)...), bad)},
			wantErr: "applying a sync page: change 51: storing an appointment: patient id is empty",
		},
		{
			name:    "a deleted kind that does not exist",
			page:    localstore.Page{From: "c1", Changes: []localstore.Change{localstore.UpsertPatient(bob), localstore.Delete("chart", "x")}},
			wantErr: `applying a sync page: change 1: deleting: unknown kind "chart"`,
		},
		{
			name:    "a duplicated (already applied) page",
			page:    localstore.Page{From: "", Changes: []localstore.Change{localstore.UpsertPatient(bob)}},
			wantErr: "applying a sync page: localstore: page does not start at the stored sync cursor",
			is:      localstore.ErrCursorMismatch,
		},
		{
			name:    "a page from the future",
			page:    localstore.Page{From: "c7", Changes: []localstore.Change{localstore.UpsertPatient(bob)}},
			wantErr: "applying a sync page: localstore: page does not start at the stored sync cursor",
			is:      localstore.ErrCursorMismatch,
		},
		{
			name:    "an empty change",
			page:    localstore.Page{From: "c1", Changes: []localstore.Change{localstore.UpsertPatient(bob), {}}},
			wantErr: "applying a sync page: change 1: empty change",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			mustNil(t, b.store.ApplyPage(ctx, localstore.Page{Changes: []localstore.Change{localstore.UpsertPatient(ann)}}, "c1"))

			err := b.store.ApplyPage(ctx, tt.page, "c2")
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("got %v, want %q", err, tt.wantErr)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want it to wrap %v", err, tt.is)
			}
			for _, s := range []*localstore.Store{b.store, b.reopen(t)} {
				if s.Locked() {
					mustNil(t, s.UnlockWithDevice(ctx))
				}
				checkOnlyFirstPage(t, s, "c1")
			}
		})
	}
}

// checkOnlyFirstPage checks that the store holds ann (page 1), nothing of
// the later page, and cursor want.
func checkOnlyFirstPage(t *testing.T, s *localstore.Store, want localstore.Cursor) {
	t.Helper()
	ctx := context.Background()
	if got, err := s.Cursor(ctx); err != nil || got != want {
		t.Errorf("cursor: got %q, %v; want %q", got, err, want)
	}
	if _, err := s.Patient(ctx, ann.ID); err != nil {
		t.Errorf("page 1's patient: %v", err)
	}
	if _, err := s.Patient(ctx, bob.ID); !errors.Is(err, localstore.ErrNotFound) {
		t.Errorf("the failed page's patient: got %v, want ErrNotFound", err)
	}
	if got, err := s.ChartItems(ctx, ann.ID); err != nil || len(got) != 0 {
		t.Errorf("the failed page's items: got %d, %v; want none", len(got), err)
	}
}

const killChildEnv = "HP_LOCALSTORE_KILL_CHILD"

// TestApplyPageSurvivesKill kills (SIGKILL) a process in the middle of
// applying a page large enough to spill uncommitted pages into the WAL,
// then reopens the file: the earlier page and its cursor are there, nothing
// of the killed page is, and the page applies cleanly afterwards.
func TestApplyPageSurvivesKill(t *testing.T) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	mustNil(t, b.store.ApplyPage(ctx, localstore.Page{Changes: []localstore.Change{localstore.UpsertPatient(ann)}}, "c1"))
	mustNil(t, b.store.Close())

	cmd := exec.Command(os.Args[0], "-test.run=^TestApplyPageSurvivesKill$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+b.dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	mustNil(t, err)
	mustNil(t, cmd.Start())
	sc := bufio.NewScanner(out)
	reached := false
	for sc.Scan() {
		if sc.Text() == "mid-page" {
			reached = true
			break
		}
	}
	mustNil(t, cmd.Process.Kill())
	_ = cmd.Wait()
	if !reached {
		t.Fatal("the child never reached the middle of the page")
	}
	if st, err := os.Stat(b.opts.Path + "-wal"); err != nil || st.Size() == 0 {
		t.Logf("note: the WAL holds no uncommitted frames (%v)", err)
	}

	b.store = b.open(t)
	mustNil(t, b.store.UnlockWithDevice(ctx))
	checkOnlyFirstPage(t, b.store, "c1")

	page := killPage()
	mustNil(t, b.store.ApplyPage(ctx, page, "c2"))
	if got, _ := b.store.ChartItems(ctx, ann.ID); len(got) != 3000 {
		t.Errorf("after re-applying: got %d items, want 3000", len(got))
	}
}

func killPage() localstore.Page {
	return localstore.Page{From: "c1", Changes: append([]localstore.Change{localstore.UpsertPatient(bob)}, items(ann.ID, 0, 3000, 2048)...)}
}

// killChild applies killPage and stops forever two thirds of the way in.
func killChild(dir string) {
	keys, err := keystore.NewInsecureFile(dir)
	if err != nil {
		panic(err)
	}
	s, err := localstore.Open(context.Background(), localstore.Options{Path: filepath.Join(dir, "profile.db"), DeviceKeys: keys})
	if err != nil {
		panic(err)
	}
	if err := s.UnlockWithDevice(context.Background()); err != nil {
		panic(err)
	}
	localstore.SetTestHookChange(func(i int) {
		if i == 2000 {
			fmt.Println("mid-page")
			select {} // wait to be killed
		}
	})
	err = s.ApplyPage(context.Background(), killPage(), "c2")
	panic(fmt.Sprintf("ApplyPage returned %v; it should have been killed", err))
}

// TestReadersDuringAWrite holds a write transaction open and reads from
// several goroutines meanwhile: WAL lets them see the last commit without
// waiting.
func TestReadersDuringAWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, localstore.UpsertPatient(ann), localstore.UpsertPrepSheet(sheetAnn))

	inWrite, release := make(chan struct{}), make(chan struct{})
	writeDone := make(chan error, 1)
	go func() {
		writeDone <- b.store.Update(ctx, func(tx *localstore.Tx) error {
			if err := tx.PutPatient(bob); err != nil {
				return err
			}
			close(inWrite)
			<-release
			return nil
		})
	}()
	<-inWrite

	var wg sync.WaitGroup
	errs := make(chan error, 8*20)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				sheet, err := b.store.PrepSheet(ctx, apptAnn.ID)
				if err == nil && sheet.Sheet.Header.Name != ann.Name {
					err = fmt.Errorf("sheet name %q", sheet.Sheet.Header.Name)
				}
				if _, err2 := b.store.Patient(ctx, bob.ID); !errors.Is(err2, localstore.ErrNotFound) {
					err = errors.Join(err, fmt.Errorf("uncommitted patient visible: %v", err2))
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	readsDone := make(chan struct{})
	go func() { wg.Wait(); close(readsDone) }()
	select {
	case <-readsDone:
	case <-time.After(30 * time.Second):
		t.Fatal("readers were blocked by the open write")
	}
	close(release)
	mustNil(t, <-writeDone)
	close(errs)
	for err := range errs {
		t.Errorf("reader: %v", err)
	}
	if _, err := b.store.Patient(ctx, bob.ID); err != nil {
		t.Errorf("after commit: %v", err)
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	b.apply(t, localstore.UpsertPatient(ann))
	var version int
	mustNil(t, b.raw(t).QueryRow(`PRAGMA user_version`).Scan(&version))
	if version != 2 {
		t.Errorf("schema version: got %d, want 2", version)
	}
	var mode string
	mustNil(t, b.raw(t).QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	if mode != "wal" {
		t.Errorf("journal mode: got %q, want wal", mode)
	}

	// Reopening does not migrate again and keeps the data.
	s := b.reopen(t)
	mustNil(t, s.UnlockWithDevice(ctx))
	if _, err := s.Patient(ctx, ann.ID); err != nil {
		t.Errorf("after reopening: %v", err)
	}
	mustNil(t, s.Close())

	// A file from a newer program is refused, not guessed at.
	_, err := b.raw(t).Exec(`PRAGMA user_version = 99`)
	mustNil(t, err)
	_, err = localstore.Open(ctx, b.opts)
	if !errors.Is(err, localstore.ErrNewerSchema) {
		t.Fatalf("got %v, want ErrNewerSchema", err)
	}
	if want := "file has schema version 99, this program knows up to 2"; !strings.Contains(err.Error(), want) {
		t.Errorf("message %q: want it to contain %q", err, want)
	}
}

// TestDefaultKDF checks that production wraps use Argon2id t=3, m=64 MiB,
// p=2 and store those parameters (one real, slow derivation each way).
func TestDefaultKDF(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	s, err := localstore.Open(ctx, localstore.Options{Path: b.opts.Path, DeviceKeys: b.keys})
	mustNil(t, err)
	defer s.Close()
	if got := s.KDF(); got != localstore.DefaultKDF || got != (localstore.KDFParams{Time: 3, MemoryKiB: 65536, Threads: 2}) {
		t.Fatalf("KDF: got %+v, want t=3 m=65536 KiB p=2", got)
	}
	mustNil(t, s.UnlockWithDevice(ctx))
	mustNil(t, s.SetUserPassword(ctx, "user-7", "correct horse"))
	var tm, mem, threads, saltLen int
	mustNil(t, b.raw(t).QueryRow(`SELECT kdf_time, kdf_mem_kib, kdf_threads, length(kdf_salt) FROM key_wraps WHERE subject = 'user-7'`).
		Scan(&tm, &mem, &threads, &saltLen))
	if tm != 3 || mem != 65536 || threads != 2 || saltLen != 16 {
		t.Errorf("stored: t=%d m=%d p=%d salt=%d bytes; want 3, 65536, 2, 16", tm, mem, threads, saltLen)
	}
	s.Lock()
	mustNil(t, s.UnlockWithPassword(ctx, "user-7", "correct horse"))
}
