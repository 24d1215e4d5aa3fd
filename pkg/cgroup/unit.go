package cgroup

import "strings"

// Unit returns the systemd unit that owns the cgroup path p: the deepest
// path component ending in ".service" or ".scope", or "" if there is none.
// Slices are not units for this purpose, and sub-cgroups a service creates
// below its own cgroup belong to the service:
//
//	Unit("/system.slice/nightly-etl.service/sub") == "nightly-etl.service"
//	Unit("/user.slice/user-1000.slice/session-3.scope") == "session-3.scope"
//	Unit("/system.slice") == ""
func Unit(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		name := parts[i]
		if strings.HasSuffix(name, ".service") || strings.HasSuffix(name, ".scope") {
			return name
		}
	}
	return ""
}
