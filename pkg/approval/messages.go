package approval

import (
	"fmt"
	"strings"
	"time"
)

// ApproveCommand is the command that approves request id (once).
func ApproveCommand(id string) string { return "sluice approve " + id }

// ApproveForCommand is the command that approves request id for d.
func ApproveForCommand(id string, d time.Duration) string {
	return fmt.Sprintf("sluice approve %s --for %s", id, shortDuration(d))
}

// DenyCommand is the command that denies request id.
func DenyCommand(id string) string { return "sluice deny " + id + ` --reason "..."` }

// TimeoutMessage is what the client of a request that timed out is told:
// the request id and what makes the statement pass.
func TimeoutMessage(id string, timeout time.Duration) string {
	return fmt.Sprintf("approval request %s got no decision within %s; the statement did not run. "+
		"Once an approver has run `%s`, run it again", id, shortDuration(timeout), ApproveCommand(id))
}

// shortDuration prints 10m rather than 10m0s, 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
