package record

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Recovery is what Open did with a recording a previous run left open
// (the daemon was killed, or its disk was full when it closed it).
type Recovery struct {
	Session string
	Path    string // relative to the store
	// Cut is the number of bytes of a partial last line that were removed
	// (a write that did not complete; nothing of it was forwarded).
	Cut int64
	// Sealed: an end event with reason daemon_restart was appended.
	Sealed bool
	// Events is the number of events in the recording after sealing.
	Events uint64
	// Err is set when the recording could not be sealed; its marker stays
	// and verify reports it as open, with what is wrong.
	Err error
}

// recoverAll seals every recording that has an open marker; the syncer
// (run at the end of Open) logs them.
func (s *Store) recoverAll() {
	dir := filepath.Join(s.dir, dirOpen)
	ents, err := os.ReadDir(dir)
	if err != nil {
		s.recovered = append(s.recovered, Recovery{Err: fmt.Errorf("record: %w", err)})
		return
	}
	for _, e := range ents {
		rec := s.recoverOne(e.Name())
		s.recovered = append(s.recovered, rec)
	}
}

func (s *Store) recoverOne(id string) Recovery {
	rec := Recovery{Session: id}
	marker := filepath.Join(s.dir, dirOpen, id)
	fail := func(format string, args ...any) Recovery {
		rec.Err = fmt.Errorf(format, args...)
		return rec
	}
	if !ValidSession(id) {
		return fail("unexpected file %s in %s", clip(id), dirOpen)
	}
	b, err := readSmall(marker, 4096)
	if err != nil {
		return fail("marker: %w", err)
	}
	rel := strings.TrimSuffix(string(b), "\n")
	if sid, ok := sessionOfPath(rel); !ok || sid != id {
		return fail("marker %s names %q, not a recording of session %s", marker, clip(rel), id)
	}
	rec.Path = rel
	if l, ok := s.live[id]; ok && l.rel == rel {
		os.Remove(marker) // logged; the marker's removal was lost
		rec.Events = 0
		return rec
	}
	path := filepath.Join(s.dir, rel)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		os.Remove(marker)
		return fail("the recording file %s is missing: nothing to seal", rel)
	}
	if err != nil {
		return fail("%w", err)
	}
	r := &Recording{s: s, id: id, rel: rel, f: f}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	rd, err := NewReader(io.NewSectionReader(f, 0, 1<<62), ReadOptions{})
	if err != nil {
		var le *LineError
		if errors.As(err, &le) && le.Line == 1 && (le.Partial || strings.HasPrefix(le.Msg, "empty recording")) {
			// Create never returned: no event of it was forwarded.
			os.Remove(path)
			os.Remove(marker)
			return fail("the header was never completely written; the file was removed")
		}
		return fail("%s: %w", rel, err)
	}
	if rd.Header().Session != id {
		return fail("%s: its header is of session %q", rel, clip(rd.Header().Session))
	}
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) && le.Partial {
			fi, serr := f.Stat()
			if serr != nil {
				return fail("%w", serr)
			}
			rec.Cut = fi.Size() - rd.Offset()
			if err := f.Truncate(rd.Offset()); err != nil {
				return fail("cutting the partial last line: %w", err)
			}
			break
		}
		if err != nil {
			return fail("%s: %w", rel, err)
		}
	}
	r.prev, r.seq = rd.Head()
	r.size = rd.Offset()
	r.statements, r.denied = rd.Counts()
	r.closed = true
	c := &closing{r: r, sum: Summary{Reason: ReasonDaemonRestart}, cut: rec.Cut}
	switch {
	case rd.Signature() != nil:
		c.sealed = true
	case rd.End() != nil:
		if err := r.signOnly(); err != nil {
			return fail("%s: %w", rel, err)
		}
		c.sealed = true
	default:
		if err := r.seal(c.sum, c.cut); err != nil {
			return fail("%s: %w", rel, err)
		}
		c.sealed, rec.Sealed = true, true
	}
	rec.Events = r.seq
	keep = true
	s.pending = append(s.pending, c)
	return rec
}

// signOnly writes the signature line after an end event that lost it.
func (r *Recording) signOnly() error {
	line, err := r.signatureLine(r.seq, r.prev)
	if err != nil {
		return err
	}
	n, err := r.f.Write(line)
	if err != nil {
		if n > 0 {
			_ = r.f.Truncate(r.size)
		}
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	r.size += int64(n)
	return nil
}

func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}
