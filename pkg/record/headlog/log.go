package headlog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// Log is an open head log, appended to by one process.
type Log struct {
	dir     string
	key     *hostkey.Key
	now     func() time.Time
	records *os.File
	hashes  *os.File
	recEnd  int64 // bytes of records committed
	nHashes int64 // stored hashes committed
	head    TreeHead
}

// Open opens the log in dir, creating it (with a signed empty tree head)
// if it does not exist. An append that did not finish is cut. It fails
// with an error matching ErrCorrupt when the tree head is missing while
// records exist, is not signed by key, or does not match the records and
// hashes: the log then has to be examined (sluice sessions verify) and
// moved aside; Open never rewrites committed records.
func Open(dir string, key *hostkey.Key, now func() time.Time) (*Log, error) {
	if now == nil {
		now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("head log: %w", err)
	}
	l := &Log{dir: dir, key: key, now: now}
	var err error
	if l.records, err = os.OpenFile(filepath.Join(dir, "records"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, fmt.Errorf("head log: %w", err)
	}
	if l.hashes, err = os.OpenFile(filepath.Join(dir, "hashes"), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		l.records.Close()
		return nil, fmt.Errorf("head log: %w", err)
	}
	if err := l.load(); err != nil {
		l.Close()
		return nil, fmt.Errorf("head log %s: %w", dir, err)
	}
	return l, nil
}

func (l *Log) load() error {
	t, err := readTree(filepath.Join(l.dir, "tree"))
	if errors.Is(err, fs.ErrNotExist) {
		ri, _ := l.records.Stat()
		hi, _ := l.hashes.Stat()
		if ri.Size() > 0 || hi.Size() > 0 {
			return fmt.Errorf("%w: the tree head file is missing but records exist", ErrCorrupt)
		}
		l.head = signTree(l.key, 0, emptyRoot(), l.now())
		return writeTree(l.dir, l.head)
	}
	if err != nil {
		return err
	}
	if err := t.verify(l.key.Public()); err != nil {
		return fmt.Errorf("%w: %w (was the host key replaced?)", ErrCorrupt, err)
	}
	l.head = t
	// Find the end of record Size-1; cut anything after it.
	var last []byte
	n := int64(0)
	err = scanLines(io.NewSectionReader(l.records, 0, 1<<62), func(line []byte, end int64) bool {
		if n == t.Size {
			return false
		}
		n++
		l.recEnd = end
		last = append(last[:0], line...)
		return true
	})
	if err != nil {
		return err
	}
	if n < t.Size {
		return fmt.Errorf("%w: the records file holds %d records, the signed tree head %d", ErrCorrupt, n, t.Size)
	}
	if err := l.records.Truncate(l.recEnd); err != nil {
		return err
	}
	want := tlog.StoredHashCount(t.Size)
	hi, err := l.hashes.Stat()
	if err != nil {
		return err
	}
	switch have := hi.Size() / tlog.HashSize; {
	case hi.Size()%tlog.HashSize != 0 || have < want:
		if err := l.rebuildHashes(t.Size); err != nil {
			return err
		}
	case have > want:
		if err := l.hashes.Truncate(want * tlog.HashSize); err != nil {
			return err
		}
	}
	l.nHashes = want
	root, err := tlog.TreeHash(t.Size, l.reader(nil))
	if err != nil {
		return err
	}
	if signed, _ := t.RootHash(); root != signed {
		return fmt.Errorf("%w: the stored hashes give root %x, the signed tree head %x", ErrCorrupt, root[:], signed[:])
	}
	if t.Size > 0 {
		hs, err := l.reader(nil).ReadHashes([]int64{tlog.StoredHashIndex(0, t.Size-1)})
		if err != nil {
			return err
		}
		if tlog.RecordHash(last) != hs[0] {
			return fmt.Errorf("%w: record %d does not match its stored hash", ErrCorrupt, t.Size-1)
		}
	}
	return nil
}

// rebuildHashes recomputes the stored hashes of the first n records.
func (l *Log) rebuildHashes(n int64) error {
	var hs []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return memHashes(hs, idx) })
	i := int64(0)
	var err error
	serr := scanLines(io.NewSectionReader(l.records, 0, l.recEnd), func(line []byte, _ int64) bool {
		var add []tlog.Hash
		if add, err = tlog.StoredHashes(i, line, mem); err != nil {
			return false
		}
		hs = append(hs, add...)
		i++
		return i < n
	})
	if serr != nil {
		return serr
	}
	if err != nil {
		return err
	}
	if err := l.hashes.Truncate(0); err != nil {
		return err
	}
	buf := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		buf = append(buf, h[:]...)
	}
	if _, err := l.hashes.Write(buf); err != nil {
		return err
	}
	return l.hashes.Sync()
}

