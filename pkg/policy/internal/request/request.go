// Package request holds the request object that policy conditions (when:)
// read: the Go types the condition language exposes as
// request.Attribution and request.Statement, with CEL field names in
// their tags, and their conversion from the classifier's types. Integers
// are int64 so that conditions compare them with plain integer literals
// (attribution.uid == 1001).
package request

import "github.com/sluicehq/sluice/pkg/sqlclass"

// Attribution is the process behind the request (the variable
// attribution).
type Attribution struct {
	PID    int64  `cel:"pid"`
	UID    int64  `cel:"uid"`
	GID    int64  `cel:"gid"`
	Exe    string `cel:"exe"`
	Comm   string `cel:"comm"`
	Unit   string `cel:"unit"`
	Cgroup string `cel:"cgroup"`
}

// Statement is a classified SQL statement (the variable statement).
// Relations are "schema.name", functions "schema.name" or "name" as
// written.
type Statement struct {
	Kind       string   `cel:"kind"`
	Command    string   `cel:"command"`
	Reads      []string `cel:"reads"`
	Writes     []string `cel:"writes"`
	Functions  []string `cel:"functions"`
	Dangerous  []string `cel:"dangerous"`
	Text       string   `cel:"text"`
	Unfiltered bool     `cel:"unfiltered"`
}

// FromStatement converts a classification; nil gives the empty
// Statement, whose lists are empty, not null.
func FromStatement(st *sqlclass.Statement) *Statement {
	out := &Statement{Reads: []string{}, Writes: []string{}, Functions: []string{}, Dangerous: []string{}}
	if st == nil {
		return out
	}
	out.Kind, out.Command, out.Text, out.Unfiltered = string(st.Kind), st.Command, st.Text, st.Unfiltered
	for _, r := range st.Reads {
		out.Reads = append(out.Reads, r.String())
	}
	for _, r := range st.Writes {
		out.Writes = append(out.Writes, r.String())
	}
	for _, f := range st.Functions {
		out.Functions = append(out.Functions, f.String())
	}
	for _, f := range st.Dangerous {
		out.Dangerous = append(out.Dangerous, f.String())
	}
	return out
}
