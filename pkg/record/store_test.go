package record

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

func readAll(t *testing.T, path string, opts ReadOptions) (*Reader, []*Entry) {
	t.Helper()
	rd, f, err := OpenFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*Entry
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return rd, out
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		out = append(out, e)
	}
}

func TestRoundTrip(t *testing.T) {
	s, dir := openStore(t, Options{SampleRows: 5})
	r := record(t, s, "5d5c748f35ba0c1e")
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Path(), "2026/11/22/5d5c748f35ba0c1e.jsonl"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	path := filepath.Join(dir, r.Path())
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("recording mode %#o, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{dir, filepath.Join(dir, "2026/11/22"), filepath.Join(dir, "log")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v (%v), want 0700", d, fi.Mode().Perm(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "open", "5d5c748f35ba0c1e")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("open marker still there after sync: %v", err)
	}
	rd, entries := readAll(t, path, ReadOptions{})
	h := rd.Header()
	want := pgHeader("5d5c748f35ba0c1e")
	want.Version, want.Host, want.Started = 1, "build-7", h.Started
	if !reflect.DeepEqual(*h, want) {
		t.Errorf("header\n%+v\nwant\n%+v", *h, want)
	}
	evs := pgEvents()
	if len(entries) != len(evs)+1 {
		t.Fatalf("%d events read, want %d", len(entries), len(evs)+1)
	}
	for i, ev := range evs {
		got, err := entries[i].Decode()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("event %d:\n%#v\nwant\n%#v", i+1, got, ev)
		}
		if entries[i].Seq != uint64(i+1) || entries[i].Kind != ev.Kind() {
			t.Errorf("event %d: seq %d kind %s", i+1, entries[i].Seq, entries[i].Kind)
		}
	}
	end := rd.End()
	wantEnd := End{Reason: "client_closed", Events: 7, Statements: 2, Denied: 1, BytesUp: 180, BytesDown: 412}
	if end == nil || *end != wantEnd {
		t.Errorf("end %+v, want %+v", end, wantEnd)
	}
	sig := rd.Signature()
	if sig == nil || !s.PublicKey().Verify(sig.SignedText(), sig.Sig) {
		t.Errorf("signature missing or invalid: %+v", sig)
	}
	if _, err := r.Append(&Login{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
}

func TestCreateErrors(t *testing.T) {
	s, _ := openStore(t, Options{})
	if _, err := s.Create(pgHeader("../etc/passwd")); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad id: %v", err)
	}
	r, err := s.Create(pgHeader("aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(pgHeader("aaaa")); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate open: %v", err)
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(pgHeader("aaaa")); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate logged: %v", err)
	}
	r2, err := s.Create(pgHeader("bbbb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []Event{nil, &Statement{Text: "SELECT 1"}, &End{}, &Raw{Type: "statement", Data: []byte(`{}`)},
		&Raw{Type: "ssh.io", Data: []byte(`[1]`)}, &Raw{Type: "Bad Kind", Data: []byte(`{}`)}} {
		if _, err := r2.Append(ev); !errors.Is(err, ErrInvalid) {
			t.Errorf("Append(%#v): %v, want ErrInvalid", ev, err)
		}
	}
	if seq, err := r2.Append(&Raw{Type: "ssh.io", Data: []byte(`{"t": 0.5, "o": "$ ls\r\n"}`)}); err != nil || seq != 1 {
		t.Errorf("Append(raw) = %d, %v; want 1, nil (invalid events must not take a seq)", seq, err)
	}
}

func TestLocked(t *testing.T) {
	s, dir := openStore(t, Options{})
	_ = s
	if _, err := Open(dir, Options{HostKey: filepath.Join(filepath.Dir(dir), "host_key")}); !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
}

func TestConcurrentAppends(t *testing.T) {
	s, dir := openStore(t, Options{FsyncInterval: 5e6})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.Create(pgHeader("conc" + string(rune('a'+i))))
			if err != nil {
				t.Error(err)
				return
			}
			var inner sync.WaitGroup
			for range 2 {
				inner.Add(1)
				go func() {
					defer inner.Done()
					for range 200 {
						for _, ev := range pgEvents() {
							if _, err := r.Append(ev); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			inner.Wait()
			if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || len(rep.Recordings) != 4 {
		t.Fatalf("verify: %d recordings, problems %v", len(rep.Recordings), rep.Problems)
	}
	for _, c := range rep.Recordings {
		if c.State != StateOK || c.Events != 2*200*5+2 {
			t.Errorf("%+v", c)
		}
	}
}
