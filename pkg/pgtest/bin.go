package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled is wrapped by the errors returned when PostgreSQL,
// pgbouncer or the postgres OS user is missing.
var ErrNotInstalled = errors.New("pgtest: not installed")

// pgLibDir holds one bin directory per installed major version (Debian).
const pgLibDir = "/usr/lib/postgresql"

// clientPrograms may be taken from $PATH when the versioned bin directory
// does not have them (Debian installs wrappers in /usr/bin).
var clientPrograms = map[string]bool{"psql": true, "pgbench": true, "pg_isready": true}

// Bin returns the path of a PostgreSQL program (initdb, pg_ctl, postgres,
// psql, pgbench, ...) from the newest /usr/lib/postgresql/<version>/bin.
// psql and pgbench are also looked up in $PATH, and "pgbouncer" is looked up
// in /usr/sbin and $PATH. A missing program is an error wrapping
// ErrNotInstalled.
func Bin(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("pgtest: bad program name %q", name)
	}
	if name == "pgbouncer" {
		return bouncerBin()
	}
	dir, dirErr := BinDir()
	if dirErr == nil {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	if clientPrograms[name] {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if dirErr != nil {
		return "", dirErr
	}
	return "", fmt.Errorf("%w: %s is not in %s", ErrNotInstalled, name, dir)
}

// BinDir returns the bin directory of the newest PostgreSQL version
// installed under /usr/lib/postgresql.
func BinDir() (string, error) {
	entries, err := os.ReadDir(pgLibDir)
	if err != nil {
		return "", fmt.Errorf("%w: PostgreSQL (%v)", ErrNotInstalled, err)
	}
	var versions [][]int
	names := map[string]string{}
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !ok || !isExecutable(filepath.Join(pgLibDir, e.Name(), "bin", "postgres")) {
			continue
		}
		versions = append(versions, v)
		names[fmt.Sprint(v)] = e.Name()
	}
	if len(versions) == 0 {
		return "", fmt.Errorf("%w: PostgreSQL (no %s/<version>/bin/postgres)", ErrNotInstalled, pgLibDir)
	}
	newest := slices.MaxFunc(versions, slices.Compare[[]int])
	return filepath.Join(pgLibDir, names[fmt.Sprint(newest)], "bin"), nil
}

// parseVersion parses a directory name such as "15" or "9.6".
func parseVersion(s string) ([]int, bool) {
	var v []int
	for part := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}

func bouncerBin() (string, error) {
	const p = "/usr/sbin/pgbouncer"
	if isExecutable(p) {
		return p, nil
	}
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%w: pgbouncer (not in /usr/sbin or $PATH)", ErrNotInstalled)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
