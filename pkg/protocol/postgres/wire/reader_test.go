package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// frame encodes a frame whose length word says declared+4 (the body length
// declared), followed by body, which may be shorter or longer.
func frame(typ byte, declared int, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(declared+4))
	return append(b, body...)
}

// full encodes a well-formed frame.
func full(typ byte, body string) []byte { return frame(typ, len(body), []byte(body)) }

// rawLen encodes a frame header with a raw length word.
func rawLen(typ byte, l uint32) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], l)
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// readers wraps a stream the ways a network delivers it.
var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte per read", iotest.OneByteReader},
	{"half per read", iotest.HalfReader},
	{"data with EOF", iotest.DataErrReader},
}

type gotFrame struct {
	typ  byte
	body string
}

func TestReaderNext(t *testing.T) {
	big := strings.Repeat("x", 4096)
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    []gotFrame
		wantErr error // after the frames; io.EOF for a clean end
	}{
		{
			name:    "empty stream",
			in:      nil,
			max:     4096,
			wantErr: io.EOF,
		},
		{
			name:    "one frame",
			in:      full('Q', "SELECT 1\x00"),
			max:     4096,
			want:    []gotFrame{{'Q', "SELECT 1\x00"}},
			wantErr: io.EOF,
		},
		{
			name:    "empty body",
			in:      full('S', ""),
			max:     4096,
			want:    []gotFrame{{'S', ""}},
			wantErr: io.EOF,
		},
		{
			name:    "several frames",
			in:      cat(full('P', "\x00SELECT 1\x00\x00\x00"), full('B', "abc"), full('S', "")),
			max:     4096,
			want:    []gotFrame{{'P', "\x00SELECT 1\x00\x00\x00"}, {'B', "abc"}, {'S', ""}},
			wantErr: io.EOF,
		},
		{
			name:    "body exactly at the limit",
			in:      full('d', big),
			max:     4096,
			want:    []gotFrame{{'d', big}},
			wantErr: io.EOF,
		},
		{
			name:    "body one byte over the limit",
			in:      full('d', big+"x"),
			max:     4096,
			wantErr: ErrTooLarge,
		},
		{
			name:    "frames then one over the limit",
			in:      cat(full('Q', "a\x00"), full('d', big+"x")),
			max:     4096,
			want:    []gotFrame{{'Q', "a\x00"}},
			wantErr: ErrTooLarge,
		},
		{
			name:    "length word below 4",
			in:      rawLen('Q', 3),
			max:     4096,
			wantErr: ErrMalformed,
		},
		{
			name:    "length word zero",
			in:      rawLen('Q', 0),
			max:     4096,
			wantErr: ErrMalformed,
		},
		{
			name:    "length word above 1 GiB",
			in:      rawLen('d', 1<<30+5),
			max:     1 << 31,
			wantErr: ErrMalformed,
		},
		{
			name:    "length word all ones",
			in:      rawLen('d', 0xffffffff),
			max:     4096,
			wantErr: ErrMalformed,
		},
		{
			name:    "truncated header",
			in:      []byte{'Q', 0, 0},
			max:     4096,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "truncated body",
			in:      frame('Q', 10, []byte("abc")),
			max:     4096,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "header without body",
			in:      frame('Q', 10, nil),
			max:     4096,
			wantErr: io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := NewReader(rd.wrap(bytes.NewReader(tt.in)), tt.max)
				var got []gotFrame
				var err error
				for {
					var typ byte
					var body []byte
					typ, body, err = r.Next()
					if err != nil {
						break
					}
					got = append(got, gotFrame{typ, string(body)})
					if len(got) > len(tt.want) {
						break
					}
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d frames, want %d (err %v)", len(got), len(tt.want), err)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Errorf("frame %d = %q %q, want %q %q", i, got[i].typ, got[i].body, tt.want[i].typ, tt.want[i].body)
					}
				}
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			})
		}
	}
}

// headerOnly yields a frame header and fails the test if anything reads
// past it.
type headerOnly struct {
	t    *testing.T
	hdr  []byte
	done bool
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if h.done {
		h.t.Error("the body of an oversized frame was read")
		return 0, io.ErrUnexpectedEOF
	}
	h.done = true
	return copy(p, h.hdr), nil
}

