package record

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEventBounds(t *testing.T) {
	s, dir := openStore(t, Options{SampleRows: 3})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	long := "SELECT '" + strings.Repeat("é", MaxText) + "'"
	params := make([]string, 100)
	for i := range params {
		params[i] = strings.Repeat("x", 2000)
	}
	rows := make([][]string, 10)
	for i := range rows {
		rows[i] = []string{"1", strings.Repeat("y", 1000)}
	}
	evs := []Event{
		&Statement{Text: long, Params: params, Decision: DecisionAllow, Class: "select"},
		&Statement{Text: "SELECT $1\x00\x01\"\\\n\t\xff\xfe tail", Decision: "review", Reason: "needs\napproval"},
		&Result{Statement: 1, Sample: &Sample{Columns: []string{"id", "blob"}, Rows: rows}},
	}
	for _, ev := range evs {
		if _, err := r.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	_, entries := readAll(t, filepath.Join(dir, r.Path()), ReadOptions{})
	st0, _ := entries[0].Decode()
	st := st0.(*Statement)
	if len(st.Text) > MaxText || !utf8.ValidString(st.Text) || st.TextBytes != len(long) {
		t.Errorf("long text: %d bytes, valid %v, text_bytes %d", len(st.Text), utf8.ValidString(st.Text), st.TextBytes)
	}
	if len(st.Params) != MaxParams || len(st.Params[0]) != MaxParamLen {
		t.Errorf("params: %d of %d bytes", len(st.Params), len(st.Params[0]))
	}
	st1, _ := entries[1].Decode()
	var want string
	b, _ := json.Marshal(evs[1].(*Statement).Text)
	_ = json.Unmarshal(b, &want)
	if got := st1.(*Statement); got.Text != want || got.Reason != "needs\napproval" || entries[1].Decision != "review" {
		t.Errorf("escaping: %q, want %q", got.Text, want)
	}
	res0, _ := entries[2].Decode()
	if sm := res0.(*Result).Sample; sm == nil || len(sm.Rows) != 3 || !sm.Cut || len(sm.Rows[0][1]) != MaxSampleCell {
		t.Errorf("sample: %+v", sm)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "SELECT 1", "a\"b\\c\n\t\x00\x1f\x7f", "\xff\xfe\xc3", "é日本\u2028", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := appendString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: not JSON: %v", s, enc, err)
		}
		std, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(std, &want)
		if got != want {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json's to %q", s, got, want)
		}
		if c := truncateUTF8(s, len(s)/2); len(c) > len(s)/2 || utf8.ValidString(s) && !utf8.ValidString(c) {
			t.Fatalf("truncateUTF8(%q) = %q", s, c)
		}
	})
}

func TestApprovedStatementsAreNotDenied(t *testing.T) {
	s, dir := openStore(t, Options{})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	uid := uint32(1001)
	evs := []Event{
		&Statement{Text: "DELETE FROM orders", Decision: DecisionApproved, Policy: "p", Rule: "review-deletes", Approval: "k3xq7mz2a4bcdwef"},
		&Approval{ID: "k3xq7mz2a4bcdwef", Statement: 1, Status: ApprovalGranted, Approver: "alice", ApproverUID: &uid, Grant: "once", HeldUS: 12500000, Note: "ticket 42"},
		&Statement{Text: "DELETE FROM customers", Decision: DecisionReview, Policy: "p", Rule: "review-deletes", Approval: "m2a4bcdwefk3xq7z"},
		&Approval{ID: "m2a4bcdwefk3xq7z", Statement: 3, Status: ApprovalExpired, HeldUS: 600000000},
	}
	for _, ev := range evs {
		if _, err := r.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	rd, entries := readAll(t, filepath.Join(dir, r.Path()), ReadOptions{})
	if n, denied := rd.Counts(); n != 2 || denied != 1 {
		t.Errorf("counts: %d statements, %d denied; want 2 and 1 (the approved one ran)", n, denied)
	}
	v, err := entries[1].Decode()
	if err != nil {
		t.Fatal(err)
	}
	if a := v.(*Approval); a.Approver != "alice" || a.ApproverUID == nil || *a.ApproverUID != uid || a.Grant != "once" || a.HeldUS != 12500000 || a.Note != "ticket 42" {
		t.Errorf("approval event: %+v", a)
	}
	end, _ := entries[len(entries)-1].Decode()
	if e := end.(*End); e.Statements != 2 || e.Denied != 1 {
		t.Errorf("end: %d statements, %d denied; want 2 and 1", e.Statements, e.Denied)
	}
}
