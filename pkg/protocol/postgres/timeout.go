package postgres

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// parseTimeout reads a statement_timeout value as the server does: a
// number of milliseconds, or a number followed by a unit (us, ms, s, min,
// h, d), with optional white space; a fraction is rounded to the unit
// below, as PostgreSQL does. 0 means no timeout. ok is false for a value
// the server would refuse, or none ("").
func parseTimeout(v string) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || (i == 0 && (v[i] == '+' || v[i] == '-'))) {
		i++
	}
	num, unit := v[:i], strings.TrimSpace(v[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	scale := map[string]time.Duration{
		"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
	}[unit]
	if scale == 0 {
		return 0, false
	}
	ms := f * float64(scale) / float64(time.Millisecond)
	if ms > math.MaxInt32 {
		return 0, false // over the server's limit: it refuses the value
	}
	// The server keeps whole milliseconds; a value below 1 ms that is not
	// 0 becomes 1 ms.
	n := math.RoundToEven(ms) // rint(), as the server
	if n == 0 && f > 0 {
		n = 1
	}
	return time.Duration(n) * time.Millisecond, true
}
