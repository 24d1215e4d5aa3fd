package headlog

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/sluicehq/sluice/pkg/record/hostkey"
)

// TreeHead is the signed state of the log: its size and root hash.
type TreeHead struct {
	Size int64     `json:"size"`
	Root string    `json:"root"` // hex
	Time time.Time `json:"time"`
	Key  string    `json:"key"` // id of the signing key
	Sig  []byte    `json:"sig"` // ed25519 signature of SignedText
}

// SignedText is what the tree head's signature covers.
func (t *TreeHead) SignedText() []byte {
	return fmt.Appendf(nil, "sluice head log v1\nsize %d\nroot %s\ntime %s\n",
		t.Size, t.Root, t.Time.UTC().Format(time.RFC3339Nano))
}

// RootHash decodes Root.
func (t *TreeHead) RootHash() (tlog.Hash, error) { return ParseHash(t.Root) }

func signTree(key *hostkey.Key, size int64, root tlog.Hash, now time.Time) TreeHead {
	t := TreeHead{Size: size, Root: hex.EncodeToString(root[:]), Time: now.UTC().Truncate(time.Microsecond), Key: key.Public().ID()}
	t.Sig = key.Sign(t.SignedText())
	return t
}

// verify checks the signature.
func (t *TreeHead) verify(pub hostkey.Public) error {
	if t.Key != pub.ID() {
		return fmt.Errorf("tree head is signed by key %s, not by the host key %s", clip(t.Key), pub.ID())
	}
	if !pub.Verify(t.SignedText(), t.Sig) {
		return fmt.Errorf("tree head signature (size %d, root %s) does not verify with host key %s", t.Size, clip(t.Root), pub.ID())
	}
	return nil
}

// readTree reads and parses the tree head file, without checking the
// signature.
func readTree(path string) (TreeHead, error) {
	f, err := os.Open(path)
	if err != nil {
		return TreeHead{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordLine+1))
	if err != nil {
		return TreeHead{}, err
	}
	if len(b) > maxRecordLine {
		return TreeHead{}, fmt.Errorf("%w: tree head %s is too large", ErrCorrupt, path)
	}
	var t TreeHead
	if err := json.Unmarshal(b, &t); err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head %s: %w", ErrCorrupt, path, err)
	}
	if t.Size < 0 {
		return TreeHead{}, fmt.Errorf("%w: tree head %s: negative size", ErrCorrupt, path)
	}
	if _, err := t.RootHash(); err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head %s: root: %w", ErrCorrupt, path, err)
	}
	return t, nil
}

// writeTree replaces the tree head file atomically and durably.
func writeTree(dir string, t TreeHead) error {
	b, err := json.Marshal(&t)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := dir + "/tree.new"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dir+"/tree")
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// The new head is in place: what is left to fail is making the
	// rename itself durable, which does not undo it.
	if err := syncDir(dir); err != nil {
		return &committedError{err}
	}
	return nil
}

// committedError: the tree head was replaced, but the directory could not
// be synced. The append it ends is done (the records are under the new
// signed head) and must not be rolled back.
type committedError struct{ err error }

func (e *committedError) Error() string        { return "sync of the log directory: " + e.err.Error() }
func (e *committedError) Unwrap() error        { return e.err }
func (e *committedError) Is(target error) bool { return target == ErrNotDurable }

// ErrNotDurable is matched (errors.Is) by an Append error after which the
// records are in the log all the same (only syncing its directory failed):
// the caller must not append them again.
var ErrNotDurable = errors.New("head log: appended, not yet durable")

// syncDir makes a directory's entries durable (a variable for tests).
var syncDir = syncDirectory

func syncDirectory(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
