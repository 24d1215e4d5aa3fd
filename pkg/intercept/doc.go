// Package intercept loads, attaches and pins the kernel programs that redirect
// the TCP connections of tagged processes to the local proxy, and exposes the
// maps they share with userspace: tagged cgroups and uids, destination
// exclusions, and the origin records the proxy looks up by 4-tuple.
//
// It knows nothing about application protocols.
package intercept
