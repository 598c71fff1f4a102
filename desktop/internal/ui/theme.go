package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"healthprep.dev/shared/screening"
)

// Theme returns Fyne's default theme fixed to the light or dark variant,
// whatever the desktop prefers.
func Theme(dark bool) fyne.Theme {
	v := theme.VariantLight
	if dark {
		v = theme.VariantDark
	}
	return variantTheme{Theme: theme.DefaultTheme(), v: v}
}

type variantTheme struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variantTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

// A colour-blind-safe palette (after Okabe and Ito), each with the text
// colour that contrasts with it by at least 4.5:1. Colour is only the
// second cue: every badge also says its status in words and a mark.
var (
	colOverdue  = color.NRGBA{0xB0, 0x2A, 0x1E, 0xff} // dark vermillion, white text
	colDue      = color.NRGBA{0xE6, 0x9F, 0x00, 0xff} // orange, black text
	colDueSoon  = color.NRGBA{0xF0, 0xE4, 0x42, 0xff} // yellow, black text
	colComplete = color.NRGBA{0x00, 0x9E, 0x73, 0xff} // bluish green, black text
	colCannot   = color.NRGBA{0xCC, 0x79, 0xA7, 0xff} // reddish purple, black text
	colNeutral  = color.NRGBA{0xA0, 0xA0, 0xA0, 0xff} // grey, black text
	colOffline  = color.NRGBA{0xB0, 0x2A, 0x1E, 0xff}
	black       = color.NRGBA{0, 0, 0, 0xff}
	white       = color.NRGBA{0xff, 0xff, 0xff, 0xff}
)

// statusColors returns the fill and text colours of a status badge.
func statusColors(s screening.Status) (fill, text color.Color) {
	switch s {
	case screening.Overdue:
		return colOverdue, white
	case screening.Due:
		return colDue, black
	case screening.DueSoon:
		return colDueSoon, black
	case screening.Complete:
		return colComplete, black
	case screening.CannotEvaluate:
		return colCannot, black
	}
	return colNeutral, black
}

// badge is a filled, rounded label: a status or a count.
type badge struct {
	widget.BaseWidget
	rect *canvas.Rectangle
	text *canvas.Text
}

func newBadge() *badge {
	b := &badge{rect: canvas.NewRectangle(colNeutral), text: canvas.NewText("", black)}
	b.rect.CornerRadius = 4
	b.text.TextStyle = fyne.TextStyle{Bold: true}
	b.ExtendBaseWidget(b)
	return b
}

func (b *badge) set(text string, fill, fg color.Color) {
	b.text.Text, b.text.Color, b.rect.FillColor = text, fg, fill
	b.text.TextSize = theme.TextSize()
	b.Refresh()
}

func (b *badge) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewStack(b.rect, container.New(layout.NewCustomPaddedLayout(2, 2, 6, 6), b.text)))
}
