// Package identity maps what the kernel knows about a process (its cgroup,
// systemd unit and uid) to the configured identity it acts as, and gathers
// the attribution events and policies carry: pid, comm, exe, uid, gid,
// cgroup path and unit, and, for identities claimed with an OIDC token, what
// the verified token said (OIDC).
package identity
