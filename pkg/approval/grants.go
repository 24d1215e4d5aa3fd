package approval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sluicehq/sluice/pkg/statefile"
)

// GrantsFile is the name of the grants file in the state directory.
const GrantsFile = "approval-grants.json"

// grantsVersion is the format version of the grants file.
const grantsVersion = 1

// maxGrantsFile bounds the grants file read at start.
const maxGrantsFile = 16 << 20

// grantKey is what a grant is for. A grant is named by the id of the
// request it came from: one approval, one grant.
type grantKey struct{ identity, target, fingerprint string }

func (g *Grant) key() grantKey { return grantKey{g.Identity, g.Target, g.Fingerprint} }

// grantStore holds the grants in force. Every change is written to the
// file first and applied in memory only once written, so the file never
// holds less than memory: a once grant used is gone from the file before
// the statement it lets through runs. It is not safe for concurrent use;
// the broker serializes it.
type grantStore struct {
	path  string // "" keeps grants in memory only
	byKey map[grantKey][]*Grant
}

// grantsDoc is the file's content.
type grantsDoc struct {
	Version int     `json:"version"`
	Grants  []Grant `json:"grants"`
}

// loadGrants reads the grants file in dir ("" for none), dropping the
// expired grants.
func loadGrants(dir string, now time.Time) (*grantStore, error) {
	s := &grantStore{byKey: map[grantKey][]*Grant{}}
	if dir == "" {
		return s, nil
	}
	s.path = filepath.Join(dir, GrantsFile)
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("approval: grants: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxGrantsFile+1))
	if err != nil {
		return nil, fmt.Errorf("approval: grants: %w", err)
	}
	grants, err := decodeGrants(data, now)
	if err != nil {
		return s, &corruptError{path: s.path, err: err}
	}
	for i := range grants {
		g := grants[i]
		s.byKey[g.key()] = append(s.byKey[g.key()], &g)
	}
	return s, nil
}

// corruptError: the grants file exists but cannot be understood.
type corruptError struct {
	path string
	err  error
}

func (e *corruptError) Error() string {
	return fmt.Sprintf("approval: grants file %s: %v", e.path, e.err)
}
func (e *corruptError) Unwrap() error { return e.err }

// decodeGrants parses a grants file and keeps the grants still in force
// at now.
func decodeGrants(data []byte, now time.Time) ([]Grant, error) {
	if len(data) > maxGrantsFile {
		return nil, fmt.Errorf("larger than %d bytes", maxGrantsFile)
	}
	var doc grantsDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value")
	}
	if doc.Version != grantsVersion {
		return nil, fmt.Errorf("format version %d, want %d", doc.Version, grantsVersion)
	}
	out := doc.Grants[:0]
	for i, g := range doc.Grants {
		if g.Identity == "" || g.Target == "" || g.Fingerprint == "" || g.Request == "" || g.Expires.IsZero() {
			return nil, fmt.Errorf("grant %d: request, identity, target, fingerprint and expires are required", i)
		}
		if g.Expires.After(now) {
			out = append(out, g)
		}
	}
	return out, nil
}

// match returns the grant that lets key through at now among those usable
// says may be used: a --for grant first (it stays), else the oldest once
// grant (which the caller must consume). Expired grants of key are
// dropped from memory.
func (s *grantStore) match(k grantKey, now time.Time, usable func(*Grant) bool) *Grant {
	list := s.byKey[k]
	live := list[:0]
	for _, g := range list {
		if g.Expires.After(now) {
			live = append(live, g)
		}
	}
	clear(list[len(live):])
	if len(live) == 0 {
		delete(s.byKey, k)
		return nil
	}
	s.byKey[k] = live
	var once *Grant
	for _, g := range live {
		if !usable(g) {
			continue
		}
		if !g.Once {
			return g
		}
		if once == nil {
			once = g
		}
	}
	return once
}

// add writes the grants with g added, then adds it.
func (s *grantStore) add(g *Grant, now time.Time) error {
	if err := s.save(append(s.all(now), *g)); err != nil {
		return err
	}
	s.byKey[g.key()] = append(s.byKey[g.key()], g)
	return nil
}

// consume writes the grants without g, then removes it.
func (s *grantStore) consume(g *Grant, now time.Time) error {
	rest := slices.DeleteFunc(s.all(now), func(o Grant) bool { return o.Request == g.Request })
	if err := s.save(rest); err != nil {
		return err
	}
	k := g.key()
	s.byKey[k] = slices.DeleteFunc(s.byKey[k], func(o *Grant) bool { return o == g })
	if len(s.byKey[k]) == 0 {
		delete(s.byKey, k)
	}
	return nil
}

// all returns copies of the grants in force at now, oldest first.
func (s *grantStore) all(now time.Time) []Grant {
	var out []Grant
	for _, list := range s.byKey {
		for _, g := range list {
			if g.Expires.After(now) {
				out = append(out, *g)
			}
		}
	}
	slices.SortFunc(out, func(a, b Grant) int { return a.Created.Compare(b.Created) })
	return out
}

// save replaces the grants file with grants, atomically: a crash leaves
// the old file or the new one, never a mix.
func (s *grantStore) save(grants []Grant) error {
	if s.path == "" {
		return nil
	}
	if grants == nil {
		grants = []Grant{}
	}
	data, err := json.MarshalIndent(grantsDoc{Version: grantsVersion, Grants: grants}, "", "  ")
	if err != nil {
		return fmt.Errorf("approval: grants: %w", err)
	}
	if err := statefile.WriteAtomic(s.path, append(data, '\n')); err != nil {
		return fmt.Errorf("approval: save grants: %w", err)
	}
	return nil
}
