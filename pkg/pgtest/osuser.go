package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotPermitted is wrapped by the errors returned when the process can
// neither run commands as the postgres user (it is not root) nor is that
// user itself.
var ErrNotPermitted = errors.New("pgtest: must run as root or as the postgres user")

// pgOSUser owns the data directories and runs the servers: the postmaster
// and pgbouncer refuse to run as root.
const pgOSUser = "postgres"

// osUser is the account the servers and their tools run as.
type osUser struct {
	uid, gid int
	self     bool // the process already runs as this user
}

var postgresUser = sync.OnceValues(func() (osUser, error) {
	u, err := user.Lookup(pgOSUser)
	if err != nil {
		return osUser{}, fmt.Errorf("%w: OS user %q (%v)", ErrNotInstalled, pgOSUser, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return osUser{}, fmt.Errorf("pgtest: uid of %q: %w", pgOSUser, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return osUser{}, fmt.Errorf("pgtest: gid of %q: %w", pgOSUser, err)
	}
	euid := os.Geteuid()
	if euid != 0 && euid != uid {
		return osUser{}, fmt.Errorf("%w (running as uid %d)", ErrNotPermitted, euid)
	}
	return osUser{uid: uid, gid: gid, self: euid == uid}, nil
})

// Available reports whether Start can work in this environment: nil, or an
// error wrapping ErrNotInstalled or ErrNotPermitted.
func Available() error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres", "psql"} {
		if _, err := Bin(name); err != nil {
			return err
		}
	}
	_, err := postgresUser()
	return err
}

// command prepares bin to run as u in dir, with an environment free of the
// caller's PG* variables and locale.
func (u osUser) command(ctx context.Context, dir, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	u.prepare(cmd, dir)
	return cmd
}

// prepare sets the directory, environment and credentials of cmd.
func (u osUser) prepare(cmd *exec.Cmd, dir string) {
	cmd.Dir = dir
	cmd.Env = cleanEnv(dir)
	cmd.WaitDelay = 2 * time.Second
	if !u.self {
		// Groups is empty: the child drops root's supplementary groups.
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}},
		}
	}
}

// cleanEnv is the environment of the commands: the caller's, minus the
// variables that would redirect libpq or change the messages' language.
func cleanEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C", "HOME="+home)
}

// makeDir creates a private temporary directory owned by u.
func makeDir(u osUser, prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", fmt.Errorf("pgtest: create temporary directory: %w", err)
	}
	if err := u.chown(dir); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.Remove(dir)
		return "", fmt.Errorf("pgtest: %w", err)
	}
	if err := u.reachable(filepath.Dir(dir)); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// reachable checks that u can traverse dir and every directory above it,
// so that a TMPDIR below /root fails with a clear message.
func (u osUser) reachable(dir string) error {
	if u.self {
		return nil
	}
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		switch {
		case !ok, perm&0o001 != 0:
		case int(st.Uid) == u.uid && perm&0o100 != 0:
		case int(st.Gid) == u.gid && perm&0o010 != 0:
		default:
			return fmt.Errorf("pgtest: the %s user cannot enter %s (mode %04o); set TMPDIR to a directory it can reach", pgOSUser, p, perm)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// chown gives path to u. It does nothing when the process is u.
func (u osUser) chown(path string) error {
	if u.self {
		return nil
	}
	return os.Lchown(path, u.uid, u.gid)
}

// writeFile replaces path with data, owned by u with mode perm.
func (u osUser) writeFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = u.chown(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pgtest: write %s: %w", path, err)
	}
	return nil
}