// Head returns the current signed tree head.
func (l *Log) Head() TreeHead { return l.head }

// Scan calls fn for every committed record, in order. A record that does
// not parse ends the scan with an error matching ErrCorrupt.
func (l *Log) Scan(fn func(i int64, r Record)) error {
	i := int64(0)
	var perr error
	err := scanLines(io.NewSectionReader(l.records, 0, l.recEnd), func(line []byte, _ int64) bool {
		r, err := parseRecord(line)
		if err != nil {
			perr = fmt.Errorf("%w: record %d: %w", ErrCorrupt, i, err)
			return false
		}
		fn(i, r)
		i++
		return true
	})
	if err != nil {
		return err
	}
	return perr
}

// Append adds records to the log and signs the new tree head. On error
// nothing is committed: the files are cut back to their previous size.
func (l *Log) Append(recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	var lines []byte
	var pending []tlog.Hash
	n := l.head.Size
	for i := range recs {
		line, err := recs[i].encode()
		if err != nil {
			return fmt.Errorf("head log: %w", err)
		}
		hs, err := tlog.StoredHashes(n+int64(i), line, l.reader(pending))
		if err != nil {
			return fmt.Errorf("head log: %w", err)
		}
		pending = append(pending, hs...)
		lines = append(append(lines, line...), '\n')
	}
	newSize := n + int64(len(recs))
	root, err := tlog.TreeHash(newSize, l.reader(pending))
	if err != nil {
		return fmt.Errorf("head log: %w", err)
	}
	hb := make([]byte, 0, len(pending)*tlog.HashSize)
	for _, h := range pending {
		hb = append(hb, h[:]...)
	}
	head := signTree(l.key, newSize, root, l.now())
	err = writeAll(l.records, lines)
	if err == nil {
		err = writeAll(l.hashes, hb)
	}
	if err == nil {
		err = l.records.Sync()
	}
	if err == nil {
		err = l.hashes.Sync()
	}
	if err == nil {
		err = writeTree(l.dir, head)
	}
	var committed *committedError
	if err != nil && !errors.As(err, &committed) {
		_ = l.records.Truncate(l.recEnd)
		_ = l.hashes.Truncate(l.nHashes * tlog.HashSize)
		return fmt.Errorf("head log: %w", err)
	}
	l.recEnd += int64(len(lines))
	l.nHashes += int64(len(pending))
	l.head = head
	if err != nil {
		return fmt.Errorf("head log: the records are appended, but %w", err)
	}
	return nil
}

// Close closes the log's files.
func (l *Log) Close() error {
	err := l.records.Close()
	if herr := l.hashes.Close(); err == nil {
		err = herr
	}
	return err
}

func writeAll(f *os.File, b []byte) error {
	_, err := f.Write(b)
	return err
}

// reader reads committed stored hashes from the file and, past them,
// pending ones from memory.
func (l *Log) reader(pending []tlog.Hash) tlog.HashReader {
	return fileHashes{f: l.hashes, base: l.nHashes, pending: pending}
}

type fileHashes struct {
	f       io.ReaderAt
	base    int64
	pending []tlog.Hash
}

func (r fileHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= r.base {
			p := x - r.base
			if p >= int64(len(r.pending)) {
				return nil, fmt.Errorf("stored hash %d does not exist", x)
			}
			out[i] = r.pending[p]
			continue
		}
		if _, err := r.f.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
			return nil, fmt.Errorf("stored hash %d: %w", x, err)
		}
	}
	return out, nil
}

func memHashes(hs []tlog.Hash, idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(hs)) {
			return nil, fmt.Errorf("stored hash %d does not exist", x)
		}
		out[i] = hs[x]
	}
	return out, nil
}

func emptyRoot() tlog.Hash {
	h, _ := tlog.TreeHash(0, nil)
	return h
}

// errLineTooLong is returned by scanLines for a line over maxRecordLine.
var errLineTooLong = fmt.Errorf("%w: a line is longer than %d bytes", ErrCorrupt, maxRecordLine)

// scanLines calls fn with each complete line (without its newline) and the
// offset just past it, until fn returns false. A trailing partial line is
// ignored.
func scanLines(r io.Reader, fn func(line []byte, end int64) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			if len(long) > maxRecordLine {
				return errLineTooLong
			}
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		line := chunk
		if long != nil {
			line = append(long, chunk...)
			long = nil
		}
		off += int64(len(line))
		if len(line)-1 > maxRecordLine {
			return errLineTooLong
		}
		if !fn(bytes.TrimSuffix(line, []byte{'\n'}), off) {
			return nil
		}
	}
}
