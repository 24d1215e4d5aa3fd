package approval

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGrantsSurviveRestart approves with --for and --once (a timed-out
// request), then opens a new broker on the same state directory.
func TestGrantsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	tb := newTestBroker(t, Options{StateDir: dir})
	h1 := tb.hold(t, deleteRequest(fpDelete))
	if _, err := tb.Approve(alice, h1.id, For(time.Hour), "backfill"); err != nil {
		t.Fatal(err)
	}
	h1.outcome(t)
	r := deleteRequest(fpUpdate)
	r.Timeout = time.Minute
	h2 := tb.hold(t, r)
	tb.clock.Advance(time.Minute)
	h2.outcome(t)
	if _, err := tb.Approve(bob, h2.id, Once(), "one-off"); err != nil {
		t.Fatal(err)
	}
	tb.Close()

	path := filepath.Join(dir, GrantsFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("grants file mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	var doc grantsDoc
	if err := json.Unmarshal(data, &doc); err != nil || len(doc.Grants) != 2 {
		t.Fatalf("grants file: %v\n%s", err, data)
	}
	if strings.Contains(string(data), `"groups"`) {
		t.Errorf("supplementary groups persisted:\n%s", data)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	cases := []struct {
		name      string
		advance   time.Duration
		fp        string
		wantGrant bool
		wantOnce  bool
	}{
		{"window grant after restart", 0, fpDelete, true, false},
		{"once grant after restart", 0, fpUpdate, true, true},
		{"once grant used", 0, fpUpdate, false, false},
		{"window grant still there", 30 * time.Minute, fpDelete, true, false},
	}
	again := newTestBroker(t, Options{StateDir: dir, Clock: tb.clock})
	for _, tc := range cases {
		tb.clock.Advance(tc.advance)
		g, ok := again.check("nightly-etl", "orders-db", tc.fp)
		if ok != tc.wantGrant || ok && g.Once != tc.wantOnce {
			t.Fatalf("%s: %+v, %v", tc.name, g, ok)
		}
	}
	again.Close()

	// Two hours later the window has closed: a new broker prunes it.
	tb.clock.Advance(2 * time.Hour)
	late := newTestBroker(t, Options{StateDir: dir, Clock: tb.clock})
	if g, ok := late.check("nightly-etl", "orders-db", fpDelete); ok {
		t.Fatalf("expired grant after restart: %+v", g)
	}
}

func TestCorruptGrantsFileMovedAside(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, GrantsFile)
	if err := os.WriteFile(path, []byte(`{"version":1,"grants":[{"request":`), 0o600); err != nil {
		t.Fatal(err)
	}
	tb := newTestBroker(t, Options{StateDir: dir})
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Fatalf("corrupt file not moved aside: %v", err)
	}
	ev := tb.events.events(t, "daemon.error")
	if len(ev) != 1 || !strings.Contains(ev[0]["message"].(string), "starting with no grants") {
		t.Fatalf("events %v", ev)
	}
	// The broker works, and writes a new file.
	h := tb.hold(t, deleteRequest(fpDelete))
	if _, err := tb.Approve(alice, h.id, For(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestGrantsFileUnwritable: when the grants file cannot be written, an
// approval --for fails and changes nothing.
func TestGrantsFileUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	tb := newTestBroker(t, Options{StateDir: dir})
	h := tb.hold(t, deleteRequest(fpDelete))
	if _, err := tb.Approve(alice, h.id, For(time.Hour), ""); err == nil || !strings.Contains(err.Error(), "save grants") {
		t.Fatalf("Approve: %v", err)
	}
	h.stillHeld(t)
	if l := tb.List(); len(l) != 1 || l[0].State != Waiting {
		t.Fatalf("after a failed approval: %+v", l)
	}
	// An approval --once of a held statement needs no file.
	if _, err := tb.Approve(alice, h.id, Once(), ""); err != nil {
		t.Fatal(err)
	}
	if o := h.outcome(t); o.Decision != Approved {
		t.Fatalf("outcome %+v", o)
	}
}

func TestDecodeGrants(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"empty list", `{"version":1,"grants":[]}`, 0, ""},
		{"one live, one expired", `{"version":1,"grants":[
			{"request":"aaaaaaaaaaaaaaaa","identity":"nightly-etl","target":"orders-db","fingerprint":"d1f0a3c2b4e59687","once":false,"created":"2026-11-22T11:00:00Z","expires":"2026-11-22T13:00:00Z","approver":{"uid":1000,"gid":1000,"name":"alice"}},
			{"request":"bbbbbbbbbbbbbbbb","identity":"nightly-etl","target":"orders-db","fingerprint":"d1f0a3c2b4e59687","once":true,"created":"2026-11-21T11:00:00Z","expires":"2026-11-22T11:00:00Z","approver":{"uid":1000,"gid":1000}}]}`, 1, ""},
		{"other version", `{"version":2,"grants":[]}`, 0, "format version 2"},
		{"unknown field", `{"version":1,"grants":[],"extra":true}`, 0, "unknown field"},
		{"missing fingerprint", `{"version":1,"grants":[{"request":"a","identity":"i","target":"t","expires":"2026-11-22T13:00:00Z"}]}`, 0, "fingerprint"},
		{"two values", `{"version":1,"grants":[]} {}`, 0, "more than one"},
		{"not json", `grants`, 0, "invalid character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeGrants([]byte(tc.in), now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("got %d grants, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

// FuzzDecodeGrants: whatever the grants file holds, decoding ends with
// grants in force or an error, never a panic.
func FuzzDecodeGrants(f *testing.F) {
	f.Add([]byte(`{"version":1,"grants":[{"request":"aaaaaaaaaaaaaaaa","identity":"nightly-etl","target":"orders-db","fingerprint":"d1f0a3c2b4e59687","once":true,"created":"2026-11-22T11:00:00Z","expires":"2026-11-22T13:00:00Z","approver":{"uid":1000,"gid":1000,"name":"alice"},"reason":"x"}]}`))
	f.Add([]byte(`{"version":1,"grants":null}`))
	f.Add([]byte(`{"version":1,"grants":[{"expires":"0001-01-01T00:00:00Z"}]}`))
	f.Add([]byte("\x00\xff"))
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		grants, err := decodeGrants(data, now)
		if err != nil {
			return
		}
		for _, g := range grants {
			if !g.Expires.After(now) || g.Fingerprint == "" || g.Identity == "" || g.Target == "" {
				t.Fatalf("grant not in force or incomplete: %+v", g)
			}
		}
	})
}
