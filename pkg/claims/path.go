package claims

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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
	return normalize(raw).(map[string]any), nil
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
