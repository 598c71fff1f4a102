// Package publish keeps every organisation's configuration (time zone,
// desktop idle time, prep-sheet lookbacks) and its effective screening
// library (the shared default with the organisation's screening settings
// applied) in its sync feed, where workstations pick them up with the rest
// of the organisation's data.
//
// The worker role runs a Publisher: it checks the organisations' rows every
// second and publishes an organisation as soon as its row changed (a
// settings change through the API, from any replica), and every minute it
// publishes them all (a new default library after a deploy, an org that
// was missed). syncfeed.Publish writes only what differs from the feed, so
// a sweep over unchanged organisations moves no cursor.
package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/org"
	"healthprep.dev/cloud/internal/screeningcfg"
	"healthprep.dev/cloud/internal/syncfeed"
	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/screening"
)

// Orgs lists organisations with their settings (org.Store).
type Orgs interface {
	List(ctx context.Context, status org.Status, page org.Page) ([]org.Org, string, error)
}

// Options tune a Publisher.
type Options struct {
	// Every is how often every organisation is published (default 60 s).
	Every time.Duration
	// Check is how often the organisations' rows are read for changes
	// (default 1 s).
	Check time.Duration
	// DB, when set, is read for the organisation's revoked users (status
	// deactivated, or whose newest session an admin revoked), published
	// with the configuration as the config record "revoked_users":
	// workstations destroy those users' password-wrapped keys at their
	// next sync. Nil publishes no list.
	DB *tenancy.DB
	// Screenings, when set, holds the organisations' screening settings
	// (screeningcfg.Store): each organisation's feed gets the default
	// library with its changes. Nil publishes the default library.
	Screenings Screenings
	Logger     *slog.Logger
}

// Screenings reads organisations' screening settings (screeningcfg.Store).
type Screenings interface {
	// Versions returns the settings version of every organisation that
	// saved some.
	Versions(ctx context.Context) (map[tenancy.OrgID]int64, error)
	Get(ctx context.Context, org tenancy.OrgID) (screeningcfg.Settings, error)
}

// stamp is what an organisation looked like when last published.
type stamp struct {
	updated   time.Time
	screening int64
}

// Publisher publishes organisations' configuration into their feeds.
type Publisher struct {
	orgs  Orgs
	store syncfeed.Store
	opt   Options
	lib   screening.Library
	// seen is each organisation's updated_at and screening settings
	// version when last published.
	seen map[tenancy.OrgID]stamp
}

