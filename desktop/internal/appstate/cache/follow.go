package cache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/desktop/internal/syncstore"
)

// ClinicOf is the window's view of the synced settings.
func ClinicOf(c syncstore.Clinic) appstate.Clinic {
	return appstate.Clinic{
		Location: c.Location,
		IdleLock: time.Duration(c.IdleMinutes) * time.Minute,
		Lookback: c.Lookback,
		Engine:   c.Engine,
	}
}

// Follow keeps the window on the organisation's settings while it runs:
// after each page the sync agent applies to ss that changed them, it reads
// them again (on the agent's goroutine, never the window's) and hands them
// to each follower (the cache sources) and then to session, whose
// subscribers (the window, through fyne.Do) refresh the idle lock, today's
// date, the times shown and the open schedule. Settings that cannot be
// read (a time zone this machine does not know, a library that does not
// compile) keep the current ones and go to onErr (nil: dropped); their
// text carries no PHI.
func Follow(ctx context.Context, ss *syncstore.Store, session *appstate.Session, onErr func(error), followers ...appstate.ClinicFollower) {
	ss.OnClinicChange(func() {
		c, err := ss.Clinic(ctx)
		if err == nil && c.Warning != "" {
			// The zone is only unknown here: the current one is a better
			// guess than UTC for a window already open.
			err = errors.New(c.Warning)
		}
		if err != nil {
			if onErr != nil {
				onErr(fmt.Errorf("following the organisation's new settings (keeping the current ones): %w", err))
			}
			return
		}
		ac := ClinicOf(c)
		for _, f := range followers {
			f.SetClinic(ac)
		}
		session.SetClinic(ac)
	})
}
