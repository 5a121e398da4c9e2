package jobs

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// parseInteger reads a JSON number whose value is an integer, however it is
// spelt: 12, 12.0, 1.2e1 and 1200e-2 are all 12, as for the schema's
// "integer". It works on the decimal digits, not through a float, so that it
// is exact to the last unit of an int.
func parseInteger(raw []byte, field string) (int, error) {
	lit := string(raw)
	if lit[0] != '-' && (lit[0] < '0' || lit[0] > '9') {
		return 0, mustBe(field, "an integer")
	}
	n, err := strconv.Atoi(lit) // the usual spelling
	if err != nil {
		n, err = parseDecimal(lit).int()
	}
	switch {
	case errors.Is(err, errFraction):
		return 0, mustBe(field, "an integer")
	case err != nil && lit[0] == '-':
		return 0, Invalid(field, "must be at least "+strconv.Itoa(math.MinInt))
	case err != nil:
		return 0, Invalid(field, "must be at most "+strconv.Itoa(math.MaxInt))
	}
	return n, nil
}

var (
	errFraction = errors.New("not an integer")
	errRange    = errors.New("out of the range of an int")
)

// decimal is the number (-1 if neg) × digits × 10^exp, with digits free of
// leading and trailing zeros: "" for zero.
type decimal struct {
	neg    bool
	digits string
	exp    int64
}

// parseDecimal reads a JSON number literal that encoding/json has checked.
func parseDecimal(lit string) decimal {
	var d decimal
	if d.neg = lit[0] == '-'; d.neg {
		lit = lit[1:]
	}
	mantissa, exp := lit, ""
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mantissa, exp = lit[:i], lit[i+1:]
	}
	whole, frac, _ := strings.Cut(mantissa, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	d.digits = strings.TrimRight(digits, "0")
	d.exp = exponent(exp) - int64(len(frac)) + int64(len(digits)-len(d.digits))
	return d
}

// exponent reads an exponent, saturating far beyond any that a number of a
// request's size could bring back into range, so that the sums in
// parseDecimal cannot overflow.
func exponent(s string) int64 {
	const limit = 1 << 40
	n, err := strconv.ParseInt(s, 10, 64)
	switch {
	case s == "":
		return 0
	case n > limit || err != nil && s[0] != '-':
		return limit
	case n < -limit || err != nil:
		return -limit
	}
	return n
}

// int returns d as an int, or errFraction or errRange.
func (d decimal) int() (int, error) {
	switch {
	case d.digits == "":
		return 0, nil
	case d.exp < 0:
		return 0, errFraction
	case int64(len(d.digits))+d.exp > 19: // at least 10^19, beyond any int
		return 0, errRange
	}
	s := d.digits + strings.Repeat("0", int(d.exp))
	if d.neg {
		s = "-" + s
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errRange
	}
	return n, nil
}
