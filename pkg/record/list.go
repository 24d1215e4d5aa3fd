package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Reading a store needs no lock and changes nothing: List, Find, OpenFile
// and Verify may run while sluiced writes.

// Info describes one recording, as listed.
type Info struct {
	Session    string    `json:"session"`
	Path       string    `json:"path"` // relative to the store
	Protocol   string    `json:"protocol"`
	Identity   string    `json:"identity"`
	Target     string    `json:"target"`
	Host       string    `json:"host"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitzero"` // zero while open
	Reason     string    `json:"reason,omitempty"`
	Events     uint64    `json:"events"`
	Statements uint64    `json:"statements"`
	Denied     uint64    `json:"denied"`
	Encrypted  bool      `json:"encrypted,omitempty"`
	Open       bool      `json:"open,omitempty"` // no end event yet
	Size       int64     `json:"size"`
	// Error is set when the file could not be read in full; the other
	// fields hold what could be.
	Error string `json:"error,omitempty"`
}

// Filter selects recordings for List. Zero fields select everything.
type Filter struct {
	Identity string
	Target   string
	Since    time.Time // started at or after
	Denied   bool      // with at least one denied statement
}

// List returns the recordings in the store at dir that match f, oldest
// first. A recording that cannot be read is listed with Error set.
func List(dir string, f Filter) ([]Info, error) {
	var out []Info
	err := walkRecordings(dir, f.Since, func(rel string) {
		info := readInfo(dir, rel)
		switch {
		case f.Identity != "" && info.Identity != f.Identity,
			f.Target != "" && info.Target != f.Target,
			!f.Since.IsZero() && info.Started.Before(f.Since),
			f.Denied && info.Denied == 0:
			return
		}
		out = append(out, info)
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].Session < out[j].Session
	})
	return out, err
}

// walkRecordings calls fn with the relative path of every file laid out
// as a recording, skipping days before since.
func walkRecordings(dir string, since time.Time, fn func(rel string)) error {
	sinceDay := ""
	if !since.IsZero() {
		sinceDay = since.UTC().Format("2006/01/02")
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			depth := strings.Count(rel, "/") + 1
			if depth > 3 || !isDigits(d.Name()) {
				return fs.SkipDir
			}
			if depth == 3 && sinceDay != "" && rel < sinceDay {
				return fs.SkipDir
			}
			return nil
		}
		if _, ok := sessionOfPath(rel); ok && d.Type().IsRegular() {
			fn(rel)
		}
		return nil
	})
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// readInfo reads a recording's header and, from the end of the file, its
// end event; a recording without one is read through to count.
func readInfo(dir, rel string) Info {
	id, _ := sessionOfPath(rel)
	info := Info{Session: id, Path: rel}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		info.Error = err.Error()
		return info
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		info.Size = fi.Size()
	}
	rd, err := NewReader(f, ReadOptions{})
	if err != nil {
		info.Error = err.Error()
		return info
	}
	h := rd.Header()
	info.Protocol, info.Identity, info.Target, info.Host = h.Protocol, h.Identity, h.Target, h.Host
	info.Started, info.Encrypted = h.Started, h.Encrypted
	if end, t, ok := tailEnd(f, info.Size); ok {
		info.Ended, info.Reason = t, end.Reason
		info.Events, info.Statements, info.Denied = end.Events, end.Statements, end.Denied
		return info
	}
	for {
		_, err := rd.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				var le *LineError
				if !errors.As(err, &le) || !le.Partial {
					info.Error = err.Error()
				}
			}
			break
		}
	}
	_, info.Events = rd.Head()
	info.Statements, info.Denied = rd.Counts()
	if end := rd.End(); end != nil {
		info.Reason = end.Reason
	} else {
		info.Open = true
	}
	return info
}

// tailEnd looks for the end event among the last lines of the file.
func tailEnd(f io.ReaderAt, size int64) (*End, time.Time, bool) {
	const tail = 16 << 10
	off := max(size-tail, 0)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, time.Time{}, false
	}
	lines := bytes.Split(bytes.TrimSuffix(buf, []byte{'\n'}), []byte{'\n'})
	for i := len(lines) - 1; i >= 0 && i >= len(lines)-2; i-- {
		p, err := parseLine(lines[i])
		if err != nil || p.raw.Signature != nil {
			continue
		}
		if Kind(p.raw.Kind) != KindEnd || p.raw.Data == nil {
			return nil, time.Time{}, false
		}
		var end End
		if json.Unmarshal(p.raw.Data, &end) != nil {
			return nil, time.Time{}, false
		}
		return &end, p.time, true
	}
	return nil, time.Time{}, false
}

// Find returns the path, relative to dir, of the recording of session id.
func Find(dir, id string) (string, error) {
	if !ValidSession(id) {
		return "", fmt.Errorf("%w: %q is not a session id", ErrNotFound, clip(id))
	}
	if b, err := readSmall(filepath.Join(dir, dirOpen, id), 4096); err == nil {
		rel := strings.TrimSuffix(string(b), "\n")
		if sid, ok := sessionOfPath(rel); ok && sid == id {
			if _, err := os.Stat(filepath.Join(dir, rel)); err == nil {
				return rel, nil
			}
		}
	}
	found := ""
	err := walkRecordings(dir, time.Time{}, func(rel string) {
		if sid, _ := sessionOfPath(rel); sid == id && found == "" {
			found = rel
		}
	})
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", fmt.Errorf("%w: session %s in %s", ErrNotFound, id, dir)
	}
	return found, nil
}

// OpenFile opens a recording for reading; the caller closes the file.
func OpenFile(path string, opts ReadOptions) (*Reader, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("record: %w", err)
	}
	rd, err := NewReader(f, opts)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("record: %s: %w", path, err)
	}
	return rd, f, nil
}
