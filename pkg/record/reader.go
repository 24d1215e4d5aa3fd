package record

import (
	"bufio"
	"bytes"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

// ReadOptions configure a Reader.
type ReadOptions struct {
	// Identities decrypt an encrypted recording. Without them the events
	// of an encrypted recording come with Sealed set and no Data.
	Identities []age.Identity
}

// Entry is one event read from a recording.
type Entry struct {
	Line     int             `json:"line"` // line number in the file, from 1
	Seq      uint64          `json:"seq"`
	Time     time.Time       `json:"time"`
	Kind     Kind            `json:"kind"`
	Decision string          `json:"decision,omitempty"` // statement events: the decision
	Data     json.RawMessage `json:"data,omitempty"`     // the event's JSON object; nil when Sealed and not decrypted
	Sealed   bool            `json:"sealed,omitempty"`   // the event is encrypted in the file
	Hash     Digest          `json:"hash"`
}

// Decode returns the event as its type: *Header, *Statement, *Result,
// *Login, *Cancel, *Approval, *End, or *Raw for other kinds.
func (e *Entry) Decode() (any, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("seq %d: %w", e.Seq, ErrEncrypted)
	}
	var v any
	switch e.Kind {
	case KindHeader:
		v = &Header{}
	case KindStatement:
		v = &Statement{}
	case KindResult:
		v = &Result{}
	case KindLogin:
		v = &Login{}
	case KindCancel:
		v = &Cancel{}
	case KindApproval:
		v = &Approval{}
	case KindEnd:
		v = &End{}
	default:
		return &Raw{Type: e.Kind, Data: e.Data}, nil
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return nil, fmt.Errorf("%w: seq %d: %s event: %w", ErrCorrupt, e.Seq, e.Kind, err)
	}
	return v, nil
}

// LineError is a problem with one line of a recording. It matches
// ErrCorrupt.
type LineError struct {
	Line     int    // line number, from 1
	Seq      int64  // seq of the event the line should hold, or -1
	Msg      string // what is wrong
	Expected string // what the line should hold, when that is known
	Got      string // what it holds
	// Partial is set for a last line without its newline: a write that did
	// not complete.
	Partial bool
}

func (e *LineError) Error() string {
	s := fmt.Sprintf("line %d", e.Line)
	if e.Seq >= 0 {
		s += fmt.Sprintf(" (seq %d)", e.Seq)
	}
	s += ": " + e.Msg
	if e.Expected != "" || e.Got != "" {
		s += fmt.Sprintf(": expected %s, got %s", e.Expected, e.Got)
	}
	return s
}

// Unwrap makes a LineError match ErrCorrupt.
func (e *LineError) Unwrap() error { return ErrCorrupt }

// Reader reads a recording line by line and checks, as it goes, that each
// line is well formed, hashes to the hash it carries, follows the line
// before it (seq and prev), and that nothing but the signature follows the
// end event. Lines longer than MaxLine are refused. The first problem ends
// the reading: Next returns it (a *LineError) from then on.
type Reader struct {
	br      *bufio.Reader
	long    []byte
	line    int
	lineLen int   // bytes of the last line read, newline included
	off     int64 // offset just past the last line accepted
	next    uint64
	prev    Digest
	header  *Header
	aead    cipher.AEAD
	ended   *End
	sig     *Signature
	err     error
	// Counts of the events read.
	statements, denied uint64
}

// NewReader reads the header line of the recording in r. With identities
// in opts, an encrypted recording is decrypted; if none of them matches,
// NewReader fails with an error matching ErrNoIdentity.
func NewReader(r io.Reader, opts ReadOptions) (*Reader, error) {
	rd := &Reader{br: bufio.NewReaderSize(r, 64<<10)}
	line, err := rd.readLine()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LineError{Line: 1, Seq: 0, Msg: "empty recording: no header"}
		}
		return nil, err
	}
	p, lerr := rd.check(line)
	if lerr != nil {
		return nil, lerr
	}
	bad := func(msg string) error { return &LineError{Line: 1, Seq: 0, Msg: msg} }
	if Kind(p.raw.Kind) != KindHeader {
		return nil, bad(fmt.Sprintf("the first line is a %q event, not the header", clip(p.raw.Kind)))
	}
	h := &Header{}
	if err := json.Unmarshal(p.raw.Data, h); err != nil {
		return nil, bad("malformed header: " + err.Error())
	}
	if h.Version != FormatVersion {
		return nil, bad(fmt.Sprintf("format version %d (this sluice reads version %d)", h.Version, FormatVersion))
	}
	if !ValidSession(h.Session) {
		return nil, bad(fmt.Sprintf("invalid session id %q", clip(h.Session)))
	}
	if h.Encrypted != (p.raw.Sealed != nil) || h.Encrypted != (p.raw.Key != nil) {
		return nil, bad("encrypted flag, key and sealed header do not agree")
	}
	rd.header = h
	if h.Encrypted && len(opts.Identities) > 0 {
		key, err := unwrapKey(p.raw.Key, opts.Identities)
		if err != nil {
			return nil, fmt.Errorf("recording %s: %w", h.Session, err)
		}
		if rd.aead, err = newAEAD(key); err != nil {
			return nil, err
		}
		plain, err := rd.open(p)
		if err != nil {
			return nil, err
		}
		full := &Header{}
		if err := json.Unmarshal(plain, full); err != nil {
			return nil, bad("malformed sealed header: " + err.Error())
		}
		full.Encrypted, full.Recipients = true, h.Recipients
		rd.header = full
	}
	rd.advance(p)
	return rd, nil
}

// Header returns the recording's header. For an encrypted recording read
// without identities, only its public fields are set.
func (r *Reader) Header() *Header { return r.header }

