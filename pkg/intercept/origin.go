package intercept

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"syscall"

	"github.com/cilium/ebpf"
)

// ErrNoRecord means the kernel holds no redirect record for a connection:
// it was not redirected by the programs (someone connected to the proxy
// port directly), or its record was evicted. Either way it must be rejected.
var ErrNoRecord = errors.New("no redirect record for connection")

// TagKind says how a process came to be tagged.
type TagKind uint32

const (
	TagCgroup TagKind = 1 // its cgroup or an ancestor is tagged
	TagUID    TagKind = 2 // its uid is tagged
)

func (k TagKind) String() string {
	switch k {
	case TagCgroup:
		return "cgroup"
	case TagUID:
		return "uid"
	}
	return fmt.Sprintf("tag(%d)", uint32(k))
}

// Origin is what the kernel recorded when it redirected a connect().
type Origin struct {
	Dst       netip.AddrPort // where the process was connecting to (IPv4 unmapped)
	Family    int            // the socket's family: unix.AF_INET or unix.AF_INET6
	Identity  uint32         // identity id from the tag
	TagKind   TagKind
	PID       uint32 // thread group id
	TID       uint32
	UID       uint32
	GID       uint32
	CgroupID  uint64 // the process's cgroup
	TagCgroup uint64 // the cgroup that carried the tag (0 for uid tags)
	Cookie    uint64 // socket cookie of the client's socket
	Comm      string
}

// Lookup returns the record of a redirected connection as the proxy sees it
// on accept(): client is the remote address, proxy the local one. The record
// is consumed: a second lookup of the same connection fails with ErrNoRecord.
func (it *Interceptor) Lookup(client, proxy netip.AddrPort) (Origin, error) {
	key := redirectTuple{
		SrcIp:   ip6Words(client.Addr().As16()),
		DstIp:   ip6Words(proxy.Addr().As16()),
		SrcPort: htons(client.Port()),
		DstPort: htons(proxy.Port()),
	}
	var rec redirectOrigin
	if err := it.objs.Tuples.Lookup(&key, &rec); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return Origin{}, ErrNoRecord
		}
		return Origin{}, fmt.Errorf("intercept: lookup %s->%s: %w", client, proxy, err)
	}
	_ = it.objs.Tuples.Delete(&key)
	return toOrigin(&rec), nil
}

func toOrigin(r *redirectOrigin) Origin {
	addr := netip.AddrFrom16(wordsIP6(r.DstIp)).Unmap()
	comm := make([]byte, 0, len(r.Comm))
	for _, c := range r.Comm {
		if c == 0 {
			break
		}
		comm = append(comm, byte(c))
	}
	return Origin{
		Dst:       netip.AddrPortFrom(addr, htons(r.DstPort)),
		Family:    int(r.Family),
		Identity:  r.Identity,
		TagKind:   TagKind(r.TagKind),
		PID:       r.Pid,
		TID:       r.Tid,
		UID:       r.Uid,
		GID:       r.Gid,
		CgroupID:  r.CgroupId,
		TagCgroup: r.TagCgroup,
		Cookie:    r.Cookie,
		Comm:      string(comm),
	}
}

// inode returns the inode number of a stat result; on cgroup2 this is the
// cgroup id the kernel reports.
func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
