// Package privtest holds the helpers for tests that need root: eBPF programs,
// cgroups, bpffs mounts and processes placed in cgroups.
//
// Every helper creates what it needs below a directory it made itself (a
// child of the cgroup2 mount, a bpffs mounted in a temporary directory) and
// removes it when the test ends. Nothing is ever attached to, or written in,
// a cgroup the test did not create.
//
// Tests call Require first. Without root or cgroup2 it skips with the reason,
// unless SLUICE_REQUIRE_PRIVILEGED=1 is set, in which case it fails: CI sets
// it so that a privileged test can never pass by skipping.
package privtest
