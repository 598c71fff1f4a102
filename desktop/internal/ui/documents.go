package ui

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/desktop/internal/appstate"
)

// documentsScreen is the Documents tab: import (button, or files dropped
// on the window), the quarantine with reasons, and the pages flagged for
// review beside the page viewer.
type documentsScreen struct {
	a *App

	importBtn  *widget.Button
	message    *widget.Label
	quarantine *fyne.Container
	unfiled    *fyne.Container
	assignBtns []*widget.Button // one an unfiled document, for tests
	review     *fyne.Container
	reviewBtns []*widget.Button // one a flagged page, for tests
	viewer     *pageView
	reviewed   *widget.Button
	open       *appstate.ReviewPage
	root       fyne.CanvasObject
	loadSeq    int
	openFirst  bool // open the first page to review once loaded
}

func newDocumentsScreen(a *App) *documentsScreen {
	s := &documentsScreen{a: a, message: messageLabel(), quarantine: container.NewVBox(), unfiled: container.NewVBox(), review: container.NewVBox(), viewer: newPageView()}
	s.importBtn = widget.NewButtonWithIcon("Import documents...", theme.FolderOpenIcon(), s.pick)
	s.importBtn.Importance = widget.HighImportance
	hint := widget.NewLabel("or drop PDF, TIFF, PNG or JPEG files on this window")
	s.reviewed = widget.NewButtonWithIcon("Mark page reviewed", theme.ConfirmIcon(), s.markReviewed)
	s.reviewed.Disable()
	lists := container.NewVBox(
		heading("Quarantine"),
		wrapped("Files HealthPrep could not read, and why. Fix the file and import it again."),
		s.quarantine,
		widget.NewSeparator())
	if a.d.Filer != nil {
		lists.Add(heading("Waiting for a patient"))
		lists.Add(wrapped("Documents that name no patient on this workstation, or more than one. Check the paper and assign each to its patient by MRN."))
		lists.Add(s.unfiled)
		lists.Add(widget.NewSeparator())
	}
	lists.Add(heading("Pages to review"))
	for _, o := range []fyne.CanvasObject{
		wrapped("Pages that were hard to read. Check them against the paper and mark them reviewed."),
		s.review} {
		lists.Add(o)
	}
	viewer := container.NewBorder(nil, container.NewHBox(s.reviewed), nil, nil, s.viewer.root)
	split := container.NewHSplit(container.NewVScroll(lists), viewer)
	split.Offset = 0.45
	top := container.NewVBox(container.NewHBox(s.importBtn, hint), s.message, widget.NewSeparator())
	s.root = container.NewBorder(top, nil, nil, nil, split)
	return s
}

// refresh reloads the quarantine and the review list in the background.
func (s *documentsScreen) refresh() {
	s.loadSeq++
	seq := s.loadSeq
	src := s.a.d.Documents
	s.a.d.Go(func() {
		q, qerr := src.Quarantined(s.a.ctx)
		r, rerr := src.ForReview(s.a.ctx)
		var u []appstate.UnfiledDoc
		var uerr error
		if s.a.d.Filer != nil {
			u, uerr = s.a.d.Filer.Unfiled(s.a.ctx)
		}
		fyne.Do(func() {
			if seq != s.loadSeq {
				return
			}
			s.showQuarantine(q, qerr)
			if s.a.d.Filer != nil {
				s.showUnfiled(u, uerr)
			}
			s.showReview(r, rerr)
			if s.openFirst && len(r) > 0 {
				s.openPage(r[0])
			}
			s.openFirst = false
		})
	})
}

func (s *documentsScreen) showQuarantine(q []appstate.QuarantinedDoc, err error) {
	s.quarantine.RemoveAll()
	switch {
	case err != nil:
		s.quarantine.Add(wrapped("The quarantine could not be read on this workstation."))
	case len(q) == 0:
		s.quarantine.Add(widget.NewLabel("No documents in quarantine."))
	}
	for _, d := range q {
		l := wrapped("⚠ " + d.Text(s.a.d.Location))
		s.quarantine.Add(l)
	}
}

func (s *documentsScreen) showUnfiled(u []appstate.UnfiledDoc, err error) {
	s.unfiled.RemoveAll()
	s.assignBtns = nil
	switch {
	case err != nil:
		s.unfiled.Add(wrapped("The documents waiting for a patient could not be read on this workstation."))
	case len(u) == 0:
		s.unfiled.Add(widget.NewLabel("No documents waiting for a patient."))
	}
	for _, d := range u {
		b := widget.NewButtonWithIcon("Assign...", theme.AccountIcon(), func() { s.askAssign(d) })
		s.assignBtns = append(s.assignBtns, b)
		s.unfiled.Add(container.NewBorder(nil, nil, nil, b, wrapped(d.Text())))
	}
}

