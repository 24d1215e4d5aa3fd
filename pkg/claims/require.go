package claims

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrRequired is wrapped by the errors of Requirement.Check.
var ErrRequired = errors.New("a required claim does not hold")

// Requirement is one required claim: the claim at Path must hold one of
// Values. A string, integer or boolean claim is compared by its text; a
// list claim holds when one of its scalar items does.
type Requirement struct {
	Path   string
	Values []string
}

// Check reports whether the claims meet r.
func (r Requirement) Check(c map[string]any) error {
	v, ok := Lookup(c, r.Path)
	if !ok {
		return fmt.Errorf("%w: claim %q is missing (required: %s)", ErrRequired, r.Path, quoted(r.Values))
	}
	items := []any{v}
	if l, isList := v.([]any); isList {
		items = l
	}
	for _, it := range items {
		if s, ok := Text(it); ok && slices.Contains(r.Values, s) {
			return nil
		}
	}
	got := "a value that is not text"
	if s, ok := Text(v); ok {
		got = fmt.Sprintf("%q", clip(s))
	} else if _, isList := v.([]any); isList {
		got = "a list without any of them"
	}
	return fmt.Errorf("%w: claim %q is %s (required: %s)", ErrRequired, r.Path, got, quoted(r.Values))
}

func quoted(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", clip(v))
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}

// MaxExposed bounds the JSON size of one exposed claim, in bytes.
const MaxExposed = 1024

// ErrTooLarge is wrapped when an exposed claim is larger than MaxExposed.
var ErrTooLarge = errors.New("claim too large to expose")

// Select returns the claims named by paths that c holds, keyed by path,
// for policies and events. A claim larger than MaxExposed bytes of JSON
// is an error: policies must not see a claim cut short.
func Select(c map[string]any, paths []string) (map[string]any, error) {
	out := make(map[string]any, len(paths))
	for _, p := range paths {
		v, ok := Lookup(c, p)
		if !ok {
			continue
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("claim %q: %w", p, err)
		}
		if len(data) > MaxExposed {
			return nil, fmt.Errorf("%w: claim %q is %d bytes of JSON; at most %d are exposed", ErrTooLarge, p, len(data), MaxExposed)
		}
		out[p] = v
	}
	return out, nil
}
