package yamldoc

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// IsNull reports whether n is a null scalar.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names a node's kind and value for "expected X, got Y" messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!int":
			return "integer " + Safe(n.Value)
		case "!!float":
			return "number " + Safe(n.Value)
		case "!!bool":
			return "boolean " + Safe(n.Value)
		}
		return "a value tagged " + Safe(n.ShortTag())
	}
	return "nothing"
}

// JoinPath appends a key to a key path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
