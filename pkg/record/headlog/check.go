package headlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// Entry is one record read by [Check].
type Entry struct {
	Index  int64
	Record Record
	Leaf   tlog.Hash // tlog.RecordHash of the record's line
}

// Snapshot is a log as read by [Check]: its tree head and the records it
// covers, with the stored hashes recomputed from those records.
type Snapshot struct {
	Head    TreeHead
	Entries []Entry // the well-formed records among the first Head.Size
	// Valid is set when the records hash to the signed root (whether or
	// not the signature verifies).
	Valid  bool
	hashes []tlog.Hash
	size   int64 // records read and hashed
}

// Problem is one thing wrong with a log. Index is the record it is about,
// or -1.
type Problem struct {
	Index   int64
	Session string
	Msg     string
}

func (p *Problem) Error() string {
	switch {
	case p.Index < 0:
		return "head log: " + p.Msg
	case p.Session != "":
		return fmt.Sprintf("head log: record %d (session %s): %s", p.Index, p.Session, p.Msg)
	default:
		return fmt.Sprintf("head log: record %d: %s", p.Index, p.Msg)
	}
}

// Check reads the log in dir without changing it and checks the tree
// head's signature with pub, every record up to the tree's size, and that
// those records hash to the signed root. Records written after the tree
// head (an append in progress) are ignored. A directory with no log yet
// gives an empty snapshot. The snapshot is nil only when the tree head
// cannot be read at all.
func Check(dir string, pub hostkey.Public) (*Snapshot, []*Problem) {
	var probs []*Problem
	add := func(i int64, session, format string, args ...any) {
		probs = append(probs, &Problem{Index: i, Session: session, Msg: fmt.Sprintf(format, args...)})
	}
	t, err := readTree(filepath.Join(dir, "tree"))
	if errors.Is(err, fs.ErrNotExist) {
		if fi, serr := os.Stat(filepath.Join(dir, "records")); serr == nil && fi.Size() > 0 {
			add(-1, "", "the tree head file %s is missing but records exist", filepath.Join(dir, "tree"))
			return nil, probs
		}
		root := emptyRoot()
		return &Snapshot{Head: TreeHead{Root: fmt.Sprintf("%x", root[:])}, Valid: true}, nil
	}
	if err != nil {
		add(-1, "", "%v", err)
		return nil, probs
	}
	if err := t.verify(pub); err != nil {
		add(-1, "", "%v", err)
	}
	s := &Snapshot{Head: t}
	f, err := os.Open(filepath.Join(dir, "records"))
	if err != nil {
		add(-1, "", "records: %v", err)
		return s, probs
	}
	defer f.Close()
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return memHashes(s.hashes, idx) })
	var herr error
	serr := scanLines(f, func(line []byte, _ int64) bool {
		if s.size == t.Size {
			return false
		}
		i := s.size
		var add2 []tlog.Hash
		if add2, herr = tlog.StoredHashes(i, line, mem); herr != nil {
			return false
		}
		s.hashes = append(s.hashes, add2...)
		s.size++
		r, err := parseRecord(line)
		if err != nil {
			add(i, "", "%v", err)
			return true
		}
		s.Entries = append(s.Entries, Entry{Index: i, Record: r, Leaf: tlog.RecordHash(line)})
		return true
	})
	if serr != nil {
		add(s.size, "", "%v", serr)
	}
	if herr != nil {
		add(s.size, "", "%v", herr)
	}
	if s.size < t.Size {
		add(-1, "", "the records file holds %d records, the signed tree head %d: records were removed", s.size, t.Size)
		return s, probs
	}
	root, err := tlog.TreeHash(s.size, mem)
	if err != nil {
		add(-1, "", "%v", err)
		return s, probs
	}
	if signed, _ := t.RootHash(); root != signed {
		i, session := s.firstChanged(dir)
		if i >= 0 {
			add(i, session, "modified: it no longer matches the hash stored for it when it was logged")
		}
		add(-1, "", "the records hash to root %x, the signed tree head (size %d) says %x", root[:], t.Size, signed[:])
	} else {
		s.Valid = true
	}
	return s, probs
}

// firstChanged compares the recomputed leaf hashes with the hashes file
// and returns the first record that differs, or -1.
func (s *Snapshot) firstChanged(dir string) (int64, string) {
	f, err := os.Open(filepath.Join(dir, "hashes"))
	if err != nil {
		return -1, ""
	}
	defer f.Close()
	r := fileHashes{f: f, base: 1 << 62}
	for i := range s.size {
		x := tlog.StoredHashIndex(0, i)
		stored, err := r.ReadHashes([]int64{x})
		if err != nil {
			return -1, ""
		}
		if stored[0] != s.hashes[x] {
			for _, e := range s.Entries {
				if e.Index == i {
					return i, e.Record.Session
				}
			}
			return i, ""
		}
	}
	return -1, ""
}

// Prove checks that record i is included in the signed tree: it builds the
// inclusion proof from the recomputed hashes and checks it against the
// signed root with the record's own leaf hash.
func (s *Snapshot) Prove(e Entry) error {
	if e.Index < 0 || e.Index >= s.size {
		return fmt.Errorf("record %d is outside the signed tree (size %d)", e.Index, s.Head.Size)
	}
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return memHashes(s.hashes, idx) })
	p, err := tlog.ProveRecord(s.Head.Size, e.Index, mem)
	if err != nil {
		return err
	}
	root, err := s.Head.RootHash()
	if err != nil {
		return err
	}
	if err := tlog.CheckRecord(p, s.Head.Size, root, e.Index, e.Leaf); err != nil {
		return fmt.Errorf("record %d is not included in the signed tree (size %d, root %s): %w", e.Index, s.Head.Size, s.Head.Root, err)
	}
	return nil
}

// ProveConsistent checks that the signed tree extends an earlier tree of
// size n with root h (for instance one published off the host): records
// were only ever appended since.
func (s *Snapshot) ProveConsistent(n int64, h tlog.Hash) error {
	if n > s.Head.Size {
		return fmt.Errorf("the log has %d records, fewer than the %d of the earlier tree: it was rolled back", s.Head.Size, n)
	}
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return memHashes(s.hashes, idx) })
	p, err := tlog.ProveTree(s.Head.Size, n, mem)
	if err != nil {
		return err
	}
	root, err := s.Head.RootHash()
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(p, s.Head.Size, root, n, h); err != nil {
		return fmt.Errorf("the log (size %d) does not extend the earlier tree of size %d, root %x: %w", s.Head.Size, n, h[:], err)
	}
	return nil
}

// ReadHead reads the tree head file of the log in dir without checking it.
func ReadHead(dir string) (TreeHead, error) {
	return readTree(filepath.Join(dir, "tree"))
}
