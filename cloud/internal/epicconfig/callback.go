package epicconfig

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/envelope"
	"healthprep.dev/cloud/internal/epic"
	"healthprep.dev/cloud/internal/tenancy"
)

// ErrBadCallback is a callback that must not be honoured: unknown,
// expired or already used state.
var ErrBadCallback = errors.New("this Epic authorization link is unknown, expired or already used")

var page = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>HealthPrep · Epic</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>{{.Title}}</h1><p>{{.Text}}</p><p>You can close this window and return to HealthPrep.</p></body></html>`))

// Callback is the OAuth redirect handler (GET CallbackPath): it finds the
// started authorization by its state (single use), exchanges the code with
// the PKCE verifier, stores the tokens sealed, and audits the outcome. It
// answers a small page in words; nothing secret is echoed.
func (s *Service) Callback() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.Method != http.MethodGet {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		status, title, text := http.StatusOK, "Connected to Epic", "HealthPrep can now read your schedule; the first sync starts shortly."
		if err := s.complete(r.Context(), r); err != nil {
			status, title = http.StatusBadRequest, "Not connected to Epic"
			switch {
			case errors.Is(err, ErrBadCallback):
				text = ErrBadCallback.Error() + ". Start again from HealthPrep's Epic settings."
			case errors.Is(err, epic.ErrDenied):
				text = "Epic did not grant access. Start again from HealthPrep's Epic settings."
			default:
				status, text = http.StatusBadGateway, "Epic did not complete the connection: "+err.Error()
			}
		}
		w.WriteHeader(status)
		_ = page.Execute(w, struct{ Title, Text string }{title, text})
	})
}

func (s *Service) complete(ctx context.Context, r *http.Request) error {
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 512 {
		return ErrBadCallback
	}
	// The org is not known yet: find the authorization by its state hash
	// (platform scope, the one lookup allowed before the org is known) and
	// use it up in the same transaction, so a replayed callback finds it used.
	var org tenancy.OrgID
	var id, startedBy uuid.UUID
	var verifierEnc []byte
	var startedByNull *uuid.UUID
	now := s.opt.Now()
	err := s.db.WithPlatform(ctx, func(tx pgx.Tx) error {
		var expires time.Time
		var used *time.Time
		err := tx.QueryRow(ctx, `SELECT org_id, id, verifier_enc, started_by, expires_at, used_at FROM epic_oauth_states
			WHERE state_hash = $1 FOR UPDATE`, stateHash(state)).Scan(&org, &id, &verifierEnc, &startedByNull, &expires, &used)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrBadCallback
		}
		if err != nil {
			return fmt.Errorf("finding the authorization: %w", err)
		}
		if used != nil || now.After(expires) {
			return ErrBadCallback
		}
		_, err = tx.Exec(ctx, `UPDATE epic_oauth_states SET used_at = $2 WHERE state_hash = $1`, stateHash(state), now)
		return err
	})
	if err != nil {
		return err
	}
	if startedByNull != nil {
		startedBy = *startedByNull
	}
	cr, err := s.Credentials(ctx, org)
	if err != nil && !errors.Is(err, ErrNotConfigured) {
		return err
	}
	result := func(outcome audit.Outcome, failure error) error {
		return s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
			ev := audit.Event{ActorUserID: startedBy, Action: "epic.connect", Outcome: outcome,
				TargetType: "epic_connection", TargetID: org.String(), IP: clientIP(r)}
			if failure != nil {
				ev.Details = map[string]string{"error": truncate(failure.Error(), 900)}
				if err := setError(ctx, tx, org, now, "connecting to Epic failed: "+failure.Error()); err != nil {
					return err
				}
			}
			_, err := audit.Append(ctx, tx, org, ev)
			return err
		})
	}
	var verifier []byte
	err = s.db.WithOrg(ctx, org, func(tx pgx.Tx) error {
		key, err := s.keys.ForOrg(ctx, tx, org)
		if err != nil {
			return err
		}
		verifier, err = key.Open(envelope.Field{Table: "epic_oauth_states", Column: "verifier_enc", RowID: id.String()}, verifierEnc)
		return err
	})
	if err != nil {
		return err
	}
	grant, exErr := s.authCode(cr.Config, cr.ClientSecret).Exchange(ctx, epic.Authorization{State: state, Verifier: string(verifier)}, q)
	if exErr != nil {
		if err := result(audit.Failure, exErr); err != nil {
			return err
		}
		return exErr
	}
	if err := s.SaveToken(ctx, org, grant.Token, true); err != nil {
		return err
	}
	return result(audit.Success, nil)
}

func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	for i := len(host) - 1; i >= 0; i-- {
		if host[i] == ':' {
			host = host[:i]
			break
		}
	}
	if len(host) > 2 && host[0] == '[' {
		host = host[1 : len(host)-1]
	}
	return host
}
