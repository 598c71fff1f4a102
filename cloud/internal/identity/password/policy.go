package password

import (
	_ "embed"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits in Unicode code points, after NFKC normalisation.
const (
	MinLength = 12
	MaxLength = 128
)

//go:embed common-passwords.txt
var commonList string

// ErrWeak matches every *WeakError.
var ErrWeak = errors.New("weak password")

// WeakError says, in words a person can act on, why a password is refused.
// It never repeats the password.
type WeakError struct{ Reason string }

func (e *WeakError) Error() string { return "weak password: " + e.Reason }

// Unwrap makes errors.Is(err, ErrWeak) true.
func (e *WeakError) Unwrap() error { return ErrWeak }

// Policy checks new passwords. Build it once with NewPolicy and share it.
type Policy struct {
	common map[string]struct{}
}

// NewPolicy loads the embedded common-password list.
func NewPolicy() *Policy {
	lines := strings.Split(strings.TrimSpace(commonList), "\n")
	p := &Policy{common: make(map[string]struct{}, len(lines))}
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			p.common[l] = struct{}{}
		}
	}
	return p
}

// CommonCount is the number of passwords on the embedded list.
func (p *Policy) CommonCount() int { return len(p.common) }

// Check returns nil when pw may be used by the account with the given email,
// or a *WeakError saying why not.
func (p *Policy) Check(pw, email string) error {
	if len(pw) > MaxBytes {
		return &WeakError{Reason: "it must be at most 128 characters long"}
	}
	if !utf8.ValidString(pw) {
		return &WeakError{Reason: "it contains characters that are not valid text"}
	}
	n := Normalize(pw)
	count := utf8.RuneCountInString(n)
	switch {
	case count < MinLength:
		return &WeakError{Reason: "it must be at least 12 characters long"}
	case count > MaxLength:
		return &WeakError{Reason: "it must be at most 128 characters long"}
	}
	for _, r := range n {
		if unicode.IsControl(r) {
			return &WeakError{Reason: "it contains control characters"}
		}
	}
	lower := strings.ToLower(n)
	if p.isCommon(lower) {
		return &WeakError{Reason: "it is one of the most commonly used passwords"}
	}
	if trivial(lower) {
		return &WeakError{Reason: "it is a repeated or sequential run of characters"}
	}
	if local, _, ok := strings.Cut(strings.ToLower(email), "@"); ok && utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		return &WeakError{Reason: "it must not contain your email name"}
	}
	if strings.Contains(lower, "healthprep") {
		return &WeakError{Reason: "it must not contain the product name"}
	}
	return nil
}

// isCommon reports whether s, or s with digits and symbols removed from
// either end ("password2024!", "123dragon123"), is on the list.
func (p *Policy) isCommon(s string) bool {
	if _, ok := p.common[s]; ok {
		return true
	}
	notLetter := func(r rune) bool { return !unicode.IsLetter(r) }
	core := strings.TrimFunc(s, notLetter)
	if utf8.RuneCountInString(core) < 4 || core == s {
		return false
	}
	_, ok := p.common[core]
	return ok
}

// trivial reports a string of at most two distinct characters ("aaaa…",
// "abab…") or a run whose characters all step by +1 or all by −1
// ("abcdefghijkl", "987654321098" with digits wrapping).
func trivial(s string) bool {
	rs := []rune(s)
	distinct := map[rune]bool{}
	for _, r := range rs {
		distinct[r] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	step := func(a, b rune) rune {
		if a >= '0' && a <= '9' && b >= '0' && b <= '9' {
			return ((b-a)%10+10+5)%10 - 5 // 9→0 is +1, 0→9 is −1
		}
		return b - a
	}
	d := step(rs[0], rs[1])
	if d != 1 && d != -1 {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if step(rs[i-1], rs[i]) != d {
			return false
		}
	}
	return true
}
