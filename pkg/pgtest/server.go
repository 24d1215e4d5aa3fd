package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure Start.
type Options struct {
	// Host is the loopback IP address the server listens on; the default
	// is 127.0.0.1. Any other address is refused with ErrNotLoopback.
	Host string
	// Settings are extra postgresql.conf settings (max_connections,
	// shared_buffers, ...). They override the defaults (fsync, durability
	// off; max_connections 200) but may not change where the server
	// listens or which files it uses.
	Settings map[string]string
	// TLS makes a self-signed CA and a server certificate for Host and
	// "localhost", and turns ssl on. Server.CAFile is the CA to verify.
	TLS bool
	// Log, when set, receives a copy of the server log when the server
	// stops (or fails to start), before the directory is removed.
	Log io.Writer
}

// Server is a running PostgreSQL server. The zero value is not usable:
// call Start.
type Server struct {
	Host      string // listen address, an IP literal
	Port      int
	Dir       string // temporary directory holding everything below
	DataDir   string
	SocketDir string // unix_socket_directories
	// CAFile is the PEM CA certificate that signed the server
	// certificate; empty without TLS.
	CAFile string
	// SuperUser is the bootstrap superuser, "postgres"; it needs
	// SuperPassword (SCRAM) over TCP and nothing over the unix socket.
	SuperUser     string
	SuperPassword string

	addr    netip.Addr
	user    osUser
	pgCtl   string
	psql    string
	logFile string
	logOut  io.Writer
	caPool  *x509.CertPool
	port    int // reserved port, released by Stop
	pm      proc

	mu    sync.Mutex // serialises pg_hba.conf updates
	roles []role

	stopOnce sync.Once
	stopErr  error
}

const (
	superUser      = "postgres"
	startAttempts  = 5
	stopTimeout    = 30 * time.Second
	killGrace      = 5 * time.Second
	defaultTimeout = 60 * time.Second
	logTailLines   = 30
)

