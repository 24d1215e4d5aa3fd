package policytest

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// Decoding limits, as for policy files.
const (
	maxNodes  = 1 << 18 // YAML nodes visited, aliases included
	maxErrors = 100     // errors reported for one file
)

// decoder walks a test file's yaml.Node tree strictly, collecting every
// problem, like the policy decoder.
type decoder struct {
	file    string
	errs    []*yamldoc.Error
	nodes   int
	aborted bool
}

// field is one known key of a mapping.
type field struct {
	key    string
	decode func(n *yaml.Node, path string)
}

func (d *decoder) errorf(line int, path, format string, args ...any) {
	if d.aborted {
		return
	}
	if len(d.errs) == maxErrors {
		d.aborted = true
		d.errs = append(d.errs, &yamldoc.Error{File: d.file, Line: line, Msg: "too many errors; stopped here"})
		return
	}
	d.errs = append(d.errs, &yamldoc.Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases and counts the node against maxNodes.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, bool) {
	if d.aborted {
		return nil, false
	}
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil && depth <= 100; depth++ {
		n = n.Alias
	}
	d.nodes++
	if d.nodes > maxNodes || n.Kind == yaml.AliasNode {
		d.errorf(n.Line, "", "file too large or uses too many aliases")
		d.aborted = true
		return nil, false
	}
	return n, true
}

// mapping decodes a mapping whose keys must all be in fields and returns
// the keys present; ok is false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) (present map[string]bool, ok bool) {
	n, ok = d.resolve(n)
	if !ok {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping, got %s", yamldoc.Describe(n))
		return nil, false
	}
	present = map[string]bool{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.resolve(n.Content[i])
		if !ok {
			return present, false
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.errorf(k.Line, path, "mapping keys must be strings (merge keys are not supported)")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, path, "duplicate key %q (first at line %d)", k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		var f *field
		names := make([]string, 0, len(fields))
		for j := range fields {
			names = append(names, fields[j].key)
			if fields[j].key == k.Value {
				f = &fields[j]
			}
		}
		if f == nil {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := yamldoc.Suggest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k.Line, path, "%s", msg)
			continue
		}
		present[k.Value] = true
		f.decode(n.Content[i+1], yamldoc.JoinPath(path, k.Value))
	}
	return present, true
}

// sequence calls each for every item of a list.
func (d *decoder) sequence(n *yaml.Node, path string, each func(n *yaml.Node, path string)) bool {
	n, ok := d.resolve(n)
	if !ok {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "expected a list, got %s", yamldoc.Describe(n))
		return false
	}
	for i, item := range n.Content {
		if d.aborted {
			return false
		}
		each(item, path+"["+strconv.Itoa(i)+"]")
	}
	return true
}

// str decodes a plain scalar as its text; null is refused.
func (d *decoder) str(n *yaml.Node, path string) (string, int, bool) {
	n, ok := d.resolve(n)
	if !ok {
		return "", 0, false
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
			return n.Value, n.Line, true
		case "!!null":
			d.errorf(n.Line, path, `expected a string, got null (write "" for an empty value)`)
			return "", n.Line, false
		}
	}
	d.errorf(n.Line, path, "expected a string, got %s", yamldoc.Describe(n))
	return "", n.Line, false
}

// strList decodes a list of strings; an empty list is allowed.
func (d *decoder) strList(n *yaml.Node, path string) ([]string, bool) {
	out := []string{}
	ok := d.sequence(n, path, func(item *yaml.Node, p string) {
		if s, _, ok := d.str(item, p); ok {
			out = append(out, s)
		}
	})
	return out, ok
}

// uint32 decodes a non-negative integer that fits 32 bits.
func (d *decoder) uint32(n *yaml.Node, path string) (uint32, bool) {
	n, ok := d.resolve(n)
	if !ok {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 10, 32); err == nil {
			return uint32(v), true
		}
	}
	d.errorf(n.Line, path, "expected an integer from 0 to 4294967295, got %s", yamldoc.Describe(n))
	return 0, false
}
