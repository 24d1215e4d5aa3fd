// Package protocol is the boundary between the proxy and the protocol
// inspectors (pkg/protocol/<name>). An inspector sees a client connection, a
// way to reach the upstream, and a Session describing who is connecting and
// where to. It never learns how the connection was intercepted.
package protocol
