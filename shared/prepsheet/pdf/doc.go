// Package pdf renders a prep sheet as a print-ready PDF: US Letter,
// paginated, with the patient's name on every page's header and "Page N of
// M" and the generation time on every footer. Statuses are written out in
// words and marks, with colour only as a second cue, so a black-and-white
// printout reads the same. Sections flow across pages, and a section cut by
// a page break carries its title, marked "continued", onto the next page.
//
// Text is set in DejaVu Sans, embedded (subset) in every file, so names in
// Latin, Greek or Cyrillic scripts print as written. A character the font
// lacks (CJK, for instance) prints as an empty box, never as nothing, and
// the PDF's text layer still holds it (search and copy work); characters
// outside Unicode's Basic Multilingual Plane (emoji) print as "?". The font
// files and their licence are in font/.
package pdf
