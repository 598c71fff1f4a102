package audit

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"healthprep.dev/cloud/internal/tenancy"
)

// ActionPHIRead is the action of every PHI read.
const ActionPHIRead = "phi.read"

// PHIAccess describes one read of a patient's data. Every capability that
// returns PHI to a person (API, web page, desktop sync, print, export) must
// record it with RecordPHIAccess in the transaction that reads the data.
// Nothing here may carry PHI itself: the patient is named by an opaque
// reference, and details are short tokens under fixed keys.
type PHIAccess struct {
	At          time.Time // when; set to now when zero
	ActorUserID uuid.UUID // who: required
	ActorRole   string
	PatientRef  string // which patient: an opaque reference (no spaces), required
	Resource    string // what was read, e.g. "prep_sheet", "document", "observation": required
	ResourceID  string // which one, an opaque ID (optional)
	IP          string // from where: the client's IP address
	DeviceID    string // and/or the registered device; at least one of the two
	Outcome     Outcome
	Details     map[string]string // keys: channel, purpose, fields, count, request_id, view, client_version; values short tokens
}

// phiDetailKeys are the only details a PHI read may carry, with what each
// value means.
var phiDetailKeys = map[string]string{
	"channel":        "how the data left: api, web, desktop, sync, print, pdf, csv",
	"purpose":        "why, as a code: treatment, operations, support, audit",
	"fields":         "which field groups, comma-separated codes",
	"count":          "how many records were returned",
	"request_id":     "the request's correlation ID",
	"view":           "the screen or report, as a code",
	"client_version": "the desktop or web client version",
}

var (
	opaqueRefRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`)
	resourceRe   = regexp.MustCompile(`^[a-z][a-z0-9_]{1,63}$`)
	detailTokens = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:,/-]{0,127}$`)
)

// RecordPHIAccess appends a phi.read entry for a to org's chain in tx (see
// Append). It rejects, with an error wrapping ErrInvalid that names the
// field but never echoes its value, anything that could smuggle free text
// into the log.
func RecordPHIAccess(ctx context.Context, tx pgx.Tx, org tenancy.OrgID, a PHIAccess) (Entry, error) {
	if err := a.validate(); err != nil {
		return Entry{}, fmt.Errorf("audit: recording PHI access: %w", err)
	}
	if a.Outcome == "" {
		a.Outcome = Success
	}
	return Append(ctx, tx, org, Event{
		At:          a.At,
		ActorUserID: a.ActorUserID,
		ActorRole:   a.ActorRole,
		Action:      ActionPHIRead,
		Outcome:     a.Outcome,
		TargetType:  a.Resource,
		TargetID:    a.ResourceID,
		PatientRef:  a.PatientRef,
		IP:          a.IP,
		DeviceID:    a.DeviceID,
		Details:     a.Details,
	})
}

func (a *PHIAccess) validate() error {
	if a.ActorUserID == (uuid.UUID{}) {
		return invalid("a PHI read needs the user who read")
	}
	if !opaqueRefRe.MatchString(a.PatientRef) {
		return invalid("patient ref must be an opaque reference of 1–128 letters, digits and . _ : / -")
	}
	if !resourceRe.MatchString(a.Resource) {
		return invalid("resource must be a code of 2–64 characters of a-z, 0-9 and '_'")
	}
	if a.ResourceID != "" && !opaqueRefRe.MatchString(a.ResourceID) {
		return invalid("resource id must be an opaque reference of 1–128 letters, digits and . _ : / -")
	}
	if a.IP == "" && a.DeviceID == "" {
		return invalid("a PHI read needs the IP address or the device it came from")
	}
	if a.IP != "" {
		if _, err := netip.ParseAddr(a.IP); err != nil {
			return invalid("ip must be an IPv4 or IPv6 address without a port")
		}
	}
	if a.DeviceID != "" && !opaqueRefRe.MatchString(a.DeviceID) {
		return invalid("device id must be an opaque reference of 1–128 letters, digits and . _ : / -")
	}
	switch a.Outcome {
	case "", Success, Failure:
	default:
		return invalid("a PHI read's outcome is success or failure")
	}
	for k, v := range a.Details {
		if _, ok := phiDetailKeys[k]; !ok {
			return invalid("details key is not one of the PHI read keys (channel, purpose, fields, count, request_id, view, client_version)")
		}
		if !detailTokens.MatchString(v) {
			return invalid("details value of %s must be a token of 1–128 letters, digits and . _ : , / -", k)
		}
	}
	return nil
}
