package policy

import (
	"fmt"
	"strconv"

	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the YAML nodes the decoder visits, aliases included, so
// that a small file cannot expand into a huge one.
const maxNodes = 1 << 18

// decodeFunc decodes the value n found at path.
type decodeFunc func(d *decoder, n *yaml.Node, path string)

// field is one known key of a mapping. A field whose later is set is
// reserved for a later version: the key is recognized and refused.
type field struct {
	key    string
	decode decodeFunc
	later  string // what the key will hold, for the "not supported" message
}

// decoder walks a yaml.Node tree strictly, collecting every problem.
type decoder struct {
	file    string
	known   Known
	errs    []*Error
	nodes   int
	aborted bool
}

// maxErrors bounds the errors reported for one file; decoding stops there.
const maxErrors = 100

func (d *decoder) errorf(line int, path, format string, args ...any) {
	if d.aborted {
		return
	}
	if len(d.errs) == maxErrors {
		d.aborted = true
		d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "too many errors; stopped here"})
		return
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// resolve follows aliases and counts the node against maxNodes. It returns
// false once the budget is spent.
func (d *decoder) resolve(n *yaml.Node) (*yaml.Node, bool) {
	if d.aborted {
		return nil, false
	}
	for depth := 0; n.Kind == yaml.AliasNode && n.Alias != nil; depth++ {
		if depth > 100 {
			break
		}
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

// mapping decodes a mapping whose keys must all be in fields, and returns
// the keys present. It reports false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) (map[string]bool, bool) {
	n, ok := d.resolve(n)
	if !ok {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping, got %s", yamldoc.Describe(n))
		return nil, false
	}
	seen := map[string]int{}
	present := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.resolve(n.Content[i])
		if !ok {
			return present, false
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
			d.errorf(k.Line, path, "duplicate key %q (first at line %d)", key, first)
			continue
		}
		seen[key] = k.Line
		f := lookupField(fields, key)
		switch {
		case f == nil:
			d.unknownKey(k, path, key, fields)
		case f.later != "":
			d.errorf(k.Line, yamldoc.JoinPath(path, key), "not supported in this version; %s will come in a later one", f.later)
		default:
			present[key] = true
			f.decode(d, n.Content[i+1], yamldoc.JoinPath(path, key))
		}
	}
	return present, true
}

func (d *decoder) unknownKey(k *yaml.Node, path, key string, fields []field) {
	msg := fmt.Sprintf("unknown key %q", key)
	if path == "" {
		msg = fmt.Sprintf("unknown top-level key %q", key)
	}
	var names []string
	for _, f := range fields {
		if f.later == "" {
			names = append(names, f.key)
		}
	}
	if s := yamldoc.Suggest(key, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errorf(k.Line, path, "%s", msg)
}

func lookupField(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// sequence calls each for every item of a list. It reports false when n
// is not a list; null is not a list.
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

// str decodes any plain scalar (string, number, boolean, date) as its
// text. Null is refused so that "key:" with nothing after it is not read
// as "". It returns the scalar's line.
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

// boolean decodes true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	n, ok := d.resolve(n)
	if !ok {
		return false, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	d.errorf(n.Line, path, "expected true or false, got %s", yamldoc.Describe(n))
	return false, false
}

// stringList decodes a list of strings, calling each with every item and
// its line. An empty list is reported with the message empty: a key
// written with nothing in it would constrain to nothing (or to
// everything), which is never what was meant.
func (d *decoder) stringList(n *yaml.Node, path, empty string, each func(s string, line int, path string)) {
	count := 0
	ok := d.sequence(n, path, func(item *yaml.Node, p string) {
		count++
		if s, line, ok := d.str(item, p); ok {
			each(s, line, p)
		}
	})
	if ok && count == 0 {
		d.errorf(n.Line, path, "%s", empty)
	}
}
