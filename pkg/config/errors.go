package config

import (
	"errors"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// ErrInvalid is matched (errors.Is) by every error [Parse] returns for a
// config it rejects, whatever the reason.
var ErrInvalid = errors.New("invalid config")

// ErrSyntax is matched (errors.Is), in addition to [ErrInvalid], by errors
// for input that is not well-formed YAML.
var ErrSyntax = yamldoc.ErrSyntax

// Error is one problem in a config file: "file:line: path: msg". Its Path
// is a key path such as "identities[1].match.uid".
type Error = yamldoc.Error
