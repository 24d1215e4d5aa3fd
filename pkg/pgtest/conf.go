package pgtest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// confFile is the file, in the data directory, that holds the settings
// written by this package; postgresql.conf includes it last.
const confFile = "pgtest.conf"

// defaultSettings make a throwaway server fast. Options.Settings may
// override them.
var defaultSettings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "200",
	"logging_collector":  "off",
}

// managedSettings are set by Start only: they decide where the server
// listens and which files it uses.
var managedSettings = map[string]bool{
	"listen_addresses":        true,
	"port":                    true,
	"unix_socket_directories": true,
	"data_directory":          true,
	"config_file":             true,
	"hba_file":                true,
	"ident_file":              true,
	"external_pid_file":       true,
	"ssl":                     true,
	"ssl_cert_file":           true,
	"ssl_key_file":            true,
	"ssl_ca_file":             true,
}

var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// serverSettings merges the defaults and the caller's settings, refusing the
// ones Start manages.
func serverSettings(extra map[string]string) (map[string]string, error) {
	out := maps.Clone(defaultSettings)
	for k, v := range extra {
		name := strings.ToLower(k)
		if !settingName.MatchString(name) {
			return nil, fmt.Errorf("pgtest: bad setting name %q", k)
		}
		if managedSettings[name] {
			return nil, fmt.Errorf("pgtest: setting %s is managed by pgtest", name)
		}
		if strings.ContainsAny(v, "\x00\r\n") {
			return nil, fmt.Errorf("pgtest: setting %s: value contains a line break or NUL", name)
		}
		out[name] = v
	}
	return out, nil
}

// renderConf renders settings as postgresql.conf lines, sorted by name.
func renderConf(settings map[string]string) []byte {
	var b strings.Builder
	b.WriteString("# Written by pgtest.\n")
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		fmt.Fprintf(&b, "%s = %s\n", k, confQuote(settings[k]))
	}
	return []byte(b.String())
}

// confQuote quotes a postgresql.conf value; every type accepts a quoted
// value.
func confQuote(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// hbaLine is one "host" line of pg_hba.conf for one role.
type hbaLine struct {
	role   string
	method AuthMethod
}

// renderHBA renders pg_hba.conf: local connections of the postgres OS user
// are trusted (Exec uses them), the superuser and the catch-all line need
// SCRAM, and each role made by CreateUser gets its own line before the
// catch-all. Only loopback clients are admitted over TCP.
func renderHBA(network, superUser string, roles []hbaLine) []byte {
	var b strings.Builder
	b.WriteString("# Written by pgtest; rewritten by CreateUser.\n")
	b.WriteString("# TYPE\tDATABASE\tUSER\tADDRESS\tMETHOD\n")
	b.WriteString("local\tall\tall\t\ttrust\n")
	fmt.Fprintf(&b, "host\tall\t%s\t%s\t%s\n", quoteIdent(superUser), network, SCRAM)
	for _, r := range roles {
		fmt.Fprintf(&b, "host\tall\t%s\t%s\t%s\n", quoteIdent(r.role), network, r.method)
	}
	fmt.Fprintf(&b, "host\tall\tall\t%s\t%s\n", network, SCRAM)
	return []byte(b.String())
}
