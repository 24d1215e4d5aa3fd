// Package e2e holds the end-to-end tests of sluiced and the sluice CLI: the
// real binaries, the real kernel programs attached to a cgroup the test
// creates, real processes placed in tagged cgroups, and servers on loopback
// addresses. They need root and cgroup2 (see pkg/privtest).
package e2e
