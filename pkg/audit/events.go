package audit

// Event types. Each is documented in docs/events.md.
const (
	DaemonStart        = "daemon.start"
	DaemonStop         = "daemon.stop"
	ConfigReloaded     = "config.reloaded"
	ConfigReloadFailed = "config.reload_failed"
	IdentityTagged     = "identity.tagged"
	IdentityUntagged   = "identity.untagged"
	ConnectionOpen     = "connection.open"
	ConnectionClose    = "connection.close"
	ConnectionRejected = "connection.rejected"
	ConnectionDenied   = "connection.denied"
	JobStarted         = "job.started"
	JobRefused         = "job.refused"
	// TargetResolveFailed: a target's host name did not resolve.
	TargetResolveFailed = "target.resolve_failed"
	// DaemonError: an operational error outside the request path.
	DaemonError = "daemon.error"
)

// SchemaVersion is carried by every event as field `v`. It changes only when
// a field is removed or changes meaning; new fields do not bump it.
const SchemaVersion = 1