func TestReaderHeaderTooLargeReadsNoBody(t *testing.T) {
	tests := []struct {
		name     string
		declared int
		max      int
	}{
		{"just over", 4097, 4096},
		{"1 GiB", 1 << 30, 4096},
		{"zero limit", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(&headerOnly{t: t, hdr: frame('Q', tt.declared, nil)}, tt.max)
			typ, n, err := r.Header(false)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if typ != 'Q' || n != tt.declared {
				t.Errorf("Header = %q, %d; want 'Q', %d", typ, n, tt.declared)
			}
		})
	}
}

func TestReaderStreamCopy(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB
	tests := []struct {
		name    string
		in      []byte
		max     int
		wantOut []byte
		wantErr error
	}{
		{
			name:    "frame over the limit streams",
			in:      cat(frame('D', len(long), long), full('C', "SELECT 1\x00")),
			max:     4096,
			wantOut: cat(frame('D', len(long), long), full('C', "SELECT 1\x00")),
		},
		{
			name:    "empty body",
			in:      full('c', ""),
			max:     4096,
			wantOut: full('c', ""),
		},
		{
			name:    "truncated body",
			in:      frame('D', len(long), long[:100]),
			max:     4096,
			wantErr: io.ErrUnexpectedEOF,
		},
		{
			name:    "header without body",
			in:      frame('D', 10, nil),
			max:     4096,
			wantErr: io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := NewReader(rd.wrap(bytes.NewReader(tt.in)), tt.max)
				var out bytes.Buffer
				w := NewWriter(&out)
				var err error
				for {
					var typ byte
					var n int
					typ, n, err = r.Header(true)
					if err != nil {
						break
					}
					if err = r.Copy(w, typ, n); err != nil {
						break
					}
				}
				if tt.wantErr == nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("err = %v, want io.EOF at the end", err)
					}
				} else if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if ferr := w.Flush(); ferr != nil {
					t.Fatal(ferr)
				}
				if tt.wantOut != nil && !bytes.Equal(out.Bytes(), tt.wantOut) {
					t.Errorf("copied %d bytes, want %d: %q", out.Len(), len(tt.wantOut), trunc(out.Bytes()))
				}
			})
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func TestReaderStreamHeaderStillRejectsMalformed(t *testing.T) {
	for _, l := range []uint32{0, 3, 1<<30 + 5, 0xffffffff} {
		r := NewReader(bytes.NewReader(rawLen('D', l)), 4096)
		if _, _, err := r.Header(true); !errors.Is(err, ErrMalformed) {
			t.Errorf("length %d: err = %v, want ErrMalformed", l, err)
		}
	}
	// The largest legal length streams.
	r := NewReader(bytes.NewReader(rawLen('D', 1<<30+4)), 4096)
	if _, n, err := r.Header(true); err != nil || n != 1<<30 {
		t.Errorf("length 1 GiB: n = %d, err = %v", n, err)
	}
}

func TestReaderDiscard(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		wantNext gotFrame
		wantErr  error
	}{
		{
			name:     "skips the body",
			in:       cat(full('B', strings.Repeat("b", 3000)), full('S', "")),
			wantNext: gotFrame{'S', ""},
		},
		{
			name:    "truncated body",
			in:      frame('B', 3000, []byte("bbb")),
			wantErr: io.ErrUnexpectedEOF,
		},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				r := NewReader(rd.wrap(bytes.NewReader(tt.in)), 4096)
				_, n, err := r.Header(false)
				if err != nil {
					t.Fatal(err)
				}
				err = r.Discard(n)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Discard err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				typ, body, err := r.Next()
				if err != nil || (gotFrame{typ, string(body)}) != tt.wantNext {
					t.Errorf("Next = %q %q %v, want %q %q", typ, body, err, tt.wantNext.typ, tt.wantNext.body)
				}
			})
		}
	}
}

func startup(l uint32, body []byte) []byte {
	b := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(b, l)
	return append(b, body...)
}