// New returns a Publisher writing into store.
func New(orgs Orgs, store syncfeed.Store, opt Options) (*Publisher, error) {
	if opt.Every <= 0 {
		opt.Every = time.Minute
	}
	if opt.Check <= 0 {
		opt.Check = time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	// The shared default preset, for organisations without changes.
	lib, err := syncfeed.Library(nil)
	if err != nil {
		return nil, err
	}
	return &Publisher{orgs: orgs, store: store, opt: opt, lib: lib, seen: map[tenancy.OrgID]stamp{}}, nil
}

// Config is the feed's configuration record for an organisation's settings.
func Config(s org.Settings) syncfeed.OrgConfig {
	return syncfeed.OrgConfig{
		Timezone:           s.Timezone,
		DesktopIdleMinutes: s.DesktopIdleMinutes,
		Lookback: prepsheet.Lookback{
			LabsMonths: s.Lookback.Labs, ImagingMonths: s.Lookback.Imaging, ConsultsMonths: s.Lookback.Consults,
			HospitalMonths: s.Lookback.Hospital, DocumentsMonths: s.Lookback.Documents,
		},
	}
}

// Sweep publishes every organisation whose row changed since the last
// sweep published it, or all of them when all is set. It returns how many
// records it wrote. One organisation's failure does not stop the others;
// the errors are joined.
func (p *Publisher) Sweep(ctx context.Context, all bool) (int, error) {
	written := 0
	var errs []error
	versions := map[tenancy.OrgID]int64{}
	if p.opt.Screenings != nil {
		v, err := p.opt.Screenings.Versions(ctx)
		if err != nil {
			return 0, fmt.Errorf("publishing configuration: %w", err)
		}
		versions = v
	}
	page := org.Page{Size: 500}
	for {
		orgs, next, err := p.orgs.List(ctx, "", page)
		if err != nil {
			return written, fmt.Errorf("publishing configuration: %w", err)
		}
		for _, o := range orgs {
			if o.IsPlatform {
				continue
			}
			now := stamp{updated: o.UpdatedAt, screening: versions[o.ID]}
			if last, ok := p.seen[o.ID]; ok && !all && last.updated.Equal(now.updated) && last.screening == now.screening {
				continue
			}
			lib, version, err := p.library(ctx, o.ID, now.screening)
			if err != nil {
				errs = append(errs, fmt.Errorf("organisation %s: %w", o.ID, err))
				continue
			}
			now.screening = version
			n, err := syncfeed.Publish(ctx, p.store, o.ID, Config(o.Settings), lib)
			if err != nil {
				errs = append(errs, fmt.Errorf("organisation %s: %w", o.ID, err))
				continue
			}
			if p.opt.DB != nil {
				m, err := p.publishRevoked(ctx, o.ID)
				if err != nil {
					errs = append(errs, fmt.Errorf("organisation %s: %w", o.ID, err))
					continue
				}
				n += m
			}
			p.seen[o.ID] = now
			written += n
		}
		if next == "" {
			return written, errors.Join(errs...)
		}
		page.After = next
	}
}

// library returns the organisation's effective screening library and the
// settings version it reflects.
func (p *Publisher) library(ctx context.Context, id tenancy.OrgID, version int64) (screening.Library, int64, error) {
	if p.opt.Screenings == nil || version == 0 {
		return p.lib, 0, nil
	}
	s, err := p.opt.Screenings.Get(ctx, id)
	if err != nil {
		return screening.Library{}, 0, err
	}
	if s.Version == 0 {
		return p.lib, 0, nil
	}
	lib, err := syncfeed.Library(&s.Org)
	if err != nil {
		return screening.Library{}, 0, fmt.Errorf("applying the screening settings (version %d): %w", s.Version, err)
	}
	return lib, s.Version, nil
}

// publishRevoked publishes the organisation's revoked users.
func (p *Publisher) publishRevoked(ctx context.Context, id tenancy.OrgID) (int, error) {
	ids, err := RevokedUsers(ctx, p.opt.DB, id)
	if err != nil {
		return 0, err
	}
	return syncfeed.PublishRevokedUsers(ctx, p.store, id, ids)
}

// RevokedUsers lists the ids of the organisation's users who must lose
// offline access on its workstations: deactivated users, and users whose
// newest session was revoked by an admin (revoking all of a user's
// sessions; signing in online again takes them off the list).
func RevokedUsers(ctx context.Context, db *tenancy.DB, id tenancy.OrgID) ([]string, error) {
	var ids []string
	err := db.WithOrg(ctx, id, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT u.id::text FROM users u
			WHERE u.status = 'deactivated'
			   OR (SELECT s.revoke_reason FROM sessions s WHERE s.user_id = u.id
			       ORDER BY s.created_at DESC, s.id DESC LIMIT 1) = 'revoked_by_admin'
			ORDER BY u.id`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing revoked users: %w", err)
	}
	return ids, nil
}

// Run publishes every organisation at once and every Every, and a changed
// organisation within Check, until ctx ends. Errors are logged (never
// settings or PHI: organisation ids only) and retried on the next tick.
func (p *Publisher) Run(ctx context.Context) error {
	check := time.NewTicker(p.opt.Check)
	defer check.Stop()
	lastAll := time.Time{}
	for {
		all := time.Since(lastAll) >= p.opt.Every
		n, err := p.Sweep(ctx, all)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			p.opt.Logger.Warn("publishing configuration", "err", err)
		} else if all {
			lastAll = time.Now()
		}
		if n > 0 {
			p.opt.Logger.Info("published configuration", "records", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-check.C:
		}
	}
}