// Next returns the next event after the header. It returns io.EOF after
// the last complete line when the file is consistent so far; see End and
// Signature for whether it was closed.
func (r *Reader) Next() (*Entry, error) {
	if r.err != nil {
		return nil, r.err
	}
	e, err := r.next1()
	if err != nil {
		r.err = err
	}
	return e, err
}

func (r *Reader) next1() (*Entry, error) {
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	if r.sig != nil {
		return nil, &LineError{Line: r.line, Seq: -1, Msg: "data after the signature line"}
	}
	p, lerr := r.check(line)
	if lerr != nil {
		return nil, lerr
	}
	if p.raw.Signature != nil {
		if r.ended == nil {
			return nil, &LineError{Line: r.line, Seq: -1, Msg: "signature line before the end event"}
		}
		r.sig = p.raw.Signature
		r.off += int64(r.lineLen)
		return r.Next()
	}
	e := &Entry{Line: r.line, Seq: *p.raw.Seq, Time: p.time, Kind: Kind(p.raw.Kind), Decision: p.raw.Decision, Hash: p.hash}
	bad := func(msg string) error { return &LineError{Line: r.line, Seq: int64(e.Seq), Msg: msg} }
	switch {
	case r.ended != nil:
		return nil, bad("event after the end event")
	case e.Kind == KindHeader:
		return nil, bad("a second header")
	case e.Kind == KindStatement && e.Decision == "":
		return nil, bad("statement event without a decision")
	}
	switch {
	case e.Kind == KindEnd:
		if p.raw.Sealed != nil {
			return nil, bad("the end event is sealed")
		}
		e.Data = bytes.Clone(p.raw.Data)
		end := &End{}
		if err := json.Unmarshal(e.Data, end); err != nil {
			return nil, bad("malformed end event: " + err.Error())
		}
		r.ended = end
	case p.raw.Sealed != nil:
		if !r.header.Encrypted {
			return nil, bad("sealed event in a recording that is not encrypted")
		}
		e.Sealed = true
		if r.aead != nil {
			plain, err := r.open(p)
			if err != nil {
				return nil, err
			}
			e.Data = plain
		}
	default:
		if r.header.Encrypted {
			return nil, bad("event in clear in an encrypted recording")
		}
		e.Data = bytes.Clone(p.raw.Data)
	}
	if e.Kind == KindStatement {
		r.statements++
		if Refused(e.Decision) {
			r.denied++
		}
	}
	r.advance(p)
	return e, nil
}

// check verifies a line on its own and its place in the chain.
func (r *Reader) check(line []byte) (*parsedLine, *LineError) {
	p, err := parseLine(line)
	if err != nil {
		return nil, &LineError{Line: r.line, Seq: int64(r.next), Msg: err.Error()}
	}
	if p.raw.Signature != nil {
		return p, nil
	}
	if p.content != p.hash {
		return nil, &LineError{Line: r.line, Seq: int64(r.next), Msg: "modified: the line's content does not match its hash",
			Expected: p.hash.String(), Got: p.content.String()}
	}
	if *p.raw.Seq != r.next {
		return nil, &LineError{Line: r.line, Seq: int64(r.next), Msg: "out of order or missing event: wrong seq",
			Expected: fmt.Sprint(r.next), Got: fmt.Sprint(*p.raw.Seq)}
	}
	if p.prev != r.prev {
		return nil, &LineError{Line: r.line, Seq: int64(r.next), Msg: "chain broken: prev is not the hash of the line before",
			Expected: r.prev.String(), Got: p.prev.String()}
	}
	return p, nil
}

func (r *Reader) advance(p *parsedLine) {
	r.prev = p.hash
	r.next++
	r.off += int64(r.lineLen)
}

func (r *Reader) open(p *parsedLine) ([]byte, error) {
	n := nonceFor(*p.raw.Seq, p.raw.Retry)
	plain, err := r.aead.Open(nil, n[:], p.raw.Sealed, p.aad)
	if err != nil {
		return nil, &LineError{Line: r.line, Seq: int64(*p.raw.Seq), Msg: "sealed payload does not decrypt: " + err.Error()}
	}
	return plain, nil
}

// readLine returns the next complete line without its newline. A last
// line without a newline is a *LineError with Partial set.
func (r *Reader) readLine() ([]byte, error) {
	r.long = r.long[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.long = append(r.long, chunk...)
			if len(r.long) >= MaxLine {
				return nil, &LineError{Line: r.line + 1, Seq: -1, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine)}
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		full := chunk
		if len(r.long) > 0 {
			r.long = append(r.long, chunk...)
			full = r.long
		}
		if errors.Is(err, io.EOF) {
			if len(full) == 0 {
				return nil, io.EOF
			}
			return nil, &LineError{Line: r.line + 1, Seq: -1, Partial: true,
				Msg: fmt.Sprintf("partial last line of %d bytes (a write that did not complete)", len(full))}
		}
		if len(full) > MaxLine {
			return nil, &LineError{Line: r.line + 1, Seq: -1, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine)}
		}
		r.line++
		r.lineLen = len(full)
		return full[:len(full)-1], nil
	}
}

// End returns the end event, once read.
func (r *Reader) End() *End { return r.ended }

// Signature returns the signature line, once read.
func (r *Reader) Signature() *Signature { return r.sig }

// Head returns the hash of the last event read and the number of events
// read (header included).
func (r *Reader) Head() (Digest, uint64) { return r.prev, r.next }

// Offset returns the offset just past the last line read and accepted.
func (r *Reader) Offset() int64 { return r.off }

// Counts returns the statements and denied statements read so far.
func (r *Reader) Counts() (statements, denied uint64) { return r.statements, r.denied }

// Decrypting reports whether the recording is encrypted and the reader
// holds its key.
func (r *Reader) Decrypting() bool { return r.aead != nil }
