package intercept

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// MaxTagLevel is the deepest cgroup level (the root's children are at
// level 1) whose tag the programs see from the cgroups below it: they look
// up a task's own cgroup, then its ancestors at levels 1 to MaxTagLevel
// (MAX_CGROUP_LEVELS in redirect.c). A cgroup deeper than that is tagged
// for itself only, so the daemon does not tag one.
const MaxTagLevel = 31

// TagCgroup marks a cgroup (and every cgroup below it) as belonging to an
// identity. identity must be non-zero.
func (it *Interceptor) TagCgroup(cgroupID uint64, identity uint32) error {
	if identity == 0 {
		return errors.New("intercept: identity id 0 is reserved")
	}
	if err := it.objs.TaggedCgroups.Put(cgroupID, identity); err != nil {
		return fmt.Errorf("intercept: tag cgroup %d: %w", cgroupID, full(err, "tagged_cgroups", it.objs.TaggedCgroups.MaxEntries()))
	}
	return nil
}

// UntagCgroup removes a cgroup's tag; a missing tag is not an error.
func (it *Interceptor) UntagCgroup(cgroupID uint64) error {
	if err := it.objs.TaggedCgroups.Delete(cgroupID); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("intercept: untag cgroup %d: %w", cgroupID, err)
	}
	return nil
}

// TaggedCgroups returns every tagged cgroup id with its identity id.
func (it *Interceptor) TaggedCgroups() (map[uint64]uint32, error) {
	out := map[uint64]uint32{}
	var k uint64
	var v uint32
	iter := it.objs.TaggedCgroups.Iterate()
	for iter.Next(&k, &v) {
		out[k] = v
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("intercept: list tagged cgroups: %w", err)
	}
	return out, nil
}

// TagUID marks every process running as uid as belonging to an identity,
// unless its cgroup carries a tag of its own.
func (it *Interceptor) TagUID(uid, identity uint32) error {
	if identity == 0 {
		return errors.New("intercept: identity id 0 is reserved")
	}
	if err := it.objs.TaggedUids.Put(uid, identity); err != nil {
		return fmt.Errorf("intercept: tag uid %d: %w", uid, full(err, "tagged_uids", it.objs.TaggedUids.MaxEntries()))
	}
	return nil
}

// UntagUID removes a uid's tag; a missing tag is not an error.
func (it *Interceptor) UntagUID(uid uint32) error {
	if err := it.objs.TaggedUids.Delete(uid); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("intercept: untag uid %d: %w", uid, err)
	}
	return nil
}

// TaggedUIDs returns every tagged uid with its identity id.
func (it *Interceptor) TaggedUIDs() (map[uint32]uint32, error) {
	out := map[uint32]uint32{}
	var k, v uint32
	iter := it.objs.TaggedUids.Iterate()
	for iter.Next(&k, &v) {
		out[k] = v
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("intercept: list tagged uids: %w", err)
	}
	return out, nil
}

// CgroupTag returns the identity id a cgroup is tagged with, if any.
func (it *Interceptor) CgroupTag(cgroupID uint64) (uint32, bool, error) {
	var v uint32
	if err := it.objs.TaggedCgroups.Lookup(cgroupID, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return 0, false, nil
		}
		return 0, false, fmt.Errorf("intercept: read tag of cgroup %d: %w", cgroupID, err)
	}
	return v, true, nil
}

// ErrMapFull is returned when a tag map has no room left.
var ErrMapFull = errors.New("map full")

func full(err error, what string, size uint32) error {
	if errors.Is(err, unix.E2BIG) {
		return fmt.Errorf("%w: %s holds %d entries (raise bpf.map_sizes)", ErrMapFull, what, size)
	}
	return err
}