func TestReadStartup(t *testing.T) {
	code := []byte{0x04, 0xd2, 0x16, 0x2f} // SSLRequest
	params := []byte("\x00\x03\x00\x00user\x00etl\x00\x00")
	maxBody := bytes.Repeat([]byte{'x'}, 10000-4)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"SSLRequest", startup(8, code), code, nil},
		{"StartupMessage", startup(uint32(4+len(params)), params), params, nil},
		{"largest packet", startup(10000, maxBody), maxBody, nil},
		{"one byte over the largest", startup(10001, append(maxBody, 'x')), nil, ErrMalformed},
		{"length below 8", startup(7, code[:3]), nil, ErrMalformed},
		{"length zero", startup(0, nil), nil, ErrMalformed},
		{"length 4 (no code)", startup(4, nil), nil, ErrMalformed},
		{"huge length", startup(0xffffffff, nil), nil, ErrMalformed},
		{"truncated length word", []byte{0, 0}, nil, io.ErrUnexpectedEOF},
		{"truncated body", startup(16, code), nil, io.ErrUnexpectedEOF},
		{"empty stream", nil, nil, io.EOF},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				// A small frame limit does not constrain startup packets.
				r := NewReader(rd.wrap(bytes.NewReader(tt.in)), 16)
				got, err := r.ReadStartup()
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Errorf("body = %q, want %q", trunc(got), trunc(tt.want))
				}
			})
		}
	}
}

func TestReaderSetMax(t *testing.T) {
	in := cat(full('Q', strings.Repeat("a", 100)), full('Q', strings.Repeat("a", 100)))
	r := NewReader(bytes.NewReader(in), 1<<20)
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.SetMax(99)
	if _, _, err := r.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("after SetMax(99): err = %v, want ErrTooLarge", err)
	}
}

func TestReaderBuffered(t *testing.T) {
	in := cat(full('P', "abc"), full('S', ""))
	r := NewReader(bytes.NewReader(in), 4096)
	if got := r.Buffered(); got != 0 {
		t.Errorf("Buffered before reading = %d", got)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Buffered(), 5; got != want {
		t.Errorf("Buffered after the first frame = %d, want %d", got, want)
	}
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if got := r.Buffered(); got != 0 {
		t.Errorf("Buffered at the end = %d", got)
	}
}

// TestReaderBodyReuse checks that the body buffer is reused within the
// limit and that a huge one is not kept after a small message.
func TestReaderBodyReuse(t *testing.T) {
	const limit = 4 << 20
	huge := strings.Repeat("h", 2<<20)
	in := cat(full('d', "small"), full('d', huge), full('d', "tiny"), full('d', "tinier"))
	r := NewReader(bytes.NewReader(in), limit)
	for i, want := range []string{"small", huge, "tiny", "tinier"} {
		typ, body, err := r.Next()
		if err != nil || typ != 'd' || string(body) != want {
			t.Fatalf("frame %d: %q, %d bytes, %v", i, typ, len(body), err)
		}
		if cap(r.buf) > max(len(want), limit) {
			t.Errorf("frame %d: buffer capacity %d exceeds the limit %d", i, cap(r.buf), limit)
		}
	}
	if cap(r.buf) > 1<<20 {
		t.Errorf("buffer of %d bytes kept after small messages", cap(r.buf))
	}
}

// TestReaderBodyGrowthBounded: growing the buffer for a message within the
// limit never allocates more than the limit.
func TestReaderBodyGrowthBounded(t *testing.T) {
	const limit = 4096
	sizes := []int{3000, 3500, 4096, 100, 4000}
	var in []byte
	for _, n := range sizes {
		in = append(in, full('d', strings.Repeat("g", n))...)
	}
	r := NewReader(bytes.NewReader(in), limit)
	for i, n := range sizes {
		_, body, err := r.Next()
		if err != nil || len(body) != n {
			t.Fatalf("frame %d: %d bytes, %v", i, len(body), err)
		}
		if cap(r.buf) > limit {
			t.Errorf("after a %d-byte body the buffer holds %d bytes, more than the limit %d", n, cap(r.buf), limit)
		}
	}
}
