package config

import (
	"fmt"
	"os"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// Load reads the file at path and parses it with [Parse], using path as the
// file name in errors.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates one YAML document. name is the file name used
// in errors. On failure it returns every problem found, joined with
// errors.Join; each is an *Error and matches ErrInvalid.
func Parse(name string, data []byte) (*Config, error) {
	root, err := yamldoc.Document(name, data, yamldoc.Messages{
		Empty:    "empty config file",
		Multiple: "more than one YAML document; the file must hold exactly one",
	})
	if err != nil {
		return nil, yamldoc.Join(ErrInvalid, []*Error{err})
	}
	c := Default()
	d := newDecoder(name)
	if d.mapping(root, "", configFields(c)) && !d.aborted {
		validate(c, d)
	}
	if len(d.errs) > 0 {
		return nil, yamldoc.Join(ErrInvalid, d.errs)
	}
	return c, nil
}
