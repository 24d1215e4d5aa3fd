package sqlclass

import "strings"

// effectivePath is the search_path in force.
func (s *Session) effectivePath() []string {
	if s.cur.hasLocal {
		return s.cur.local
	}
	return s.cur.path
}

func (s *Session) isTemp(name string) bool {
	_, ok := s.cur.temps[name]
	return ok
}

// lookupSchema resolves the schema of an existing relation written without
// one. PostgreSQL searches the session's temporary schema first and then
// pg_catalog, unless the path lists them elsewhere, then the path in order.
// sluice cannot see which relations exist on the server, so:
//   - a name is in pg_temp when the session created a temporary relation
//     of that name;
//   - a name starting with "pg_" is in pg_catalog;
//   - any other name is in the first schema of the path other than
//     "$user" (no schema is assumed to be named after the login role), or
//     "public" when there is none.
//
// When the path lists pg_temp or pg_catalog after another schema, a name
// that could be in either resolves to the other schema.
func (s *Session) lookupSchema(name string) string {
	path := s.effectivePath()
	temp := s.isTemp(name)
	catalog := strings.HasPrefix(name, "pg_")
	listsTemp, listsCatalog := false, false
	for _, e := range path {
		switch e {
		case "pg_temp":
			listsTemp = true
		case "pg_catalog":
			listsCatalog = true
		}
	}
	if temp && !listsTemp {
		return "pg_temp"
	}
	if catalog && !listsCatalog {
		return "pg_catalog"
	}
	for _, e := range path {
		switch e {
		case "", "$user":
			continue
		case "pg_temp":
			if temp {
				return "pg_temp"
			}
			continue
		case "pg_catalog":
			if catalog {
				return "pg_catalog"
			}
			continue
		}
		return e
	}
	return "public"
}

// laterSchemas returns the schemas of the path after first (the one
// lookupSchema gave) where a relation may also be found: every other
// schema but "$user", pg_temp and pg_catalog.
func (s *Session) laterSchemas(first string) []string {
	var out []string
	seen := false
	for _, e := range s.effectivePath() {
		switch {
		case e == "" || e == "$user" || e == "pg_temp" || e == "pg_catalog":
		case !seen && e == first:
			seen = true
		case seen && e != first:
			out = append(out, e)
		}
	}
	return out
}

// creationSchema is the schema a relation created without a schema goes
// to: pg_temp for a temporary one, else the first schema of the path other
// than "$user" (pg_temp there makes the relation temporary), else public.
func (s *Session) creationSchema(temp bool) string {
	if temp {
		return "pg_temp"
	}
	for _, e := range s.effectivePath() {
		if e == "" || e == "$user" {
			continue
		}
		return e
	}
	return "public"
}

// catalogFirst says whether unqualified function names are looked up in
// pg_catalog before any other schema: when the path does not list
// pg_catalog, or lists it before any schema other than "$user" (functions
// are never looked up in pg_temp).
func (s *Session) catalogFirst() bool {
	path := s.effectivePath()
	listed := false
	for _, e := range path {
		if e == "pg_catalog" {
			listed = true
			break
		}
	}
	if !listed {
		return true
	}
	for _, e := range path {
		switch e {
		case "pg_catalog":
			return true
		case "", "$user", "pg_temp":
			continue
		}
		return false
	}
	return true
}
