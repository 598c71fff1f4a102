package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"connectrpc.com/connect"

	"healthprep.dev/cloud/internal/audit"
	"healthprep.dev/cloud/internal/org"
)

// Domain sentinel errors the other domain services return (wrapped or not)
// and that the API maps to codes. Implementations of Auth, Users and
// AuditLog use these, or their own errors implementing PublicError.
var (
	ErrNotFound         = errors.New("not found")
	ErrAlreadyExists    = errors.New("already exists")
	ErrPermissionDenied = errors.New("not allowed")
	ErrFailedPrecond    = errors.New("not possible in the current state")
	ErrRateLimited      = errors.New("too many attempts")
)

// ErrOrgSuspended is what an Authenticator or a sign-in returns (wrapped or
// not) for valid credentials of an organisation that is suspended. The API
// answers with suspendedError: nothing is revoked, and the same
// credentials work again once the organisation is reinstated.
var ErrOrgSuspended = errors.New("organisation suspended")

// Suspension metadata: SuspendedHeader is "organization" on every refusal
// because the caller's organisation is suspended, so that a client can say
// "account suspended" rather than "signed out", "offline" or "revoked"
// (and must not crypto-shred anything).
const (
	SuspendedHeader = "Healthprep-Suspended"
	msgSuspended    = "this organisation's HealthPrep account is suspended: contact your administrator or HealthPrep support"
)

// suspendedError is the refusal for a suspended organisation:
// PermissionDenied (the credentials are valid, so not Unauthenticated: a
// client keeps its token and its cache) with SuspendedHeader.
func suspendedError() *connect.Error {
	e := connect.NewError(connect.CodePermissionDenied, errors.New(msgSuspended))
	e.Meta().Set(SuspendedHeader, "organization")
	return e
}

// PublicError is a domain error whose message is written for the person
// who made the request and is safe to send (no secrets, no PHI).
type PublicError interface {
	error
	PublicMessage() string
}

// InvalidInput is a validation error of an input field, safe to send.
type InvalidInput struct{ Field, Problem string }

func (e *InvalidInput) Error() string { return e.Field + ": " + e.Problem }

// errorMapper turns domain errors into Connect errors. It is the only place
// where codes are chosen for domain errors. Whatever it does not recognise
// becomes Internal with a reference number, and the detail goes to the log
// only.
type errorMapper struct{ log *slog.Logger }

type mapping struct {
	sentinel error
	code     connect.Code
	message  string
}

var mappings = []mapping{
	{org.ErrNotFound, connect.CodeNotFound, "no such organisation"},
	{org.ErrSlugTaken, connect.CodeAlreadyExists, "slug: another organisation already uses it"},
	{ErrNotFound, connect.CodeNotFound, "not found"},
	{ErrAlreadyExists, connect.CodeAlreadyExists, "already exists"},
	{ErrPermissionDenied, connect.CodePermissionDenied, msgNotAllowed},
	{ErrFailedPrecond, connect.CodeFailedPrecondition, "not possible in the current state"},
	{ErrRateLimited, connect.CodeResourceExhausted, "too many attempts; wait and try again"},
	{ErrSessionInvalid, connect.CodeUnauthenticated, msgSignIn},
}

func (m errorMapper) wire(ctx context.Context, procedure string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	if errors.Is(err, ErrOrgSuspended) {
		return suspendedError()
	}
	if ie := identityWire(err); ie != nil {
		return ie
	}
	if errors.Is(err, audit.ErrInvalid) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(afterMarker(err, audit.ErrInvalid.Error()+": ")))
	}
	var ve *org.ValidationError
	if errors.As(err, &ve) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(ve.Error()))
	}
	var ii *InvalidInput
	if errors.As(err, &ii) {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(ii.Error()))
	}
	if errors.Is(err, org.ErrTransition) {
		// The wrapped message names only statuses.
		return connect.NewError(connect.CodeFailedPrecondition, errors.New(transitionMessage(err)))
	}
	var pe PublicError
	if errors.As(err, &pe) {
		code := connect.CodeFailedPrecondition
		for _, mp := range mappings {
			if errors.Is(err, mp.sentinel) {
				code = mp.code
				break
			}
		}
		return connect.NewError(code, errors.New(pe.PublicMessage()))
	}
	for _, mp := range mappings {
		if errors.Is(err, mp.sentinel) {
			return connect.NewError(mp.code, errors.New(mp.message))
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the request was cancelled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request took too long"))
	}
	ref := newRef()
	m.log.ErrorContext(ctx, "internal error", "procedure", procedure, "ref", ref, "err", err)
	return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error (reference %s)", ref))
}

// transitionMessage keeps the part of an org.ErrTransition from the
// sentinel on ("status change not allowed: from live to trial").
func transitionMessage(err error) string {
	s := err.Error()
	const marker = "status change not allowed"
	if i := strings.Index(s, marker); i >= 0 {
		return s[i:]
	}
	return marker
}

// afterMarker keeps what follows marker in err's message (the part a
// domain package wrote for people), or a generic text.
func afterMarker(err error, marker string) string {
	s := err.Error()
	if i := strings.Index(s, marker); i >= 0 {
		return s[i+len(marker):]
	}
	return "the request is not valid"
}

func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
