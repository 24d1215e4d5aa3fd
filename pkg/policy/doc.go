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
// no enforced policy covers is denied. Policies with enforce: false run in
// shadow mode: their decisions are reported in [Decision.Shadow] and never
// change the action.
package policy