// askAssign asks for the MRN of the patient d belongs to and files it.
func (s *documentsScreen) askAssign(d appstate.UnfiledDoc) {
	s.a.touch()
	mrn := widget.NewEntry()
	mrn.SetPlaceHolder("MRN")
	dialog.ShowForm("Assign to a patient", "Assign", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Patient MRN", mrn)},
		func(ok bool) {
			if ok {
				s.assign(d, mrn.Text)
			}
		}, s.a.win)
}

// assign files d under the patient with mrn in the background.
func (s *documentsScreen) assign(d appstate.UnfiledDoc, mrn string) {
	s.a.touch()
	mrn = strings.TrimSpace(mrn)
	by := s.a.d.Session.Status().User
	s.a.d.Go(func() {
		err := s.a.d.Filer.Assign(s.a.ctx, d.DocumentID, mrn, by)
		fyne.Do(func() {
			s.message.SetText(appstate.AssignMessage(mrn, err))
			s.refresh()
		})
	})
}

func (s *documentsScreen) showReview(r []appstate.ReviewPage, err error) {
	s.review.RemoveAll()
	s.reviewBtns = nil
	switch {
	case err != nil:
		s.review.Add(wrapped("The pages to review could not be read on this workstation."))
	case len(r) == 0:
		s.review.Add(widget.NewLabel("No pages to review."))
	}
	for _, p := range r {
		b := widget.NewButtonWithIcon(p.Text(), theme.VisibilityIcon(), func() { s.openPage(p) })
		b.Alignment = widget.ButtonAlignLeading
		s.reviewBtns = append(s.reviewBtns, b)
		s.review.Add(b)
	}
}

// openPage shows a flagged page in the viewer.
func (s *documentsScreen) openPage(p appstate.ReviewPage) {
	s.a.touch()
	s.open = &p
	s.reviewed.Disable()
	s.viewer.loading()
	s.a.d.Go(func() {
		img, err := s.a.d.Documents.Page(s.a.ctx, p.DocumentID, p.Page)
		fyne.Do(func() {
			if s.open == nil || s.open.DocumentID != p.DocumentID || s.open.Page != p.Page {
				return
			}
			s.reviewed.Enable()
			if err != nil {
				s.viewer.unavailable(err)
				return
			}
			s.viewer.show(img, "")
		})
	})
}

func (s *documentsScreen) markReviewed() {
	if s.open == nil {
		return
	}
	s.a.touch()
	p := *s.open
	by := s.a.d.Session.Status().User
	s.a.d.Go(func() {
		err := s.a.d.Documents.MarkReviewed(s.a.ctx, p.DocumentID, p.Page, by)
		fyne.Do(func() {
			if err != nil {
				s.message.SetText("The page could not be marked reviewed. Try again.")
				return
			}
			s.message.SetText(fmt.Sprintf("Page %d marked reviewed.", p.Page))
			s.open = nil
			s.reviewed.Disable()
			s.viewer.clear()
			s.refresh()
		})
	})
}

// pick asks for files with the file dialog (or Deps.OpenDocument).
func (s *documentsScreen) pick() {
	s.a.touch()
	s.a.d.OpenDocument(func(name string, r io.ReadCloser, err error) {
		if err != nil {
			s.message.SetText("The file could not be opened.")
			return
		}
		if r == nil {
			return // cancelled
		}
		s.importReaders([]namedReader{{name, func() (io.ReadCloser, error) { return r, nil }}})
	})
}

// namedReader is a file to import: its name and how to open it.
type namedReader struct {
	name string
	open func() (io.ReadCloser, error)
}

// drop imports files dropped on the window (folders and other URIs are
// skipped) and shows the Documents tab.
func (a *App) drop(_ fyne.Position, uris []fyne.URI) {
	if a.main == nil || a.shown != a.main.root || a.main.docs == nil {
		return // signed out or locked: nothing is imported
	}
	var files []namedReader
	for _, u := range uris {
		if ok, _ := storage.CanList(u); ok {
			continue
		}
		files = append(files, namedReader{u.Name(), func() (io.ReadCloser, error) { return storage.Reader(u) }})
	}
	a.main.showDocuments()
	a.main.docs.importReaders(files)
}

// importReaders reads and imports files in the background, one after the
// other, and says how each went.
func (s *documentsScreen) importReaders(files []namedReader) {
	if len(files) == 0 {
		return
	}
	s.a.touch()
	s.message.SetText(fmt.Sprintf("Importing %d file(s)...", len(files)))
	imp := s.a.d.Importer
	s.a.d.Go(func() {
		var msgs []string
		for _, f := range files {
			res, err := importOne(s, imp, f)
			msgs = append(msgs, appstate.ImportMessage(f.name, res, err))
		}
		fyne.Do(func() {
			s.message.SetText(strings.Join(msgs, "\n"))
			s.refresh()
		})
	})
}

