package docpipe

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// documentResultJSON is the payload's shape.
type documentResultJSON struct {
	DocumentID      string                 `json:"document_id"`
	ContentSHA256   string                 `json:"content_sha256"`
	PipelineVersion string                 `json:"pipeline_version"`
	Pages           int                    `json:"pages"`
	ReviewPages     []int                  `json:"review_pages"`
	Classification  doctype.Classification `json:"classification"`
	Evidence        []doctype.Evidence     `json:"evidence"`
	RedactedText    phi.Redacted           `json:"redacted_text"`
}

// MarshalJSON writes the result as the sync outbox's payload. There is no
// UnmarshalJSON: a result read back is not known to be redacted.
func (r DocumentResult) MarshalJSON() ([]byte, error) {
	out := documentResultJSON{r.documentID, r.contentSHA256, r.version, r.pages, r.review, r.class, r.evidence, r.redacted}
	if out.ReviewPages == nil {
		out.ReviewPages = []int{}
	}
	if out.Evidence == nil {
		out.Evidence = []doctype.Evidence{}
	}
	return json.Marshal(out)
}
