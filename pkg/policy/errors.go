package policy

import (
	"errors"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// ErrInvalid is matched (errors.Is) by every error [LoadDir] and [Parse]
// return, whatever the reason.
var ErrInvalid = errors.New("invalid policy")

// ErrSyntax is matched (errors.Is), in addition to [ErrInvalid], by errors
// for input that is not well-formed YAML.
var ErrSyntax = yamldoc.ErrSyntax

// Error is one problem in a policy file: "file:line: path: msg". Its Path
// is a key path such as "policies[0].rules[2].postgres.kinds[1]".
type Error = yamldoc.Error
