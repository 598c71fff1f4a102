package phi

import "strings"

// validSSN applies the Social Security Administration's rules for numbers
// that can have been issued: area not 000, 666 or 900–999, group not 00,
// serial not 0000. digits holds exactly nine ASCII digits.
func validSSN(digits string) bool {
	if len(digits) != 9 {
		return false
	}
	area, group, serial := digits[:3], digits[3:5], digits[5:]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	return true
}

// luhn reports whether the digit string passes the Luhn check.
func luhn(digits string) bool {
	if len(digits) < 2 {
		return false
	}
	sum, double := 0, false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// validNPI checks a 10-digit National Provider Identifier: Luhn over the
// number prefixed with the card issuer prefix 80840.
func validNPI(digits string) bool {
	return len(digits) == 10 && (digits[0] == '1' || digits[0] == '2') && luhn("80840"+digits)
}

// validDEA checks a DEA registration number: two letters, seven digits;
// (d1+d3+d5) + 2×(d2+d4+d6) ends in d7.
func validDEA(s string) bool {
	if len(s) != 9 {
		return false
	}
	if !strings.ContainsRune("ABCDEFGHJKLMPRSTUX", rune(s[0])) || !(s[1] >= 'A' && s[1] <= 'Z' || s[1] == '9') {
		return false
	}
	var d [7]int
	for i := 0; i < 7; i++ {
		c := s[2+i]
		if c < '0' || c > '9' {
			return false
		}
		d[i] = int(c - '0')
	}
	return (d[0]+d[2]+d[4]+2*(d[1]+d[3]+d[5]))%10 == d[6]
}

// validVIN checks a 17-character vehicle identification number's check
// digit (position 9), per 49 CFR 565.
func validVIN(s string) bool {
	if len(s) != 17 {
		return false
	}
	weights := [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum, letters, digits := 0, 0, 0
	for i := 0; i < 17; i++ {
		v, ok := vinValue(s[i])
		if !ok {
			return false
		}
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		} else {
			letters++
		}
		sum += v * weights[i]
	}
	if letters == 0 || digits == 0 {
		return false
	}
	check := byte('0' + sum%11)
	if sum%11 == 10 {
		check = 'X'
	}
	return s[8] == check
}

func vinValue(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'H':
		return int(c-'A') + 1, true
	case c >= 'J' && c <= 'N':
		return int(c-'J') + 1, true
	case c == 'P':
		return 7, true
	case c == 'R':
		return 9, true
	case c >= 'S' && c <= 'Z':
		return int(c-'S') + 2, true
	}
	return 0, false
}

// VINCheckDigit returns the check digit a 17-character VIN must carry at
// position 9 for the other 16 characters. It is exported for generators of
// test data.
func VINCheckDigit(s string) byte {
	weights := [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}
	sum := 0
	for i := 0; i < len(s) && i < 17; i++ {
		v, _ := vinValue(s[i])
		sum += v * weights[i]
	}
	if sum%11 == 10 {
		return 'X'
	}
	return byte('0' + sum%11)
}

// validMBI checks the shape of a Medicare Beneficiary Identifier
// (11 characters, dashes removed): C A AN N A AN N A A N N, where letters
// exclude S, L, O, I, B and Z.
func validMBI(s string) bool {
	if len(s) != 11 {
		return false
	}
	const shape = "CAXNAXNAANN"
	for i := 0; i < 11; i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		isLetter := c >= 'A' && c <= 'Z' && !strings.ContainsRune("SLOIBZ", rune(c))
		switch shape[i] {
		case 'C':
			if !isDigit || c == '0' {
				return false
			}
		case 'N':
			if !isDigit {
				return false
			}
		case 'A':
			if !isLetter {
				return false
			}
		case 'X':
			if !isDigit && !isLetter {
				return false
			}
		}
	}
	return true
}

// digitsOf returns the ASCII digits of s.
func digitsOf(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
