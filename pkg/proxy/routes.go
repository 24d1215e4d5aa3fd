package proxy

import (
	"net/netip"

	"github.com/sluicehq/sluice/pkg/protocol"
	"github.com/sluicehq/sluice/pkg/target"
)

// Egress says what happens to an identity's connections that match no target.
type Egress string

const (
	EgressDeny  Egress = "deny"  // close the connection (connection.denied)
	EgressAllow Egress = "allow" // relay as plain TCP, with byte counts
)

// Identity is what the proxy needs to know about one configured identity.
type Identity struct {
	Name   string
	Egress Egress
	// Bound is set for an identity claimed with an OIDC token: each of
	// its connections needs the binding of its job (Options.Bindings),
	// in force, or it is denied.
	Bound bool
	// MaxSessions bounds its sessions open at once (0: no bound of its
	// own).
	MaxSessions uint32
}

// Routes is an immutable snapshot of everything a connection is routed by.
// A configuration reload swaps in a new one; connections already open keep
// the snapshot they started with.
type Routes struct {
	Identities map[uint32]Identity         // by the kernel tag's identity id
	Targets    *target.Table               // by original destination
	Handlers   map[string]protocol.Handler // by target name
	Egress     protocol.Handler            // handler for allowed egress (plain TCP)
	// MaxSessions bounds the sessions open at once, all identities
	// together (0: no bound).
	MaxSessions uint32
}

// isListener reports whether dst is one of the proxy's own listeners: a
// tagged process connecting to the proxy port directly must not loop.
func isListener(listeners []netip.AddrPort, dst netip.AddrPort) bool {
	for _, l := range listeners {
		if l.Port() == dst.Port() && (l.Addr() == dst.Addr() || dst.Addr().IsUnspecified()) {
			return true
		}
	}
	return false
}
