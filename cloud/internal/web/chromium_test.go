package web_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"healthprep.dev/cloud/internal/identity"
)

// chromiumPath is Debian's chromium package; `make deps` installs it.
const chromiumPath = "/usr/bin/chromium"

// newChromium starts a headless Chromium with a fresh profile that accepts
// the test server's self-signed certificate, and returns a tab's context.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is missing (%v): run `make deps` to install the Debian package chromium", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 1100),
	)
	t.Cleanup(cancelAlloc) // stops the browser and waits for it
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	return tab
}

// screenshotDir is $HP_SCREENSHOT_DIR, or a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("HP_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// screenshot saves the whole page as PNG, logs where, and checks that it
// is not blank (a page with text, fields and colours has a large spread of
// luminance; a blank or single-colour page has none).
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	data, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	if sd := luminanceSD(img); sd < 10 {
		t.Errorf("screenshot %s looks blank: luminance standard deviation %.1f; want ≥ 10", name, sd)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 400 {
		t.Errorf("screenshot %s is %dx%d; want at least 500x400", name, b.Dx(), b.Dy())
	}
}

func luminanceSD(img image.Image) float64 {
	b := img.Bounds()
	var n, sum, sq float64
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			l := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			n++
			sum += l
			sq += l * l
		}
	}
	mean := sum / n
	return math.Sqrt(sq/n - mean*mean)
}

func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

func run[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// TestChromium drives the pages in headless Chromium over TLS against real
// Postgres: an invited admin opens the emailed link, sets a password,
// enrols TOTP from the key on the page, sees the recovery codes, signs out,
// signs in with password and TOTP and reaches the landing page; then a
// tampered form is refused and changes nothing.
func TestChromium(t *testing.T) {
	t.Parallel()
	f := setup(t)
	const email = "dana.okafor@riverside.example"
	const pw = "lanterns drift over the harbour"
	f.secret(email, pw)
	_, link := f.invite(t, email, identity.RoleAdmin)
	ctx := newChromium(t)
	dir := screenshotDir(t)
	began := time.Now()

	do(t, ctx, "open the invitation link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("invite")))
	if loc := run(t, ctx, "read the address", chromedp.Location()); loc != f.base+"/invite/accept" {
		t.Errorf("address after opening the link = %q; want %q (the token must leave the URL)", loc, f.base+"/invite/accept")
	}
	do(t, ctx, "set the password",
		chromedp.SendKeys(chromedp.ID("name"), "Dana Okafor"),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.SendKeys(chromedp.ID("confirm"), pw),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("qr")),
	)
	loaded := run(t, ctx, "check the QR image", chromedp.Evaluate[bool](
		`(() => { const i = document.getElementById('qr'); return i.complete && i.naturalWidth === 256; })()`))
	if !loaded {
		t.Errorf("the QR code image did not load (CSP img-src data: must allow it)")
	}
	secret := strings.ReplaceAll(run(t, ctx, "read the key", chromedp.Text(chromedp.ID("secret"))), " ", "")
	f.secret(secret)
	screenshot(t, ctx, dir, "web-totp-enrolment.png")

	do(t, ctx, "confirm the first code",
		chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret, f.clock.Now())),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("recovery-codes")),
	)
	codes := strings.Fields(run(t, ctx, "read the recovery codes", chromedp.Text(chromedp.ID("recovery-codes"))))
	if len(codes) != identity.RecoveryCodeCount {
		t.Errorf("recovery codes on the page = %d; want %d", len(codes), identity.RecoveryCodeCount)
	}
	f.secret(codes...)

	do(t, ctx, "continue and sign out",
		chromedp.Click(chromedp.ID("continue")),
		chromedp.WaitVisible(chromedp.ID("signout-button")),
		chromedp.Click(chromedp.ID("signout-button")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if n := run(t, ctx, "read the notice", chromedp.Text(chromedp.ID("notice"))); n != "You have signed out." {
		t.Errorf("notice after sign-out = %q; want %q", n, "You have signed out.")
	}

	f.clock.Advance(30 * time.Second) // a new TOTP step
	do(t, ctx, "sign in with the password",
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("code-form")),
	)
	do(t, ctx, "give the second factor",
		chromedp.SendKeys(chromedp.ID("code"), totpCode(t, secret, f.clock.Now())),
		chromedp.Click(chromedp.ID("submit")),
		chromedp.WaitVisible(chromedp.ID("welcome")),
	)
	if role := run(t, ctx, "read the role", chromedp.Text(chromedp.ID("role"))); role != "Administrator" {
		t.Errorf("role on the landing page = %q; want Administrator", role)
	}
	screenshot(t, ctx, dir, "web-landing.png")

	// A forged sign-out (its CSRF token tampered with) is refused and the
	// session stays open.
	open := func() int {
		return f.count(t, `SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE u.email = $1 AND s.revoked_at IS NULL AND s.mfa_verified`, email)
	}
	before := open()
	if ok := run(t, ctx, "tamper with the form", chromedp.Evaluate[bool](
		`(() => { document.querySelector('#signout input[name=csrf]').value = 'forged'; return true; })()`)); !ok {
		t.Fatal("could not tamper with the form")
	}
	do(t, ctx, "send the forged form",
		chromedp.Click(chromedp.ID("signout-button")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if h := run(t, ctx, "read the title", chromedp.Title()); !strings.HasPrefix(h, "This form has expired") {
		t.Errorf("title after the forged form = %q; want it to start with %q", h, "This form has expired")
	}
	if got := open(); got != before || got == 0 {
		t.Errorf("open sessions after the forged sign-out = %d; want %d (unchanged)", got, before)
	}
	do(t, ctx, "still signed in", chromedp.Navigate(f.base+"/"), chromedp.WaitVisible(chromedp.ID("welcome")))
	t.Logf("browser flow took %v", time.Since(began).Round(time.Millisecond))
}
