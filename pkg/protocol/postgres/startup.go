package postgres

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Startup packet codes.
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
	protocol30        = 3 << 16
)

// startup is what the client asked for in its StartupMessage.
type startup struct {
	minor  uint16
	params map[string]string
	// unknown lists protocol options (_pq_.*) the inspector does not
	// support, reported back with NegotiateProtocolVersion.
	unknown []string
}

// parseStartup decodes a StartupMessage body (after the length word).
func parseStartup(body []byte) (*startup, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("%w: startup packet too short", ErrProtocol)
	}
	v := binary.BigEndian.Uint32(body)
	if v>>16 != 3 {
		return nil, fmt.Errorf("%w: unsupported frontend protocol %d.%d: server supports 3.0", ErrProtocol, v>>16, v&0xffff)
	}
	// pgproto3 decodes only versions 3.0 and 3.2; the parameters are laid
	// out alike in every 3.x, and a newer minor version is negotiated down.
	b := append([]byte(nil), body...)
	binary.BigEndian.PutUint32(b, protocol30)
	var m pgproto3.StartupMessage
	if err := m.Decode(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	s := &startup{minor: uint16(v & 0xffff), params: map[string]string{}}
	seen := map[string]string{}
	for k, val := range m.Parameters {
		// The server's parameter names are case-insensitive, and it would
		// apply both spellings in the packet's order, which is lost here.
		if other, dup := seen[strings.ToLower(k)]; dup {
			return nil, fmt.Errorf("%w: startup parameters %q and %q name the same setting", ErrProtocol, other, k)
		}
		seen[strings.ToLower(k)] = k
		if strings.HasPrefix(k, "_pq_.") {
			s.unknown = append(s.unknown, k)
			continue
		}
		s.params[k] = val
	}
	if s.params["user"] == "" {
		return nil, fmt.Errorf("%w: no PostgreSQL user name specified in startup packet", ErrProtocol)
	}
	if s.params["database"] == "" {
		s.params["database"] = s.params["user"]
	}
	return s, nil
}

// searchPathOption extracts a search_path setting from a startup "options"
// value.
func searchPathOption(options string) (string, bool) { return settingOption(options, "search_path") }

// startupSetting returns the value a run-time parameter takes from the
// startup packet: its own parameter, named in any case (the server's
// names are case-insensitive), else the last setting of it in "options"
// (the server applies the options first, then the parameters).
func startupSetting(params map[string]string, name string) (string, bool) {
	for k, v := range params {
		if strings.EqualFold(k, name) {
			return v, true // parseStartup refused two spellings of one name
		}
	}
	return settingOption(params["options"], name)
}

// serverSwitches are the server's command-line options that take an
// argument, as its getopt string has them (postgres.c,
// process_postgres_switches): "B:bC:c:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:".
const serverSwitches = "BCcDdfhkNprStvW-"

// settingOption extracts the setting of parameter name from a startup
// "options" value (see optionSwitches): the last one, as the server
// applies them in order.
func settingOption(options, name string) (string, bool) {
	found, ok := "", false
	for _, sw := range optionSwitches(options) {
		if sw.name == name {
			found, ok = sw.value, true
		}
	}
	return found, ok
}

// optionSwitch is one switch of a startup "options" value: a setting
// (-c name=value, --name=value; name lower-cased, dashes as underscores),
// or another switch (sw), or a word that is no switch at all (sw 0).
type optionSwitch struct {
	sw          byte
	name, value string
	word        string
}

// optionSwitches reads a startup "options" value as the server does:
// split on white space (backslash escapes), then read as getopt reads a
// command line, grouped switches included (-ec name=x), every argument
// wherever it stands.
func optionSwitches(options string) []optionSwitch {
	args := splitOptions(options)
	var out []optionSwitch
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			out = append(out, optionSwitch{word: a})
			continue
		}
		for j := 1; j < len(a); j++ {
			sw := a[j]
			if strings.IndexByte(serverSwitches, sw) < 0 {
				out = append(out, optionSwitch{sw: sw, word: a}) // a switch without an argument
				continue
			}
			arg := a[j+1:]
			if arg == "" && i+1 < len(args) {
				i++
				arg = args[i]
			}
			o := optionSwitch{sw: sw, word: a}
			if sw == 'c' || sw == '-' {
				k, v, _ := strings.Cut(arg, "=")
				o.name, o.value = strings.ReplaceAll(strings.ToLower(k), "-", "_"), v
			}
			out = append(out, o)
			break // the argument is the rest of the word
		}
	}
	return out
}

