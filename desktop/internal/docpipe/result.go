package docpipe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"healthprep.dev/shared/doctype"
	"healthprep.dev/shared/phi"
)

// PipelineVersion names the extraction, redaction and classification code
// that produced a DocumentResult. Results are immutable per document,
// content and version: change this when a change to any of them should
// produce new results for documents already processed.
const PipelineVersion = "docpipe-2026.11.1"

// Analyzer is the last step of the pipeline: it classifies a redacted
// document and finds its screening evidence. Both fields are required.
type Analyzer struct {
	Classifier *doctype.Classifier
	Evidence   *doctype.Finder
}

// DocumentResult is what the workstation shares about one processed
// document: the redacted text, its type and date of service, and the
// screening evidence it holds. It is immutable and keyed by document ID,
// the SHA-256 of the original bytes and PipelineVersion — the shape of the
// sync outbox's document results, which the cloud stores first-wins per
// key. It holds nothing unredacted: the only text is a phi.Redacted.
type DocumentResult struct {
	documentID, contentSHA256, version string
	redacted                           phi.Redacted
	pages                              int
	review                             []int
	class                              doctype.Classification
	evidence                           []doctype.Evidence
}

// Analyze builds the result for one document: documentID names it (it
// must hold no PHI: a job ID or a random ID, never a file name), content
// is the original file, ex and red what extraction and redaction made of
// it.
func (a Analyzer) Analyze(documentID string, content []byte, ex Extraction, red phi.Result) DocumentResult {
	sum := sha256.Sum256(content)
	cl := a.Classifier.Classify(red.Redacted, red.ServiceDates)
	return DocumentResult{
		documentID: documentID, contentSHA256: hex.EncodeToString(sum[:]), version: PipelineVersion,
		redacted: red.Redacted, pages: len(ex.Pages), review: ex.Review(), class: cl,
		evidence: a.Evidence.Find(documentID, red.Redacted, cl.ServiceDate),
	}
}

// Key returns what identifies the result: document ID, SHA-256 of the
// content (64 lowercase hex digits) and pipeline version.
func (r DocumentResult) Key() (documentID, contentSHA256, pipelineVersion string) {
	return r.documentID, r.contentSHA256, r.version
}

// Redacted is the document's redacted text, pages separated by form feeds.
func (r DocumentResult) Redacted() phi.Redacted { return r.redacted }

// Classification is the document's type and date of service.
func (r DocumentResult) Classification() doctype.Classification { return r.class }

// Evidence returns the screening evidence found (a copy).
func (r DocumentResult) Evidence() []doctype.Evidence { return slices.Clone(r.evidence) }

// Pages is the document's page count; ReviewPages the pages (from 1)
// flagged for a person to check.
func (r DocumentResult) Pages() int { return r.pages }

// ReviewPages returns the pages flagged for review (a copy).
func (r DocumentResult) ReviewPages() []int { return slices.Clone(r.review) }

// MaxPayload is the largest outbox payload the cloud accepts (1 MiB).
const MaxPayload = 1 << 20

// TruncatedNote is the result's note when its redacted text was cut to fit
// MaxPayload.
const TruncatedNote = "redacted text cut to fit the 1 MiB sync limit; the full redacted text stays on the workstation"

// documentResultJSON is the payload's shape. The text is a phi.Redacted:
// no string can be put there.
type documentResultJSON struct {
	DocumentID      string                 `json:"document_id"`
	ContentSHA256   string                 `json:"content_sha256"`
	PipelineVersion string                 `json:"pipeline_version"`
	Pages           int                    `json:"pages"`
	ReviewPages     []int                  `json:"review_pages"`
	Classification  doctype.Classification `json:"classification"`
	Evidence        []doctype.Evidence     `json:"evidence"`
	RedactedText    phi.Redacted           `json:"redacted_text"`
	// TextTruncated, TextBytes and Note say the text was cut to fit.
	TextTruncated bool   `json:"redacted_text_truncated,omitempty"`
	TextBytes     int    `json:"redacted_text_bytes,omitempty"`
	Note          string `json:"note,omitempty"`
}

// MarshalJSON writes the result as the sync outbox's payload (see
// Payload). There is no UnmarshalJSON: a result read back is not known to
// be redacted.
func (r DocumentResult) MarshalJSON() ([]byte, error) { return r.Payload() }

// Payload is the sync outbox's document_result payload, at most MaxPayload
// bytes: when the redacted text does not fit, it is cut and the payload
// says so (redacted_text_truncated, redacted_text_bytes, note).
func (r DocumentResult) Payload() ([]byte, error) { return r.payload(r.redacted) }

// payload builds the outbox payload around text. It takes a phi.Redacted,
// never a string, so unredacted text cannot reach the outbox by mistake.
func (r DocumentResult) payload(text phi.Redacted) ([]byte, error) {
	out := documentResultJSON{r.documentID, r.contentSHA256, r.version, r.pages, r.review, r.class, r.evidence, text, false, 0, ""}
	if out.ReviewPages == nil {
		out.ReviewPages = []int{}
	}
	if out.Evidence == nil {
		out.Evidence = []doctype.Evidence{}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding document result: %w", err)
	}
	if len(b) <= MaxPayload {
		return b, nil
	}
	// JSON escaping makes the text longer than its bytes, by how much
	// depends on the text: find the longest prefix that fits.
	out.TextTruncated, out.TextBytes, out.Note = true, text.Len(), TruncatedNote
	lo, hi := 0, text.Len()
	var best []byte
	for lo <= hi {
		mid := (lo + hi) / 2
		out.RedactedText, _ = text.Truncate(mid)
		c, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encoding document result: %w", err)
		}
		if len(c) <= MaxPayload {
			best, lo = c, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == nil {
		return nil, errors.New("encoding document result: larger than the sync limit without its text")
	}
	return best, nil
}
