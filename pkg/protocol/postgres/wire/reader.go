package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is wrapped by errors for frames longer than the limit.
var ErrTooLarge = errors.New("message too large")

// ErrMalformed is wrapped by errors for frames whose length field is
// impossible.
var ErrMalformed = errors.New("malformed message")

// Reader reads frames from a buffered stream.
type Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a Reader over r refusing frames longer than max bytes
// (the body, excluding the type byte and length word).
func NewReader(r io.Reader, max int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 32<<10), max: max}
}

// SetMax changes the frame size limit.
func (r *Reader) SetMax(max int) { r.max = max }

// Max returns the frame size limit.
func (r *Reader) Max() int { return r.max }

// Buffered reports how many bytes can be read without blocking: writers
// flush when it is 0, so a burst of frames goes out in one write.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// Header reads the next frame's type and body length. The caller must then
// consume exactly n bytes with Body, Copy or Discard. A body longer than
// the limit is an error wrapping ErrTooLarge unless stream is true, for
// frames the caller passes on without holding them.
func (r *Reader) Header(stream bool) (typ byte, n int, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return 0, 0, err
	}
	l := binary.BigEndian.Uint32(hdr[1:])
	if l < 4 || l > 1<<30+4 {
		return hdr[0], 0, fmt.Errorf("%w: type %q declares length %d", ErrMalformed, hdr[0], l)
	}
	n = int(l) - 4
	if n > r.max && !stream {
		return hdr[0], n, fmt.Errorf("%w: type %q is %d bytes, the limit is %d", ErrTooLarge, hdr[0], n, r.max)
	}
	return hdr[0], n, nil
}

// Body reads an n-byte body into the reader's buffer. The slice is valid
// until the next call on the reader.
func (r *Reader) Body(n int) ([]byte, error) {
	if cap(r.buf) < n {
		// Grow geometrically, but never past the limit.
		r.buf = make([]byte, n, max(n, min(2*cap(r.buf), r.max)))
	}
	b := r.buf[:n]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, unexpected(err)
	}
	// Do not keep a huge buffer around after one huge message.
	if cap(r.buf) > 1<<20 && n < 64<<10 {
		r.buf = nil
	}
	return b, nil
}

// Next reads a whole frame within the limit.
func (r *Reader) Next() (typ byte, body []byte, err error) {
	typ, n, err := r.Header(false)
	if err != nil {
		return typ, nil, err
	}
	body, err = r.Body(n)
	return typ, body, err
}

// Copy writes the frame (header and n-byte body) to w without holding the
// body in memory.
func (r *Reader) Copy(w *Writer, typ byte, n int) error {
	w.header(typ, n)
	if _, err := io.CopyN(w.w, r.r, int64(n)); err != nil {
		return unexpected(err)
	}
	return nil
}

// Discard skips an n-byte body.
func (r *Reader) Discard(n int) error {
	_, err := r.r.Discard(n)
	return unexpected(err)
}

// ReadStartup reads an untyped startup-phase packet (StartupMessage,
// SSLRequest, GSSENCRequest, CancelRequest): its length word and body.
func (r *Reader) ReadStartup() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return nil, err
	}
	l := binary.BigEndian.Uint32(hdr[:])
	// Protocol: at least the 4-byte code; PostgreSQL caps startup packets
	// at 10000 bytes.
	if l < 8 || l > 10000 {
		return nil, fmt.Errorf("%w: startup packet length %d", ErrMalformed, l)
	}
	return r.Body(int(l) - 4)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