// startupSettings are the run-time parameters a client may set when it
// connects, as a parameter of its startup packet or in its options: they
// change how values are formatted or how long statements may wait, not
// who runs them or what they touch. Any other (role,
// session_authorization, default_transaction_read_only, ...) would take
// effect without a statement that policies see: the login is refused, and
// the client can SET it once logged in, where policies decide.
var startupSettings = map[string]bool{
	// Formatting and client behaviour.
	"application_name": true, "client_encoding": true, "datestyle": true, "timezone": true,
	"intervalstyle": true, "extra_float_digits": true, "bytea_output": true, "client_min_messages": true,
	"lc_monetary": true, "lc_numeric": true, "lc_time": true, "xmloption": true, "xmlbinary": true,
	"default_text_search_config":  true,
	"standard_conforming_strings": true, // refused when off, by its ParameterStatus
	// Name resolution, which the inspector follows.
	"search_path": true,
	// Timeouts.
	"statement_timeout": true, "lock_timeout": true,
	"idle_in_transaction_session_timeout": true, "idle_session_timeout": true,
	// Memory, planning and durability of the session's own work.
	"work_mem": true, "maintenance_work_mem": true, "temp_buffers": true, "jit": true,
	"random_page_cost": true, "seq_page_cost": true, "effective_cache_size": true,
	"cursor_tuple_fraction": true, "default_statistics_target": true, "from_collapse_limit": true,
	"join_collapse_limit": true, "plan_cache_mode": true, "max_parallel_workers_per_gather": true,
	"geqo": true, "synchronous_commit": true, "default_transaction_isolation": true,
}

// startupSettingAllowed reports whether a client may set name at startup:
// one of startupSettings, or a planner switch (enable_*).
func startupSettingAllowed(name string) bool {
	return startupSettings[name] || strings.HasPrefix(name, "enable_")
}

// startupSettingNames lists startupSettings, for messages.
func startupSettingNames() string {
	names := slices.Sorted(maps.Keys(startupSettings))
	return strings.Join(append(names, "enable_*"), ", ")
}

// startupParameters are the startup packet's own fields.
var startupParameters = map[string]bool{"user": true, "database": true, "options": true, "replication": true}

// checkStartupSettings refuses a startup packet that sets a parameter
// outside startupSettings, or that holds in its options anything but -c
// and -- settings of those.
func checkStartupSettings(params map[string]string) error {
	for k := range params {
		n := strings.ToLower(k)
		if !startupParameters[n] && !startupSettingAllowed(n) {
			return fmt.Errorf("%w: the startup parameter %q is not accepted through sluice; set it with SET once logged in, where policies decide", errStartupSetting, k)
		}
	}
	for _, sw := range optionSwitches(params["options"]) {
		switch {
		case sw.sw == 0:
			return fmt.Errorf("%w: %q in the startup options is not a switch", errStartupSetting, sw.word)
		case sw.sw != 'c' && sw.sw != '-':
			return fmt.Errorf("%w: the switch -%c in the startup options is not accepted through sluice; only -c name=value settings are", errStartupSetting, sw.sw)
		case !startupSettingAllowed(sw.name):
			return fmt.Errorf("%w: the setting %q in the startup options is not accepted through sluice; set it with SET once logged in, where policies decide", errStartupSetting, sw.name)
		}
	}
	return nil
}

// splitOptions splits on unescaped white space as C's isspace knows it
// (space, \t, \n, \v, \f, \r), removing backslash escapes, as the server's
// pg_split_opts does.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	esc, in := false, false
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case esc:
			cur.WriteByte(b)
			esc, in = false, true
		case b == '\\':
			esc, in = true, true
		case b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(b)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
