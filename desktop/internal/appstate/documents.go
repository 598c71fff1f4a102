package appstate

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"
	"time"
	"unicode"

	"healthprep.dev/shared/prepsheet"
)

// Importer takes documents a person brings to the workstation (file
// dialog, drag-and-drop) into the document pipeline.
type Importer interface {
	// Import queues one file for processing and returns at once; the
	// pipeline reads, redacts and classifies it in the background.
	Import(ctx context.Context, f ImportFile) (Imported, error)
}

// ImportFile is one file to import. Name is the file's base name, which
// may be PHI: it is shown on this workstation, never logged or synced.
type ImportFile struct {
	Name string
	Data []byte
}

// Imported says what became of an imported file.
type Imported struct {
	// DocumentID names the document in the pipeline (no PHI).
	DocumentID string
	// Duplicate: the same content was imported before; nothing was queued.
	Duplicate bool
}

// DocumentSource is what the Documents screen and the evidence drill-down
// read: the quarantine, the pages flagged for review, and redacted page
// images.
type DocumentSource interface {
	// Quarantined lists the documents the pipeline refused, oldest first.
	Quarantined(ctx context.Context) ([]QuarantinedDoc, error)
	// ForReview lists the pages flagged for a person to check and not yet
	// reviewed, oldest document first.
	ForReview(ctx context.Context) ([]ReviewPage, error)
	// Page returns a redacted page image with its words. It fails with
	// ErrNoPageImage when the page has none on this workstation.
	Page(ctx context.Context, documentID string, page int) (PageImage, error)
	// MarkReviewed records that a person checked a flagged page.
	MarkReviewed(ctx context.Context, documentID string, page int, by User) error
	// EvidencePage finds the page of a document evidence item: the
	// document by its chart reference (source, e.g.
	// "DocumentReference/x") and the page that holds phrase. It fails with
	// ErrNoPageImage when the document is not on this workstation.
	EvidencePage(ctx context.Context, source, phrase string) (documentID string, page int, err error)
}

// Errors of the document sources.
var (
	// ErrNoPageImage: the document's pages are not on this workstation
	// (imported elsewhere, or processed before page images were kept).
	ErrNoPageImage = errors.New("no page image on this workstation")
	// ErrEmptyFile: an import of zero bytes.
	ErrEmptyFile = errors.New("the file is empty")
	// ErrFileTooLarge: an import above MaxImportBytes.
	ErrFileTooLarge = errors.New("the file is too large")
)

// MaxImportBytes is the largest file Import takes (the pipeline's limit).
const MaxImportBytes = 256 << 20

// CheckImport refuses files the pipeline would quarantine at once for
// their size alone, before they are copied anywhere.
func CheckImport(size int64) error {
	switch {
	case size == 0:
		return ErrEmptyFile
	case size > MaxImportBytes:
		return ErrFileTooLarge
	}
	return nil
}

// ImportMessage is what the Documents screen says after importing the file
// named name (shown to the person who chose it, on this workstation).
func ImportMessage(name string, r Imported, err error) string {
	switch {
	case err == nil && r.Duplicate:
		return name + " was imported before; it is not queued again."
	case err == nil:
		return name + " is queued; it will appear on prep sheets once read (a minute or two for a scan)."
	case errors.Is(err, ErrEmptyFile):
		return name + " is empty (0 bytes) and was not imported."
	case errors.Is(err, ErrFileTooLarge):
		return fmt.Sprintf("%s is larger than %d MB and was not imported; split it and import the parts.", name, MaxImportBytes>>20)
	}
	return name + " could not be imported. Try again; if it keeps failing, tell your administrator."
}

// QuarantinedDoc is a document the pipeline refused, with why.
type QuarantinedDoc struct {
	DocumentID string
	// Name is the imported file's base name (PHI, shown here only); "" when
	// unknown.
	Name  string
	Added time.Time
	// Reason is the stable kind (e.g. "password-protected"); Message the
	// sentence for people, which holds no PHI.
	Reason  string
	Message string
}

