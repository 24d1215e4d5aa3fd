package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fuzzLimit is the frame limit of FuzzReader.
const fuzzLimit = 4096

var writeSeeds = flag.Bool("write-seeds", false, "rewrite the seed corpus in testdata/fuzz")

// Operations FuzzReader runs, two bits of ops each.
const (
	opNext = iota
	opCopy
	opDiscard
	opStartup
)

// readerSeed is a FuzzReader input.
type readerSeed struct {
	name string
	ops  uint64
	data []byte
}

func encode(msgs ...Message) []byte {
	var out []byte
	for _, m := range msgs {
		var err error
		if out, err = m.Encode(out); err != nil {
			panic(err)
		}
	}
	return out
}

// repeatOp sets every operation to op.
func repeatOp(op uint64) uint64 {
	var ops uint64
	for i := 0; i < 32; i++ {
		ops |= op << (2 * i)
	}
	return ops
}

func readerSeeds() []readerSeed {
	startupMsg := encode(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "etl", "database": "app"}})
	session := encode(
		&pgproto3.Query{String: "SELECT 1"},
		&pgproto3.Parse{Name: "s1", Query: "SELECT $1::int"},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("7")}},
		&pgproto3.Describe{ObjectType: 'P'},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
		&pgproto3.Terminate{},
	)
	results := encode(
		&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("n"), DataTypeOID: 23, DataTypeSize: 4}}},
		&pgproto3.DataRow{Values: [][]byte{[]byte("1")}},
		&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")},
		&pgproto3.ReadyForQuery{TxStatus: 'I'},
	)
	copyIn := encode(&pgproto3.CopyData{Data: bytes.Repeat([]byte("a\tb\n"), 1500)}, &pgproto3.CopyDone{})
	return []readerSeed{
		{"startup then session", opStartup | repeatOp(opNext)<<2, append(startupMsg, session...)},
		{"ssl request then startup", opStartup | opStartup<<2 | repeatOp(opNext)<<4, append(encode(&pgproto3.SSLRequest{}), startupMsg...)},
		{"cancel request", repeatOp(opStartup), encode(&pgproto3.CancelRequest{ProcessID: 42, SecretKey: []byte{1, 2, 3, 4}})},
		{"results copied", repeatOp(opCopy), results},
		{"results read", repeatOp(opNext), results},
		{"copy data over the limit streams", repeatOp(opCopy), copyIn},
		{"copy data over the limit refused", repeatOp(opNext), copyIn},
		{"discarded pipeline", repeatOp(opDiscard), session},
		{"mixed operations", 0x1b1b1b1b1b1b1b1b, append(results, session...)},
		{"growing bodies", repeatOp(opNext), encode(
			&pgproto3.CopyData{Data: make([]byte, 3000)},
			&pgproto3.CopyData{Data: make([]byte, 3500)},
			&pgproto3.CopyData{Data: make([]byte, 4096)},
		)},
		{"length below 4", 0, []byte{'Q', 0, 0, 0, 3}},
		{"length 1 GiB streamed", repeatOp(opCopy), []byte{'D', 0x40, 0, 0, 4, 'x'}},
		{"truncated", 0, []byte{'Q', 0, 0, 0, 9, 'S', 'E'}},
		{"startup too long", repeatOp(opStartup), []byte{0, 0, 0x27, 0x11, 0, 3, 0, 0}},
		{"empty", 0, nil},
	}
}

