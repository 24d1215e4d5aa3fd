// Package config decodes and validates the sluiced configuration file
// (by default /etc/sluice/sluice.yaml).
//
// Decoding is strict: unknown keys, duplicate keys, values of the wrong type,
// empty files and files holding more than one YAML document are all errors.
// Every problem found is reported, not just the first one: [Parse] returns the
// errors joined with [errors.Join], each an [*Error] naming the file, the line
// and the key path (for example "sluice.yaml:7: identities[1].match.uid: ..."),
// and each matching [ErrInvalid] with [errors.Is].
//
// The package only reads and checks; it never logs. A Config holds no
// secrets today and has no String method; a secret added later should get a
// type of its own whose String and Format methods redact it.
package config
