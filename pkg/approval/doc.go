// Package approval is the just-in-time approval broker: it holds a
// statement that a policy sent to review until a human approves or denies
// it, and remembers the grants approvals create.
//
// # The contract
//
// An inspector that gets a review decision calls [Broker.Request] with the
// statement (already masked), its fingerprint (sqlclass.Fingerprint) and
// who sent it, and blocks in that call: nothing is forwarded and only the
// calling session waits. Request returns when
//
//   - an approver approved the request (or a grant of the same shape for
//     the same identity and target was created meanwhile): [Approved], the
//     statement runs;
//   - an approver denied it: [Denied];
//   - the request's timeout passed (the rule's, else [Options.Timeout],
//     10 minutes by default): [TimedOut]. The request stays open: when an
//     approver approves it later, the grant lets the same statement run
//     the next time the job sends it. [Outcome.Message] says so, with the
//     command to run;
//   - ctx ended (the client cancelled the statement or went away):
//     [Withdrawn]. The request stays open, like a timed-out one.
//
// Before holding a statement, Request (and [Broker.Check]) look for a grant
// of the statement's identity, target and fingerprint: an approval with
// --for D lets statements of that shape run for D; an approval --once of a
// request nobody waits for any more lets one of them run, once, exactly
// once however many sessions ask at the same moment. Grants are kept in
// the state directory and survive a restart; expired ones are pruned.
//
// # Who may decide
//
// [Broker.Approve] and [Broker.Deny] take the caller's kernel credentials.
// Root and the uids and gids listed as approvers may decide; nobody may
// approve a request made by a process running as their own uid, root
// included: root may approve other users' requests, never those of jobs
// running as root. Denying is never refused for that reason (it can only
// make things stricter). Errors match [ErrNotFound], [ErrNotApprover],
// [ErrSelfApproval], [ErrDecided] and [ErrNoReason] with errors.Is.
//
// # Notifications
//
// Every request and decision is an event (approval.requested,
// approval.approved, approval.denied, approval.timeout,
// approval.withdrawn) and is counted in the metrics. Each new request is
// also posted to the configured webhooks, as generic JSON or as a
// Slack-compatible incoming-webhook message carrying the approve and deny
// commands. Webhooks are served by one worker per endpoint with a bounded
// queue, a timeout per attempt and retries with exponential backoff and
// jitter; a full queue drops the notification (approval.webhook_failed,
// and a metric). Nothing a webhook does ever delays a request or a
// decision.
package approval
