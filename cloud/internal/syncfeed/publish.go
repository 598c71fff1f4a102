package syncfeed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"healthprep.dev/cloud/internal/tenancy"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/preset"
	"healthprep.dev/shared/screening"
)

// Record ids of what Publish writes (the desktop's syncstore reads them).
const (
	// OrgConfigID is the config record of the organisation's settings.
	OrgConfigID = "org"
	// LibraryID is the screening_type record holding the organisation's
	// effective screening library.
	LibraryID = "library"
)

// OrgConfig is the payload of the config record "org": the settings a
// workstation needs to make prep sheets offline.
type OrgConfig struct {
	Timezone           string             `json:"timezone"`
	DesktopIdleMinutes int                `json:"desktop_idle_minutes"`
	Lookback           prepsheet.Lookback `json:"lookback"`
}

// Library returns the organisation's effective screening library: the
// shared default preset with the organisation's changes (none: the
// default as is).
func Library(changes *preset.OrgSettings) (screening.Library, error) {
	lib, err := preset.Default()
	if err != nil {
		return lib, fmt.Errorf("loading the default screening library: %w", err)
	}
	if changes == nil {
		return lib, nil
	}
	return preset.Apply(lib, *changes)
}

// Publish puts the organisation's configuration and screening library
// into its feed, each only when it differs from what the feed holds (so
// republishing unchanged settings moves no cursor). It returns how many
// records it wrote.
func Publish(ctx context.Context, store Store, org tenancy.OrgID, cfg OrgConfig, lib screening.Library) (int, error) {
	c, err := json.Marshal(cfg)
	if err != nil {
		return 0, fmt.Errorf("publishing configuration: %w", err)
	}
	l, err := preset.Export(lib)
	if err != nil {
		return 0, fmt.Errorf("publishing the screening library: %w", err)
	}
	n := 0
	err = store.Update(ctx, org, func(tx Tx) error {
		n = 0
		for _, r := range []struct {
			kind    Kind
			id      string
			payload []byte
		}{{KindConfig, OrgConfigID, c}, {KindScreeningType, LibraryID, l}} {
			cur, ok, err := tx.Record(r.kind, r.id)
			if err != nil {
				return err
			}
			if ok && cur.Op == OpUpsert && bytes.Equal(cur.Payload, r.payload) {
				continue
			}
			if _, err := tx.Put(r.kind, r.id, OpUpsert, r.payload); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("publishing configuration: %w", err)
	}
	return n, nil
}

// RevokedUsersID is the config record listing the organisation's users who
// lost offline access (deactivated, or every session revoked by an admin):
// a workstation destroys their password-wrapped keys when it applies it.
const RevokedUsersID = "revoked_users"

// RevokedUsers is the payload of the config record "revoked_users".
type RevokedUsers struct {
	UserIDs []string `json:"user_ids"`
}

// PublishRevokedUsers puts the organisation's revoked user ids into its
// feed when they differ from what the feed holds. An empty list is written
// only over an earlier non-empty one (a reactivated user), so organisations
// that never revoked anyone carry no such record. It returns how many
// records it wrote (0 or 1).
func PublishRevokedUsers(ctx context.Context, store Store, org tenancy.OrgID, userIDs []string) (int, error) {
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if ids == nil {
		ids = []string{}
	}
	b, err := json.Marshal(RevokedUsers{UserIDs: ids})
	if err != nil {
		return 0, fmt.Errorf("publishing revoked users: %w", err)
	}
	n := 0
	err = store.Update(ctx, org, func(tx Tx) error {
		n = 0
		cur, ok, err := tx.Record(KindConfig, RevokedUsersID)
		if err != nil {
			return err
		}
		if (ok && cur.Op == OpUpsert && bytes.Equal(cur.Payload, b)) || (!ok && len(ids) == 0) {
			return nil
		}
		if _, err := tx.Put(KindConfig, RevokedUsersID, OpUpsert, b); err != nil {
			return err
		}
		n = 1
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("publishing revoked users: %w", err)
	}
	return n, nil
}
