package control

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"golang.org/x/sys/unix"
)

// maxPeerGroups bounds the supplementary groups read (NGROUPS_MAX).
const maxPeerGroups = 65536

// peerGroups returns the supplementary groups of the process that
// connected to fd, as the kernel recorded them when it connected
// (SO_PEERGROUPS): unlike /proc/PID/status, they cannot change, nor belong
// to another process that reused the PID.
func peerGroups(fd int) ([]uint32, error) {
	buf := make([]byte, 64*4)
	for {
		n := uint32(len(buf))
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)), 0)
		switch {
		case errno == unix.ERANGE && int(n) > len(buf) && int(n) <= maxPeerGroups*4:
			buf = make([]byte, n)
			continue
		case errno != 0:
			return nil, errno
		case n%4 != 0 || int(n) > len(buf):
			return nil, errors.New("control: SO_PEERGROUPS: bad length")
		}
		out := make([]uint32, n/4)
		for i := range out {
			out[i] = binary.NativeEndian.Uint32(buf[4*i:])
		}
		return out, nil
	}
}
