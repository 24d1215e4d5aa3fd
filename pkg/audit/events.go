package audit

// Event types. Each is documented in docs/events.md.
const (
	DaemonStart        = "daemon.start"
	DaemonStop         = "daemon.stop"
	ConfigReloaded     = "config.reloaded"
	ConfigReloadFailed = "config.reload_failed"
	IdentityTagged     = "identity.tagged"
	IdentityUntagged   = "identity.untagged"
	// IdentityRefused: a cgroup matched an identity by its name, but a
	// user could have chosen that name; it is not tagged.
	IdentityRefused    = "identity.refused"
	ConnectionOpen     = "connection.open"
	ConnectionClose    = "connection.close"
	ConnectionRejected = "connection.rejected"
	ConnectionDenied   = "connection.denied"
	JobStarted         = "job.started"
	// PolicyReloaded: a policy set is in force (at start and after a change).
	PolicyReloaded = "policy.reloaded"
	// PolicyReloadFailed: a changed policy set was invalid; the old one stays.
	PolicyReloadFailed = "policy.reload_failed"
	// DBQuery: one SQL statement, its classification, decision and result.
	DBQuery = "db.query"
	// DBLogin: a database session logged in upstream (or failed to).
	DBLogin = "db.login"
	// DBCancel: a cancel request was routed (or refused).
	DBCancel   = "db.cancel"
	JobRefused = "job.refused"
	// TargetResolveFailed: a target's host name did not resolve.
	TargetResolveFailed = "target.resolve_failed"
	// RecordFailed: a session's recording could not be written.
	RecordFailed = "record.failed"
	// RecordSealed: a recording left open by an earlier run was sealed.
	RecordSealed = "record.sealed"
	// DaemonError: an operational error outside the request path.
	DaemonError = "daemon.error"
	// Approval events: a statement held for review, and what became of it.
	ApprovalRequested     = "approval.requested"
	ApprovalApproved      = "approval.approved"
	ApprovalDenied        = "approval.denied"
	ApprovalTimeout       = "approval.timeout"
	ApprovalWithdrawn     = "approval.withdrawn"
	ApprovalWebhookFailed = "approval.webhook_failed"
	// ApprovalAPIRefused: a request to the approval HTTP API was refused
	// (no token, a refused token, not an approver, self-approval...).
	ApprovalAPIRefused = "approval.api_refused"
	// IdentityExpired: the OIDC token an identity was claimed with
	// expired; IdentityRefreshed: a job presented a newer one.
	IdentityExpired   = "identity.expired"
	IdentityRefreshed = "identity.refreshed"
	// IdentityRestored: a job's binding was read back from state_dir at
	// start; IdentityDropped: a saved binding was not (its job ended, or
	// it no longer holds); IdentityRestoreFailed: the bindings file could
	// not be used at all.
	IdentityRestored      = "identity.restored"
	IdentityDropped       = "identity.dropped"
	IdentityRestoreFailed = "identity.restore_failed"
	// OIDCRefused: a token was refused (sluice run, refresh, a PostgreSQL
	// password, the approval API).
	OIDCRefused = "oidc.refused"
)

// SchemaVersion is carried by every event as field `v`. It changes only when
// a field is removed or changes meaning; new fields do not bump it.
const SchemaVersion = 1
