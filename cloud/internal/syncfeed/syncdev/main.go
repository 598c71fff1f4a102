// Command syncdev is a sync-only cloud for the real-process sync test and
// for development: the real API handler (RBAC and protocol-version
// interceptors, the SyncService handlers) and the real syncfeed.Feed over
// the in-memory store kept in a file (every commit synced to disk before
// it is acknowledged), one organisation and one static session token. It
// is not the product: healthprep-cloud serves sync from Postgres.
//
//	syncdev -addr 127.0.0.1:PORT -state FILE -token TOKEN [-seed-records N]
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
	state := flag.String("state", "", "state file (required)")
	token := flag.String("token", "", "the session token clients must send (required)")
	seed := flag.Int("seed-records", 0, "when the state is empty, publish this many records")
	flag.Parse()
	if *state == "" || *token == "" {
		return errors.New("-state and -token are required")
	}
	st, err := memstore.Open(*state)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if n, _ := st.LatestSeq(ctx, Org); n == 0 && *seed > 0 {
		// FHIR Patients, as ingest would publish them (synthetic).
		err := st.Update(ctx, Org, func(tx syncfeed.Tx) error {
			for i := range *seed {
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
	}
	h, _ := api.Handler(api.Services{Authenticator: staticAuth{*token}, Sync: syncfeed.New(st, syncfeed.Options{WatchInterval: 100 * time.Millisecond})},
		api.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
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
