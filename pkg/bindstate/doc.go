// Package bindstate is the file of OIDC job bindings in state_dir
// (oidc-bindings.json): for each job started with `sluice run
// --oidc-token-file`, what its verified token said (issuer, subject, jti,
// expiry, exposed claims) and the job's cgroup, never the token. sluiced
// rewrites it on every change and reads it back at start, so a restart
// keeps running jobs bound until their tokens expire.
//
// The file is trusted as the rest of state_dir is: only root can write
// it. Reading still bounds its size, refuses a file that is not private
// to the daemon's user (statefile.Read), and checks every entry, so a
// damaged file costs the bindings it damaged, never a panic or a binding
// made up from a partial entry.
package bindstate