// Start creates and starts a server, waits until it accepts connections and
// returns it. The caller must call Stop. ctx bounds the start-up only.
func Start(ctx context.Context, opts Options) (*Server, error) {
	addr, err := loopback(opts.Host)
	if err != nil {
		return nil, err
	}
	settings, err := serverSettings(opts.Settings)
	if err != nil {
		return nil, err
	}
	if err := Available(); err != nil {
		return nil, err
	}
	initdb, _ := Bin("initdb")
	pgCtl, _ := Bin("pg_ctl")
	psql, _ := Bin("psql")
	u, _ := postgresUser()

	dir, err := makeDir(u, "sluice-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Host:          addr.String(),
		Dir:           dir,
		DataDir:       filepath.Join(dir, "data"),
		SocketDir:     dir,
		SuperUser:     superUser,
		SuperPassword: randomHex(16),
		addr:          addr,
		user:          u,
		pgCtl:         pgCtl,
		psql:          psql,
		logFile:       filepath.Join(dir, "postgres.log"),
		logOut:        opts.Log,
	}
	if err := s.start(ctx, initdb, settings, opts.TLS); err != nil {
		tail := s.LogTail(logTailLines)
		if serr := s.Stop(); serr != nil {
			err = errors.Join(err, serr)
		}
		if tail != "" {
			err = fmt.Errorf("%w\npostgres log (last lines):\n%s", err, tail)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, initdb string, settings map[string]string, useTLS bool) error {
	// The socket path must fit in sun_path (108 bytes).
	if n := len(filepath.Join(s.SocketDir, ".s.PGSQL.65535.lock")); n > 107 {
		return fmt.Errorf("pgtest: socket path in %s is too long (%d bytes); use a shorter TMPDIR", s.SocketDir, n)
	}
	pwFile := filepath.Join(s.Dir, "pwfile")
	if err := s.user.writeFile(pwFile, []byte(s.SuperPassword+"\n"), 0o600); err != nil {
		return err
	}
	_, err := s.run(ctx, initdb, "-D", s.DataDir, "-U", s.SuperUser,
		"-A", string(SCRAM), "--pwfile="+pwFile, "--no-sync", "-E", "UTF8", "--locale=C")
	os.Remove(pwFile)
	if err != nil {
		return err
	}

	settings["listen_addresses"] = s.Host
	settings["unix_socket_directories"] = s.SocketDir
	if useTLS {
		f, err := writeTLS(s.user, filepath.Join(s.Dir, "tls"), s.addr)
		if err != nil {
			return err
		}
		pemData, err := os.ReadFile(f.ca)
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		s.caPool = x509.NewCertPool()
		s.caPool.AppendCertsFromPEM(pemData)
		s.CAFile = f.ca
		settings["ssl"] = "on"
		settings["ssl_cert_file"] = f.cert
		settings["ssl_key_file"] = f.key
	}

	mainConf := filepath.Join(s.DataDir, "postgresql.conf")
	conf, err := os.ReadFile(mainConf)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	conf = fmt.Appendf(conf, "\ninclude %s\n", confQuote(confFile))
	if err := s.user.writeFile(mainConf, conf, 0o600); err != nil {
		return err
	}
	if err := s.writeHBA(); err != nil {
		return err
	}

	for attempt := 1; ; attempt++ {
		port, err := reservePort(s.addr)
		if err != nil {
			return err
		}
		s.port, s.Port = port, port
		settings["port"] = strconv.Itoa(port)
		if err := s.user.writeFile(filepath.Join(s.DataDir, confFile), renderConf(settings), 0o600); err != nil {
			return err
		}
		logStart := fileSize(s.logFile)
		_, err = s.run(ctx, s.pgCtl, "-D", s.DataDir, "-l", s.logFile, "-w", "-t", waitSeconds(ctx), "start")
		if err == nil {
			break
		}
		if attempt < startAttempts && ctx.Err() == nil && s.bindFailed(logStart) {
			if serr := s.shutdown(); serr != nil {
				return errors.Join(err, serr)
			}
			releasePort(s.addr, port)
			s.port = 0
			continue
		}
		return err
	}

	pid, err := s.postmasterPID()
	if err != nil {
		return err
	}
	s.pm, err = findProc(pid, "postgres", s.user.uid)
	if err != nil {
		return fmt.Errorf("pgtest: postmaster: %w", err)
	}
	return nil
}

// bindFailed reports whether the log written since offset says the port
// was taken.
func (s *Server) bindFailed(offset int64) bool {
	b := readFrom(s.logFile, offset)
	return bytes.Contains(b, []byte("could not bind")) || bytes.Contains(b, []byte("Address already in use"))
}

// postmasterPID reads the first line of postmaster.pid.
func (s *Server) postmasterPID() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("pgtest: postmaster.pid: %w", err)
	}
	return pid, nil
}

// Stop shuts the server down and removes its directory. It first asks
// pg_ctl for a fast shutdown; if that fails, it sends SIGTERM and then
// SIGKILL to the postmaster started by Start. Stop may be called more than
// once; later calls return the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if err := s.shutdown(); err != nil {
			errs = append(errs, err)
		}
		if s.logOut != nil {
			if f, err := os.Open(s.logFile); err == nil {
				_, _ = io.Copy(s.logOut, f)
				f.Close()
			}
		}
		releasePort(s.addr, s.port)
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("pgtest: %w", err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// shutdown stops the postmaster, if one runs in the data directory.
func (s *Server) shutdown() error {
	pm := s.pm
	if pm.pid == 0 {
		// Start failed before it recorded the postmaster; one may run
		// anyway (pg_ctl timed out or was cancelled).
		pid, err := s.postmasterPID()
		if err != nil {
			return nil
		}
		if pm, err = findProc(pid, "postgres", s.user.uid); err != nil {
			return nil // stale pid file
		}
	} else if !pm.alive() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout+killGrace)
	defer cancel()
	_, err := s.run(ctx, s.pgCtl, "-D", s.DataDir, "-m", "fast", "-w",
		"-t", strconv.Itoa(int(stopTimeout/time.Second)), "stop")
	if err == nil && pm.waitGone(killGrace) {
		return nil
	}
	if kerr := pm.kill(killGrace); kerr != nil {
		return errors.Join(err, kerr)
	}
	return nil
}

