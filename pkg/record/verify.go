package record

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sluicehq/sluice/pkg/record/headlog"
	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// PublicKey is the host key recordings and the head log must be
	// signed with.
	PublicKey hostkey.Public
	// Session restricts the check to one recording ("" checks them all).
	Session string
	// TrustedSize and TrustedRoot, when TrustedSize > 0, are a head log
	// tree head recorded earlier (for instance off the host); the log must
	// extend it.
	TrustedSize int64
	TrustedRoot tlog.Hash
}

// Problem is one thing verify found wrong.
type Problem struct {
	Session  string `json:"session,omitempty"`
	File     string `json:"file,omitempty"` // relative to the store; "log" for the head log
	Line     int    `json:"line,omitempty"`
	Seq      int64  `json:"seq"` // -1 when not about one event
	Msg      string `json:"msg"`
	Expected string `json:"expected,omitempty"`
	Got      string `json:"got,omitempty"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
	} else {
		b.WriteString("session " + p.Session)
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, ": line %d", p.Line)
	}
	if p.Seq >= 0 {
		fmt.Fprintf(&b, " (seq %d)", p.Seq)
	}
	b.WriteString(": " + p.Msg)
	if p.Expected != "" || p.Got != "" {
		fmt.Fprintf(&b, ": expected %s, got %s", p.Expected, p.Got)
	}
	return b.String()
}

// Recording states in a Report.
const (
	StateOK       = "ok"       // closed, chain, signature and head log agree
	StateOpen     = "open"     // not closed yet (or left open by a daemon that stopped): chain checked
	StateExpired  = "expired"  // removed by retention, as the head log records
	StateMissing  = "missing"  // in the head log, file gone
	StateInvalid  = "invalid"  // see the problems
	StateUnlogged = "unlogged" // a file the head log does not know
)

// Checked is the outcome for one recording.
type Checked struct {
	Session string `json:"session"`
	File    string `json:"file"`
	State   string `json:"state"`
	Events  uint64 `json:"events"`
	Index   int64  `json:"log_index"` // its head record in the head log, or -1
}

// Report is the outcome of Verify. It is clean when Problems is empty.
type Report struct {
	Recordings []Checked  `json:"recordings"`
	Problems   []Problem  `json:"problems"`
	Log        LogSummary `json:"log"`
}

// LogSummary describes the head log that was checked.
type LogSummary struct {
	Size int64  `json:"size"`
	Root string `json:"root"`
	Key  string `json:"key"`
}

// Verify checks the store at dir: the head log (signature of its tree
// head, every record hashing to the signed root), and each recording
// (well-formed lines, hashes, seq and prev chain, end event, signature by
// the host key, head and event count equal to its head log record and
// that record's inclusion in the signed tree). A recording the head log
// names whose file is gone is reported as deleted unless an expire record
// follows its head; a file no head record or open marker accounts for is
// reported too. Open recordings are checked as far as they go.
//
// The error is only for a store that cannot be read at all.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	rep := &Report{}
	files := map[string]bool{}
	if err := walkRecordings(dir, time.Time{}, func(rel string) {
		if id, _ := sessionOfPath(rel); opts.Session == "" || id == opts.Session {
			files[rel] = true
		}
	}); err != nil {
		return nil, err
	}
	markers := readMarkers(dir)
	snap, probs := headlog.Check(filepath.Join(dir, dirLog), opts.PublicKey)
	if err := logNotLost(dir); err != nil && opts.Session == "" {
		rep.Problems = append(rep.Problems, Problem{File: dirLog, Seq: -1, Msg: strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": ")})
	}
	for _, p := range probs {
		if opts.Session == "" || p.Session == "" || p.Session == opts.Session {
			rep.Problems = append(rep.Problems, Problem{Session: p.Session, File: dirLog, Seq: -1, Msg: strings.TrimPrefix(p.Error(), "head log: ")})
		}
	}
	type logged struct {
		entry   headlog.Entry
		expired *headlog.Entry
	}
	heads := map[string]*logged{}
	var order []string
	if snap != nil {
		rep.Log = LogSummary{Size: snap.Head.Size, Root: snap.Head.Root, Key: snap.Head.Key}
		if opts.TrustedSize > 0 {
			if err := snap.ProveConsistent(opts.TrustedSize, opts.TrustedRoot); err != nil {
				rep.Problems = append(rep.Problems, Problem{File: dirLog, Seq: -1, Msg: err.Error()})
			}
		}
		for _, e := range snap.Entries {
			r := e.Record
			if opts.Session != "" && r.Session != opts.Session {
				continue
			}
			switch r.Type {
			case headlog.TypeHead:
				if _, seen := heads[r.Session]; !seen {
					order = append(order, r.Session)
				}
				heads[r.Session] = &logged{entry: e}
			case headlog.TypeExpire:
				l := heads[r.Session]
				if l == nil || l.entry.Record.Head != r.Head {
					rep.Problems = append(rep.Problems, Problem{Session: r.Session, File: dirLog, Seq: -1,
						Msg: fmt.Sprintf("record %d expires a recording the log never recorded with head %s", e.Index, r.Head)})
					continue
				}
				ex := e
				l.expired = &ex
			}
		}
	}
	for _, id := range order {
		l := heads[id]
		r := l.entry.Record
		c := Checked{Session: id, File: r.Path, Events: r.Events, Index: l.entry.Index}
		if _, ok := sessionOfPath(r.Path); !ok {
			rep.Problems = append(rep.Problems, Problem{Session: id, File: dirLog, Seq: -1,
				Msg: fmt.Sprintf("record %d names an invalid recording path %q", l.entry.Index, r.Path)})
			continue
		}
		present := files[r.Path]
		delete(files, r.Path)
		switch {
		case l.expired != nil:
			c.State = StateExpired
		case !present:
			c.State = StateMissing
			rep.Problems = append(rep.Problems, Problem{Session: id, File: r.Path, Seq: -1,
				Msg: fmt.Sprintf("deleted: the head log (record %d) has this recording with %d events and head %s, but the file is missing", l.entry.Index, r.Events, r.Head)})
		default:
			n := len(rep.Problems)
			rep.Problems = append(rep.Problems, checkFile(dir, r.Path, id, opts.PublicKey, &r)...)
			if !snap.Valid {
				// The log's own problems are reported; an inclusion proof
				// against a root its records do not give proves nothing.
			} else if err := snap.Prove(l.entry); err != nil {
				rep.Problems = append(rep.Problems, Problem{Session: id, File: r.Path, Seq: -1, Msg: "head log: " + err.Error()})
			}
			c.State = StateOK
			if len(rep.Problems) > n {
				c.State = StateInvalid
			}
		}
		rep.Recordings = append(rep.Recordings, c)
	}
	rest := make([]string, 0, len(files))
	for rel := range files {
		rest = append(rest, rel)
	}
	sort.Strings(rest)
	for _, rel := range rest {
		id, _ := sessionOfPath(rel)
		c := Checked{Session: id, File: rel, Index: -1}
		n := len(rep.Problems)
		if markers[id] == rel {
			c.State = StateOpen
			rep.Problems = append(rep.Problems, checkFile(dir, rel, id, opts.PublicKey, nil)...)
		} else {
			c.State = StateUnlogged
			rep.Problems = append(rep.Problems, Problem{Session: id, File: rel, Seq: -1,
				Msg: "not in the head log and not open: sluice did not close this recording (added, or restored, behind its back)"})
			rep.Problems = append(rep.Problems, checkFile(dir, rel, id, opts.PublicKey, nil)...)
		}
		if len(rep.Problems) > n && c.State == StateOpen {
			c.State = StateInvalid
		}
		rep.Recordings = append(rep.Recordings, c)
	}
	if opts.Session != "" && len(rep.Recordings) == 0 {
		return rep, fmt.Errorf("%w: session %s is neither in %s nor in its head log", ErrNotFound, opts.Session, dir)
	}
	return rep, nil
}

// readMarkers returns session → path of the open markers.
func readMarkers(dir string) map[string]string {
	out := map[string]string{}
	ents, _ := os.ReadDir(filepath.Join(dir, dirOpen))
	for _, e := range ents {
		if b, err := readSmall(filepath.Join(dir, dirOpen, e.Name()), 4096); err == nil {
			out[e.Name()] = strings.TrimSuffix(string(b), "\n")
		}
	}
	return out
}

// checkFile verifies one recording file. With rec (its head log record),
// it must be closed and agree with it; without, it may still be open.
func checkFile(dir, rel, id string, pub hostkey.Public, rec *headlog.Record) []Problem {
	var probs []Problem
	add := func(line int, seq int64, msg, expected, got string) {
		probs = append(probs, Problem{Session: id, File: rel, Line: line, Seq: seq, Msg: msg, Expected: expected, Got: got})
	}
	f, err := os.Open(filepath.Join(dir, rel))
	if err != nil {
		add(0, -1, err.Error(), "", "")
		return probs
	}
	defer f.Close()
	rd, err := NewReader(f, ReadOptions{})
	if err != nil {
		addErr(add, err)
		return probs
	}
	if rd.Header().Session != id {
		add(1, 0, "the header names another session", id, rd.Header().Session)
	}
	for {
		_, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) && le.Partial {
			if rec == nil {
				break // being written, or cut by a crash: Open seals it
			}
			le.Msg = "truncated: " + le.Msg
		}
		if err != nil {
			addErr(add, err)
			return probs
		}
	}
	head, events := rd.Head()
	end, sig := rd.End(), rd.Signature()
	if rec == nil && end == nil {
		return probs
	}
	if rec != nil {
		if end == nil {
			add(0, -1, fmt.Sprintf("truncated: the file ends after seq %d with no end event", events-1),
				fmt.Sprintf("%d events (head log)", rec.Events), fmt.Sprintf("%d", events))
			return probs
		}
		if events != rec.Events {
			add(0, -1, "event count differs from the head log", fmt.Sprint(rec.Events), fmt.Sprint(events))
		}
		if head.String() != rec.Head {
			add(0, int64(events)-1, "head differs from the head log", rec.Head, head.String())
		}
	}
	if sig == nil {
		add(0, -1, "truncated: no signature line after the end event", "", "")
		return probs
	}
	switch {
	case sig.Session != id:
		add(0, -1, "signature is for another session", id, clip(sig.Session))
	case sig.Events != events:
		add(0, -1, "forged head: the signature covers another event count", fmt.Sprint(events), fmt.Sprint(sig.Events))
	case sig.Head != head.String():
		add(0, int64(events)-1, "forged head: the signature covers another head", head.String(), clip(sig.Head))
	case sig.Key != pub.ID():
		add(0, -1, "signed by another key", pub.ID(), clip(sig.Key))
	case !pub.Verify(sig.SignedText(), sig.Sig):
		add(0, -1, "forged head: the signature does not verify with host key "+pub.ID(), "", "")
	}
	return probs
}

func addErr(add func(int, int64, string, string, string), err error) {
	var le *LineError
	if errors.As(err, &le) {
		add(le.Line, le.Seq, le.Msg, le.Expected, le.Got)
		return
	}
	add(0, -1, err.Error(), "", "")
}
