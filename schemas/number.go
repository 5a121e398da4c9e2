package schemas

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The library checks numbers with math/big, whose cost grows with the digits
// and the exponent of the literal: a 1 MiB integer takes seconds, 1e1000000
// tens of milliseconds. tame rewrites the numbers of a parsed document so that
// every check stays cheap and gives the verdict the literal would have got:
//   - a number of at most maxDigits significant digits and a magnitude within
//     10^±maxExponent is rewritten exactly, in its shortest form;
//   - any other integer is beyond every bound in the schemas, and becomes
//     ±10^maxExponent, an integer as far beyond them;
//   - any other non-integer becomes 0.5, which fails "integer" just as well.
//
// The schemas only apply "integer" and bounds near the int64 range to
// numbers, so these stand-ins change no verdict and no message.
const (
	maxDigits   = 40
	maxExponent = 400
)

// tame rewrites the numbers in v in place, and returns v.
func tame(v any) any {
	switch v := v.(type) {
	case json.Number:
		return tameNumber(string(v))
	case map[string]any:
		for k, x := range v {
			v[k] = tame(x)
		}
	case []any:
		for i, x := range v {
			v[i] = tame(x)
		}
	}
	return v
}

// tameNumber takes a literal that encoding/json has already checked.
func tameNumber(lit string) json.Number {
	d := parseDecimal(lit)
	switch {
	case d.digits == "":
		return "0"
	case len(d.digits) <= maxDigits && d.exp >= -maxExponent && d.exp+int64(len(d.digits)) <= maxExponent:
		return json.Number(d.sign + d.digits + "e" + strconv.FormatInt(d.exp, 10))
	case d.exp < 0:
		return "0.5"
	}
	return json.Number(d.sign + "1e" + strconv.Itoa(maxExponent))
}

// decimal is the value sign digits × 10^exp, digits without leading or
// trailing zeros ("" for zero).
type decimal struct {
	sign   string
	digits string
	exp    int64
}

func parseDecimal(lit string) decimal {
	var d decimal
	if strings.HasPrefix(lit, "-") {
		d.sign, lit = "-", lit[1:]
	}
	mantissa, exponent, _ := strings.Cut(strings.ToLower(lit), "e")
	whole, frac, _ := strings.Cut(mantissa, ".")
	d.exp = parseExponent(exponent) - int64(len(frac))
	d.digits = strings.TrimLeft(whole+frac, "0")
	trimmed := strings.TrimRight(d.digits, "0")
	d.exp += int64(len(d.digits) - len(trimmed))
	d.digits = trimmed
	return d
}

// parseExponent reads an exponent, saturating far beyond what tameNumber
// keeps, so that the sums above cannot overflow.
func parseExponent(s string) int64 {
	const limit = 1 << 40
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case s == "":
		return 0
	case n > limit || err != nil && !strings.HasPrefix(s, "-"):
		return limit
	case n < -limit || err != nil:
		return -limit
	}
	return n
}
