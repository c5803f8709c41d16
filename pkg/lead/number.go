package lead

import (
	"fmt"
	"strconv"
	"strings"
)

// DynamoDB numbers: up to 38 significant digits, magnitude between 1E-130 and
// 9.9999999999999999999999999999999999999E+125 (and zero).
const (
	maxSignificantDigits = 38
	minExponent          = -130
	maxExponent          = 125
)

// CanonicalNumber checks that s is a JSON number DynamoDB can store exactly and returns it in
// the plain decimal form DynamoDB itself returns (no exponent, no redundant zeros), so the
// 201 body, the stored item and the event agree digit for digit. ok is false for anything
// that is not a JSON number or would need rounding.
func CanonicalNumber(s string) (canon string, ok bool) {
	neg, digits, exp, ok := splitNumber(s)
	if !ok {
		return "", false
	}
	// Strip leading zeros; the value is 0.digits × 10^exp from here on.
	i := 0
	for i < len(digits) && digits[i] == '0' {
		i++
	}
	digits = digits[i:]
	exp -= i
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return "0", true
	}
	if len(digits) > maxSignificantDigits {
		return "", false
	}
	// The first significant digit stands for 10^(exp-1).
	if sci := exp - 1; sci < minExponent || sci > maxExponent {
		return "", false
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	switch {
	case exp <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -exp))
		b.WriteString(digits)
	case exp >= len(digits):
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", exp-len(digits)))
	default:
		b.WriteString(digits[:exp])
		b.WriteByte('.')
		b.WriteString(digits[exp:])
	}
	return b.String(), true
}

// splitNumber parses the JSON number grammar into sign, all mantissa digits and the
// exponent of the decimal point relative to the start of those digits.
func splitNumber(s string) (neg bool, digits string, exp int, ok bool) {
	if s == "" {
		return false, "", 0, false
	}
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	if n == 0 || (s[0] == '0' && n > 1) {
		return false, "", 0, false
	}
	intPart := s[:n]
	s = s[n:]
	frac := ""
	if s != "" && s[0] == '.' {
		m := 1
		for m < len(s) && isDigit(s[m]) {
			m++
		}
		if m == 1 {
			return false, "", 0, false
		}
		frac = s[1:m]
		s = s[m:]
	}
	e := 0
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		rest := s[1:]
		if rest != "" && (rest[0] == '+' || rest[0] == '-') {
			rest = rest[1:]
		}
		if rest == "" {
			return false, "", 0, false
		}
		for i := 0; i < len(rest); i++ {
			if !isDigit(rest[i]) {
				return false, "", 0, false
			}
		}
		// Leading zeros say nothing (1e0000001 is 1e1); past them, more than six exponent
		// digits is far outside DynamoDB's range either way.
		sig := strings.TrimLeft(rest, "0")
		if len(sig) > 6 {
			return false, "", 0, false
		}
		if sig == "" {
			sig = "0"
		}
		v, err := strconv.Atoi(s[1:len(s)-len(rest)] + sig)
		if err != nil {
			return false, "", 0, false
		}
		e = v
		s = ""
	}
	if s != "" {
		return false, "", 0, false
	}
	return neg, intPart + frac, len(intPart) + e, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Number is a decimal number in the canonical form CanonicalNumber returns. It renders as a
// JSON number, digit for digit.
type Number string

// String returns the decimal digits of n.
func (n Number) String() string { return string(n) }

// MarshalJSON renders n as a JSON number.
func (n Number) MarshalJSON() ([]byte, error) {
	if _, ok := CanonicalNumber(string(n)); !ok {
		return nil, fmt.Errorf("render number %q: not a number DynamoDB can store", string(n))
	}
	return []byte(n), nil
}
