package record

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestAppendFile: lines go out with pwrite(2) until the file is mapped,
// then into a preallocated, zero-padded mapping that grows by doubling
// windows; what the file holds before its padding is always exactly the
// lines appended, and finish cuts the padding.
func TestAppendFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.jsonl")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := &appendFile{f: f}
	var want []byte
	mapped := false
	for i := 0; len(want) < 3*maxWindow; i++ {
		line := fmt.Appendf(nil, `{"seq":%d,"pad":"%s"}`+"\n", i, bytes.Repeat([]byte{'x'}, i%700))
		if err := a.append(line); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, line...)
		if a.m != nil {
			mapped = true
		}
		if i%97 != 0 {
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[:min(len(got), len(want))], want) {
			t.Fatalf("after %d lines the file does not start with them", i+1)
		}
		if pad := got[len(want):]; len(bytes.Trim(pad, "\x00")) != 0 {
			t.Fatalf("after %d lines: %d bytes past them are not zero", i+1, len(pad))
		}
		if int64(len(want)) <= mapAfter && len(got) != len(want) {
			t.Fatalf("a recording of %d bytes preallocated to %d", len(want), len(got))
		}
		if int64(len(got)-len(want)) > maxWindow {
			t.Fatalf("%d bytes preallocated past the lines, more than %d", len(got)-len(want), maxWindow)
		}
	}
	if !mapped {
		t.Fatal("the file was never mapped")
	}
	if err := a.sync(); err != nil {
		t.Fatal(err)
	}
	a.finish()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after finish: %d bytes, want exactly the %d of the lines", len(got), len(want))
	}
	// After finish, appends are written (the signature after a retried
	// end).
	if err := a.append([]byte("{}\n")); err != nil || a.m != nil {
		t.Fatalf("append after finish: %v, mapped %v", err, a.m != nil)
	}
}

// TestDiskFullMapped: a mapped recording keeps the room it preallocated
// when the disk fills; past it, an event fails whole and the recording
// stays consistent; when space returns, the file is mapped again.
func TestDiskFullMapped(t *testing.T) {
	mnt := smallFS(t)
	opts := Options{FsyncInterval: time.Hour, OnError: func(error) {}}
	dir := filepath.Join(mnt, "recordings")
	s := openAt(t, dir, installKey(t, t.TempDir()), opts)
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, r.Path())
	n := uint64(1)
	appendOne := func() error {
		_, err := r.Append(&Statement{Text: "SELECT 1", Decision: DecisionAllow, Class: "select"})
		if err == nil {
			n++
		}
		return err
	}
	for r.sizeNow() <= mapAfter {
		if err := appendOne(); err != nil {
			t.Fatal(err)
		}
	}
	r.mu.Lock()
	room := r.out.alloc - r.out.size
	r.mu.Unlock()
	if room <= 0 {
		t.Fatal("the recording was not preallocated")
	}

	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	for i := 0; ; i++ {
		err := appendOne()
		if err == nil {
			continue
		}
		if !errors.Is(err, ErrWrite) || !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Append past the preallocated room: %v, want ErrWrite and ENOSPC", err)
		}
		if i == 0 {
			t.Errorf("no event fit in the %d bytes preallocated before the disk filled", room)
		}
		break
	}
	if got := events(t, path); got != n {
		t.Errorf("%d events in the file after the failure, want %d", got, n)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := appendOne(); err != nil {
		t.Fatalf("Append after space returned: %v", err)
	}
	r.mu.Lock()
	remapped := r.out.m != nil
	r.mu.Unlock()
	if !remapped {
		t.Error("not mapped again after space returned")
	}
	if err := r.Close(Summary{Reason: "client_closed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if got := events(t, path); got != n+1 {
		t.Errorf("%d events after closing, want %d", got, n+1)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != logicalSize(t, path) {
		t.Errorf("file after closing: %v: still padded", err)
	}
	rep, err := Verify(dir, VerifyOptions{PublicKey: s.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || len(rep.Recordings) != 1 || rep.Recordings[0].State != StateOK {
		t.Errorf("verify: %+v", rep)
	}
}

// TestAppendFileFault: a page of the mapping the kernel cannot back (here
// the file was cut behind the writer's back) makes the append fail, and
// the recording take no more events, instead of crashing the daemon.
func TestAppendFileFault(t *testing.T) {
	s, dir := openStore(t, Options{FsyncInterval: time.Hour, OnError: func(error) {}})
	r, err := s.Create(pgHeader(idA))
	if err != nil {
		t.Fatal(err)
	}
	for r.sizeNow() <= mapAfter {
		if _, err := r.Append(&Statement{Text: "SELECT 1", Decision: DecisionAllow, Class: "select"}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, r.Path())
	if err := os.Truncate(path, r.sizeNow()&^4095); err != nil {
		t.Fatal(err)
	}
	_, err = r.Append(&Statement{Text: "SELECT 2", Decision: DecisionAllow, Class: "select"})
	if !errors.Is(err, ErrWrite) || !errors.Is(err, errFault) {
		t.Fatalf("Append into a page past the end of the file: %v, want ErrWrite and a fault", err)
	}
	if _, err := r.Append(&Statement{Text: "SELECT 3", Decision: DecisionAllow, Class: "select"}); !errors.Is(err, ErrWrite) {
		t.Fatalf("Append after a fault: %v, want ErrWrite", err)
	}
}
