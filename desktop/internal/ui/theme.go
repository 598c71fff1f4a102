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
// whatever the desktop prefers, with the colours that are too faint for
// WCAG AA replaced (see legible): every text colour contrasts with what
// it is drawn on by at least 4.5:1, icons and entry borders by 3:1
// (theme_test.go checks each pair).
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
	if c, ok := legible[t.v][n]; ok {
		return c
	}
	return t.Theme.Color(n, t.v)
}

// legible replaces Fyne 2.7's default colours that fail WCAG AA on their
// backgrounds. Fyne draws disabled and low-importance text (sheet notes,
// evidence captions) in the disabled colour, #e3e3e3 on white (1.3:1),
// so it is raised to body-text contrast; error, success and warning are
// darkened in light and error lightened in dark so that labels, buttons
// and the offline banner read; the primary blue (also links) is darkened
// in light and lightened in dark with dark text on it; entry borders get
// 3:1 against the window.
var legible = map[fyne.ThemeVariant]map[fyne.ThemeColorName]color.Color{
	theme.VariantLight: {
		theme.ColorNameDisabled:            color.NRGBA{0x6b, 0x6b, 0x6b, 0xff},
		theme.ColorNamePlaceHolder:         color.NRGBA{0x6b, 0x6b, 0x6b, 0xff},
		theme.ColorNamePrimary:             color.NRGBA{0x15, 0x65, 0xc0, 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{0x15, 0x65, 0xc0, 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{0xff, 0xff, 0xff, 0xff},
		theme.ColorNameError:               color.NRGBA{0xb7, 0x1c, 0x1c, 0xff},
		theme.ColorNameSuccess:             color.NRGBA{0x2e, 0x7d, 0x32, 0xff},
		theme.ColorNameWarning:             color.NRGBA{0xa6, 0x5c, 0x00, 0xff},
		theme.ColorNameInputBorder:         color.NRGBA{0x8a, 0x8a, 0x8a, 0xff},
	},
	theme.VariantDark: {
		theme.ColorNameDisabled:            color.NRGBA{0x9a, 0x9a, 0x9a, 0xff},
		theme.ColorNamePrimary:             color.NRGBA{0x5c, 0x9d, 0xff, 0xff},
		theme.ColorNameHyperlink:           color.NRGBA{0x5c, 0x9d, 0xff, 0xff},
		theme.ColorNameForegroundOnPrimary: color.NRGBA{0x17, 0x17, 0x18, 0xff},
		theme.ColorNameError:               color.NRGBA{0xff, 0x6e, 0x60, 0xff},
		theme.ColorNameInputBorder:         color.NRGBA{0x6b, 0x6b, 0x6b, 0xff},
	},
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
