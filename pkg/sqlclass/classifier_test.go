package sqlclass

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestKinds(t *testing.T) {
	ks := Kinds()
	if len(ks) != 25 || ks[0] != KindEmpty || ks[len(ks)-1] != KindUnparseable {
		t.Fatalf("Kinds() = %v", ks)
	}
	for i, k := range ks {
		if k.Severity() != i+1 {
			t.Errorf("%s.Severity() = %d, want %d", k, k.Severity(), i+1)
		}
		if got, ok := ParseKind(string(k)); !ok || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, ok)
		}
	}
	if _, ok := ParseKind("nonsense"); ok {
		t.Error("ParseKind accepted nonsense")
	}
	if Kind("nonsense").Severity() != KindUnparseable.Severity() {
		t.Error("unknown kind is not most severe")
	}
	if KindSelect.Severity() >= KindDelete.Severity() || KindCopyFile.Severity() <= KindDangerous.Severity() {
		t.Error("order")
	}
	ks[0] = "x"
	if Kinds()[0] != KindEmpty {
		t.Error("Kinds returned shared slice")
	}
}

func TestNewBadGlob(t *testing.T) {
	for _, p := range []string{"[", "pg_[", "", "a.", ".b", "s.[x"} {
		if _, err := New(Options{Dangerous: []string{p}}); err == nil {
			t.Errorf("New accepted pattern %q", p)
		}
	}
}

func TestCustomDangerous(t *testing.T) {
	c := newTestClassifier(t, Options{Dangerous: []string{"pg_catalog.pg_sleep", "app.nuke*"}})
	s := NewSession("u", nil)
	for _, tc := range []struct {
		sql  string
		want Kind
	}{
		{"SELECT pg_sleep(1)", KindDangerous},
		{"SELECT pg_catalog.pg_sleep(1)", KindDangerous},
		{"SELECT other.pg_sleep(1)", KindCall},
		{"SELECT app.nuke_all()", KindDangerous},
		{"SELECT nuke_all()", KindDangerous},
		{"SELECT lib.nuke_all()", KindCall},
		{"SELECT pg_read_file('x')", KindSelect}, // not on this list, and a built-in
	} {
		got, err := c.ClassifyOne(s, tc.sql)
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != tc.want {
			t.Errorf("%q: %s, want %s", tc.sql, got.Kind, tc.want)
		}
	}
	none := newTestClassifier(t, Options{Dangerous: []string{}})
	if got, _ := none.ClassifyOne(s, "SELECT pg_read_file('x')"); got.Kind != KindSelect {
		t.Errorf("empty list: %s", got.Kind)
	}
}

func TestDefaultDangerousCompiles(t *testing.T) {
	g, err := compileGlobs(DefaultDangerous)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_ls_logdir", "pg_stat_file",
		"pg_file_write", "lo_import", "lo_export", "dblink_exec", "pg_terminate_backend", "pg_cancel_backend",
		"pg_reload_conf", "pg_rotate_logfile", "pg_promote", "pg_switch_wal", "pg_create_logical_replication_slot",
		"pg_drop_replication_slot", "pg_replication_origin_create", "pg_logical_emit_message", "query_to_xml_and_xmlschema",
		"cursor_to_xml", "table_to_xml", "pg_stat_reset", "pg_stat_reset_single_table_counters", "pg_import_system_collations",
		"brin_summarize_new_values", "gin_clean_pending_list", "lo_unlink", "lo_create", "lo_from_bytea", "lowrite"} {
		if !g.match(Function{Name: name}) {
			t.Errorf("%s not dangerous", name)
		}
	}
	for _, name := range []string{"pg_sleep", "set_config", "lo_get", "loread", "now", "count", "nextval"} {
		if g.match(Function{Name: name}) {
			t.Errorf("%s dangerous", name)
		}
	}
}

func TestNilSession(t *testing.T) {
	c := newTestClassifier(t, Options{})
	if _, err := c.Classify(nil, "SELECT 1"); err == nil {
		t.Error("Classify(nil) gave no error")
	}
	if _, err := c.ClassifyOne(nil, "SELECT 1"); err == nil {
		t.Error("ClassifyOne(nil) gave no error")
	}
}

func TestClassifyOne(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	st, err := c.ClassifyOne(s, "SELECT 1; SELECT 2")
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind != KindUnparseable || st.Error != "cannot insert multiple commands into a prepared statement" {
		t.Fatalf("%+v", st)
	}
	if st, _ = c.ClassifyOne(s, ""); st.Kind != KindEmpty {
		t.Fatalf("empty: %+v", st)
	}
	if st, _ = c.ClassifyOne(s, "INSERT INTO t VALUES ($1)"); st.Kind != KindInsert || st.Text != "INSERT INTO t VALUES ($1)" {
		t.Fatalf("%+v", st)
	}
}

