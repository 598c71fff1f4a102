package docpipe

import (
	"errors"
	"fmt"
)

// Kind names why a document was rejected. Kinds are stable: the app shows
// them in the quarantine list and the queue stores them.
type Kind string

// The reasons a document is rejected.
const (
	KindEmpty             Kind = "empty"              // zero bytes
	KindTooLarge          Kind = "too-large"          // more bytes than Limits.MaxBytes
	KindUnknownFormat     Kind = "unknown-format"     // not PDF, TIFF, PNG or JPEG by content
	KindTruncated         Kind = "truncated"          // the file ends early
	KindCorrupt           Kind = "corrupt"            // structure unreadable
	KindPasswordProtected Kind = "password-protected" // a PDF that needs a password to open
	KindNoPages           Kind = "no-pages"           // a document with zero pages
	KindTooManyPages      Kind = "too-many-pages"     // more pages than Limits.MaxPages
	KindImageTooSmall     Kind = "image-too-small"    // a page smaller than Limits.MinSide
	KindImageTooLarge     Kind = "image-too-large"    // a page above Limits.MaxPixels
	KindTimeout           Kind = "timeout"            // over Config.DocumentTimeout
	KindFailed            Kind = "failed"             // failed Config.MaxAttempts times
)

// DocumentError says why one document cannot be processed. Its message is
// fixed text plus numbers: it never holds file names, paths or contents,
// so it can be logged, shown and synced. The pipeline quarantines documents
// that fail with one.
type DocumentError struct {
	Kind   Kind
	Format Format // when known
	Page   int    // the offending page (from 1), when one is
	Pages  int    // the document's page count, for KindTooManyPages
	Limit  int64  // the limit exceeded, for the too-… kinds
}

// Sentinels for errors.Is: a *DocumentError matches the sentinel of its Kind.
var (
	ErrEmpty             = &DocumentError{Kind: KindEmpty}
	ErrTooLarge          = &DocumentError{Kind: KindTooLarge}
	ErrUnknownFormat     = &DocumentError{Kind: KindUnknownFormat}
	ErrTruncated         = &DocumentError{Kind: KindTruncated}
	ErrCorrupt           = &DocumentError{Kind: KindCorrupt}
	ErrPasswordProtected = &DocumentError{Kind: KindPasswordProtected}
	ErrNoPages           = &DocumentError{Kind: KindNoPages}
	ErrTooManyPages      = &DocumentError{Kind: KindTooManyPages}
	ErrImageTooSmall     = &DocumentError{Kind: KindImageTooSmall}
	ErrImageTooLarge     = &DocumentError{Kind: KindImageTooLarge}
	ErrTimeout           = &DocumentError{Kind: KindTimeout}
)

// Is reports whether target is a *DocumentError of the same Kind.
func (e *DocumentError) Is(target error) bool {
	t, ok := target.(*DocumentError)
	return ok && t.Kind == e.Kind
}

func (e *DocumentError) Error() string {
	what := "document"
	if e.Format != "" {
		what = string(e.Format) + " document"
	}
	var msg string
	switch e.Kind {
	case KindEmpty:
		msg = "the file is empty (0 bytes)"
	case KindTooLarge:
		msg = fmt.Sprintf("the file is larger than the %d-byte limit", e.Limit)
	case KindUnknownFormat:
		msg = "the file is not a PDF, TIFF, PNG or JPEG (whatever its extension says)"
	case KindTruncated:
		msg = "the file is cut short (incomplete download or copy?)"
	case KindCorrupt:
		msg = "the file is damaged and cannot be read"
	case KindPasswordProtected:
		msg = "the PDF is password-protected; save an unprotected copy and import that"
	case KindNoPages:
		msg = "the file has no pages"
	case KindTooManyPages:
		msg = fmt.Sprintf("%d pages is more than the %d-page limit; split the file", e.Pages, e.Limit)
	case KindImageTooSmall:
		msg = fmt.Sprintf("the page image is smaller than %d pixels on a side", e.Limit)
	case KindImageTooLarge:
		msg = fmt.Sprintf("the page image has more than %d pixels", e.Limit)
	case KindTimeout:
		msg = "processing took longer than the time limit"
	case KindFailed:
		msg = fmt.Sprintf("processing failed %d times", e.Limit)
	default:
		msg = "the file cannot be processed"
	}
	if e.Page > 0 {
		return fmt.Sprintf("%s rejected: page %d: %s", what, e.Page, msg)
	}
	return fmt.Sprintf("%s rejected: %s", what, msg)
}

// Rejection returns the *DocumentError in err's chain, if any: the documents
// to quarantine rather than retry.
func Rejection(err error) (*DocumentError, bool) {
	var de *DocumentError
	if errors.As(err, &de) {
		return de, true
	}
	return nil, false
}

func reject(k Kind, f Format) *DocumentError { return &DocumentError{Kind: k, Format: f} }
