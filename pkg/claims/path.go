package claims

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// MaxPath bounds the length of a claim path, in bytes.
const MaxPath = 128

// CheckPath reports why p cannot name a claim, or nil: it must be 1 to
// MaxPath bytes, without whitespace, control characters, braces or empty
// dot-separated segments.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty claim name")
	case len(p) > MaxPath:
		return fmt.Errorf("claim name longer than %d bytes", MaxPath)
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '{' || r == '}' }):
		return fmt.Errorf("claim name %q contains whitespace, control characters or braces", clip(p))
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("claim name %q has an empty segment (a leading, trailing or doubled dot)", clip(p))
		}
	}
	return nil
}

// Lookup returns the claim named by path p in c. At each level the longest
// run of p's dot-separated segments that names a key is taken, so claim
// names holding dots work as written.
func Lookup(c map[string]any, p string) (any, bool) {
	segs := strings.Split(p, ".")
	cur := c
	for len(segs) > 0 {
		found := false
		for n := len(segs); n > 0; n-- {
			v, ok := cur[strings.Join(segs[:n], ".")]
			if !ok {
				continue
			}
			segs = segs[n:]
			if len(segs) == 0 {
				return v, true
			}
			m, isMap := v.(map[string]any)
			if !isMap {
				return nil, false
			}
			cur, found = m, true
			break
		}
		if !found {
			return nil, false
		}
	}
	return nil, false
}

// Decode decodes a JSON object of claims. Numbers that are integers
// become int64 (a 64-bit id keeps every digit), others float64.
func Decode(data []byte) (map[string]any, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("the claims are not a JSON object")
	}
	if a, b, ok := foldedPair(raw); ok {
		return nil, fmt.Errorf("%w: %q and %q", ErrFoldedNames, clip(a), clip(b))
	}
	return normalize(raw).(map[string]any), nil
}

// ErrFoldedNames is wrapped by Decode's error for claims with two names
// that differ only in case ("sub" and "SUB", or "Sub" with a long s):
// encoding/json, which OIDC libraries decode registered claims with,
// matches names without regard to case and keeps the last, while a map
// keeps both, so the two readings of one token could disagree (which
// subject, which expiry).
var ErrFoldedNames = errors.New("two claim names differ only in case")

// foldedPair returns two names of m that are equal under Unicode case
// folding, if there are any.
func foldedPair(m map[string]any) (string, string, bool) {
	seen := make(map[string]string, len(m))
	for k := range m {
		f := foldKey(k)
		if other, dup := seen[f]; dup {
			if other > k {
				other, k = k, other
			}
			return other, k, true
		}
		seen[f] = k
	}
	return "", "", false
}

// foldKey maps every rune of s to the smallest rune of its case-folding
// orbit, so that two names equal under strings.EqualFold map to the same
// key.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, err := v.Float64()
		if err != nil || math.IsInf(f, 0) {
			return v.String()
		}
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = normalize(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = normalize(x)
		}
		return v
	}
	return v
}

// Text returns a scalar claim as text: a string as is, an integer in
// decimal, a boolean as true or false. Other values (numbers with a
// fraction, lists, objects, null) have no text form.
func Text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return strconv.FormatInt(int64(v), 10), true
		}
	}
	return "", false
}

// clip bounds a value quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
