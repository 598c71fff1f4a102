package ui

import (
	"fmt"
	"image/color"
	"math"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"healthprep.dev/shared/screening"
)

// Minimum WCAG 2.x contrast ratios: body text (AA), and large text, icons
// and the boundaries of controls (AA large text, non-text contrast).
const (
	minText  = 4.5
	minLarge = 3.0
)

// contrastRatio is the WCAG 2.x contrast ratio of two opaque colours,
// from 1 to 21 (luminance and ratio are in ui_test.go).
func contrastRatio(a, b color.Color) float64 { return ratio(luminance(a), luminance(b)) }

// over composites c over the opaque colour under, as the renderer does.
func over(c, under color.Color) color.NRGBA {
	f := color.NRGBAModel.Convert(c).(color.NRGBA)
	u := color.NRGBAModel.Convert(under).(color.NRGBA)
	a := float64(f.A) / 255
	mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*a + float64(y)*(1-a))) }
	return color.NRGBA{R: mix(f.R, u.R), G: mix(f.G, u.G), B: mix(f.B, u.B), A: 0xff}
}

func hex(c color.Color) string {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	if n.A == 0xff {
		return fmt.Sprintf("#%02x%02x%02x", n.R, n.G, n.B)
	}
	return fmt.Sprintf("#%02x%02x%02x%02x", n.R, n.G, n.B, n.A)
}

func TestThemeContrast(t *testing.T) {
	t.Parallel()
	for _, dark := range []bool{false, true} {
		name := map[bool]string{false: "light", true: "dark"}[dark]
		th := Theme(dark)
		c := func(n fyne.ThemeColorName) color.Color { return th.Color(n, theme.VariantLight) } // the variant is fixed
		window := c(theme.ColorNameBackground)
		banner := over(withAlpha(colOffline, 0x38), window)
		type pair struct {
			what   string
			fg, bg color.Color
			min    float64
		}
		pairs := []pair{
			{"body text on the window", c(theme.ColorNameForeground), window, minText},
			{"text in an entry", c(theme.ColorNameForeground), c(theme.ColorNameInputBackground), minText},
			{"placeholder in an entry", c(theme.ColorNamePlaceHolder), c(theme.ColorNameInputBackground), minText},
			{"button label", c(theme.ColorNameForeground), c(theme.ColorNameButton), minText},
			{"text in a menu", c(theme.ColorNameForeground), c(theme.ColorNameMenuBackground), minText},
			{"text in a dialog", c(theme.ColorNameForeground), c(theme.ColorNameOverlayBackground), minText},
			{"text in a table header", c(theme.ColorNameForeground), c(theme.ColorNameHeaderBackground), minText},
			{"text of a selected row", c(theme.ColorNameForeground), over(c(theme.ColorNameSelection), window), minText},
			{"text of a hovered row", c(theme.ColorNameForeground), over(c(theme.ColorNameHover), window), minText},
			// Low-importance labels (sheet notes, evidence captions) are
			// drawn in the disabled colour: they must read as body text.
			{"disabled / low-importance text on the window", c(theme.ColorNameDisabled), window, minText},
			{"disabled button label", c(theme.ColorNameDisabled), c(theme.ColorNameDisabledButton), minText},
			{"link", c(theme.ColorNameHyperlink), window, minText},
			{"primary (high-importance) text", c(theme.ColorNamePrimary), window, minText},
			{"primary button label", c(theme.ColorNameForegroundOnPrimary), c(theme.ColorNamePrimary), minText},
			{"error text", c(theme.ColorNameError), window, minText},
			{"danger button label", c(theme.ColorNameForegroundOnError), c(theme.ColorNameError), minText},
			{"success text", c(theme.ColorNameSuccess), window, minText},
			{"success button label", c(theme.ColorNameForegroundOnSuccess), c(theme.ColorNameSuccess), minText},
			{"warning text", c(theme.ColorNameWarning), window, minText},
			{"warning button label", c(theme.ColorNameForegroundOnWarning), c(theme.ColorNameWarning), minText},
			{"offline banner text", c(theme.ColorNameError), banner, minText},
			{"offline banner warning icon", c(theme.ColorNameWarning), banner, minLarge},
			{"icon on the window", c(theme.ColorNameForeground), window, minLarge},
			{"icon on a button", c(theme.ColorNameForeground), c(theme.ColorNameButton), minLarge},
			{"primary icon", c(theme.ColorNamePrimary), window, minLarge},
			{"entry border", c(theme.ColorNameInputBorder), window, minLarge},
		}
		for _, s := range []screening.Status{screening.Overdue, screening.Due, screening.DueSoon, screening.Complete,
			screening.CannotEvaluate, screening.NotEligible, screening.Excluded, screening.Superseded} {
			fill, text := statusColors(s)
			pairs = append(pairs, pair{"status badge " + string(s), text, fill, minText})
		}
		for _, p := range pairs {
			bg := over(p.bg, window)
			got := contrastRatio(over(p.fg, bg), bg)
			t.Logf("%s theme: %s: %s on %s = %.2f:1", name, p.what, hex(p.fg), hex(p.bg), got)
			if got < p.min {
				t.Errorf("%s theme: %s: %s on %s has contrast %.2f:1, want at least %.1f:1", name, p.what, hex(p.fg), hex(p.bg), got, p.min)
			}
		}
	}
}
