package pgtest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BouncerOptions configure StartBouncer.
type BouncerOptions struct {
	// PoolMode is session (the default), transaction or statement.
	PoolMode string
	// Auth is how clients authenticate to pgbouncer; the default is
	// SCRAM. pgbouncer logs in to the server with the same user and the
	// password from its auth_file.
	Auth AuthMethod
	// Users are extra user/password pairs for the auth_file. The
	// superuser and every role made with Server.CreateUser before
	// StartBouncer are listed already.
	Users map[string]string
	// MaxClientConn is max_client_conn (default 1000).
	MaxClientConn int
	// DefaultPoolSize is default_pool_size (default 100).
	DefaultPoolSize int
	// Settings are extra [pgbouncer] settings; they may not change where
	// pgbouncer listens or which files it uses.
	Settings map[string]string
	// Log, when set, receives a copy of pgbouncer's log when it stops.
	Log io.Writer
}

// Bouncer is a running pgbouncer in front of a Server.
type Bouncer struct {
	Host string // listen address, the server's
	Port int
	Dir  string // temporary directory with the configuration and the log

	addr    netip.Addr
	port    int // reserved port, released by Stop
	logFile string
	logOut  io.Writer
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has been waited for

	stopOnce sync.Once
	stopErr  error
}

// bouncerAuth maps auth methods to pgbouncer's auth_type.
var bouncerAuth = map[AuthMethod]string{
	Trust:    "trust",
	Password: "plain",
	MD5:      "md5",
	SCRAM:    "scram-sha-256",
}

// managedBouncerSettings are set by StartBouncer only.
var managedBouncerSettings = map[string]bool{
	"listen_addr":     true,
	"listen_port":     true,
	"unix_socket_dir": true,
	"auth_file":       true,
	"auth_type":       true,
	"auth_hba_file":   true,
	"logfile":         true,
	"pidfile":         true,
	"user":            true,
	"pool_mode":       true,
}

// StartBouncer starts pgbouncer as the postgres user, on the server's
// loopback address and a free port, with every database ("*") going to s.
// The caller must call Stop, before stopping s. ctx bounds the start-up
// only.
func StartBouncer(ctx context.Context, s *Server, opts BouncerOptions) (*Bouncer, error) {
	conf, err := bouncerSettings(opts)
	if err != nil {
		return nil, err
	}
	bin, err := Bin("pgbouncer")
	if err != nil {
		return nil, err
	}
	users, err := userlist(s.logins(), opts.Users)
	if err != nil {
		return nil, err
	}
	dir, err := makeDir(s.user, "sluice-pgbouncer-")
	if err != nil {
		return nil, err
	}
	b := &Bouncer{
		Host:    s.Host,
		Dir:     dir,
		addr:    s.addr,
		logFile: filepath.Join(dir, "pgbouncer.log"),
		logOut:  opts.Log,
	}
	if err := b.start(ctx, s, bin, conf, users); err != nil {
		tail := tail(b.logFile, logTailLines)
		if serr := b.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if tail != "" {
			err = fmt.Errorf("%w\npgbouncer log (last lines):\n%s", err, tail)
		}
		return nil, err
	}
	return b, nil
}

// bouncerSettings builds the [pgbouncer] settings but the listen port.
func bouncerSettings(opts BouncerOptions) (map[string]string, error) {
	auth, err := opts.Auth.normalize()
	if err != nil {
		return nil, err
	}
	mode := opts.PoolMode
	switch mode {
	case "":
		mode = "session"
	case "session", "transaction", "statement":
	default:
		return nil, fmt.Errorf("pgtest: unknown pool mode %q", mode)
	}
	conf := map[string]string{
		"pool_mode":                 mode,
		"auth_type":                 bouncerAuth[auth],
		"max_client_conn":           strconv.Itoa(cmp.Or(opts.MaxClientConn, 1000)),
		"default_pool_size":         strconv.Itoa(cmp.Or(opts.DefaultPoolSize, 100)),
		"ignore_startup_parameters": "extra_float_digits",
		"admin_users":               superUser,
		"unix_socket_dir":           "",
		"logfile":                   "",
		"syslog":                    "0",
	}
	for k, v := range opts.Settings {
		name := strings.ToLower(k)
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("pgtest: bad pgbouncer setting name %q", k)
		}
		if managedBouncerSettings[name] {
			return nil, fmt.Errorf("pgtest: pgbouncer setting %s is managed by pgtest", name)
		}
		if strings.ContainsAny(v, "\x00\r\n") {
			return nil, fmt.Errorf("pgtest: pgbouncer setting %s: value contains a line break or NUL", name)
		}
		conf[name] = v
	}
	return conf, nil
}

// userlist renders pgbouncer's auth_file with plain-text passwords, from
// which it can answer any authentication the server asks for.
func userlist(roles []role, extra map[string]string) ([]byte, error) {
	var b strings.Builder
	seen := map[string]bool{}
	add := func(name, password string) error {
		if err := checkName("role", name); err != nil {
			return err
		}
		if strings.ContainsAny(password, "\x00\r\n") {
			return fmt.Errorf("pgtest: password of %s contains a line break or NUL", name)
		}
		if !seen[name] {
			seen[name] = true
			fmt.Fprintf(&b, "%s \"%s\"\n", quoteIdent(name), strings.ReplaceAll(password, `"`, `""`))
		}
		return nil
	}
	for _, r := range roles {
		if err := add(r.name, r.password); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(extra)) {
		if err := add(name, extra[name]); err != nil {
			return nil, err
		}
	}
	return []byte(b.String()), nil
}

