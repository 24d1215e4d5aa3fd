package intercept

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
)

// ErrIncompatiblePins is returned when pinned maps from an earlier run cannot
// be adopted (a different map layout or size). `sluice detach` removes them.
var ErrIncompatiblePins = errors.New("pinned maps are incompatible with this version or configuration")

// MapSizes bounds the kernel maps. Zero fields keep the compiled-in size.
type MapSizes struct {
	Origins       uint32
	Tuples        uint32
	TaggedCgroups uint32
	TaggedUIDs    uint32
	Exclusions    uint32
}

// Options says where to attach and whether to pin.
type Options struct {
	// CgroupDir is the absolute directory of the cgroup the programs are
	// attached to; they act on it and every cgroup below it.
	CgroupDir string
	// PinDir is a directory on a bpffs mount. When set, maps and links are
	// pinned there (fail closed: they outlive the daemon) and pins found
	// there are adopted. When empty nothing is pinned and the programs
	// detach when the Interceptor is closed or the process exits.
	PinDir   string
	MapSizes MapSizes
}

// program describes one program and how it attaches.
type program struct {
	name   string // ELF program name
	attach ebpf.AttachType
}

var programs = []program{
	{"sluice_connect4", ebpf.AttachCGroupInet4Connect},
	{"sluice_connect6", ebpf.AttachCGroupInet6Connect},
	{"sluice_getpeername4", ebpf.AttachCgroupInet4GetPeername},
	{"sluice_getpeername6", ebpf.AttachCgroupInet6GetPeername},
	{"sluice_sockops", ebpf.AttachCGroupSockOps},
	{"sluice_bind4", ebpf.AttachCGroupInet4Bind},
	{"sluice_bind6", ebpf.AttachCGroupInet6Bind},
}

// Interceptor owns the loaded programs, their maps and links.
type Interceptor struct {
	objs   redirectObjects
	links  map[string]link.Link
	pinDir string
	// Adopted is true when pinned maps from an earlier run were reused.
	Adopted bool

	occ occupancyCache
}

// Load loads the programs and attaches them to opts.CgroupDir. With a PinDir
// it first adopts whatever an earlier run pinned there: maps keep their
// contents (tags survive a restart) and pinned links are updated in place to
// the freshly loaded programs, so there is no window without interception.
func Load(opts Options) (*Interceptor, error) {
	if opts.CgroupDir == "" {
		return nil, errors.New("intercept: no cgroup directory to attach to")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("intercept: raise memlock limit: %w", err)
	}
	spec, err := loadRedirect()
	if err != nil {
		return nil, fmt.Errorf("intercept: load object spec: %w", err)
	}
	applySizes(spec, opts.MapSizes)

	var collOpts ebpf.CollectionOptions
	it := &Interceptor{links: map[string]link.Link{}, pinDir: opts.PinDir}
	if opts.PinDir != "" {
		if err := os.MkdirAll(opts.PinDir, 0o700); err != nil {
			return nil, fmt.Errorf("intercept: create pin directory: %w", err)
		}
		it.Adopted = hasPinnedMaps(opts.PinDir, spec)
		for _, m := range spec.Maps {
			m.Pinning = ebpf.PinByName
		}
		collOpts.Maps.PinPath = opts.PinDir
	}
	if err := spec.LoadAndAssign(&it.objs, &collOpts); err != nil {
		if errors.Is(err, ebpf.ErrMapIncompatible) {
			return nil, fmt.Errorf("intercept: %w (in %s): %w", ErrIncompatiblePins, opts.PinDir, err)
		}
		return nil, fmt.Errorf("intercept: load programs: %w", err)
	}
	if err := it.attach(opts.CgroupDir); err != nil {
		it.Close()
		return nil, err
	}
	return it, nil
}

func applySizes(spec *ebpf.CollectionSpec, s MapSizes) {
	set := func(name string, n uint32) {
		if n > 0 {
			spec.Maps[name].MaxEntries = n
		}
	}
	set(redirectMapOrigins, s.Origins)
	set(redirectMapTuples, s.Tuples)
	set(redirectMapTaggedCgroups, s.TaggedCgroups)
	set(redirectMapTaggedUids, s.TaggedUIDs)
	set(redirectMapExclude4, s.Exclusions)
	set(redirectMapExclude6, s.Exclusions)
}

