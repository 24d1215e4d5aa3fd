package headlog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

func head(i int) Record {
	return Record{Type: TypeHead, Session: fmt.Sprintf("%016x", i), Path: fmt.Sprintf("2026/11/22/%016x.jsonl", i),
		Events: uint64(5 + i), Head: strings.Repeat(fmt.Sprintf("%x", i%16), 64), Time: time.Date(2026, 11, 22, 9, 0, i, 0, time.UTC)}
}

func open(t *testing.T, dir string, key *hostkey.Key) *Log {
	t.Helper()
	l, err := Open(dir, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestAppendReopenCheck(t *testing.T) {
	key, _ := hostkey.Generate()
	dir := filepath.Join(t.TempDir(), "log")
	l := open(t, dir, key)
	if l.Head().Size != 0 {
		t.Fatalf("new log of size %d", l.Head().Size)
	}
	for i := range 5 {
		if err := l.Append([]Record{head(2 * i), head(2*i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	early := l.Head()
	if err := l.Append([]Record{{Type: TypeExpire, Session: head(0).Session, Path: head(0).Path, Head: head(0).Head, Reason: "max_age", Time: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	l.Close()

	l2 := open(t, dir, key)
	if l2.Head().Size != 11 {
		t.Fatalf("reopened: size %d, want 11", l2.Head().Size)
	}
	var got []Record
	if err := l2.Scan(func(i int64, r Record) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 || got[3].Session != head(3).Session || got[10].Type != TypeExpire {
		t.Errorf("scan: %+v", got)
	}

	s, probs := Check(dir, key.Public())
	if len(probs) > 0 || !s.Valid || len(s.Entries) != 11 {
		t.Fatalf("check: %v %+v", probs, s)
	}
	for _, e := range s.Entries {
		if err := s.Prove(e); err != nil {
			t.Errorf("prove %d: %v", e.Index, err)
		}
	}
	root, _ := early.RootHash()
	if err := s.ProveConsistent(early.Size, root); err != nil {
		t.Errorf("consistency with the earlier tree: %v", err)
	}
	root[0] ^= 1
	if err := s.ProveConsistent(early.Size, root); err == nil {
		t.Error("consistency with a tree the log never had")
	}
	if err := s.ProveConsistent(20, root); err == nil || !strings.Contains(err.Error(), "rolled back") {
		t.Errorf("consistency with a larger tree: %v", err)
	}
	other, _ := hostkey.Generate()
	if _, probs := Check(dir, other.Public()); len(probs) != 1 || !strings.Contains(probs[0].Error(), "not by the host key") {
		t.Errorf("check with another key: %v", probs)
	}
}

func TestOpenRepairsAnUnfinishedAppend(t *testing.T) {
	key, _ := hostkey.Generate()
	dir := filepath.Join(t.TempDir(), "log")
	l := open(t, dir, key)
	if err := l.Append([]Record{head(1), head(2)}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	// A record and some hashes written after the tree head, then a crash.
	appendTo(t, filepath.Join(dir, "records"), `{"type":"head","session":"00000000000000`+"\n"+`{"type":"he`)
	appendTo(t, filepath.Join(dir, "hashes"), strings.Repeat("x", 70))
	l2 := open(t, dir, key)
	if err := l2.Append([]Record{head(3)}); err != nil {
		t.Fatal(err)
	}
	if _, probs := Check(dir, key.Public()); len(probs) > 0 {
		t.Errorf("check: %v", probs)
	}
	// The hashes file lost: rebuilt from the records.
	l2.Close()
	if err := os.Remove(filepath.Join(dir, "hashes")); err != nil {
		t.Fatal(err)
	}
	l3 := open(t, dir, key)
	if l3.Head().Size != 3 {
		t.Errorf("size %d after rebuilding the hashes", l3.Head().Size)
	}
}

func TestOpenRefusesCorruptLogs(t *testing.T) {
	key, _ := hostkey.Generate()
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   string
	}{
		{"tree head missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "tree"))
		}, "tree head file is missing but records exist"},
		{"another host key", func(t *testing.T, dir string) {
			other, _ := hostkey.Generate()
			if err := writeTree(dir, signTree(other, 2, emptyRoot(), time.Now())); err != nil {
				t.Fatal(err)
			}
		}, "was the host key replaced?"},
		{"records removed", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "records"))
			i := strings.IndexByte(string(b), '\n')
			if err := os.WriteFile(filepath.Join(dir, "records"), b[:i+1], 0o600); err != nil {
				t.Fatal(err)
			}
		}, "the records file holds 1 records, the signed tree head 2"},
		{"last record modified", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "records"))
			b = []byte(strings.Replace(string(b), `"events":7`, `"events":8`, 1))
			if err := os.WriteFile(filepath.Join(dir, "records"), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "record 1 does not match its stored hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "log")
			l := open(t, dir, key)
			if err := l.Append([]Record{head(1), head(2)}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			tt.mutate(t, dir)
			_, err := Open(dir, key, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want ErrCorrupt with %q", err, tt.want)
			}
		})
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// An append whose tree head was replaced stays appended when only the
// directory sync fails after it: rolling the records back would leave
// them missing under a signed head.
func TestAppendCommittedBeforeDirSync(t *testing.T) {
	key, _ := hostkey.Generate()
	dir := filepath.Join(t.TempDir(), "log")
	l := open(t, dir, key)
	if err := l.Append([]Record{head(1)}); err != nil {
		t.Fatal(err)
	}
	syncDir = func(string) error { return errors.New("EIO") }
	err := l.Append([]Record{head(2)})
	syncDir = syncDirectory
	if !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Append = %v, want ErrNotDurable", err)
	}
	if l.Head().Size != 2 {
		t.Fatalf("size %d after a committed append, want 2", l.Head().Size)
	}
	if err := l.Append([]Record{head(3)}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2 := open(t, dir, key)
	if l2.Head().Size != 3 {
		t.Fatalf("reopened: size %d, want 3", l2.Head().Size)
	}
	if _, probs := Check(dir, key.Public()); len(probs) > 0 {
		t.Fatalf("check: %v", probs)
	}
}