// Text is the quarantine list's line for d.
func (d QuarantinedDoc) Text(loc *time.Location) string {
	name := d.Name
	if name == "" {
		name = "Document " + d.DocumentID
	}
	msg := d.Message
	if msg == "" {
		msg = strings.ReplaceAll(d.Reason, "-", " ")
	}
	return fmt.Sprintf("%s (added %s): %s", name, d.Added.In(loc).Format("2006-01-02 15:04"), msg)
}

// Review flags: why a page needs a person.
const (
	ReviewLowConfidence = "low-confidence"
	ReviewNoText        = "no-text"
)

// ReviewPage is a page flagged for review.
type ReviewPage struct {
	DocumentID string
	Name       string // the file's base name (PHI), "" when unknown
	Page       int    // from 1
	Pages      int
	// Flags are why: ReviewLowConfidence, ReviewNoText.
	Flags []string
}

// Text is the review list's line for p.
func (p ReviewPage) Text() string {
	name := p.Name
	if name == "" {
		name = "Document " + p.DocumentID
	}
	var why []string
	for _, f := range p.Flags {
		switch f {
		case ReviewLowConfidence:
			why = append(why, "hard to read (low OCR confidence)")
		case ReviewNoText:
			why = append(why, "no text found")
		default:
			why = append(why, f)
		}
	}
	return fmt.Sprintf("%s, page %d of %d: %s", name, p.Page, p.Pages, strings.Join(why, ", "))
}

// PageWord is one word of a redacted page: its text (redacted words read
// as the redaction mark) and box in the image's pixels.
type PageWord struct {
	Text string
	Box  image.Rectangle
	// Line numbers the page's lines from 1.
	Line int
}

// PageImage is a redacted page: the image (identifiers blacked out) and
// its words.
type PageImage struct {
	DocumentID string
	Page       int
	Image      image.Image
	Words      []PageWord
}