func importOne(s *documentsScreen, imp appstate.Importer, f namedReader) (appstate.Imported, error) {
	r, err := f.open()
	if err != nil {
		return appstate.Imported{}, fmt.Errorf("opening: %w", err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, appstate.MaxImportBytes+1))
	if err != nil {
		return appstate.Imported{}, fmt.Errorf("reading: %w", err)
	}
	if err := appstate.CheckImport(int64(len(data))); err != nil {
		return appstate.Imported{}, err
	}
	return imp.Import(s.a.ctx, appstate.ImportFile{Name: f.name, Data: data})
}

// openDocumentDialog is the default Deps.OpenDocument.
func (a *App) openDocumentDialog(done func(string, io.ReadCloser, error)) {
	dlg := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if r == nil {
			done("", nil, err)
			return
		}
		done(r.URI().Name(), r, err)
	}, a.win)
	dlg.SetFilter(storage.NewExtensionFileFilter([]string{".pdf", ".tif", ".tiff", ".png", ".jpg", ".jpeg"}))
	dlg.Show()
}

// pageView shows a redacted page image, with the matched phrase
// highlighted when there is one.
type pageView struct {
	img        *canvas.Image
	note       *widget.Label
	root       fyne.CanvasObject
	highlights []image.Rectangle // drawn on the shown image
	shown      image.Image
}

func newPageView() *pageView {
	v := &pageView{img: canvas.NewImageFromImage(nil), note: wrapped("Choose a page to see it here.")}
	v.img.FillMode = canvas.ImageFillContain
	v.img.ScaleMode = canvas.ImageScaleSmooth
	v.img.SetMinSize(fyne.NewSize(320, 420))
	v.root = container.NewBorder(v.note, nil, nil, nil, v.img)
	return v
}

func (v *pageView) loading() {
	v.note.SetText("Loading the page...")
	v.set(nil, nil)
}

func (v *pageView) clear() {
	v.note.SetText("Choose a page to see it here.")
	v.set(nil, nil)
}

func (v *pageView) unavailable(err error) {
	if errors.Is(err, appstate.ErrNoPageImage) {
		v.note.SetText("The page image is not on this workstation (the document was read elsewhere, or before page images were kept).")
	} else {
		v.note.SetText("The page could not be shown. Try again.")
	}
	v.set(nil, nil)
}

// show draws p, with phrase highlighted when not "".
func (v *pageView) show(p appstate.PageImage, phrase string) {
	var boxes []image.Rectangle
	note := fmt.Sprintf("Page %d (identifiers blacked out)", p.Page)
	if phrase != "" {
		boxes = appstate.Highlight(p.Words, phrase)
		if len(boxes) == 0 {
			note += fmt.Sprintf(" - %q is not found on the page image; it was read in the document's text.", phrase)
		} else {
			note += fmt.Sprintf(" - %q highlighted", phrase)
		}
	}
	v.note.SetText(note)
	v.set(p.Image, boxes)
}

// highlightFill and highlightEdge mark a phrase: a translucent yellow fill
// that keeps the words readable, and a dark orange frame that shows in
// black-and-white and for colour-blind people.
var (
	highlightFill = color.NRGBA{R: 0xff, G: 0xd6, B: 0x00, A: 0x70}
	highlightEdge = color.NRGBA{R: 0xb3, G: 0x40, B: 0x00, A: 0xff}
)

func (v *pageView) set(src image.Image, boxes []image.Rectangle) {
	v.highlights = boxes
	if src == nil {
		v.shown = nil
		v.img.Image = nil
		v.img.Refresh()
		return
	}
	dst := image.NewRGBA(src.Bounds())
	draw.Draw(dst, dst.Bounds(), src, src.Bounds().Min, draw.Src)
	for _, b := range boxes {
		b = b.Inset(-4).Intersect(dst.Bounds())
		draw.Draw(dst, b, image.NewUniform(highlightFill), image.Point{}, draw.Over)
		for _, edge := range []image.Rectangle{
			image.Rect(b.Min.X, b.Min.Y, b.Max.X, b.Min.Y+3), image.Rect(b.Min.X, b.Max.Y-3, b.Max.X, b.Max.Y),
			image.Rect(b.Min.X, b.Min.Y, b.Min.X+3, b.Max.Y), image.Rect(b.Max.X-3, b.Min.Y, b.Max.X, b.Max.Y),
		} {
			draw.Draw(dst, edge.Intersect(b), image.NewUniform(highlightEdge), image.Point{}, draw.Src)
		}
	}
	v.shown = dst
	v.img.Image = dst
	v.img.Refresh()
}

// ShowDocuments opens the Documents tab and the first page to review, and
// reports whether it could (signed in, document sources configured).
func (a *App) ShowDocuments() bool {
	if a.main == nil || a.main.docsTab == nil || a.shown != a.main.root {
		return false
	}
	a.main.showDocuments()
	a.main.docs.openFirst = true
	a.main.docs.refresh()
	return true
}
