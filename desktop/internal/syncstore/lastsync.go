package syncstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"healthprep.dev/desktop/internal/localstore"
	"healthprep.dev/desktop/internal/syncagent"
)

// LastSyncKey is the setting holding when the last sync succeeded (RFC
// 3339, UTC), sealed like every setting.
const LastSyncKey = "sync/last_success"

var _ syncagent.SyncRecorder = (*Store)(nil)

// RecordSync implements syncagent.SyncRecorder: the agent calls it once a
// sync pushed the whole outbox and applied every page it pulled, so a sync
// interrupted before that (a crash, a kill, a lost connection) is never
// recorded as a success, and the previous success time stays.
func (s *Store) RecordSync(ctx context.Context, at time.Time) error {
	v := []byte(at.UTC().Format(time.RFC3339Nano))
	if err := s.ls.Update(ctx, func(tx *localstore.Tx) error { return tx.PutSetting(LastSyncKey, v) }); err != nil {
		return fmt.Errorf("recording the last sync: %w", err)
	}
	return nil
}

// LastSync returns when the last sync succeeded on this workstation (kept
// across restarts), or the zero time when none has.
func (s *Store) LastSync(ctx context.Context) (time.Time, error) {
	raw, err := s.ls.Setting(ctx, LastSyncKey)
	if errors.Is(err, localstore.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the last sync time: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		return time.Time{}, fmt.Errorf("reading the last sync time: %w", err)
	}
	return at, nil
}
