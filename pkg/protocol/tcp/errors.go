package tcp

import (
	"errors"
	"syscall"
)

// isReset reports errors that just mean the peer went away.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
