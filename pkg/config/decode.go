package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes the decoder visits, aliases included, so a
// small document cannot expand into a huge one.
const maxNodes = 1 << 20

// A decodeFunc decodes the value n found at path.
type decodeFunc func(d *decoder, n *yaml.Node, path string)

// field is one known key of a mapping.
type field struct {
	key    string
	decode decodeFunc
}

// decoder walks a yaml.Node tree strictly. It records the line of every path
// it decodes, for the errors found later by validation, and the paths whose
// values it could not decode, so validation does not report them twice.
type decoder struct {
	file    string
	errs    []*Error
	lines   map[string]int
	bad     map[string]bool
	nodes   int
	aborted bool
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, lines: map[string]int{}, bad: map[string]bool{}}
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// fail reports a value that could not be decoded and marks its path bad.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.bad[path] = true
	d.errorf(n.Line, path, format, args...)
}

func (d *decoder) setLine(path string, line int) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// resolve follows aliases and counts the node against maxNodes. It returns
// false once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, bool) {
	if d.aborted {
		return nil, false
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes {
		d.aborted = true
		d.errorf(n.Line, "", "document too large or uses too many aliases")
		return nil, false
	}
	return n, true
}

// mapping decodes a mapping whose keys must all be in fields. A null value is
// an empty mapping. It reports whether n was a mapping or null.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) bool {
	d.setLine(path, n.Line)
	n, ok := d.resolve(n)
	if !ok {
		return false
	}
	if yamldoc.IsNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", yamldoc.Describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.resolve(n.Content[i])
		if !ok {
			return false
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "mapping keys must be strings, got %s", yamldoc.Describe(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			d.errorf(k.Line, path, "merge keys (<<) are not supported")
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			d.errorf(k.Line, path, "duplicate key %q (first defined at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		f := lookupField(fields, key)
		if f == nil {
			msg := fmt.Sprintf("unknown key %q", key)
			if path == "" {
				msg = fmt.Sprintf("unknown top-level key %q", key)
			}
			if s := yamldoc.Suggest(key, fieldKeys(fields)); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k.Line, path, "%s", msg)
			continue
		}
		kp := yamldoc.JoinPath(path, key)
		d.setLine(kp, k.Line)
		f.decode(d, n.Content[i+1], kp)
	}
	return true
}

func lookupField(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// sequence calls each for every item of a list. A null value is an empty
// list.
func (d *decoder) sequence(n *yaml.Node, path string, each func(n *yaml.Node, path string)) {
	d.setLine(path, n.Line)
	n, ok := d.resolve(n)
	if !ok || yamldoc.IsNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", yamldoc.Describe(n))
		return
	}
	for i, item := range n.Content {
		if d.aborted {
			return
		}
		p := path + "[" + strconv.Itoa(i) + "]"
		d.setLine(p, item.Line)
		each(item, p)
	}
}

// scalarString decodes any plain scalar (string, number, boolean, date) as
// its text. Null is refused so that "key:" with nothing after it is not
// silently read as "".
func (d *decoder) scalarString(n *yaml.Node, path string) (string, bool) {
	d.setLine(path, n.Line)
	n, ok := d.resolve(n)
	if !ok {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a string, got %s", yamldoc.Describe(n))
		return "", false
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, true
	case "!!null":
		d.fail(n, path, `expected a string, got null (write "" for an empty value)`)
	default:
		d.fail(n, path, "expected a string, got %s", yamldoc.Describe(n))
	}
	return "", false
}

// scalarUint32 decodes an integer in [0, 2^32-1], written as YAML allows
// (decimal, 0x, 0o, 0b, with _ separators).
func (d *decoder) scalarUint32(n *yaml.Node, path string) (uint32, bool) {
	d.setLine(path, n.Line)
	n, ok := d.resolve(n)
	if !ok {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.fail(n, path, "expected an integer, got %s", yamldoc.Describe(n))
		return 0, false
	}
	text := strings.ReplaceAll(n.Value, "_", "")
	text = strings.TrimPrefix(text, "+")
	if strings.HasPrefix(text, "-") {
		if v, err := strconv.ParseInt(text, 0, 64); err == nil && v == 0 {
			return 0, true
		}
		d.fail(n, path, "must not be negative, got %s", yamldoc.Safe(n.Value))
		return 0, false
	}
	v, err := strconv.ParseUint(text, 0, 32)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			d.fail(n, path, "must be at most %d, got %s", uint32(1<<32-1), yamldoc.Safe(n.Value))
		} else {
			d.fail(n, path, "invalid integer %q", n.Value)
		}
		return 0, false
	}
	return uint32(v), true
}

// Generic decodeFuncs, for the field tables in schema.go.

// str decodes a string into out.
func str[T ~string](out *T) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if s, ok := d.scalarString(n, path); ok {
			*out = T(s)
		}
	}
}

// u32 decodes an unsigned 32-bit integer into out.
func u32(out *uint32) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalarUint32(n, path); ok {
			*out = v
		}
	}
}

// object decodes a mapping with the given known keys.
func object(fields []field) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.mapping(n, path, fields)
	}
}

// list decodes a list, replacing whatever out held (the default), with item
// decoding each element. Every element is appended, even one that failed,
// so indexes in out match indexes in the file.
func list[T any](out *[]T, item func(d *decoder, n *yaml.Node, path string) T) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		*out = nil
		d.sequence(n, path, func(n *yaml.Node, p string) {
			*out = append(*out, item(d, n, p))
		})
	}
}

func uint32Item(d *decoder, n *yaml.Node, path string) uint32 {
	v, _ := d.scalarUint32(n, path)
	return v
}

func stringItem(d *decoder, n *yaml.Node, path string) string {
	s, _ := d.scalarString(n, path)
	return s
}

// fieldKeys lists the keys of fields, for suggestions.
func fieldKeys(fields []field) []string {
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}
