package pgtest

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// AuthMethod is how a role authenticates over TCP, as named in
// pg_hba.conf.
type AuthMethod string

// The methods CreateUser and StartBouncer accept. The zero value means
// SCRAM.
const (
	Trust    AuthMethod = "trust"         // no password
	Password AuthMethod = "password"      // cleartext password
	MD5      AuthMethod = "md5"           // password stored and checked as MD5
	SCRAM    AuthMethod = "scram-sha-256" // password stored and checked as SCRAM-SHA-256
)

func (m AuthMethod) normalize() (AuthMethod, error) {
	switch m {
	case "":
		return SCRAM, nil
	case Trust, Password, MD5, SCRAM:
		return m, nil
	}
	return "", fmt.Errorf("pgtest: unknown auth method %q", m)
}

// opTimeout bounds CreateUser and CreateDatabase.
const opTimeout = time.Minute

// role is a login role made by CreateUser.
type role struct {
	name, password string
	method         AuthMethod
}

var identName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,62}$`)

func checkName(kind, name string) error {
	if !identName.MatchString(name) {
		return fmt.Errorf("pgtest: bad %s name %q (letters, digits, _ . -; at most 63)", kind, name)
	}
	return nil
}

// quoteIdent quotes a name checked by checkName, for SQL and pg_hba.conf.
func quoteIdent(name string) string { return `"` + name + `"` }

// quoteLiteral quotes a SQL string (standard_conforming_strings is on).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CreateUser creates a LOGIN role that authenticates over TCP with auth,
// and reloads the server with a pg_hba.conf line for it. The password is
// stored MD5-hashed for MD5 and as a SCRAM verifier otherwise (a cleartext
// password is checked against it). A Trust role needs no password.
func (s *Server) CreateUser(name, password string, auth AuthMethod) error {
	auth, err := auth.normalize()
	if err != nil {
		return err
	}
	if err := checkName("role", name); err != nil {
		return err
	}
	if password == "" && auth != Trust {
		return fmt.Errorf("pgtest: role %s: %s needs a password", name, auth)
	}
	if strings.ContainsAny(password, "\x00\r\n") {
		return fmt.Errorf("pgtest: role %s: password contains a line break or NUL", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == s.SuperUser || slices.ContainsFunc(s.roles, func(r role) bool { return r.name == name }) {
		return fmt.Errorf("pgtest: role %s already exists", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()

	encryption := SCRAM
	if auth == MD5 {
		encryption = MD5
	}
	sql := fmt.Sprintf("SET password_encryption = %s;\nCREATE ROLE %s LOGIN", quoteLiteral(string(encryption)), quoteIdent(name))
	if password != "" {
		sql += " PASSWORD " + quoteLiteral(password)
	}
	if _, err := s.ExecContext(ctx, "postgres", sql+";\n"); err != nil {
		return fmt.Errorf("pgtest: create role %s: %w", name, err)
	}
	s.roles = append(s.roles, role{name: name, password: password, method: auth})
	if err := s.writeHBA(); err != nil {
		return err
	}
	return s.reload(ctx)
}

// CreateDatabase creates database name, owned by owner (the superuser when
// owner is empty).
func (s *Server) CreateDatabase(name, owner string) error {
	if err := checkName("database", name); err != nil {
		return err
	}
	sql := "CREATE DATABASE " + quoteIdent(name)
	if owner != "" {
		if err := checkName("role", owner); err != nil {
			return err
		}
		sql += " OWNER " + quoteIdent(owner)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if _, err := s.ExecContext(ctx, "postgres", sql+";\n"); err != nil {
		return fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return nil
}

// writeHBA writes pg_hba.conf for the current roles. Callers hold s.mu, or
// own s alone (Start).
func (s *Server) writeHBA() error {
	lines := make([]hbaLine, len(s.roles))
	for i, r := range s.roles {
		lines[i] = hbaLine{role: r.name, method: r.method}
	}
	return s.user.writeFile(filepath.Join(s.DataDir, "pg_hba.conf"), renderHBA(hbaNetwork(s.addr), s.SuperUser, lines), 0o600)
}

// reload checks the new pg_hba.conf, signals the server and waits until the
// postmaster has loaded it: a backend started after the reload sees a newer
// pg_conf_load_time(), and its postmaster loads pg_hba.conf in the same
// step, so the next connection uses the new rules.
func (s *Server) reload(ctx context.Context) error {
	bad, err := s.ExecContext(ctx, "postgres",
		"SELECT line_number || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL;")
	if err != nil {
		return err
	}
	if bad != "" {
		return fmt.Errorf("pgtest: pg_hba.conf: %s", bad)
	}
	before, err := s.ExecContext(ctx, "postgres", "SELECT pg_conf_load_time();")
	if err != nil {
		return err
	}
	if _, err := s.ExecContext(ctx, "postgres", "SELECT pg_reload_conf();"); err != nil {
		return err
	}
	for {
		now, err := s.ExecContext(ctx, "postgres", "SELECT pg_conf_load_time();")
		if err != nil {
			return err
		}
		if now != before {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: wait for the configuration reload: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// logins returns the superuser and the roles made by CreateUser with their
// passwords, for pgbouncer's auth_file.
func (s *Server) logins() []role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]role{{name: s.SuperUser, password: s.SuperPassword, method: SCRAM}}, s.roles...)
}
