package wire

import (
	"bufio"
	"encoding/binary"
	"io"
)

// Message is any pgproto3 message: it can append its own encoding.
type Message interface {
	Encode(dst []byte) ([]byte, error)
}

// Writer buffers frames for one connection. It is not safe for concurrent
// use; callers serialize (the inspector has one writer per direction).
type Writer struct {
	w   *bufio.Writer
	enc []byte
}

// NewWriter returns a Writer over w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 32<<10)}
}

func (w *Writer) header(typ byte, n int) {
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(n+4))
	w.w.Write(hdr[:]) // errors surface on Flush
}

// Frame writes a raw frame.
func (w *Writer) Frame(typ byte, body []byte) {
	w.header(typ, len(body))
	w.w.Write(body)
}

// Send encodes and writes msg.
func (w *Writer) Send(msg Message) error {
	b, err := msg.Encode(w.enc[:0])
	if err != nil {
		return err
	}
	w.enc = b
	_, err = w.w.Write(b)
	return err
}

// Raw writes bytes as they are (startup packets, the SSL answer byte).
func (w *Writer) Raw(b []byte) { w.w.Write(b) }

// Flush writes out what is buffered.
func (w *Writer) Flush() error { return w.w.Flush() }

// Buffered reports how many bytes wait for Flush.
func (w *Writer) Buffered() int { return w.w.Buffered() }
