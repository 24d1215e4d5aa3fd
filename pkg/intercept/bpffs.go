package intercept

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultBPFFS is where bpffs is mounted when no mount exists yet.
const DefaultBPFFS = "/sys/fs/bpf"

// ErrNoBPFFS means no bpffs is mounted.
var ErrNoBPFFS = errors.New("no bpffs mounted")

// FindBPFFS returns a bpffs mount point: DefaultBPFFS if it is one, else the
// first found.
func FindBPFFS() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("intercept: %w", err)
	}
	defer f.Close()
	return findBPFFS(f)
}

// The conventional DefaultBPFFS is preferred when it is a bpffs mount.
func findBPFFS(r io.Reader) (string, error) {
	first := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts... - fstype source superopts
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) >= 5 && len(rf) >= 1 && rf[0] == "bpf" {
			p := unescapeMount(lf[4])
			if p == DefaultBPFFS {
				return p, nil
			}
			if first == "" {
				first = p
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("intercept: read mountinfo: %w", err)
	}
	if first != "" {
		return first, nil
	}
	return "", ErrNoBPFFS
}

// unescapeMount undoes the octal escapes mountinfo uses for spaces and such.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			ok := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + byte(c-'0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// EnsureBPFFS returns a bpffs mount point, mounting one at DefaultBPFFS when
// none exists (as other BPF daemons do).
func EnsureBPFFS() (string, error) {
	p, err := FindBPFFS()
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, ErrNoBPFFS) {
		return "", err
	}
	if err := os.MkdirAll(DefaultBPFFS, 0o755); err != nil {
		return "", fmt.Errorf("intercept: create %s: %w", DefaultBPFFS, err)
	}
	if err := unix.Mount("bpf", DefaultBPFFS, "bpf", 0, "mode=0700"); err != nil {
		return "", fmt.Errorf("intercept: mount bpffs at %s: %w", DefaultBPFFS, err)
	}
	return DefaultBPFFS, nil
}

// IsBPFFS reports whether dir lies on a bpffs mount.
func IsBPFFS(dir string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return false
	}
	return st.Type == unix.BPF_FS_MAGIC
}
