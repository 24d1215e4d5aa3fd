package record

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age"
)

// fuzzIdentity decrypts the encrypted seeds. A test key, used nowhere
// else.
const fuzzIdentity = "AGE-SECRET-KEY-17FEEGX2Y2REHCY56JX6RYZVZ0T7HQ342R6N6L80GYUX7A2XSQWLSWQD3UE"

func FuzzReader(f *testing.F) {
	seeds, err := filepath.Glob("testdata/fuzz/FuzzReader/*")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seed corpus in testdata/fuzz/FuzzReader (run go test -run TestFuzzSeeds -update): %v", err)
	}
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = tailEnd(bytes.NewReader(data), int64(len(data)))
		for _, opts := range []ReadOptions{{}, {Identities: []age.Identity{id}}} {
			rd, err := NewReader(bytes.NewReader(data), opts)
			if err != nil {
				if rd != nil || !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNoIdentity) {
					t.Fatalf("NewReader: %v (%T)", err, err)
				}
				continue
			}
			if rd.Header() == nil || !ValidSession(rd.Header().Session) {
				t.Fatalf("header %+v", rd.Header())
			}
			for want := uint64(1); ; want++ {
				e, err := rd.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("Next: %v (%T)", err, err)
					}
					var le *LineError
					if !errors.As(err, &le) || le.Error() == "" {
						t.Fatalf("not a LineError: %v", err)
					}
					break
				}
				if e.Seq != want {
					t.Fatalf("seq %d accepted where %d was due", e.Seq, want)
				}
				if e.Data != nil {
					_, _ = e.Decode()
				}
			}
			if rd.Offset() > int64(len(data)) {
				t.Fatalf("offset %d past the end (%d)", rd.Offset(), len(data))
			}
		}
	})
}

// TestFuzzSeeds checks that the seed corpus of FuzzReader still reads as
// it should: whole recordings in full, damaged ones up to their damage.
// With -update it first writes the corpus anew from real recordings.
func TestFuzzSeeds(t *testing.T) {
	if *update {
		writeFuzzSeeds(t)
	}
	id, _ := age.ParseX25519Identity(fuzzIdentity)
	for name, want := range map[string]string{
		"plain": "", "encrypted": "", "other-kinds": "",
		"plain-truncated": "partial last line", "encrypted-truncated": "partial last line",
		"plain-reordered": "wrong seq", "encrypted-reordered": "wrong seq",
	} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzReader", name))
			if err != nil {
				t.Fatal(err)
			}
			body := strings.TrimSuffix(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[1], "[]byte("), ")\n")
			data, err := strconv.Unquote(body)
			if err != nil {
				t.Fatalf("corpus file: %v", err)
			}
			rd, err := NewReader(strings.NewReader(data), ReadOptions{Identities: []age.Identity{id}})
			if err != nil {
				t.Fatal(err)
			}
			for err == nil {
				_, err = rd.Next()
			}
			switch {
			case want == "" && (!errors.Is(err, io.EOF) || rd.Signature() == nil):
				t.Errorf("a whole recording: %v, signature %v", err, rd.Signature())
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("got %v, want an error with %q", err, want)
			}
		})
	}
}

func writeFuzzSeeds(t *testing.T) {
	id, _ := age.ParseX25519Identity(fuzzIdentity)
	seeds := map[string][]byte{}
	for name, opts := range map[string]Options{"plain": {SampleRows: 5}, "encrypted": {Recipients: []string{id.Recipient().String()}}} {
		s, dir := openStore(t, opts)
		r := record(t, s, idA)
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, r.Path()))
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = b
		ls := bytes.SplitAfter(b, []byte{'\n'})
		seeds[name+"-truncated"] = bytes.Join(append(ls[:3:3], ls[3][:50]), nil)
		seeds[name+"-reordered"] = bytes.Join([][]byte{ls[0], ls[2], ls[1], ls[3]}, nil)
	}
	s, dir := openStore(t, Options{})
	r, _ := s.Create(pgHeader(idB))
	_, _ = r.Append(&Raw{Type: "ssh.io", Data: []byte(`{"t":0.25,"o":"$ psql\r\n"}`)})
	_, _ = r.Append(&Cancel{Session: idA, Outcome: "routed"})
	_, _ = r.Append(&Approval{ID: "ap-1", Statement: 1, Status: "granted", Approver: "alice"})
	_ = r.Close(Summary{Reason: "shutdown", Error: "context canceled"})
	_ = s.Sync()
	seeds["other-kinds"], _ = os.ReadFile(filepath.Join(dir, r.Path()))
	out := "testdata/fuzz/FuzzReader"
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
		if err := os.WriteFile(filepath.Join(out, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
