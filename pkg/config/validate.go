package config

import (
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// nameRE is the rule for identity and target names.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:@/-]{0,127}$`)

const nameRule = "a name starts with a letter or digit, continues with letters, digits and . _ : @ / -, and is at most 128 characters"

// unitSuffixes are the systemd unit types a systemd_unit match may name.
var unitSuffixes = []string{".service", ".scope", ".slice", ".socket", ".timer", ".mount"}

// maxUnixPath is the longest path a unix socket address holds (sun_path
// less its terminating NUL).
const maxUnixPath = 107

// invalidID is (uid_t)-1 / (gid_t)-1, which no user or group can have.
const invalidID = 1<<32 - 1

// validator checks a decoded Config, filling in the parsed forms of its
// values, and reports problems at the lines the decoder recorded.
type validator struct {
	d *decoder
	c *Config
}

func validate(c *Config, d *decoder) {
	v := &validator{d: d, c: c}
	v.listeners()
	if v.absPath("control_socket", &c.ControlSocket, false) && len(c.ControlSocket) > maxUnixPath {
		v.errorf("control_socket", "longer than %d bytes, the limit for a unix socket path", maxUnixPath)
	}
	v.cgroupRoot()
	v.absPath("state_dir", &c.StateDir, false)
	v.absPath("policies", &c.PoliciesDir, false)
	oneOf(v, "fail_mode", c.FailMode, FailClosed, FailOpen)
	v.log()
	if c.Metrics.Listen != "" && !v.skip("metrics.listen") {
		if _, err := parseHostPort(c.Metrics.Listen, true); err != nil {
			v.errorf("metrics.listen", "invalid address %q: %v", c.Metrics.Listen, err)
		}
	}
	v.bpf()
	v.oidc()
	v.identities()
	v.identityOIDCs()
	v.targets()
	v.recording()
	v.approvals()
	v.approvalsHTTP()
	v.masking()
}

// line returns the line recorded for path or, failing that, for its nearest
// recorded parent.
func (v *validator) line(p string) int {
	for {
		if l, ok := v.d.lines[p]; ok {
			return l
		}
		if p == "" {
			return 0
		}
		p = parent(p)
	}
}

// parent strips the last ".key" or "[i]" from a path.
func parent(p string) string {
	if i := strings.LastIndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return ""
}

// present reports whether path was written in the file.
func (v *validator) present(p string) bool {
	_, ok := v.d.lines[p]
	return ok
}

// skip reports whether path or a parent of it failed to decode, in which
// case the decoder has already reported it.
func (v *validator) skip(p string) bool {
	for ; p != ""; p = parent(p) {
		if v.d.bad[p] {
			return true
		}
	}
	return false
}

func (v *validator) errorf(p, format string, args ...any) {
	v.d.errorf(v.line(p), p, format, args...)
}

// absPath checks that *s is an absolute path and cleans it. When optional,
// "" is allowed. It reports whether *s is a valid, non-empty path.
func (v *validator) absPath(p string, s *string, optional bool) bool {
	if v.skip(p) || *s == "" && optional {
		return false
	}
	switch {
	case *s == "":
		v.errorf(p, "must not be empty")
	case strings.ContainsRune(*s, 0):
		v.errorf(p, "must not contain a NUL byte")
	case !path.IsAbs(*s):
		v.errorf(p, "must be an absolute path, got %q", *s)
	default:
		*s = path.Clean(*s)
		return true
	}
	return false
}

// oneOf checks that got is one of allowed.
func oneOf[T ~string](v *validator, p string, got T, allowed ...T) {
	if v.skip(p) || slices.Contains(allowed, got) {
		return
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	v.errorf(p, "must be one of %s, got %q", strings.Join(names, ", "), got)
}

func (v *validator) listeners() {
	c := v.c
	c.ListenAddr, c.Listen6Addr = netip.AddrPort{}, netip.AddrPort{}
	if c.Listen != "" && !v.skip("listen") {
		if ap, err := parseListener(c.Listen, false); err != nil {
			v.errorf("listen", "invalid listener %q: %v", c.Listen, err)
		} else {
			c.ListenAddr = ap
		}
	}
	if c.Listen6 != "" && !v.skip("listen6") {
		if ap, err := parseListener(c.Listen6, true); err != nil {
			v.errorf("listen6", "invalid listener %q: %v", c.Listen6, err)
		} else {
			c.Listen6Addr = ap
		}
	}
	if c.Listen == "" && c.Listen6 == "" && !v.skip("listen") && !v.skip("listen6") {
		v.errorf("listen", "listen and listen6 are both empty; at least one proxy listener is needed")
	}
}

// cgroupRoot checks cgroup_root: "" or a literal cgroup path starting with
// "/" without "..", which it cleans ("/" becomes "").
func (v *validator) cgroupRoot() {
	const p = "cgroup_root"
	s := v.c.CgroupRoot
	if s == "" || v.skip(p) {
		return
	}
	switch {
	case !strings.HasPrefix(s, "/"):
		v.errorf(p, `must start with "/" (a path relative to the cgroup2 mount), got %q`, s)
	case hasBadChar(s) || strings.TrimSpace(s) != s:
		v.errorf(p, "contains whitespace or control characters: %q", s)
	case strings.ContainsAny(s, `*?[]\`):
		v.errorf(p, "must be a literal path, not a glob: %q", s)
	case hasDotDot(s):
		v.errorf(p, `must not contain "..": %q`, s)
	default:
		s = path.Clean(s)
		if s == "/" {
			s = ""
		}
		v.c.CgroupRoot = s
	}
}

func hasBadChar(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func hasDotDot(s string) bool {
	return slices.Contains(strings.Split(s, "/"), "..")
}

func (v *validator) bpf() {
	b := &v.c.BPF
	v.absPath("bpf.pin_dir", &b.PinDir, true)
	if b.Mark == 0 && !v.skip("bpf.mark") {
		v.errorf("bpf.mark", "must not be 0")
	}
	for _, k := range mapSizeKeys(&b.MapSizes) {
		p := "bpf.map_sizes." + k.key
		if !v.skip(p) && (*k.v < MinMapSize || *k.v > MaxMapSize) {
			v.errorf(p, "must be between %d and %d, got %d", MinMapSize, MaxMapSize, *k.v)
		}
	}
}

// seenAt is where a value that must be unique was first seen: the index of
// its identity or target, and the path of its key.
type seenAt struct {
	index int
	path  string
}

// name checks a required name and its uniqueness within seen.
func (v *validator) name(index int, item, kind, name string, seen map[string]seenAt) bool {
	p := item + ".name"
	switch {
	case v.skip(p):
	case !v.present(p):
		v.errorf(item, `missing required key "name"`)
	case !nameRE.MatchString(name):
		v.errorf(p, "invalid %s name %q: %s", kind, name, nameRule)
	default:
		if first, dup := seen[name]; dup {
			v.errorf(p, "duplicate %s name %q (first used at line %d, %s)", kind, name, v.line(first.path), parent(first.path))
			return false
		}
		seen[name] = seenAt{index, p}
		return true
	}
	return false
}

func (v *validator) identities() {
	names := map[string]seenAt{}
	ids := map[uint32]seenAt{}
	matches := map[string]seenAt{} // by "kind=value"
	for i := range v.c.Identities {
		id := &v.c.Identities[i]
		item := fmt.Sprintf("identities[%d]", i)
		if v.skip(item) {
			continue
		}
		id.ID = IdentityID(id.Name)
		if v.name(i, item, "identity", id.Name, names) {
			if first, clash := ids[id.ID]; clash {
				v.errorf(item+".name", "identity %q has the same ID (%#x) as identity %q (line %d, %s); rename one of them",
					id.Name, id.ID, v.c.Identities[first.index].Name, v.line(first.path), parent(first.path))
			} else {
				ids[id.ID] = seenAt{i, item + ".name"}
			}
		}
		v.match(i, item+".match", &id.Match, matches)
		v.ids(item+".claimable_by", id.ClaimableBy.UIDs, id.ClaimableBy.GIDs)
		oneOf(v, item+".egress", id.Egress, EgressDeny, EgressAllow)
	}
}

func (v *validator) match(index int, p string, m *Match, seen map[string]seenAt) {
	var (
		kp    string
		value string
		err   string
	)
	switch m.Kind {
	case MatchSystemdUnit:
		kp, value, err = p+".systemd_unit", strconv.Quote(m.SystemdUnit), checkUnit(m.SystemdUnit)
	case MatchCgroup:
		kp, value, err = p+".cgroup", strconv.Quote(m.Cgroup), checkCgroupGlob(m.Cgroup)
	case MatchUID:
		kp, value = p+".uid", fmt.Sprint(m.UID)
		switch m.UID {
		case 0:
			err = "uid 0 (root) cannot be matched: sluiced itself runs as root"
		case invalidID:
			err = fmt.Sprintf("%d is not a valid uid", m.UID)
		}
	default:
		return
	}
	if v.skip(kp) {
		return
	}
	if err != "" {
		v.errorf(kp, "%s", err)
		return
	}
	key := m.Kind.String() + "=" + value
	if first, dup := seen[key]; dup {
		v.errorf(kp, "%s %s is already matched by identity %q (line %d, %s)",
			m.Kind, value, v.c.Identities[first.index].Name, v.line(first.path), parent(parent(first.path)))
		return
	}
	seen[key] = seenAt{index, kp}
}

// checkUnit checks a systemd_unit match: a unit name or glob ending in a
// known unit suffix. It returns "" when s is valid.
func checkUnit(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > 255:
		return "a unit name is at most 255 characters"
	case strings.Contains(s, "/"):
		return fmt.Sprintf("a unit name cannot contain \"/\": %q", s)
	case hasBadChar(s) || strings.ContainsAny(s, " \t"):
		return fmt.Sprintf("contains whitespace or control characters: %q", s)
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Sprintf("invalid glob %q: %v", s, err)
	}
	for _, suf := range unitSuffixes {
		if len(s) > len(suf) && strings.HasSuffix(s, suf) {
			return ""
		}
	}
	return fmt.Sprintf("%q must end in one of %s", s, strings.Join(unitSuffixes, " "))
}

// checkCgroupGlob checks a cgroup match: a path.Match glob on a cgroup path
// starting with "/". It returns "" when s is valid.
func checkCgroupGlob(s string) string {
	if !strings.HasPrefix(s, "/") {
		return fmt.Sprintf(`must start with "/" (a cgroup path relative to the cgroup2 mount), got %q`, s)
	}
	if hasBadChar(s) {
		return fmt.Sprintf("contains control characters: %q", s)
	}
	if _, err := path.Match(s, ""); err != nil {
		return fmt.Sprintf("invalid glob %q: %v", s, err)
	}
	if s == "/" {
		return ""
	}
	for _, elem := range strings.Split(s[1:], "/") {
		switch elem {
		case "":
			return fmt.Sprintf(`empty path element (a doubled or trailing "/") in %q`, s)
		case ".", "..":
			return fmt.Sprintf("%q elements are not allowed: %q", elem, s)
		}
	}
	return ""
}

func (v *validator) targets() {
	names := map[string]seenAt{}
	addrs := map[netip.AddrPort]seenAt{} // by IP-literal address
	for i := range v.c.Targets {
		t := &v.c.Targets[i]
		item := fmt.Sprintf("targets[%d]", i)
		if v.skip(item) {
			continue
		}
		v.name(i, item, "target", t.Name, names)

		p := item + ".protocol"
		switch {
		case v.skip(p):
		case !v.present(p):
			v.errorf(item, `missing required key "protocol"`)
		case !slices.Contains(supportedProtocols, t.Protocol):
			supported := make([]string, len(supportedProtocols))
			for i, sp := range supportedProtocols {
				supported[i] = string(sp)
			}
			v.errorf(p, "protocol %q is not supported yet (supported: %s)", t.Protocol, strings.Join(supported, ", "))
		}

		p = item + ".address"
		switch {
		case v.skip(p):
		case !v.present(p):
			v.errorf(item, `missing required key "address"`)
		default:
			hp, err := parseHostPort(t.Address, false)
			if err != nil {
				v.errorf(p, "invalid address %q: %v", t.Address, err)
				break
			}
			t.Host, t.Port, t.Addr = hp.host, hp.port, hp.addr
			if !t.Addr.IsValid() {
				break
			}
			key := netip.AddrPortFrom(t.Addr.Unmap(), t.Port)
			if first, dup := addrs[key]; dup {
				v.errorf(p, "address %s is already used by target %q (line %d, %s)",
					key, v.c.Targets[first.index].Name, v.line(first.path), parent(first.path))
			} else {
				addrs[key] = seenAt{i, p}
			}
		}
		v.postgres(item, t)
		v.onRecordFailure(item, t)
	}
}