func (b *Bouncer) start(ctx context.Context, s *Server, bin string, conf map[string]string, users []byte) error {
	authFile := filepath.Join(b.Dir, "userlist.txt")
	if err := s.user.writeFile(authFile, users, 0o600); err != nil {
		return err
	}
	conf["auth_file"] = authFile
	conf["listen_addr"] = b.Host
	iniFile := filepath.Join(b.Dir, "pgbouncer.ini")
	for attempt := 1; ; attempt++ {
		port, err := reservePort(b.addr)
		if err != nil {
			return err
		}
		b.port, b.Port = port, port
		conf["listen_port"] = strconv.Itoa(port)
		if err := s.user.writeFile(iniFile, renderIni(s, conf), 0o600); err != nil {
			return err
		}
		logStart := fileSize(b.logFile)
		err = b.spawn(s.user, bin, iniFile)
		if err == nil {
			err = b.waitReady(ctx, logStart)
		}
		if err == nil {
			return nil
		}
		if attempt < startAttempts && ctx.Err() == nil && b.exited() &&
			strings.Contains(string(readFrom(b.logFile, logStart)), "Address already in use") {
			releasePort(b.addr, port)
			b.port = 0
			continue
		}
		return err
	}
}

// renderIni renders pgbouncer.ini.
func renderIni(s *Server, conf map[string]string) []byte {
	var w strings.Builder
	w.WriteString(";; Written by pgtest.\n[databases]\n")
	fmt.Fprintf(&w, "* = host=%s port=%d\n\n[pgbouncer]\n", s.Host, s.Port)
	for _, k := range slices.Sorted(maps.Keys(conf)) {
		fmt.Fprintf(&w, "%s = %s\n", k, conf[k])
	}
	return []byte(w.String())
}

// spawn starts pgbouncer in the foreground as our child, its output going
// to the log file.
func (b *Bouncer) spawn(u osUser, bin, iniFile string) error {
	logf, err := os.OpenFile(b.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	if err := u.chown(b.logFile); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cmd := exec.Command(bin, iniFile)
	u.prepare(cmd, b.Dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a ^C meant for the test does not reach it
	// before Stop does.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start pgbouncer: %w", err)
	}
	done := make(chan struct{})
	b.cmd, b.done = cmd, done
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return nil
}

// waitReady waits until pgbouncer logs that it listens on its address and
// is up. A successful connection alone would not prove that: another
// process may hold the port, and pgbouncer then exits.
func (b *Bouncer) waitReady(ctx context.Context, logStart int64) error {
	ctx, cancel := context.WithTimeout(ctx, defaultTimeout)
	defer cancel()
	addr := b.Addr().String()
	for {
		log := readFrom(b.logFile, logStart)
		if bytes.Contains(log, []byte("listening on "+addr)) && bytes.Contains(log, []byte("process up")) {
			break
		}
		select {
		case <-b.done:
			return fmt.Errorf("pgtest: pgbouncer exited: %s", b.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: wait for pgbouncer on %s: %w", addr, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("pgtest: pgbouncer on %s: %w", addr, err)
	}
	c.Close()
	return nil
}

// exited reports whether the process has ended (it is waited for already).
func (b *Bouncer) exited() bool {
	if b.done == nil {
		return true
	}
	select {
	case <-b.done:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

// Addr is pgbouncer's TCP address.
func (b *Bouncer) Addr() netip.AddrPort {
	return netip.AddrPortFrom(b.addr, uint16(b.Port))
}

// PID is pgbouncer's process ID.
func (b *Bouncer) PID() int {
	if b.cmd == nil || b.cmd.Process == nil {
		return 0
	}
	return b.cmd.Process.Pid
}

// URL is a postgres:// URL through pgbouncer, with sslmode=disable.
func (b *Bouncer) URL(user, password, db string) string {
	return connURL(b.Addr(), user, password, db, "")
}

// LogFile is the path of pgbouncer's log. It is removed by Stop.
func (b *Bouncer) LogFile() string { return b.logFile }

// LogTail returns the last n lines of pgbouncer's log.
func (b *Bouncer) LogTail(n int) string { return tail(b.logFile, n) }

// Stop ends pgbouncer (SIGTERM, an immediate shutdown, then SIGKILL if it
// is still running after a grace period) and removes its directory. Stop
// may be called more than once; later calls return the first result.
func (b *Bouncer) Stop() error {
	b.stopOnce.Do(func() {
		var errs []error
		if err := b.kill(); err != nil {
			errs = append(errs, err)
		}
		if b.logOut != nil {
			if f, err := os.Open(b.logFile); err == nil {
				_, _ = io.Copy(b.logOut, f)
				f.Close()
			}
		}
		releasePort(b.addr, b.port)
		if err := os.RemoveAll(b.Dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: %w", err))
		}
		b.stopErr = errors.Join(errs...)
	})
	return b.stopErr
}

// kill signals the process we started; it is our child, so its PID cannot
// have been reused before b.done is closed.
func (b *Bouncer) kill() error {
	if b.cmd == nil {
		return nil
	}
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		select {
		case <-b.done:
			return nil
		default:
		}
		if err := b.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("pgtest: signal pgbouncer: %w", err)
		}
		select {
		case <-b.done:
			return nil
		case <-time.After(killGrace):
		}
	}
	return fmt.Errorf("pgtest: pgbouncer (pid %d) did not exit after SIGKILL", b.cmd.Process.Pid)
}
