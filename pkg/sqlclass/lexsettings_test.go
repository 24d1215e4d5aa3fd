package sqlclass

import "testing"

func TestUnsafeSettings(t *testing.T) {
	cases := []struct {
		name, sql string
		unsafe    bool
	}{
		{"standard_conforming_strings off", "SET standard_conforming_strings = off", true},
		{"standard_conforming_strings false", "SET standard_conforming_strings TO false", true},
		{"standard_conforming_strings 0, local", "SET LOCAL standard_conforming_strings = 0", true},
		{"standard_conforming_strings 'no', session", "SET SESSION standard_conforming_strings = 'no'", true},
		{"standard_conforming_strings casing", "set Standard_Conforming_Strings = OFF", true},
		{"standard_conforming_strings on", "SET standard_conforming_strings = on", false},
		{"standard_conforming_strings true", "SET standard_conforming_strings TO 'true'", false},
		{"standard_conforming_strings default", "SET standard_conforming_strings TO DEFAULT", false},
		{"standard_conforming_strings reset", "RESET standard_conforming_strings", false},
		{"reset all", "RESET ALL", false},
		{"client_encoding SJIS", "SET client_encoding = 'SJIS'", true},
		{"client_encoding Shift_JIS_2004", "SET client_encoding TO 'Shift_JIS_2004'", true},
		{"names BIG5", "SET NAMES 'BIG5'", true},
		{"client_encoding gbk", "SET client_encoding = gbk", true},
		{"client_encoding windows949", "SET client_encoding = 'WINDOWS949'", true},
		{"client_encoding UTF8", "SET client_encoding = 'UTF8'", false},
		{"names LATIN1", "SET NAMES 'LATIN1'", false},
		{"client_encoding EUC_JP", "SET client_encoding TO 'EUC_JP'", false},
		{"client_encoding reset", "RESET client_encoding", false},
		{"set_config standard_conforming_strings off", "SELECT set_config('standard_conforming_strings', 'off', false)", true},
		{"set_config standard_conforming_strings on", "SELECT set_config('standard_conforming_strings', 'on', false)", false},
		{"set_config client_encoding sjis, local", "SELECT set_config('client_encoding', 'sjis', true)", true},
		{"set_config with a parameter", "SELECT set_config('client_encoding', $1, false)", true},
		{"set_config inside a query", "SELECT id FROM t WHERE set_config('standard_conforming_strings', 'off', false) IS NOT NULL", true},
		{"set_config of a name cast to a shorter type", "SELECT set_config('standard_conforming_stringsX'::varchar(27), 'off', false)", true},
		{"set_config of a name that is not a literal", "SELECT set_config(name, 'off', false) FROM settings", true},
		{"set_config to a cast value", "SELECT set_config('client_encoding', 'sjis'::text, false)", true},
		{"other settings", "SET work_mem = '64MB'", false},
		{"a function's own SET clause", "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'SELECT 1'", false},
	}
	c := newTestClassifier(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stmts, err := c.Classify(NewSession("u", nil), tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 1 {
				t.Fatalf("%d statements", len(stmts))
			}
			if got := stmts[0].Unsafe != ""; got != tc.unsafe {
				t.Errorf("unsafe %v (%q), want %v", got, stmts[0].Unsafe, tc.unsafe)
			}
		})
	}
	// The first statement of a multi-statement query is enough: the
	// inspector refuses the whole query.
	stmts, _ := c.Classify(NewSession("u", nil), `SET standard_conforming_strings = off; SELECT 'x\''; DROP TABLE t; --'`)
	if len(stmts) != 2 || stmts[0].Unsafe == "" {
		t.Errorf("classified as %+v, want an unsafe SET first", stmts)
	}
}

func TestUnsafeSetting(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		unsafe      bool
	}{
		{"standard_conforming_strings", "on", false},
		{"standard_conforming_strings", "off", true},
		{"client_encoding", "UTF8", false},
		{"client_encoding", "SQL_ASCII", false},
		{"client_encoding", "SJIS", true},
		{"client_encoding", "GB18030", true},
		{"client_encoding", "JOHAB", true},
		{"DateStyle", "ISO, MDY", false},
	} {
		if got := UnsafeSetting(tc.name, tc.value) != ""; got != tc.unsafe {
			t.Errorf("UnsafeSetting(%q, %q): %v, want %v", tc.name, tc.value, got, tc.unsafe)
		}
	}
}
