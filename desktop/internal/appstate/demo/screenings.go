package demo

import (
	"context"
	"fmt"
	"sync"

	"healthprep.dev/desktop/internal/appstate"
	"healthprep.dev/shared/preset"
)

// Screenings keeps an organisation's screening settings in memory over
// the built-in library (the cloud has no API for them yet). It is safe
// for concurrent use.
type Screenings struct {
	mu    sync.Mutex
	cfg   appstate.ScreeningConfig
	saves int
}

// NewScreenings starts from the built-in library with no changes.
func NewScreenings() (*Screenings, error) {
	lib, err := preset.Default()
	if err != nil {
		return nil, fmt.Errorf("loading screening library: %w", err)
	}
	return &Screenings{cfg: appstate.ScreeningConfig{Base: lib}}, nil
}

// ScreeningConfig implements appstate.ScreeningSettings.
func (s *Screenings) ScreeningConfig(context.Context) (appstate.ScreeningConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg, nil
}

// SaveScreeningSettings implements appstate.ScreeningSettings; it refuses
// settings the shared rules refuse.
func (s *Screenings) SaveScreeningSettings(_ context.Context, org preset.OrgSettings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := appstate.ScreeningConfig{Base: s.cfg.Base, Org: org}
	if _, err := c.Effective(); err != nil {
		return &appstate.RefusedError{Message: err.Error()}
	}
	s.cfg = c
	s.saves++
	return nil
}

// Saved returns the saved settings and how many saves there were.
func (s *Screenings) Saved() (preset.OrgSettings, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.Org, s.saves
}