func TestStatementText(t *testing.T) {
	c := newTestClassifier(t, Options{})
	s := NewSession("u", nil)
	stmts, _ := c.Classify(s, "  SELECT 1 ;\n\n  /* c */ UPDATE t SET a = 'é;' ;; DELETE FROM u  ")
	want := []string{"SELECT 1", "/* c */ UPDATE t SET a = 'é;'", "DELETE FROM u"}
	var got []string
	for _, st := range stmts {
		got = append(got, st.Text)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("texts %q, want %q", got, want)
	}
	bad, _ := c.Classify(s, " SELECT 1; SELEC 2 ")
	if len(bad) != 1 || bad[0].Text != "SELECT 1; SELEC 2" || bad[0].Kind != KindUnparseable {
		t.Fatalf("%+v", bad)
	}
}

func TestCacheDoesNotLeakResolution(t *testing.T) {
	c := newTestClassifier(t, Options{})
	a := NewSession("u", nil)
	b := NewSession("u", nil)
	classifyApply(t, c, a, "PREPARE p AS DELETE FROM t")
	classifyApply(t, c, b, "PREPARE p AS SELECT * FROM r")
	for range 3 {
		sa, _ := c.ClassifyOne(a, "EXECUTE p")
		sb, _ := c.ClassifyOne(b, "EXECUTE p")
		if sa.Kind != KindDelete || sb.Kind != KindSelect {
			t.Fatalf("a %s, b %s", sa.Kind, sb.Kind)
		}
	}
	// Different search paths, same text.
	classifyApply(t, c, b, "SET search_path = other")
	for range 2 {
		if got := readOf(t, c, a, "SELECT * FROM z"); got != "public.z" {
			t.Fatal(got)
		}
		if got := readOf(t, c, b, "SELECT * FROM z"); got != "other.z" {
			t.Fatal(got)
		}
	}
}

func TestCacheEviction(t *testing.T) {
	c := newTestClassifier(t, Options{CacheSize: 20})
	s := NewSession("u", nil)
	for i := range 1000 {
		q := fmt.Sprintf("SELECT * FROM t%d", i)
		st, _ := c.ClassifyOne(s, q)
		if st.Reads[0].Name != fmt.Sprintf("t%d", i) {
			t.Fatal(st)
		}
	}
	n := 0
	for i := range c.cache.shards {
		n += len(c.cache.shards[i].m)
	}
	if n > 32 { // 16 shards of 2
		t.Fatalf("cache holds %d entries", n)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := newTestClassifier(t, Options{CacheSize: 64})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := NewSession(fmt.Sprintf("u%d", g%2), nil)
			for i := range 300 {
				q := corpus[(i*7+g)%len(corpus)].sql
				stmts, err := c.Classify(s, q)
				if err != nil {
					t.Error(err)
					return
				}
				for j := range stmts {
					if stmts[j].Kind == "" {
						t.Errorf("%q: empty kind", q)
					}
					s.Apply(&stmts[j])
				}
			}
		}()
	}
	wg.Wait()
}

func TestShapeCacheKeepsLiteralMeaning(t *testing.T) {
	// Each case first caches a harmless text, then classifies a text of
	// the same shape whose meaning depends on a literal: the cache must not
	// answer for it.
	cases := []struct {
		name, warm, text string
		want             Kind
	}{
		{
			name: "set_config of search_path in a CTE",
			warm: "WITH x AS (SELECT set_config('work_mem','64MB',false)) SELECT * FROM x, t",
			text: "WITH x AS (SELECT set_config('seARCh_PAth','',false)) SELECT * FROM x, t",
			want: KindDangerous,
		},
		{
			name: "set_config of the role",
			warm: "SELECT set_config('work_mem', '64MB', false)",
			text: "SELECT set_config('ROLE', 'admin', false)",
			want: KindSetRole,
		},
		{
			name: "SET of the role",
			warm: "SET work_mem TO '64MB'",
			text: "SET role TO 'admin'",
			want: KindSetRole,
		},
		{
			name: "literal that is not UTF-8",
			warm: "SELECT public.lower('a')",
			text: "SELECT public.lower('\x80')",
			want: KindUnparseable,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fresh := newTestClassifier(t, Options{})
			direct, _ := fresh.ClassifyOne(NewSession("u", nil), tc.text)
			if direct.Kind != tc.want {
				t.Fatalf("uncached: %s, want %s", direct.Kind, tc.want)
			}
			c := newTestClassifier(t, Options{})
			s := NewSession("u", nil)
			for range 2 {
				if _, err := c.ClassifyOne(s, tc.warm); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := c.ClassifyOne(s, tc.text); got.Kind != tc.want {
				t.Fatalf("after %q was cached: %s, want %s", tc.warm, got.Kind, tc.want)
			}
		})
	}
}