// Addr is the server's TCP address.
func (s *Server) Addr() netip.AddrPort {
	return netip.AddrPortFrom(s.addr, uint16(s.Port))
}

// PID is the postmaster's process ID.
func (s *Server) PID() int { return s.pm.pid }

// RootCAs holds the CA that signed the server certificate; nil without TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.caPool }

// URL is a postgres:// connection URL for pgx or psql. Without TLS it has
// sslmode=disable; with TLS, sslmode=verify-full and sslrootcert=CAFile. An
// empty password is left out.
func (s *Server) URL(user, password, db string) string {
	return connURL(s.Addr(), user, password, db, s.CAFile)
}

func connURL(ap netip.AddrPort, user, password, db, caFile string) string {
	u := url.URL{Scheme: "postgres", Host: ap.String(), Path: "/" + db}
	switch {
	case password != "":
		u.User = url.UserPassword(user, password)
	case user != "":
		u.User = url.User(user)
	}
	q := url.Values{}
	if caFile != "" {
		q.Set("sslmode", "verify-full")
		q.Set("sslrootcert", caFile)
	} else {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// LogFile is the path of the server log. It is removed by Stop.
func (s *Server) LogFile() string { return s.logFile }

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string { return tail(s.logFile, n) }

// Exec runs sql (one or more statements) in database db as the superuser,
// with psql over the unix socket, and returns psql's unaligned, tuples-only
// output without the final newline. It stops at the first error.
func (s *Server) Exec(db, sql string) (string, error) {
	return s.ExecContext(context.Background(), db, sql)
}

// ExecContext is Exec with a context that kills psql when done.
func (s *Server) ExecContext(ctx context.Context, db, sql string) (string, error) {
	if db == "" {
		db = "postgres"
	}
	cmd := s.user.command(ctx, s.Dir, s.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-f", "-")
	cmd.Env = append(cmd.Env, s.libpqEnv(db)...)
	cmd.Stdin = strings.NewReader(sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("pgtest: psql in database %s: %w: %s", db, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSuffix(stdout.String(), "\n"), nil
}

// Command prepares a PostgreSQL program (see Bin), pgbench for example, to
// run as the postgres OS user in s.Dir, with PGHOST, PGPORT, PGUSER and
// PGDATABASE naming this server's unix socket, the superuser and the
// postgres database. The caller may change cmd.Env and cmd.Dir.
func (s *Server) Command(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	bin, err := Bin(name)
	if err != nil {
		return nil, err
	}
	cmd := s.user.command(ctx, s.Dir, bin, args...)
	cmd.Env = append(cmd.Env, s.libpqEnv("postgres")...)
	return cmd, nil
}

// libpqEnv points libpq at the unix socket. The database goes through the
// environment so that a name containing "=" is not read as a conninfo.
func (s *Server) libpqEnv(db string) []string {
	return []string{
		"PGHOST=" + s.SocketDir,
		"PGPORT=" + strconv.Itoa(s.Port),
		"PGUSER=" + s.SuperUser,
		"PGDATABASE=" + db,
	}
}

// run runs a program as the postgres user and returns its output; the
// error includes the output.
func (s *Server) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	out, err := s.user.command(ctx, s.Dir, bin, args...).CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return out, fmt.Errorf("pgtest: %s: %w\n%s", filepath.Base(bin), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// waitSeconds is pg_ctl's -t: what is left of ctx, or a default.
func waitSeconds(ctx context.Context) string {
	d := defaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		d = max(time.Until(deadline), time.Second)
	}
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the content of path from offset on.
func readFrom(path string, offset int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(f)
	return b
}

// tail returns the last n lines of path (at most the last 64 KiB).
func tail(path string, n int) string {
	const window = 64 << 10
	b := readFrom(path, max(fileSize(path)-window, 0))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
