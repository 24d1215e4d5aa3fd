package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/record"
)

// recordedSamples returns, by phase, the row samples of the results of
// the statements whose text matches, from every recording of legacy-etl
// in the store under state, and the sessions they are in.
func recordedSamples(t *testing.T, state string, match func(text string) bool) (map[string][]*record.Sample, []string) {
	t.Helper()
	dir := record.StoreDir(state)
	out := map[string][]*record.Sample{}
	var sessions []string
	for _, in := range recordingsOf(t, dir) {
		rec := readRecording(t, dir, in.Path)
		phases := map[uint64]string{}
		for _, e := range rec.events {
			switch v := e.value.(type) {
			case *record.Statement:
				if match(v.Text) {
					phases[e.seq] = v.Phase
				}
			case *record.Result:
				if p, ok := phases[v.Statement]; ok && v.Sample != nil {
					out[p] = append(out[p], v.Sample)
					sessions = append(sessions, in.Session)
				}
			}
		}
	}
	return out, sessions
}

// sampleRows turns a sample into rows keyed by column.
func sampleRows(s *record.Sample) []map[string]string {
	var out []map[string]string
	for _, r := range s.Rows {
		m := map[string]string{}
		for i, c := range r {
			m[s.Columns[i]] = c
		}
		out = append(out, m)
	}
	return out
}

// checkSampledCustomers checks the sample of a customers result: the
// masked rows, as the client got them, in text whatever the format.
func checkSampledCustomers(t *testing.T, client string, s *record.Sample) {
	t.Helper()
	rows := sampleRows(s)
	if len(rows) != 4 || s.Cut {
		t.Fatalf("%s: sample of %d rows (cut %v): %+v", client, len(rows), s.Cut, s)
	}
	want := []map[string]string{
		{"id": "1", "name": "Ada Lovelace", "card": "**** **** **** 1111", "customer_no": "512345678", "ssn": "*********",
			"iban": "**** **** **** **** **** **", "notes": "AWS key ******************** was rotated", "account_no": "NULL",
			"ext_id": zeroUUID, "score": "42", "signup": "2020-01-15"},
		{"id": "2", "name": "Alan Turing", "card": "****-****-****-0004", "ssn": "***-**-****"},
		{"id": "3", "name": "Grace Hopper", "card": "***********0005", "iban": "NULL"},
		{"id": "4", "name": "Ada Again", "card": "************1117", "ssn": "NULL"},
	}
	for i, w := range want {
		for col, v := range w {
			if rows[i][col] != v {
				t.Errorf("%s: sampled row %d %s = %q, want %q", client, i+1, col, rows[i][col], v)
			}
		}
	}
	if !hashedEmail(3, 7, 3).MatchString(rows[0]["email"]) || rows[0]["email"] != rows[3]["email"] {
		t.Errorf("%s: sampled e-mails %q %q", client, rows[0]["email"], rows[3]["email"])
	}
	if b := rows[0]["balance"]; !regexp.MustCompile(`^\d{4}\.\d{2}$`).MatchString(b) || b == "1234.56" {
		t.Errorf("%s: sampled balance %q", client, b)
	}
	if c := rows[0]["created_at"]; !regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}`).MatchString(c) || strings.HasPrefix(c, "2024-03-01 10:00") {
		t.Errorf("%s: sampled created_at %q", client, c)
	}
	if !strings.Contains(rows[0]["profile"], `"email": "`) || strings.Contains(rows[0]["profile"], "ada@") {
		t.Errorf("%s: sampled profile %q", client, rows[0]["profile"])
	}
}

// testMaskedSamples: the recordings of TestPostgresMasking's reads keep
// samples of the masked rows (recording.sample_rows: 5), from psql's
// text results and pgx's binary ones.
func testMaskedSamples(t *testing.T, w *maskWorld) {
	state := filepath.Join(w.dir, "state")
	samples, sessions := recordedSamples(t, state, func(s string) bool { return s == selectCustomers })
	psql := samples["query"]
	if len(psql) == 0 {
		t.Fatal("no sample of psql's customers query")
	}
	checkSampledCustomers(t, "psql", psql[0])
	// The CLI prints them.
	for _, cmd := range [][]string{{"sessions", "show", sessions[0]}, {"replay", "--speed", "0", sessions[0]}} {
		out, code := w.sluice(0, append(cmd, "--state-dir", state)...)
		if code != 0 || !strings.Contains(out, "**** **** **** 1111") || !strings.Contains(out, "Ada Lovelace") {
			t.Errorf("sluice %s: exit %d\n%s", strings.Join(cmd, " "), code, out)
		}
		for _, raw := range maskRaw {
			if strings.Contains(out, raw) {
				t.Errorf("sluice %s prints %q", strings.Join(cmd, " "), raw)
			}
		}
	}
	pgxSamples, _ := recordedSamples(t, state, func(s string) bool {
		return strings.HasPrefix(s, "SELECT id, name, email") && strings.HasSuffix(s, "FROM customers WHERE id > $1 ORDER BY id")
	})
	pgx := pgxSamples["execute"]
	if len(pgx) < 2 {
		t.Fatalf("%d samples of pgx's customers query, want one per format", len(pgx))
	}
	for _, s := range pgx {
		checkSampledCustomers(t, "pgx", s)
	}
}
