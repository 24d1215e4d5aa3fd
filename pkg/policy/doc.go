// Package policy holds the policy language of sluiced and the engine that
// decides, statement by statement, what a job may do on a target.
//
// Policies are YAML files in the policy directory (by default
// /etc/sluice/policies; see docs/policy.md for the language). [LoadDir]
// reads every *.yaml and *.yml file of the directory, sorted by name,
// skipping *_test.yaml and *_test.yml files, which hold policy tests, and
// hidden files. [Parse] reads one file.
//
// Decoding is strict, as for the daemon configuration: unknown keys,
// duplicate keys, values of the wrong type, unknown statement kinds, bad
// globs, bad regular expressions and names that the configuration does not
// define are all errors. Every problem found is reported: the error returned
// joins one [*Error] per problem, each naming the file, the line and the key
// path (for example "readonly-etl.yaml:12: policies[0].rules[1].action: ..."),
// and each matching [ErrInvalid] with [errors.Is].
//
// A loaded [Set] is immutable and safe for concurrent use. [Set.Decide]
// takes a [Request] (who, where, and the classified statement) and returns
// the [Decision] to enforce: every policy whose identities and targets cover
// the request applies, the first matching rule of each decides for it (or
// its default), deny beats review beats allow across policies, and a request
// no enforced policy covers is denied. A policy whose default is abstain
// has no opinion when none of its rules matches; a request every enforced
// policy abstains on is denied too. Policies with enforce: false run in
// shadow mode: their decisions are reported in [Decision.Shadow] and never
// change the action.
//
// A policy may carry a masking: block: content detectors, column rules and
// whole-result masking for the results of its identities on its targets.
// The masking of every enforced policy that covers an (identity, target)
// pair is merged once per pair and carried by every decision for it
// ([Decision.Masking], [Set.Masking]); shadow policies never mask. With
// [Known.NoHashKey] set, a policy using the hash strategy is an error.
//
// A rule may carry a condition (when:), a CEL expression over the request
// (identity, target, attribution, time, claims, statement), compiled when
// the policy is loaded and evaluated with a cost limit when the rule's
// matchers match. A condition that fails to evaluate fails closed: it
// holds for a deny or review rule and not for an allow rule. Rules without
// conditions are decided without allocating.
//
// [Set.Explain] reports what every applicable policy decided, and the
// conditions evaluated, for tooling; the subpackages build the policy
// tools on it: offline (deciding SQL text as the inspector would),
// policytest (policy test files), lint (rules that never match, identities
// no policy decides for) and explain (what sluice policy explain prints).
package policy
