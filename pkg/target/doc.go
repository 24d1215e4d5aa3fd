// Package target finds the configured target a connection was headed for,
// from its original destination. Targets named by host name are resolved
// and re-resolved periodically; lookups never block on DNS.
package target
