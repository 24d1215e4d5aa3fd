package postgres

import (
	"encoding/binary"
	"fmt"
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
	for k, val := range m.Parameters {
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
// startup packet: its own parameter, else the last setting of it in
// "options" (the server applies the options first, then the parameters).
func startupSetting(params map[string]string, name string) (string, bool) {
	if v, ok := params[name]; ok {
		return v, true
	}
	return settingOption(params["options"], name)
}

// settingOption extracts the setting of parameter name from a startup
// "options" value (-c name=x, --name=x): the last one, as the server
// applies them in order. Backslash escapes a space, as PostgreSQL parses
// it.
func settingOption(options, name string) (string, bool) {
	args := splitOptions(options)
	found, ok := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		var kv string
		switch {
		case a == "-c" && i+1 < len(args):
			i++
			kv = args[i]
		case strings.HasPrefix(a, "-c"):
			kv = a[2:]
		case strings.HasPrefix(a, "--"):
			kv = a[2:]
		default:
			continue
		}
		k, v, isKV := strings.Cut(kv, "=")
		if isKV && strings.ReplaceAll(strings.ToLower(k), "-", "_") == name {
			found, ok = v, true // the last setting wins, as in the server
		}
	}
	return found, ok
}

// splitOptions splits on unescaped whitespace, removing backslash escapes.
func splitOptions(s string) []string {
	var out []string
	var cur strings.Builder
	esc, in := false, false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc, in = false, true
		case r == '\\':
			esc = true
		case r == ' ' || r == '\t' || r == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
