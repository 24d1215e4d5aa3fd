package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// Decoders of booleans, durations and byte sizes, for the field tables.

// boolean decodes true or false into out.
func boolean(out *bool) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.setLine(path, n.Line)
		n, ok := d.resolve(n)
		if !ok {
			return
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.fail(n, path, "expected true or false, got %s", yamldoc.Describe(n))
			return
		}
		*out = strings.EqualFold(n.Value, "true")
	}
}

// duration decodes a duration such as 100ms, 12h or 30d into out.
func duration(out *time.Duration) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.setLine(path, n.Line)
		n, ok := d.resolve(n)
		if !ok {
			return
		}
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
			d.fail(n, path, "expected a duration with a unit, such as 100ms, 12h or 30d, got %s", yamldoc.Describe(n))
			return
		}
		v, err := ParseDuration(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		*out = v
	}
}

// byteSize decodes a size in bytes (an integer, or a number with a unit
// such as 500MB or 10GiB) into out.
func byteSize(out *uint64) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.setLine(path, n.Line)
		n, ok := d.resolve(n)
		if !ok {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int") {
			d.fail(n, path, "expected a size, such as 500MB or 10GiB, got %s", yamldoc.Describe(n))
			return
		}
		v, err := ParseSize(n.Value)
		if err != nil {
			d.fail(n, path, "%v", err)
			return
		}
		*out = v
	}
}

// durationForms is the hint every duration error carries.
const durationForms = "a number and a unit (ms, s, m, h or d), such as 100ms, 12h or 30d"

// ParseDuration parses a non-negative duration: Go's form (100ms, 1h30m)
// or a whole number of days (30d).
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(t, "d"); ok && days != "" && !strings.ContainsAny(days, "hmsuµn") {
		n, err := strconv.ParseUint(days, 10, 32)
		if err != nil || n > math.MaxInt64/uint64(24*time.Hour) {
			return 0, fmt.Errorf("invalid duration %q: write %s", clipValue(s), durationForms)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: write %s", clipValue(s), durationForms)
	}
	if v < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", clipValue(s))
	}
	return v, nil
}

// sizeUnits are the units a size may carry, in lower case.
var sizeUnits = map[string]uint64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize parses a size in bytes: an integer, optionally followed by a
// unit (B, KB, MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers
// of 1024; any case).
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(t[:i], "_", ""), strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q: write a whole number of bytes, or one with a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB), such as 500MB or 10GiB", clipValue(s))
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("invalid size %q: too large", clipValue(s))
		}
		return 0, fmt.Errorf("invalid size %q", clipValue(s))
	}
	return n * mult, nil
}

// clipValue bounds a value quoted in an error.
func clipValue(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