// Highlight returns the boxes to draw over the first mention of phrase on
// the page: one rectangle per line the mention spans. Words match whole,
// ignoring case and punctuation, like the screening engine's phrase
// matching. It returns nil when the phrase is not on the page.
func Highlight(words []PageWord, phrase string) []image.Rectangle {
	want := tokens(phrase)
	if len(want) == 0 {
		return nil
	}
	// Each word may hold several tokens ("colonoscopy," "2019-03-01").
	type tok struct {
		text string
		word int
	}
	var all []tok
	for i, w := range words {
		for _, t := range tokens(w.Text) {
			all = append(all, tok{t, i})
		}
	}
	for start := 0; start+len(want) <= len(all); start++ {
		match := true
		for j, t := range want {
			if all[start+j].text != t {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		var out []image.Rectangle
		line := -1
		for j := range want {
			w := words[all[start+j].word]
			if len(out) == 0 || w.Line != line {
				out = append(out, w.Box)
				line = w.Line
				continue
			}
			out[len(out)-1] = out[len(out)-1].Union(w.Box)
		}
		return out
	}
	return nil
}

// tokens splits s into lowercase runs of letters and digits.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// IsDocumentEvidence reports whether ev is a mention of a phrase in a
// document, whose drill-down is the document's page.
func IsDocumentEvidence(ev prepsheet.EvidenceLine) bool {
	return ev.Kind == prepsheet.EvidenceDocument && ev.DocumentID != ""
}

// EvidencePageImage returns the redacted page of a document mention:
// the line's page, or, when the sheet did not know it (Page 0), the page
// src finds the line's phrase on. It fails with ErrNoPageImage when the
// document is not on this workstation.
func EvidencePageImage(ctx context.Context, src DocumentSource, ev prepsheet.EvidenceLine) (PageImage, error) {
	if src == nil || !IsDocumentEvidence(ev) {
		return PageImage{}, ErrNoPageImage
	}
	id, page := ev.DocumentID, ev.Page
	if page < 1 {
		var err error
		if id, page, err = src.EvidencePage(ctx, prepsheet.DocumentRefPrefix+ev.DocumentID, ev.Phrase); err != nil {
			return PageImage{}, err
		}
	}
	return src.Page(ctx, id, page)
}

// EvidenceDetail is a labelled line of the evidence detail dialog.
type EvidenceDetail struct{ Label, Value string }

// EvidenceDetails are the lines shown for a coded evidence item: what it
// is, its code and code system, its result when it has one, what it
// counts as, its date and where it is in the chart.
func EvidenceDetails(ev prepsheet.EvidenceLine) []EvidenceDetail {
	date := ev.Date.String()
	if date == "" {
		date = "undated"
	}
	role := strings.ReplaceAll(string(ev.Role), "_", " ")
	if role == "" {
		role = "completion"
	}
	what := ev.Display
	if what == "" {
		what = ev.Description
	}
	out := []EvidenceDetail{{"Evidence", what}}
	if ev.Code != "" {
		out = append(out, EvidenceDetail{"Code", strings.TrimSpace(ev.System + " " + ev.Code)})
	}
	if ev.Value != nil {
		out = append(out, EvidenceDetail{"Result", strings.TrimSpace(strconv.FormatFloat(*ev.Value, 'f', -1, 64) + " " + ev.Unit)})
	}
	return append(out,
		EvidenceDetail{"Counts as", role},
		EvidenceDetail{"Date", date},
		EvidenceDetail{"Source", ev.Source},
	)
}

// Printer sends a saved PDF to a printer: the system's print dialog or
// queue where there is one.
type Printer interface {
	// Print prints the PDF at path.
	Print(ctx context.Context, path string) error
}

// PrintLog records printed sheets in the sync outbox, so that the cloud
// can audit who printed which visit's sheet.
type PrintLog interface {
	// RecordPrint records one print event per appointment (no PHI beyond
	// the appointment ID).
	RecordPrint(ctx context.Context, appointmentIDs []string, at time.Time, by User) error
}

// PrintOutboxKind is the outbox kind of a print event: the sync agent's
// and the cloud's name for it ("print_event", stored and audited by the
// cloud, never sent back to workstations).
const PrintOutboxKind = "print_event"

// PrintEvent is the outbox payload of one printed sheet. It carries no
// PHI: the appointment ID, when and by whom.
type PrintEvent struct {
	AppointmentID string    `json:"appointment_id"`
	PrintedAt     time.Time `json:"printed_at"`
	UserID        string    `json:"user_id"`
}

// PrintEvents are the events of one print of ids.
func PrintEvents(ids []string, at time.Time, by User) []PrintEvent {
	out := make([]PrintEvent, len(ids))
	for i, id := range ids {
		out[i] = PrintEvent{AppointmentID: id, PrintedAt: at.UTC(), UserID: by.ID}
	}
	return out
}

// DocumentFiler lists the documents the pipeline could not match to a
// single patient and lets a person choose the patient.
type DocumentFiler interface {
	// Unfiled lists the documents waiting for a patient.
	Unfiled(ctx context.Context) ([]UnfiledDoc, error)
	// Assign files a waiting document under the patient with this MRN.
	// It fails with ErrUnknownMRN when no cached patient has it.
	Assign(ctx context.Context, documentID, mrn string, by User) error
}

// ErrUnknownMRN: no patient on this workstation has the MRN given.
var ErrUnknownMRN = errors.New("no patient on this workstation has that MRN")

// UnfiledDoc is a processed document waiting for a patient.
type UnfiledDoc struct {
	DocumentID string
	// Name is the file's base name (PHI, shown here only); "" when unknown.
	Name string
	// Type is the document's classification ("" when none).
	Type string
}

// Text is the unfiled list's line for d.
func (d UnfiledDoc) Text() string {
	name := d.Name
	if name == "" {
		name = "Document " + d.DocumentID
	}
	if d.Type != "" {
		name += " (" + d.Type + ")"
	}
	return name + ": patient not recognised"
}

// AssignMessage is what the Documents screen says after assigning a
// document to the patient with mrn.
func AssignMessage(mrn string, err error) string {
	switch {
	case err == nil:
		return "Filed under MRN " + mrn + "."
	case errors.Is(err, ErrUnknownMRN):
		return "No patient with MRN " + mrn + " is on this workstation; check the number."
	}
	return "The document could not be filed. Try again; if it keeps failing, tell your administrator."
}
