// Package yamldoc holds what sluice's strict YAML readers (the daemon
// configuration, the policy files) share: reading exactly one document,
// errors positioned at file, line and key path, turning the YAML library's
// syntax errors into such errors, and the wording helpers of their messages
// (node descriptions, "did you mean" suggestions).
//
// Each reader keeps its own sentinel: an [Error] matches the Class it was
// joined with by [Join], so config errors match config.ErrInvalid and
// policy errors policy.ErrInvalid.
package yamldoc
