package record

import (
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder is what an inspector needs of a recording; *Recording
// implements it.
//
// Append writes one event and returns its seq once the whole line has been
// handed to the kernel (write(2) returned), before the caller forwards
// what the event describes; it never waits for fsync. On error nothing of
// the event is in the recording, the error matches ErrWrite (or
// ErrTooLarge, ErrInvalid, ErrClosed), and the caller refuses what it was
// about to forward (on_record_failure: deny). Append is safe for
// concurrent use; events are numbered in the order their calls are
// serialized.
//
// AppendLater is for events that describe what has already happened
// upstream (a statement's result): it numbers and chains the event at
// once, but hands its line to the kernel together with the next Append,
// or once it has waited Options.ResultInterval, whichever comes first; a
// statement costs one write(2), not two. A kill -9 of the daemon can thus
// lose the results of the last ResultInterval, never a statement. Its error is
// about the event itself (ErrTooLarge, ErrInvalid, ErrClosed): a failure
// to write surfaces at the next Append, which then fails as a whole.
//
// Close writes the end event with the totals and the signature of the
// head, and hands the recording to the store to sync and log. It is called
// once; Append then fails with ErrClosed.
type Recorder interface {
	Append(ev Event) (seq uint64, err error)
	AppendLater(ev Event) (seq uint64, err error)
	Close(sum Summary) error
}

var _ Recorder = (*Recording)(nil)

// Recording is one session's recording, open for appending.
type Recording struct {
	s       *Store
	id, rel string
	f       *os.File
	aead    cipher.AEAD // nil: not encrypted

	mu                 sync.Mutex
	seq                uint64      // of the next event
	prev               Digest      // hash of the last event numbered, written or not
	size               int64       // bytes of complete lines in the file
	later              []byte      // lines numbered by AppendLater, not yet written
	queued             atomic.Bool // later holds lines (read without mu by the result writer)
	retry              uint32
	buf, plain, sealed []byte
	nonce              [12]byte
	statements, denied uint64
	closed             bool
	broken             error // a failure after which nothing can be appended
	dirty              atomic.Bool
}

// Create starts the recording of a session: it writes the header line
// (one write) to a new file YYYY/MM/DD/<session>.jsonl, mode 0600, and
// returns the recording. Empty Host and Started are filled in. It fails
// with ErrExists when the session already has a recording, with ErrWrite
// when the file cannot be written.
func (s *Store) Create(h Header) (*Recording, error) {
	h.Version = FormatVersion
	if h.Host == "" {
		h.Host = s.opts.Host
	}
	if h.Started.IsZero() {
		h.Started = s.now()
	}
	h.Started = h.Started.UTC().Truncate(time.Microsecond)
	h.Encrypted, h.Recipients = false, nil
	if err := h.check(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	closed := s.closed
	_, open := s.open[h.Session]
	_, logged := s.live[h.Session]
	s.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case open || logged:
		return nil, fmt.Errorf("%w: session %s", ErrExists, h.Session)
	}
	r := &Recording{s: s, id: h.Session, rel: relPath(h.Session, h.Started)}
	path := filepath.Join(s.dir, r.rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	marker := filepath.Join(s.dir, dirOpen, h.Session)
	mf, err := os.OpenFile(marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: session %s", ErrExists, h.Session)
		}
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	_, err = mf.WriteString(r.rel + "\n")
	if cerr := mf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		r.f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	}
	if err != nil {
		os.Remove(marker)
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: session %s", ErrExists, h.Session)
		}
		return nil, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	line, hash, err := r.headerLine(&h)
	if err == nil {
		_, err = r.write(line, hash)
	}
	if err != nil {
		r.f.Close()
		os.Remove(path)
		os.Remove(marker)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		r.f.Close()
		return nil, ErrClosed // its marker stays: the next Open seals it
	}
	s.open[r.id] = r
	s.dirtyDirs[filepath.Dir(path)] = true
	s.dirtyDirs[filepath.Join(s.dir, dirOpen)] = true
	return r, nil
}

// headerLine encodes line 0, setting up encryption when configured.
func (r *Recording) headerLine(h *Header) ([]byte, Digest, error) {
	b := appendEnvelope(nil, 0, h.Started, KindHeader, "", 0, &Digest{})
	if len(r.s.recipients) == 0 {
		j, err := json.Marshal(h)
		if err != nil {
			return nil, Digest{}, err
		}
		b = append(append(b, `"data":`...), j...)
		line, hash := finishLine(b)
		return line, hash, nil
	}
	key, wrapped, err := newDataKey(r.s.recipients)
	if err != nil {
		return nil, Digest{}, fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if r.aead, err = newAEAD(key); err != nil {
		return nil, Digest{}, err
	}
	clear(key)
	h.Encrypted, h.Recipients = true, r.s.opts.Recipients
	pub, err := json.Marshal(h.public())
	if err != nil {
		return nil, Digest{}, err
	}
	full, err := json.Marshal(h)
	if err != nil {
		return nil, Digest{}, err
	}
	b = append(append(b, `"data":`...), pub...)
	b = append(b, `,"key":"`...)
	b = base64.StdEncoding.AppendEncode(b, wrapped)
	b = append(b, '"', ',')
	nonce := nonceFor(0, 0)
	sealed := r.aead.Seal(nil, nonce[:], full, b)
	b = append(b, `"sealed":"`...)
	b = base64.StdEncoding.AppendEncode(b, sealed)
	b = append(b, '"')
	line, hash := finishLine(b)
	return line, hash, nil
}

// Session returns the recording's session id.
func (r *Recording) Session() string { return r.id }

// Path returns the recording's file, relative to the store.
func (r *Recording) Path() string { return r.rel }

// maxLater bounds the lines AppendLater keeps: past it they are written
// at once.
const maxLater = 256 << 10

// Append writes one event; see Recorder.
func (r *Recording) Append(ev Event) (uint64, error) {
	return r.append(ev, false)
}

// AppendLater numbers one event and writes it with the next; see Recorder.
func (r *Recording) AppendLater(ev Event) (uint64, error) {
	return r.append(ev, true)
}

func (r *Recording) append(ev Event, later bool) (uint64, error) {
	if ev == nil {
		return 0, fmt.Errorf("%w: nil event", ErrInvalid)
	}
	kind := ev.Kind()
	decision := ""
	switch e := ev.(type) {
	case *Statement:
		if decision = e.Decision; decision == "" {
			return 0, fmt.Errorf("%w: statement without a decision", ErrInvalid)
		}
	case *End:
		return 0, fmt.Errorf("%w: the end event is written by Close", ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.closed:
		return 0, ErrClosed
	case r.broken != nil:
		return 0, fmt.Errorf("%w: %s: %w", ErrWrite, r.rel, r.broken)
	}
	line, hash, err := r.encode(ev, kind, decision, r.s.now())
	if err != nil {
		return 0, err
	}
	if max := r.s.opts.MaxSessionBytes; max > 0 && r.size+int64(len(r.later)+len(line)) > max {
		return 0, fmt.Errorf("%w (%d bytes)", ErrSessionFull, max)
	}
	var seq uint64
	if later && len(r.later)+len(line) <= maxLater {
		seq = r.queue(line, hash)
	} else {
		seq, err = r.write(line, hash)
	}
	if err == nil && kind == KindStatement {
		r.statements++
		if Refused(decision) {
			r.denied++
		}
	}
	return seq, err
}

// queue queues an encoded line behind the lines already queued.
func (r *Recording) queue(line []byte, hash Digest) uint64 {
	r.later = append(r.later, line...)
	r.queued.Store(true)
	r.prev = hash
	seq := r.seq
	r.seq++
	r.dirty.Store(true)
	return seq
}

// flush writes the lines queued by AppendLater.
func (r *Recording) flush() error {
	if len(r.later) == 0 || r.broken != nil {
		return r.broken
	}
	return r.writeOut(nil)
}

// encode builds the next line in r.buf.
func (r *Recording) encode(ev Event, kind Kind, decision string, t time.Time) ([]byte, Digest, error) {
	b := appendEnvelope(r.buf[:0], r.seq, t, kind, decision, r.retry, &r.prev)
	var err error
	if r.aead == nil || kind == KindEnd {
		b = append(b, `"data":`...)
		n := len(b)
		if b, err = ev.appendJSON(b, r.s.opts.SampleRows); err != nil {
			return nil, Digest{}, err
		}
		if len(b)-n > MaxPayload {
			return nil, Digest{}, fmt.Errorf("%w: %s event of %d bytes", ErrTooLarge, kind, len(b)-n)
		}
	} else {
		if r.plain, err = ev.appendJSON(r.plain[:0], r.s.opts.SampleRows); err != nil {
			return nil, Digest{}, err
		}
		if len(r.plain) > MaxPayload {
			return nil, Digest{}, fmt.Errorf("%w: %s event of %d bytes", ErrTooLarge, kind, len(r.plain))
		}
		r.nonce = nonceFor(r.seq, r.retry)
		r.sealed = r.aead.Seal(r.sealed[:0], r.nonce[:], r.plain, b)
		b = append(b, `"sealed":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.sealed)
		b = append(b, '"')
	}
	line, hash := finishLine(b)
	r.buf = line
	return line, hash, nil
}

// write appends one complete line, after the lines AppendLater queued,
// with a single write(2). On failure the file is cut back to its last
// complete line; the queued lines stay queued.
func (r *Recording) write(line []byte, hash Digest) (uint64, error) {
	if cap(r.buf) > 1<<20 {
		defer func() { r.buf, r.plain, r.sealed = nil, nil, nil }()
	}
	if err := r.writeOut(line); err != nil {
		return 0, err
	}
	r.prev = hash
	seq := r.seq
	r.seq++
	return seq, nil
}

// writeOut writes the queued lines followed by line in one write(2).
func (r *Recording) writeOut(line []byte) error {
	out, queued := line, len(r.later)
	if queued > 0 {
		r.later = append(r.later, line...)
		out = r.later
	}
	n, err := r.f.Write(out)
	if err != nil || n != len(out) {
		r.later = r.later[:queued]
		if err == nil {
			err = io.ErrShortWrite
		}
		if r.aead != nil {
			// The payload's nonce may have reached the disk: never use it again.
			if r.retry == math.MaxUint32 {
				r.broken = errors.New("too many failed writes")
			}
			r.retry++
		}
		if n > 0 {
			if terr := r.f.Truncate(r.size); terr != nil {
				r.broken = fmt.Errorf("a partial line could not be removed: %w", terr)
			}
		}
		return fmt.Errorf("%w: %s: %w", ErrWrite, r.rel, err)
	}
	r.size += int64(n)
	if queued > 0 {
		if cap(r.later) > maxLater {
			r.later = nil
		} else {
			r.later = r.later[:0]
		}
		r.queued.Store(false)
	}
	r.dirty.Store(true)
	return nil
}

// Close ends the recording; see Recorder. If the end cannot be written
// now (ErrWrite), the store keeps trying, and the next Open seals what
// is left otherwise.
func (r *Recording) Close(sum Summary) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.closed = true
	err := r.seal(sum, 0)
	r.mu.Unlock()
	r.s.closing(&closing{r: r, sum: sum, sealed: err == nil})
	return err
}

// seal writes the end event and the signature line in one write.
func (r *Recording) seal(sum Summary, cut int64) error {
	if r.broken != nil {
		return fmt.Errorf("%w: %s: %w", ErrWrite, r.rel, r.broken)
	}
	end := &End{
		Reason: truncateUTF8(sum.Reason, MaxNameLen), Error: truncateUTF8(sum.Error, maxMessageBytes),
		Events: r.seq + 1, Statements: r.statements, Denied: r.denied,
		BytesUp: sum.BytesUp, BytesDown: sum.BytesDown, Cut: cut,
	}
	line, hash, err := r.encode(end, KindEnd, "", r.s.now())
	if err != nil {
		return err
	}
	sl, err := r.signatureLine(r.seq+1, hash)
	if err != nil {
		return err
	}
	line = append(line, sl...)
	if _, err := r.write(line, hash); err != nil {
		return err
	}
	return nil
}

// signatureLine signs the head of a recording of events lines ending
// with the line hashed head.
func (r *Recording) signatureLine(events uint64, head Digest) ([]byte, error) {
	sig := Signature{Session: r.id, Events: events, Head: head.String(), Key: r.s.key.Public().ID()}
	sig.Sig = r.s.key.Sign(sig.SignedText())
	b, err := json.Marshal(struct {
		Signature *Signature `json:"signature"`
	}{&sig})
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// head returns the hash of the end line and the number of events.
func (r *Recording) head() (Digest, uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.prev, r.seq
}

// fail marks the recording as unable to take more events.
func (r *Recording) fail(err error) {
	r.mu.Lock()
	if r.broken == nil {
		r.broken = err
	}
	r.mu.Unlock()
}