func hasPinnedMaps(dir string, spec *ebpf.CollectionSpec) bool {
	for name := range spec.Maps {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

func (it *Interceptor) prog(name string) *ebpf.Program {
	switch name {
	case "sluice_connect4":
		return it.objs.SluiceConnect4
	case "sluice_connect6":
		return it.objs.SluiceConnect6
	case "sluice_getpeername4":
		return it.objs.SluiceGetpeername4
	case "sluice_getpeername6":
		return it.objs.SluiceGetpeername6
	case "sluice_sockops":
		return it.objs.SluiceSockops
	case "sluice_bind4":
		return it.objs.SluiceBind4
	case "sluice_bind6":
		return it.objs.SluiceBind6
	}
	return nil
}

func linkPin(dir, prog string) string { return filepath.Join(dir, "link_"+prog) }

// attach attaches every program, adopting pinned links where they exist.
func (it *Interceptor) attach(cgroupDir string) error {
	cgStat, err := os.Stat(cgroupDir)
	if err != nil {
		return fmt.Errorf("intercept: cgroup %s: %w", cgroupDir, err)
	}
	cgID := inode(cgStat)
	for _, p := range programs {
		prog := it.prog(p.name)
		if it.pinDir != "" {
			l, err := adoptLink(linkPin(it.pinDir, p.name), cgID, prog)
			if err != nil {
				return err
			}
			if l != nil {
				it.links[p.name] = l
				continue
			}
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroupDir, Attach: p.attach, Program: prog})
		if err != nil {
			return fmt.Errorf("intercept: attach %s to %s: %w", p.name, cgroupDir, err)
		}
		if it.pinDir != "" {
			if err := l.Pin(linkPin(it.pinDir, p.name)); err != nil {
				l.Close()
				return fmt.Errorf("intercept: pin link %s (bpf_link support is needed for fail_mode closed): %w", p.name, err)
			}
		}
		it.links[p.name] = l
	}
	return nil
}

// adoptLink reuses a pinned link attached to the same cgroup, swapping in the
// new program. A pinned link on another cgroup is removed. It returns nil, nil
// when there is nothing to adopt.
func adoptLink(path string, cgID uint64, prog *ebpf.Program) (link.Link, error) {
	l, err := link.LoadPinnedLink(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("intercept: load pinned link %s: %w", path, err)
	}
	info, err := l.Info()
	if err == nil && info.Cgroup() != nil && info.Cgroup().CgroupId == cgID {
		if err := l.Update(prog); err != nil {
			l.Close()
			return nil, fmt.Errorf("intercept: update pinned link %s: %w", path, err)
		}
		return l, nil
	}
	// Attached somewhere else (cgroup_root changed): drop it.
	_ = l.Unpin()
	l.Close()
	return nil, nil
}

// Unpin removes this Interceptor's pins; its programs stay attached until
// Close. Used when switching to fail_mode open.
func (it *Interceptor) Unpin() error {
	if it.pinDir == "" {
		return nil
	}
	var errs []error
	for _, l := range it.links {
		if err := l.Unpin(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range it.maps() {
		if err := m.Unpin(); err != nil {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(it.pinDir)
	it.pinDir = ""
	return errors.Join(errs...)
}

// Pinned reports whether the programs outlive this process.
func (it *Interceptor) Pinned() bool { return it.pinDir != "" }

// PinDir is where maps and links are pinned, or "".
func (it *Interceptor) PinDir() string { return it.pinDir }

func (it *Interceptor) maps() map[string]*ebpf.Map {
	o := &it.objs
	return map[string]*ebpf.Map{
		redirectMapExclude4: o.Exclude4, redirectMapExclude6: o.Exclude6,
		redirectMapOrigins: o.Origins, redirectMapSluiceConfig: o.SluiceConfig,
		redirectMapStats: o.Stats, redirectMapTaggedCgroups: o.TaggedCgroups,
		redirectMapTaggedUids: o.TaggedUids, redirectMapTuples: o.Tuples,
	}
}

// Close releases this process's handles. Pinned links stay attached (fail
// closed); unpinned ones detach.
func (it *Interceptor) Close() error {
	var errs []error
	for name, l := range it.links {
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close link %s: %w", name, err))
		}
	}
	it.links = nil
	if err := it.objs.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Remove detaches and deletes everything pinned under dir: the links (which
// detaches the programs once no process holds them) and the maps. A missing
// directory is not an error.
func Remove(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("intercept: read pin directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if l, err := link.LoadPinnedLink(path, nil); err == nil {
			if err := l.Unpin(); err != nil {
				errs = append(errs, err)
			}
			l.Close()
			continue
		}
		if err := os.Remove(path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Verify loads the compiled programs and maps into the kernel without
// attaching or pinning anything, and releases them: it proves the verifier
// of this kernel accepts them.
func Verify() error {
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("intercept: raise memlock limit: %w", err)
	}
	spec, err := loadRedirect()
	if err != nil {
		return fmt.Errorf("intercept: load object spec: %w", err)
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		return fmt.Errorf("intercept: load into kernel: %w", err)
	}
	coll.Close()
	return nil
}
