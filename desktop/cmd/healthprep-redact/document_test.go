package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"

	"healthprep.dev/desktop/internal/ocr/ocrtest"
)

// noteLines is a short clinical note full of identifiers, drawn on a scan
// and set in a text-layer PDF.
var noteLines = []string{
	"Patient: Maria Gonzalez   DOB: 03/14/1962",
	"MRN: 4471923   Phone: (217) 555-0143",
	"Date of service: 05/02/2024. Colonoscopy by Dr. Alan Whitfield.",
	"Two small polyps removed. Repeat in five years.",
}

// setupDocuments writes the note as a 300-dpi scanned PNG and as a PDF with
// a text layer into a temporary directory and returns their paths.
func setupDocuments(t *testing.T) (scanPNG, textPDF string) {
	t.Helper()
	dir := t.TempDir()
	s, err := ocrtest.RenderPage(noteLines, ocrtest.Layout{WidthInches: 7, HeightInches: 2.5, MarginInches: 0.4})
	if err != nil {
		t.Fatalf("rendering the scan: %v", err)
	}
	scanPNG = filepath.Join(dir, "scan.png")
	if err := os.WriteFile(scanPNG, pngWithDPI(t, s.Image.Pix, 300), 0o600); err != nil {
		t.Fatal(err)
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "in", Size: fpdf.SizeType{Wd: 7, Ht: 2.5}})
	pdf.SetFont("Helvetica", "", 12)
	pdf.SetAutoPageBreak(false, 0)
	pdf.AddPage()
	for i, l := range noteLines {
		pdf.Text(0.4, 0.6+0.3*float64(i), l)
	}
	var b bytes.Buffer
	if err := pdf.Output(&b); err != nil {
		t.Fatalf("making the PDF: %v", err)
	}
	textPDF = filepath.Join(dir, "note.pdf")
	if err := os.WriteFile(textPDF, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return scanPNG, textPDF
}

// pngWithDPI encodes g with a pHYs chunk (Go's encoder writes none).
func pngWithDPI(t *testing.T, g image.Image, dpi int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, g); err != nil {
		t.Fatal(err)
	}
	ppm := uint32(float64(dpi)/0.0254 + 0.5)
	data := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, ppm), ppm)
	data = append(data, 1)
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(append(chunk, "pHYs"...), data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("pHYs"), data...)))
	out := append([]byte{}, b.Bytes()[:33]...) // signature and IHDR
	return append(append(out, chunk...), b.Bytes()[33:]...)
}

func TestOCRGolden(t *testing.T) {
	t.Parallel()
	scan, pdf := setupDocuments(t)
	tests := []struct {
		name string
		args []string
	}{
		{"ocr-scan-png", []string{"--ocr", scan}},
		{"ocr-scan-png-json", []string{"--json", "--ocr", scan}},
		{"ocr-text-pdf", []string{"--ocr", pdf}},
		{"ocr-text-pdf-json", []string{"--json", "--ocr", pdf}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, nil, tc.args...)
			if r.code != exitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
			}
			redacted := r.stdout
			if strings.HasSuffix(tc.name, "-json") {
				var out struct{ Redacted string }
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
					t.Fatalf("stdout is not one JSON object: %v", err)
				}
				redacted = out.Redacted
			}
			for _, id := range []string{"Maria", "Gonzalez", "4471923", "555-0143", "03/14/1962", "05/02/2024", "Whitfield"} {
				if strings.Contains(redacted, id) {
					t.Errorf("redacted text still holds %q:\n%s", id, redacted)
				}
			}
			golden(t, tc.name+".golden", r.stdout)
		})
	}
}

// TestOCRJSONOffsetsReferToText checks that with --ocr the spans, read as
// code points of "text", are the identifiers, and that "redacted" is
// "text" with each span replaced by its placeholder.
func TestOCRJSONOffsetsReferToText(t *testing.T) {
	t.Parallel()
	_, pdf := setupDocuments(t)
	r := runCmd(t, nil, "--json", "--ocr", pdf)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var out struct {
		Text     *string `json:"text"`
		Redacted string  `json:"redacted"`
		Spans    []struct {
			Start, End int
			Type       string
		} `json:"spans"`
		ServiceDates []struct{ Label, Date string } `json:"service_dates"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, r.stdout)
	}
	if out.Text == nil {
		t.Fatalf("no \"text\" in %s", r.stdout)
	}
	runes := []rune(*out.Text)
	var got []string
	var rebuilt strings.Builder
	prev := 0
	for _, s := range out.Spans {
		got = append(got, s.Type+":"+string(runes[s.Start:s.End]))
		rebuilt.WriteString(string(runes[prev:s.Start]) + "[" + s.Type + "]")
		prev = s.End
	}
	rebuilt.WriteString(string(runes[prev:]))
	want := "NAME:Maria Gonzalez|DATE:03/14/1962|MRN:4471923|PHONE:(217) 555-0143|DATE:05/02/2024|NAME:Alan Whitfield"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("spans read %q, want %q", g, want)
	}
	if rebuilt.String() != out.Redacted {
		t.Errorf("redacted = %q, want text with placeholders %q", out.Redacted, rebuilt.String())
	}
}

func TestOCRRefusesBadDocuments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, pdf := setupDocuments(t)
	good, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"empty.pdf":     nil,
		"truncated.pdf": good[:len(good)/2],
		"notes.png":     []byte("Patient: Maria Gonzalez, plain text with the wrong extension"),
		"tiny.png":      pngWithDPI(t, image.NewGray(image.Rect(0, 0, 1, 1)), 300),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file    string
		wantErr string
	}{
		{"empty.pdf", "healthprep-redact: --ocr: document rejected: the file is empty (0 bytes)\n"},
		{"truncated.pdf", "healthprep-redact: --ocr: PDF document rejected: the file is cut short (incomplete download or copy?)\n"},
		{"notes.png", "healthprep-redact: --ocr: document rejected: the file is not a PDF, TIFF, PNG or JPEG (whatever its extension says)\n"},
		{"tiny.png", "healthprep-redact: --ocr: PNG document rejected: the page image is smaller than 32 pixels on a side\n"},
		{"missing.pdf", "healthprep-redact: opening --ocr document: open " + filepath.Join(dir, "missing.pdf") + ": no such file or directory\n"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			r := runCmd(t, nil, "--json", "--ocr", filepath.Join(dir, tc.file))
			if r.code != exitInput || r.stderr != tc.wantErr || r.stdout != "" {
				t.Errorf("exit %d stderr %q stdout %q\nwant exit %d stderr %q and no stdout", r.code, r.stderr, r.stdout, exitInput, tc.wantErr)
			}
		})
	}
}
