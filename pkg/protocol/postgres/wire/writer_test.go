package wire

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer) error
		want  []byte
	}{
		{
			name:  "frame",
			write: func(w *Writer) error { w.Frame('Q', []byte("SELECT 1\x00")); return nil },
			want:  full('Q', "SELECT 1\x00"),
		},
		{
			name:  "empty frame",
			write: func(w *Writer) error { w.Frame('S', nil); return nil },
			want:  []byte{'S', 0, 0, 0, 4},
		},
		{
			name:  "raw bytes",
			write: func(w *Writer) error { w.Raw([]byte{'N'}); return nil },
			want:  []byte{'N'},
		},
		{
			name: "pgproto3 messages",
			write: func(w *Writer) error {
				if err := w.Send(&pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")}); err != nil {
					return err
				}
				return w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			},
			want: cat(full('C', "INSERT 0 1\x00"), full('Z', "I")),
		},
		{
			name: "send reuses its buffer across sizes",
			write: func(w *Writer) error {
				if err := w.Send(&pgproto3.Query{String: strings.Repeat("q", 1000)}); err != nil {
					return err
				}
				return w.Send(&pgproto3.Query{String: "x"})
			},
			want: cat(full('Q', strings.Repeat("q", 1000)+"\x00"), full('Q', "x\x00")),
		},
		{
			name: "mixed",
			write: func(w *Writer) error {
				w.Raw([]byte{'N'})
				w.Frame('1', nil)
				return w.Send(&pgproto3.BindComplete{})
			},
			want: cat([]byte{'N'}, full('1', ""), full('2', "")),
		},
		{
			name: "frame larger than the buffer",
			write: func(w *Writer) error {
				w.Frame('d', bytes.Repeat([]byte{'z'}, 100<<10))
				return nil
			},
			want: full('d', strings.Repeat("z", 100<<10)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out)
			if err := tt.write(w); err != nil {
				t.Fatal(err)
			}
			if w.Buffered() == 0 && out.Len() == 0 {
				t.Error("nothing buffered or written")
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if w.Buffered() != 0 {
				t.Errorf("Buffered after Flush = %d", w.Buffered())
			}
			if !bytes.Equal(out.Bytes(), tt.want) {
				t.Errorf("wrote %q, want %q", trunc(out.Bytes()), trunc(tt.want))
			}
		})
	}
}

func TestWriterBuffersUntilFlush(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	w.Frame('Z', []byte("I"))
	if out.Len() != 0 {
		t.Errorf("%d bytes written before Flush", out.Len())
	}
	if got := w.Buffered(); got != 6 {
		t.Errorf("Buffered = %d, want 6", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 6 {
		t.Errorf("%d bytes written after Flush, want 6", out.Len())
	}
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }

func TestWriterErrorSurfacesOnFlush(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(failingWriter{boom})
	w.Frame('Q', []byte("x\x00"))
	if err := w.Flush(); !errors.Is(err, boom) {
		t.Errorf("Flush err = %v, want %v", err, boom)
	}
}

// TestWriterSendEncodeError: an unencodable message is reported and
// writes nothing.
func TestWriterSendEncodeError(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	// A cancel request secret key longer than 256 bytes cannot be encoded.
	if err := w.Send(&pgproto3.CancelRequest{ProcessID: 1, SecretKey: make([]byte, 300)}); err == nil {
		t.Fatal("no error for an unencodable message")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("wrote %d bytes", out.Len())
	}
}

// TestRoundTrip reads back what the Writer wrote.
func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	msgs := []Message{
		&pgproto3.Parse{Name: "s1", Query: "SELECT $1"},
		&pgproto3.Bind{PreparedStatement: "s1", Parameters: [][]byte{[]byte("42")}},
		&pgproto3.Execute{},
		&pgproto3.Sync{},
	}
	for _, m := range msgs {
		if err := w.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := NewReader(&buf, 4096)
	for i, want := range []byte{'P', 'B', 'E', 'S'} {
		typ, _, err := r.Next()
		if err != nil || typ != want {
			t.Fatalf("frame %d: %q, %v; want %q", i, typ, err, want)
		}
	}
}
