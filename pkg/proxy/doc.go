// Package proxy accepts the connections the kernel redirected, asks the
// kernel who made each one and where it was going (no record: rejected),
// resolves the identity and target, and hands the connection to the
// protocol handler of that target, or to the identity's egress rule when no
// target matches. It emits the connection events and metrics.
package proxy