// TestWriteReaderSeeds rewrites testdata/fuzz/FuzzReader with -write-seeds.
func TestWriteReaderSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range readerSeeds() {
		body := fmt.Sprintf("go test fuzz v1\nuint64(%d)\n[]byte(%q)\n", s.ops, s.data)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzReader reads random bytes with a sequence of operations chosen by
// ops and checks every result against a model of the framing: the reader
// never panics, returns exactly the bytes of each frame, fails with the
// right error, and never allocates more than the limit for a frame it
// holds in memory.
func FuzzReader(f *testing.F) {
	for _, s := range readerSeeds() {
		f.Add(s.ops, s.data)
	}
	f.Fuzz(func(t *testing.T, ops uint64, data []byte) {
		var src io.Reader = bytes.NewReader(data)
		if len(data) > 0 && data[len(data)-1]&1 == 1 {
			src = iotest.HalfReader(src)
		}
		r := NewReader(src, fuzzLimit)
		off := 0
		for i := 0; ; i++ {
			op := (ops >> (2 * (i % 32))) & 3
			rem := data[off:]
			// A startup packet may be longer than the frame limit.
			allowed := fuzzLimit
			if l, _ := modelStartup(rem); op == opStartup && l > 0 {
				allowed = max(allowed, l-4)
			}
			before := cap(r.buf)
			n, err := fuzzOp(t, r, op, rem)
			if c := cap(r.buf); c != before && c > allowed {
				t.Fatalf("op %d: the body buffer grew to %d bytes, over %d", op, c, allowed)
			}
			if err != nil {
				return
			}
			off += n
		}
	})
}

// fuzzOp runs one operation on r, whose remaining input is rem, checks it
// against the model and returns how many input bytes it consumed.
func fuzzOp(t *testing.T, r *Reader, op uint64, rem []byte) (int, error) {
	t.Helper()
	if op == opStartup {
		want, wantErr := modelStartup(rem)
		got, err := r.ReadStartup()
		check(t, "ReadStartup", err, wantErr)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(got, rem[4:want]) {
			t.Fatalf("ReadStartup = %q, want %q", got, rem[4:want])
		}
		return want, nil
	}
	n, wantErr := modelFrame(rem, op != opCopy)
	switch op {
	case opNext:
		typ, body, err := r.Next()
		check(t, "Next", err, wantErr)
		if err != nil {
			return 0, err
		}
		if typ != rem[0] || !bytes.Equal(body, rem[5:5+n]) {
			t.Fatalf("Next = %q %q, want %q %q", typ, body, rem[0], rem[5:5+n])
		}
		if len(body) > fuzzLimit {
			t.Fatalf("Next returned %d bytes, over the limit %d", len(body), fuzzLimit)
		}
	case opCopy:
		typ, hn, err := r.Header(true)
		if err == nil {
			var out bytes.Buffer
			w := NewWriter(&out)
			err = r.Copy(w, typ, hn)
			if ferr := w.Flush(); ferr != nil {
				t.Fatal(ferr)
			}
			if err == nil && !bytes.Equal(out.Bytes(), rem[:5+n]) {
				t.Fatalf("Copy wrote %q, want %q", trunc(out.Bytes()), trunc(rem[:5+n]))
			}
		}
		check(t, "Header(true)+Copy", err, wantErr)
		if err != nil {
			return 0, err
		}
	case opDiscard:
		_, hn, err := r.Header(false)
		if err == nil {
			err = r.Discard(hn)
		}
		check(t, "Header(false)+Discard", err, wantErr)
		if err != nil {
			return 0, err
		}
	}
	return 5 + n, nil
}

// modelFrame returns the body length of the frame at the start of rem and
// the error reading it must give.
func modelFrame(rem []byte, limited bool) (int, error) {
	switch {
	case len(rem) == 0:
		return 0, io.EOF
	case len(rem) < 5:
		return 0, io.ErrUnexpectedEOF
	}
	l := binary.BigEndian.Uint32(rem[1:5])
	if l < 4 || l > 1<<30+4 {
		return 0, ErrMalformed
	}
	n := int(l) - 4
	if limited && n > fuzzLimit {
		return n, ErrTooLarge
	}
	if len(rem) < 5+n {
		return n, io.ErrUnexpectedEOF
	}
	return n, nil
}

// modelStartup returns the length of the startup packet at the start of
// rem and the error reading it must give.
func modelStartup(rem []byte) (int, error) {
	switch {
	case len(rem) == 0:
		return 0, io.EOF
	case len(rem) < 4:
		return 0, io.ErrUnexpectedEOF
	}
	l := int(binary.BigEndian.Uint32(rem))
	if l < 8 || l > 10000 {
		return 0, ErrMalformed
	}
	if len(rem) < l {
		return l, io.ErrUnexpectedEOF
	}
	return l, nil
}

func check(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}
