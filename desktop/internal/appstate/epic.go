package appstate

import (
	"context"
	"net"
	"net/url"
	"strings"
	"time"
)

// EpicRegistration is what an admin registers with Epic for HealthPrep.
type EpicRegistration struct {
	AppName        string
	RedirectURI    string
	JWKSURL        string
	NonprodJWKSURL string
	Scopes         []string
	LaunchTypes    []string
}

// EpicConfig is the organisation's Epic configuration as shown to admins;
// the client secret is write-only (SecretSet says whether one is stored).
type EpicConfig struct {
	ClientID    string
	SecretSet   bool
	FHIRBaseURL string
	Sandbox     bool
	// Backend is SMART Backend Services (signed assertion); otherwise an
	// admin approves in a browser (authorization code).
	Backend bool
	Scopes  []string
	Updated time.Time
}

// EpicForm is the credentials form as typed.
type EpicForm struct {
	ClientID string
	// ClientSecret: "" keeps the stored one.
	ClientSecret string
	FHIRBaseURL  string
	Sandbox      bool
	Backend      bool
}

// Validate checks the form: a client ID, and a FHIR base URL over https
// (http only for a sandbox on this computer).
func (f EpicForm) Validate() (EpicForm, error) {
	c := collect{}
	f.ClientID = strings.TrimSpace(f.ClientID)
	f.FHIRBaseURL = strings.TrimSpace(f.FHIRBaseURL)
	f.ClientSecret = strings.TrimSpace(f.ClientSecret)
	if f.ClientID == "" {
		c.add("client_id", "Enter the client ID Epic gave HealthPrep.")
	}
	u, err := url.Parse(f.FHIRBaseURL)
	switch {
	case f.FHIRBaseURL == "":
		c.add("fhir_base_url", "Enter the FHIR base URL (it ends in /api/FHIR/R4).")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		c.add("fhir_base_url", "Enter a full URL starting with https://.")
	case u.Scheme == "http" && !(f.Sandbox && loopback(u.Hostname())):
		c.add("fhir_base_url", "Use https: plain http is only allowed for a sandbox on this computer.")
	}
	return f, c.err()
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EpicStatus is the connection's state, for the Epic screen and the
// first-run checklist.
type EpicStatus struct {
	Configured   bool
	Connected    bool
	ConnectedAt  time.Time
	TokenExpires time.Time
	LastSync     time.Time
	LastError    string // in words, never PHI
	LastErrorAt  time.Time
	Patients     int64
	Appointments int64
	Quarantined  int64
	// Problems are write-back failures in words.
	Problems []string
}

// Text is the status in one sentence.
func (s EpicStatus) Text(now time.Time) string {
	switch {
	case !s.Configured:
		return "Not configured: fill in the credentials below, then connect."
	case !s.Connected:
		return "Configured, not connected: press Connect to Epic."
	case s.LastSync.IsZero():
		return "Connected " + Ago(s.ConnectedAt, now) + "; the first sync has not run yet."
	}
	return "Connected; last sync " + Ago(s.LastSync, now) + "."
}

// EpicAdmin is the organisation's Epic connection.
type EpicAdmin interface {
	EpicRegistration(ctx context.Context) (EpicRegistration, error)
	EpicConfig(ctx context.Context) (EpicConfig, error)
	// UpdateEpicConfig stores a validated form.
	UpdateEpicConfig(ctx context.Context, f EpicForm) (EpicConfig, error)
	// ConnectEpic starts the connection: the URL to open in the system
	// browser, or connected when it was made at once (backend services).
	ConnectEpic(ctx context.Context) (authorizeURL string, connected bool, err error)
	EpicStatus(ctx context.Context) (EpicStatus, error)
}

// The first-run checklist's steps.
const (
	StepEpic     = "epic"
	StepPresets  = "presets"
	StepInvite   = "invite"
	StepFirstRun = "first_sync"
)

// ChecklistStep is one step of a new organisation's setup.
type ChecklistStep struct {
	ID      string
	Title   string
	Detail  string
	Done    bool
	Skipped bool
}

// State is how the checklist shows the step: "Done", "Skipped" or "To do".
func (s ChecklistStep) State() string {
	switch {
	case s.Done:
		return "Done"
	case s.Skipped:
		return "Skipped"
	}
	return "To do"
}

// ChecklistFacts are what the checklist is computed from.
type ChecklistFacts struct {
	Epic            EpicStatus
	PresetsReviewed bool
	// People counts users and pending invites other than the admin.
	People  int
	Skipped map[string]bool
}

// Checklist returns the setup steps of a new organisation in order, each
// done or to do (a step can be skipped, and done later).
func Checklist(f ChecklistFacts) []ChecklistStep {
	steps := []ChecklistStep{
		{ID: StepEpic, Title: "Connect Epic", Detail: "Register HealthPrep with Epic, enter the credentials and connect.", Done: f.Epic.Connected},
		{ID: StepPresets, Title: "Review screening presets", Detail: "Check which screenings your clinic uses and their intervals.", Done: f.PresetsReviewed},
		{ID: StepInvite, Title: "Invite staff", Detail: "Invite the nurses, medical assistants and other admins.", Done: f.People > 0},
		{ID: StepFirstRun, Title: "Run the first sync", Detail: "Bring in the schedule and charts from Epic.", Done: !f.Epic.LastSync.IsZero()},
	}
	for i := range steps {
		steps[i].Skipped = !steps[i].Done && f.Skipped[steps[i].ID]
	}
	return steps
}

// ChecklistOpen reports whether the checklist still has a step to do
// (neither done nor skipped): the admin screens open on it then.
func ChecklistOpen(steps []ChecklistStep) bool {
	for _, s := range steps {
		if !s.Done && !s.Skipped {
			return true
		}
	}
	return false
}
