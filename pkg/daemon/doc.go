// Package daemon is sluiced: it loads the configuration, loads and attaches
// the kernel programs (adopting pinned ones from an earlier run), keeps the
// tagged-cgroup and tagged-uid maps in step with the configured identities
// and the live cgroup tree, creates job cgroups for `sluice run`, serves the
// proxy, the control socket and the metrics endpoint, and reloads on SIGHUP.
package daemon
