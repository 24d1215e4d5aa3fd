package bindstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/identity"
	"github.com/sluicehq/sluice/pkg/statefile"
)

// FileName is the name of the bindings file in the state directory.
const FileName = "oidc-bindings.json"

// Bounds of the file read at start.
const (
	MaxFile    = 16 << 20 // bytes
	MaxEntries = 1 << 16  // bindings
	maxText    = 4096     // bytes of one text field, as in recording headers
)

// version is the format version of the file.
const version = 1

// ErrCorrupt is wrapped by the errors of a file that cannot be understood
// as a whole: none of its bindings can be trusted.
var ErrCorrupt = errors.New("corrupt bindings file")

// Binding is one job's binding as kept in the file.
type Binding struct {
	// Job is the job cgroup, relative to the cgroup2 mount, and CgroupID
	// its id: a cgroup of the same path made later has another id.
	Job      string
	CgroupID uint64
	// OIDC is what the token said; Keep is not kept (it comes from the
	// configuration in force).
	OIDC *identity.OIDC
	// Expired is set once the expiry was reported (identity.expired).
	Expired bool
}

// Problem is an entry of the file that was not taken.
type Problem struct {
	Index int    // in the file's bindings array
	Job   string // "" when the entry does not say
	Err   error
}

func (p Problem) Error() string {
	if p.Job != "" {
		return fmt.Sprintf("binding %d (job %s): %v", p.Index, p.Job, p.Err)
	}
	return fmt.Sprintf("binding %d: %v", p.Index, p.Err)
}

// doc is the file's content.
type doc struct {
	Version  int               `json:"version"`
	Bindings []json.RawMessage `json:"bindings"`
}

// entry is one binding in the file.
type entry struct {
	Job      string          `json:"job"`
	CgroupID uint64          `json:"cgroup_id"`
	Identity string          `json:"identity"`
	Issuer   string          `json:"issuer"`
	Subject  string          `json:"subject"`
	JTI      string          `json:"jti,omitempty"`
	Expires  time.Time       `json:"expires"`
	IssuedAt *time.Time      `json:"issued_at,omitempty"`
	Claims   json.RawMessage `json:"claims,omitempty"`
	Expired  bool            `json:"expired,omitempty"`
}

// Path is the bindings file of the state directory dir.
func Path(dir string) string { return filepath.Join(dir, FileName) }

// Save replaces the file at p with bs, atomically (mode 0600).
func Save(p string, bs []Binding) error {
	data, err := Encode(bs)
	if err != nil {
		return err
	}
	return statefile.WriteAtomic(p, data)
}

// Load reads the file at p. A missing file holds no bindings. An error
// wrapping ErrCorrupt, statefile.ErrNotPrivate or statefile.ErrTooLarge
// means the file cannot be used at all; problems are the entries that
// were left out.
func Load(p string) ([]Binding, []Problem, error) {
	data, err := statefile.Read(p, MaxFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return Decode(data)
}

// Encode renders bs as the file's content, ordered by job.
func Encode(bs []Binding) ([]byte, error) {
	d := doc{Version: version, Bindings: []json.RawMessage{}}
	bs = slices.Clone(bs)
	slices.SortFunc(bs, func(a, b Binding) int { return strings.Compare(a.Job, b.Job) })
	for _, b := range bs {
		o := b.OIDC
		e := entry{Job: b.Job, CgroupID: b.CgroupID, Identity: o.Identity, Issuer: o.Issuer, Subject: o.Subject,
			JTI: o.JTI, Expires: o.Expires.UTC(), Expired: b.Expired}
		if !o.IssuedAt.IsZero() {
			iat := o.IssuedAt.UTC()
			e.IssuedAt = &iat
		}
		if len(o.Claims) > 0 {
			c, err := json.Marshal(o.Claims)
			if err != nil {
				return nil, fmt.Errorf("bindings: claims of job %s: %w", b.Job, err)
			}
			e.Claims = c
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("bindings: job %s: %w", b.Job, err)
		}
		d.Bindings = append(d.Bindings, raw)
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Decode parses the file's content. Entries that are not well-formed, or
// name a job twice, are left out as problems; the rest are returned.
func Decode(data []byte) ([]Binding, []Problem, error) {
	if len(data) > MaxFile {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrCorrupt, MaxFile)
	}
	var d doc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: more than one JSON value", ErrCorrupt)
	}
	if d.Version != version {
		return nil, nil, fmt.Errorf("%w: format version %d, want %d", ErrCorrupt, d.Version, version)
	}
	if len(d.Bindings) > MaxEntries {
		return nil, nil, fmt.Errorf("%w: %d bindings, at most %d", ErrCorrupt, len(d.Bindings), MaxEntries)
	}
	var out []Binding
	var problems []Problem
	seen := map[string]int{}
	for i, raw := range d.Bindings {
		b, err := decodeEntry(raw)
		if err == nil {
			if j, dup := seen[b.Job]; dup {
				err = fmt.Errorf("the job is also bound by binding %d", j)
			}
		}
		if err != nil {
			problems = append(problems, Problem{Index: i, Job: b.Job, Err: err})
			continue
		}
		seen[b.Job] = i
		out = append(out, b)
	}
	return out, problems, nil
}

// decodeEntry parses and checks one entry; on error the Binding holds
// the job, if the entry names one cleanly.
func decodeEntry(raw json.RawMessage) (Binding, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Binding{}, err
	}
	b := Binding{CgroupID: e.CgroupID, Expired: e.Expired}
	if len(e.Job) <= maxText && strings.HasPrefix(e.Job, "/") && path.Clean(e.Job) == e.Job && e.Job != "/" {
		b.Job = e.Job
	} else {
		return b, fmt.Errorf("job %q is not a clean absolute cgroup path", clip(e.Job))
	}
	for _, f := range []struct{ name, v string }{
		{"identity", e.Identity}, {"issuer", e.Issuer}, {"subject", e.Subject}, {"jti", e.JTI},
	} {
		if len(f.v) > maxText {
			return b, fmt.Errorf("%s is longer than %d bytes", f.name, maxText)
		}
		if f.v == "" && f.name != "jti" {
			return b, fmt.Errorf("%s is missing", f.name)
		}
	}
	if e.CgroupID == 0 {
		return b, errors.New("cgroup_id is missing")
	}
	if e.Expires.IsZero() {
		return b, errors.New("expires is missing")
	}
	if !inRange(e.Expires) || e.IssuedAt != nil && !inRange(*e.IssuedAt) {
		return b, errors.New("a time is outside the years 1 to 9999")
	}
	o := &identity.OIDC{Identity: e.Identity, Issuer: e.Issuer, Subject: e.Subject, JTI: e.JTI, Expires: e.Expires}
	if e.IssuedAt != nil {
		o.IssuedAt = *e.IssuedAt
	}
	if len(e.Claims) > 0 && !bytes.Equal(e.Claims, []byte("null")) {
		c, err := claims.Decode(e.Claims)
		if err != nil {
			return b, fmt.Errorf("claims: %w", err)
		}
		o.Claims = c
	}
	b.OIDC = o
	return b, nil
}

// inRange reports whether t is a time the file can hold (RFC 3339 in
// UTC: years 1 to 9999).
func inRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// clip bounds a value quoted in an error.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
