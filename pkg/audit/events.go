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
)

// SchemaVersion is carried by every event as field `v`. It changes only when
// a field is removed or changes meaning; new fields do not bump it.
const SchemaVersion = 1
