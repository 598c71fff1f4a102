package pdf_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"healthprep.dev/shared/chart"
	"healthprep.dev/shared/prepsheet"
	"healthprep.dev/shared/prepsheet/pdf"
	"healthprep.dev/shared/prepsheet/prepsheettest"
)

func chicago(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/Chicago")
	if err != nil {
		t.Fatalf("loading zone: %v", err)
	}
	return loc
}

// poppler finds a poppler-utils tool; the tests need it to read PDFs back.
func poppler(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: install poppler-utils with `make deps` (it reads the rendered PDF back)", tool)
	}
	return p
}

// rendered is a sheet rendered to a PDF file, with poppler's view of it.
type rendered struct {
	sheet prepsheet.Sheet
	pdf   []byte
	pages []string // pdftotext -layout output, one string per page
	info  map[string]string
}

func render(t *testing.T, in prepsheet.Input, opts pdf.Options) rendered {
	t.Helper()
	s, err := prepsheet.Assemble(in)
	if err != nil {
		t.Fatalf("Assemble: %v", err)
	}
	var b bytes.Buffer
	if err := pdf.Write(&b, &s, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	path := filepath.Join(t.TempDir(), "sheet.pdf")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(poppler(t, "pdftotext"), "-layout", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext could not read the PDF: %v", err)
	}
	pages := strings.Split(strings.TrimSuffix(string(out), "\f"), "\f")
	infoOut, err := exec.Command(poppler(t, "pdfinfo"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo could not open the PDF: %v\n%s", err, infoOut)
	}
	info := map[string]string{}
	for _, l := range strings.Split(string(infoOut), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			info[k] = strings.TrimSpace(v)
		}
	}
	return rendered{sheet: s, pdf: b.Bytes(), pages: pages, info: info}
}

// squash collapses runs of spaces, so that checks do not depend on layout.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestTypicalSheetReadsBack(t *testing.T) {
	t.Parallel()
	in := prepsheettest.Typical(chicago(t))
	r := render(t, in, pdf.Options{})
	if got := r.info["Pages"]; got != strconv.Itoa(len(r.pages)) {
		t.Errorf("pdfinfo says %s pages, pdftotext found %d", got, len(r.pages))
	}
	if got := r.info["Page size"]; !strings.Contains(got, "612 x 792 pts (letter)") {
		t.Errorf("page size %q, want US Letter", got)
	}
	all := squash(strings.Join(r.pages, "\n"))
	for _, want := range []string{
		"Ana María Núñez-Øverby", "MRN-004211", "63 years, female", "Fri 2025-03-14 10:30 CDT", "Dr. Priya Patel, MD",
		"!! OVERDUE", "! DUE", "~ DUE SOON", "+ COMPLETE", "x EXCLUDED", "- NOT ELIGIBLE",
		"Last done 2013-02-01", "Next due 2023-02-01",
		"Colonoscopy (CPT 45378) [Procedure/colo-2013]",
		"Type 2 diabetes mellitus", "2024-03-14 Hemoglobin A1c: 7.9 %",
		"(1 undated, not listed)",
		"Not shown: Diabetes screening (superseded by Diabetes: HbA1c control).",
		"Generated 2025-03-14 07:05 CDT",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	for _, it := range r.sheet.Screenings {
		if !strings.Contains(all, it.Name) {
			t.Errorf("PDF text lacks screening %q", it.Name)
		}
	}
	if strings.Contains(all, "eGFR") {
		t.Errorf("PDF lists the lab one day outside its window")
	}
}

func TestLongSheetPaginates(t *testing.T) {
	t.Parallel()
	in := prepsheettest.Large(chicago(t), 40, 40)
	gen := time.Date(2025, 3, 14, 13, 2, 0, 0, time.UTC)
	r := render(t, in, pdf.Options{Generated: gen})
	n := len(r.pages)
	if n < 4 {
		t.Fatalf("a sheet of 40 screenings and 200 entries fits %d pages; want it to flow over at least 4", n)
	}
	if got := r.info["Pages"]; got != strconv.Itoa(n) {
		t.Errorf("pdfinfo says %s pages, want %d", got, n)
	}
	pageNo := regexp.MustCompile(`Page (\d+) of (\d+)`)
	for i, p := range r.pages {
		text := squash(p)
		if !strings.Contains(text, "Prep sheet: Zoë Łukasiewicz-Þórsdóttir") {
			t.Errorf("page %d lacks the patient name in its header:\n%s", i+1, p)
		}
		m := pageNo.FindStringSubmatch(text)
		if m == nil || m[1] != strconv.Itoa(i+1) || m[2] != strconv.Itoa(n) {
			t.Errorf("page %d footer says %v, want Page %d of %d", i+1, m, i+1, n)
		}
		if !strings.Contains(text, "Generated 2025-03-14 08:02 CDT") {
			t.Errorf("page %d lacks the generation time (in the clinic's zone)", i+1)
		}
	}
	all := squash(strings.Join(r.pages, "\n"))
	for _, it := range r.sheet.Screenings {
		if !strings.Contains(all, it.Name) {
			t.Errorf("PDF text lacks screening %q", it.Name)
		}
	}
	for _, sec := range r.sheet.Sections() {
		for _, e := range sec.Entries {
			if !strings.Contains(all, e.Title) {
				t.Errorf("PDF text lacks %s entry %q", sec.Category, e.Title)
			}
		}
	}
	if !strings.Contains(all, "(continued)") {
		t.Errorf("no section carried its title onto the next page")
	}
}

func TestEmptySheet(t *testing.T) {
	t.Parallel()
	in := prepsheet.Input{AsOf: prepsheettest.AsOf(), Location: chicago(t),
		Patient: chart.Patient{Name: "Baby Doe", BirthDate: chart.D(2023, 9, 14)}}
	r := render(t, in, pdf.Options{})
	if len(r.pages) != 1 {
		t.Errorf("an empty sheet takes %d pages, want 1", len(r.pages))
	}
	all := squash(r.pages[0])
	for _, want := range []string{"Baby Doe", "18 months, unknown", "None configured.", "None recorded.",
		"None in the last 12 months.", "None in the last 24 months.", "Page 1 of 1"} {
		if !strings.Contains(all, want) {
			t.Errorf("empty sheet lacks %q:\n%s", want, r.pages[0])
		}
	}
}

func TestRenderingIsDeterministic(t *testing.T) {
	t.Parallel()
	in := prepsheettest.Typical(chicago(t))
	s, err := prepsheet.Assemble(in)
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := pdf.Write(&a, &s, pdf.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := pdf.Write(&b, &s, pdf.Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two renderings of one sheet differ (%d and %d bytes)", a.Len(), b.Len())
	}
}

func TestUnusualNamesRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
	}{
		{"Ωμέγα Σοφία Παπαδοπούλου", "Ωμέγα Σοφία Παπαδοπούλου"},
		{"Дмитрий Иванович Шостакович", "Дмитрий Иванович Шостакович"},
		{"Nguyễn Thị Minh Khai", "Nguyễn Thị Minh Khai"},
		{"Emoji 🙂 Tester", "Emoji ? Tester"},
		// DejaVu has no CJK glyphs: the page shows boxes, the text layer keeps the name.
		{"王小明", "王小明"},
		{"", "Prep sheet: (no name)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			in := prepsheettest.Typical(chicago(t))
			in.Patient.Name = tt.name
			r := render(t, in, pdf.Options{})
			if got := squash(r.pages[0]); !strings.Contains(got, tt.want) {
				t.Errorf("page 1 lacks %q:\n%s", tt.want, r.pages[0])
			}
		})
	}
}

func ExampleWrite() {
	in := prepsheettest.Typical(time.UTC)
	s, err := prepsheet.Assemble(in)
	if err != nil {
		fmt.Println(err)
		return
	}
	var b bytes.Buffer
	if err := pdf.Write(&b, &s, pdf.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b.Bytes()[:8]))
	// Output: %PDF-1.3
}
