// Command syncdev is a sync-only cloud for the real-process sync test and
// for development: the real API handler (RBAC and protocol-version
// interceptors, the SyncService handlers) and the real syncfeed.Feed over
// the in-memory store kept in a file (every commit synced to disk before
// it is acknowledged), one organisation and one static session token. It
// is not the product: healthprep-cloud serves sync from Postgres.
//
//	syncdev -addr 127.0.0.1:PORT -state FILE -token TOKEN [-seed-records N]
//	syncdev -addr 127.0.0.1:PORT -postgres -token TOKEN [-seed-patients N] [-records-per-patient R]
//	syncdev -product DIR -cloud-bin healthprep-cloud [-seed-patients N]
//	syncdev -product DIR -dump
//
// -product runs the PRODUCT cloud instead (healthprep-cloud serve, as a
// child process) on a durable private Postgres kept in DIR: the first
// start migrates, creates the organisation, ingests N patients and prints
// an enrolment code; killing the cloud ends syncdev (stopping Postgres),
// and starting it again on DIR recovers the same database and address.
// -dump prints that cloud's feed and receipts for the real-process kill
// test.
//
// -postgres serves the product's Postgres feed instead (pgstore over a
// throwaway private cluster, seeded through ingest's Store), for the
// desktop's sync benchmarks. POST /_syncdev/publish (with the token) commits
// one config record and answers its seq: a change for freshness
// measurements.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"healthprep.dev/cloud/internal/api"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/syncfeed/memstore"
	"healthprep.dev/cloud/internal/tenancy"
)

// Org is the one organisation syncdev serves.
var Org = tenancy.OrgID(uuid.MustParse("5e000000-0000-4000-8000-000000000001"))

type staticAuth struct{ token string }

func (a staticAuth) Authenticate(_ context.Context, token string) (api.Principal, error) {
	if token != a.token {
		return api.Principal{}, api.ErrSessionInvalid
	}
	return api.Principal{UserID: uuid.MustParse("5e000000-0000-4000-8000-0000000000aa"), OrgID: Org, Role: api.RoleNurse}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "syncdev: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	state := flag.String("state", "", "state file (required, unless -postgres)")
	token := flag.String("token", "", "the session token clients must send (required)")
	seed := flag.Int("seed-records", 0, "when the state is empty, publish this many records")
	usePG := flag.Bool("postgres", false, "serve the feed from a throwaway private Postgres (pgstore over ingest's tables) instead of the state file")
	pgParent := flag.String("postgres-dir", "", "with -postgres: where to put the cluster (default: the temporary directory)")
	patients := flag.Int("seed-patients", 0, "with -postgres: patients to ingest")
	perPatient := flag.Int("records-per-patient", 100, "with -postgres: records per patient (Patient, Appointment, chart resources)")
	product := flag.String("product", "", "serve with the PRODUCT cloud (-cloud-bin serve) on a durable private Postgres kept in this directory; restarts reuse it")
	cloudBin := flag.String("cloud-bin", "", "with -product: the healthprep-cloud binary")
	dump := flag.Bool("dump", false, "with -product: print the cloud's feed and receipts as JSON and exit")
	flag.Parse()
	if *product != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *dump {
			return dumpProduct(ctx, *product)
		}
		return runProduct(ctx, *product, *cloudBin, *patients)
	}
	if (*state == "") == !*usePG || *token == "" {
		return errors.New("-token and one of -state or -postgres are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var st store
	if *usePG {
		pg, err := startPostgres(ctx, *pgParent, *patients, *perPatient, func(f string, a ...any) { fmt.Printf(f+"\n", a...) })
		if err != nil {
			return err
		}
		defer pg.Close()
		st = pg.store
	} else {
		ms, err := memstore.Open(*state)
		if err != nil {
			return err
		}
		if err := seedMem(ctx, ms, *seed); err != nil {
			return err
		}
		st = ms
	}
	// The state-file mode polls faster for the kill test; -postgres keeps
	// the product's default.
	watch := 100 * time.Millisecond
	if *usePG {
		watch = 0
	}
	rpc, _ := api.Handler(api.Services{Authenticator: staticAuth{*token}, Sync: syncfeed.New(st, syncfeed.Options{WatchInterval: watch})},
		api.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	h := http.NewServeMux()
	h.Handle("/", rpc)
	h.Handle("POST /_syncdev/publish", publishHandler(st, *token))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: p, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("syncdev: listening on http://%s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// store is a feed store syncdev can also publish into.
type store interface {
	syncfeed.Store
	Publish(ctx context.Context, org tenancy.OrgID, kind syncfeed.Kind, id string, op syncfeed.Op, payload []byte) (int64, error)
}

func seedMem(ctx context.Context, st *memstore.Store, seed int) error {
	if n, _ := st.LatestSeq(ctx, Org); n != 0 || seed == 0 {
		return nil
	}
	// FHIR Patients, as ingest would publish them (synthetic).
	err := st.Update(ctx, Org, func(tx syncfeed.Tx) error {
		for i := range seed {
			id := fmt.Sprintf("p%d", i)
			payload := fmt.Appendf(nil, `{"resourceType":"Patient","id":%q,"gender":"female","birthDate":"1970-01-01","name":[{"given":["n%d"],"family":"Seed"}]}`, id, i)
			if _, err := tx.Put(syncfeed.KindPatient, id, syncfeed.OpUpsert, payload); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	return nil
}

// publishHandler commits one config record ("syncdev/<n>") and writes its
// seq: a cloud-side change for freshness measurements.
func publishHandler(st store, token string) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthenticated", http.StatusUnauthorized)
			return
		}
		i := n.Add(1)
		seq, err := st.Publish(r.Context(), Org, syncfeed.KindConfig, fmt.Sprintf("syncdev-%d", i), syncfeed.OpUpsert, fmt.Appendf(nil, `{"n":%d}`, i))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, seq)
	})
}
