package config

import (
	"errors"
	"strings"
	"testing"
)

// wantErr is one expected error: its "file:line: path:" prefix and a
// substring of its message.
type wantErr struct {
	at  string
	msg string
}

// splitErrors returns the *Errors joined in err, failing the test if any
// of them is not an *Error matching ErrInvalid.
func splitErrors(t *testing.T, err error) []*Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	j, ok := err.(interface{ Unwrap() []error })
	if _, single := err.(*Error); single || !ok {
		t.Fatalf("error %T is not a joined list of errors: %v", err, err)
	}
	list := j.Unwrap()
	var out []*Error
	for _, e := range list {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error %v is not an *Error", e)
		}
		out = append(out, ce)
	}
	return out
}

func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	got := splitErrors(t, err)
	if len(got) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, e := range got {
			s := e.Error()
			if strings.HasPrefix(s, w.at) && strings.Contains(s[len(w.at):], w.msg) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no error %q ... %q in:\n%v", w.at, w.msg, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "unknown top-level key",
			yaml: "listen: 127.0.0.1:15001\nlisen6: \"[::1]:15001\"\n",
			want: []wantErr{{"sluice.yaml:2: ", `unknown top-level key "lisen6" (did you mean "listen6"?)`}},
		},
		{
			name: "unknown key far from any known one",
			yaml: "colour: blue\n",
			want: []wantErr{{"sluice.yaml:1: ", `unknown top-level key "colour"`}},
		},
		{
			name: "unknown key in identity",
			yaml: `
identities:
  - name: a
    egres: allow
`,
			want: []wantErr{{"sluice.yaml:4: identities[0]: ", `unknown key "egres" (did you mean "egress"?)`}},
		},
		{
			name: "unknown key in match",
			yaml: `
identities:
  - name: a
    match: {user: 1001}
`,
			want: []wantErr{{"sluice.yaml:4: identities[0].match: ", `unknown key "user"`}},
		},
		{
			name: "duplicate identity name",
			yaml: `
identities:
  - name: a
  - name: b
  - name: a
`,
			want: []wantErr{{"sluice.yaml:5: identities[2].name: ", `duplicate identity name "a" (first used at line 3, identities[0])`}},
		},
		{
			name: "duplicate target name",
			yaml: `
targets:
  - {name: t, protocol: tcp, address: "a.example:1"}
  - {name: t, protocol: tcp, address: "b.example:1"}
`,
			want: []wantErr{{"sluice.yaml:4: targets[1].name: ", `duplicate target name "t" (first used at line 3, targets[0])`}},
		},
		{
			name: "two match kinds at once",
			yaml: `
identities:
  - name: a
    match:
      systemd_unit: a.service
      uid: 1001
`,
			want: []wantErr{{"sluice.yaml:6: identities[0].match.uid: ", "systemd_unit and uid cannot both be set"}},
		},
		{
			name: "uid 0",
			yaml: `
identities:
  - name: a
    match: {uid: 0}
`,
			want: []wantErr{{"sluice.yaml:4: identities[0].match.uid: ", "uid 0 (root) cannot be matched"}},
		},
		{
			name: "same uid matched twice",
			yaml: `
identities:
  - {name: a, match: {uid: 1001}}
  - {name: b, match: {uid: 1001}}
`,
			want: []wantErr{{"sluice.yaml:4: identities[1].match.uid: ", `uid 1001 is already matched by identity "a" (line 3, identities[0])`}},
		},
		{
			name: "same unit matched twice",
			yaml: "identities:\n  - {name: a, match: {systemd_unit: x.service}}\n  - {name: b, match: {systemd_unit: x.service}}\n",
			want: []wantErr{{"sluice.yaml:3: identities[1].match.systemd_unit: ", `systemd_unit "x.service" is already matched by identity "a"`}},
		},
		{
			name: "negative uid",
			yaml: "identities: [{name: a, match: {uid: -5}}]\n",
			want: []wantErr{{"sluice.yaml:1: identities[0].match.uid: ", "must not be negative"}},
		},
		{
			name: "uid out of range",
			yaml: "identities: [{name: a, match: {uid: 4294967296}}]\n",
			want: []wantErr{{"sluice.yaml:1: identities[0].match.uid: ", "must be at most 4294967295"}},
		},
		{
			name: "quoted uid",
			yaml: "identities: [{name: a, match: {uid: \"1001\"}}]\n",
			want: []wantErr{{"sluice.yaml:1: identities[0].match.uid: ", `expected an integer, got string "1001"`}},
		},
		{
			name: "claimable_by invalid id",
			yaml: "identities: [{name: a, claimable_by: {gids: [10, 4294967295]}}]\n",
			want: []wantErr{{"sluice.yaml:1: identities[0].claimable_by.gids[1]: ", "4294967295 is not a valid gid"}},
		},
		{
			name: "non-loopback listen",
			yaml: "listen: 0.0.0.0:15001\n",
			want: []wantErr{{"sluice.yaml:1: listen: ", "not a literal IPv4 loopback address"}},
		},
		{
			name: "listen host name",
			yaml: "listen: localhost:15001\n",
			want: []wantErr{{"sluice.yaml:1: listen: ", "not a literal IPv4 loopback address"}},
		},
		{
			name: "listen6 not loopback",
			yaml: "listen6: \"[::]:15001\"\n",
			want: []wantErr{{"sluice.yaml:1: listen6: ", "not [::1]:PORT"}},
		},
		{
			name: "bad port",
			yaml: "listen: 127.0.0.1:70000\nlisten6: \"[::1]:0\"\nmetrics: {listen: \"127.0.0.1:http\"}\n",
			want: []wantErr{
				{"sluice.yaml:1: listen: ", "port 70000 is out of range 1-65535"},
				{"sluice.yaml:2: listen6: ", "port 0 is out of range 1-65535"},
				{"sluice.yaml:3: metrics.listen: ", `port "http" is not a number`},
			},
		},
		{
			name: "bad exclusion",
			yaml: "exclude:\n  - 127.0.0.0/8\n  - \"[::1]/128:53\"\n  - ::/8:53\n  - 127.0.0.0/33\n",
			want: []wantErr{
				{"sluice.yaml:3: exclude[1]: ", `invalid exclusion "[::1]/128:53": the prefix length goes inside the brackets, as in [::1/128]:port`},
				{"sluice.yaml:4: exclude[2]: ", "must be bracketed"},
				{"sluice.yaml:5: exclude[3]: ", `not an IP prefix: "127.0.0.0/33"`},
			},
		},
		{
			name: "bad glob",
			yaml: `
identities:
  - name: ci
    match: {cgroup: "/ci.slice/["}
`,
			want: []wantErr{{"sluice.yaml:4: identities[0].match.cgroup: ", `invalid glob "/ci.slice/[": syntax error in pattern`}},
		},
		{
			name: "relative cgroup glob",
			yaml: "identities: [{name: ci, match: {cgroup: ci.slice/x}}]\n",
			want: []wantErr{{"sluice.yaml:1: identities[0].match.cgroup: ", `must start with "/"`}},
		},
		{
			name: "bad systemd unit suffix",
			yaml: `
identities:
  - name: etl
    match: {systemd_unit: nightly-etl.servce}
`,
			want: []wantErr{{"sluice.yaml:4: identities[0].match.systemd_unit: ", `"nightly-etl.servce" must end in one of .service .scope .slice .socket .timer .mount`}},
		},
		{
			name: "unsupported protocol",
			yaml: `
targets:
  - name: db
    protocol: mysql
    address: db:5432
`,
			want: []wantErr{{"sluice.yaml:4: targets[0].protocol: ", `protocol "mysql" is not supported yet (supported: tcp, postgres)`}},
		},
		{
			name: "target missing address",
			yaml: `
targets:
  - name: db
    protocol: tcp
`,
			want: []wantErr{{"sluice.yaml:3: targets[0]: ", `missing required key "address"`}},
		},
		{
			name: "target missing name and protocol",
			yaml: "targets:\n  - address: db:5432\n",
			want: []wantErr{
				{"sluice.yaml:2: targets[0]: ", `missing required key "name"`},
				{"sluice.yaml:2: targets[0]: ", `missing required key "protocol"`},
			},
		},
		{
			name: "target bad address",
			yaml: "targets:\n  - {name: a, protocol: tcp, address: \"::1:5432\"}\n  - {name: b, protocol: tcp, address: \"127.0.0.300:80\"}\n",
			want: []wantErr{
				{"sluice.yaml:2: targets[0].address: ", "must be host:port"},
				{"sluice.yaml:3: targets[1].address: ", "neither an IP address nor a valid DNS name"},
			},
		},
		{
			name: "duplicate target address",
			yaml: "targets:\n  - {name: a, protocol: tcp, address: \"127.0.0.3:8081\"}\n  - {name: b, protocol: tcp, address: \"[::ffff:127.0.0.3]:8081\"}\n",
			want: []wantErr{{"sluice.yaml:3: targets[1].address: ", `address 127.0.0.3:8081 is already used by target "a" (line 2, targets[0])`}},
		},
		{
			name: "identity missing name and bad name",
			yaml: "identities:\n  - egress: allow\n  - name: -leading-dash\n",
			want: []wantErr{
				{"sluice.yaml:2: identities[0]: ", `missing required key "name"`},
				{"sluice.yaml:3: identities[1].name: ", `invalid identity name "-leading-dash"`},
			},
		},
		{
			name: "identity ID collision",
			yaml: "identities:\n  - name: svc-1439599\n  - name: svc-1622382\n",
			want: []wantErr{{"sluice.yaml:3: identities[1].name: ", `identity "svc-1622382" has the same ID (0x69ef5d42) as identity "svc-1439599" (line 2, identities[0])`}},
		},
		{
			name: "duplicate key in a mapping",
			yaml: "log:\n  format: json\n  format: text\n",
			want: []wantErr{{"sluice.yaml:3: log: ", `duplicate key "format" (first defined at line 2)`}},
		},
		{
			name: "duplicate top-level key",
			yaml: "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n",
			want: []wantErr{{"sluice.yaml:2: ", `duplicate key "listen" (first defined at line 1)`}},
		},
		{
			name: "string where list expected",
			yaml: "exclude: 127.0.0.0/8\n",
			want: []wantErr{{"sluice.yaml:1: exclude: ", `expected a list, got string "127.0.0.0/8"`}},
		},
		{
			name: "list where string expected",
			yaml: "state_dir: [/a]\n",
			want: []wantErr{{"sluice.yaml:1: state_dir: ", "expected a string, got a list"}},
		},
		{
			name: "null where string expected",
			yaml: "cgroup_root:\n",
			want: []wantErr{{"sluice.yaml:1: cgroup_root: ", `expected a string, got null (write "" for an empty value)`}},
		},
		{
			name: "scalar where mapping expected",
			yaml: "identities:\n  - nightly-etl\n",
			want: []wantErr{{"sluice.yaml:2: identities[0]: ", `expected a mapping, got string "nightly-etl"`}},
		},
		{
			name: "top level is a list",
			yaml: "- listen: 127.0.0.1:1\n",
			want: []wantErr{{"sluice.yaml:1: ", "expected a mapping, got a list"}},
		},
		{
			name: "empty file",
			yaml: "",
			want: []wantErr{{"sluice.yaml:1: ", "empty config file"}},
		},
		{
			name: "only comments",
			yaml: "# nothing here\n",
			want: []wantErr{{"sluice.yaml:1: ", "empty config file"}},
		},
		{
			name: "two documents",
			yaml: "listen: 127.0.0.1:1\n---\nlisten: 127.0.0.1:2\n",
			want: []wantErr{{"sluice.yaml:2: ", "more than one YAML document"}},
		},
		{
			name: "syntax error: tab indentation",
			yaml: "listen: 127.0.0.1:1\nlog:\n\tformat: json\n",
			want: []wantErr{{"sluice.yaml:3: ", "YAML syntax error: found character that cannot start any token"}},
		},
		{
			name: "syntax error: unclosed flow mapping",
			yaml: "listen: 127.0.0.1:1\nlog: {format: json\n",
			want: []wantErr{{"sluice.yaml:2: ", "YAML syntax error: did not find expected ',' or '}'"}},
		},
		{
			name: "syntax error: unknown anchor",
			yaml: "listen: *nope\n",
			want: []wantErr{{"sluice.yaml: ", "YAML syntax error: unknown anchor 'nope' referenced"}},
		},
		{
			name: "listen and listen6 both empty",
			yaml: "listen: \"\"\nlisten6: \"\"\n",
			want: []wantErr{{"sluice.yaml:1: listen: ", "listen and listen6 are both empty"}},
		},
		{
			name: "relative paths",
			yaml: "control_socket: run/sluice.sock\nstate_dir: \"\"\nlog: {file: sluice.log}\nbpf: {pin_dir: bpf}\n",
			want: []wantErr{
				{"sluice.yaml:1: control_socket: ", `must be an absolute path, got "run/sluice.sock"`},
				{"sluice.yaml:2: state_dir: ", "must not be empty"},
				{"sluice.yaml:3: log.file: ", "must be an absolute path"},
				{"sluice.yaml:4: bpf.pin_dir: ", "must be an absolute path"},
			},
		},
		{
			name: "cgroup root",
			yaml: "cgroup_root: /build.slice/../x\n",
			want: []wantErr{{"sluice.yaml:1: cgroup_root: ", `must not contain ".."`}},
		},
		{
			name: "enums",
			yaml: "fail_mode: ajar\nlog: {format: xml, level: trace}\nidentities: [{name: a, egress: maybe}]\n",
			want: []wantErr{
				{"sluice.yaml:1: fail_mode: ", `must be one of closed, open, got "ajar"`},
				{"sluice.yaml:2: log.format: ", `must be one of json, text, got "xml"`},
				{"sluice.yaml:2: log.level: ", `must be one of debug, info, warn, error, got "trace"`},
				{"sluice.yaml:3: identities[0].egress: ", `must be one of deny, allow, got "maybe"`},
			},
		},
		{
			name: "log rotation and readers",
			yaml: "log:\n  max_size: 4KiB\n  max_files: 1000\n  readers: {uids: [4294967295], gids: [-1]}\n",
			want: []wantErr{
				{"sluice.yaml:4: log.readers.gids[0]: ", "must not be negative"},
				{"sluice.yaml:2: log.max_size: ", "must be 0 (never rotate) or at least 1MiB, got 4096 bytes"},
				{"sluice.yaml:3: log.max_files: ", "must be at most 100, got 1000"},
				{"sluice.yaml:4: log.readers.uids[0]: ", "4294967295 is not a valid uid"},
			},
		},
		{
			name: "bpf",
			yaml: "bpf:\n  mark: 0\n  map_sizes:\n    origins: 8\n    exclusions: 0x800000\n    tagged_uid: 10\n",
			want: []wantErr{
				{"sluice.yaml:2: bpf.mark: ", "must not be 0"},
				{"sluice.yaml:4: bpf.map_sizes.origins: ", "must be between 16 and 4194304, got 8"},
				{"sluice.yaml:5: bpf.map_sizes.exclusions: ", "must be between 16 and 4194304, got 8388608"},
				{"sluice.yaml:6: bpf.map_sizes: ", `unknown key "tagged_uid" (did you mean "tagged_uids"?)`},
			},
		},
		{
			name: "merge key",
			yaml: "base: &b {format: json}\n",
			want: []wantErr{{"sluice.yaml:1: ", `unknown top-level key "base"`}},
		},
		{
			name: "merge keys are refused",
			yaml: "log:\n  <<: {format: json}\n",
			want: []wantErr{{"sluice.yaml:2: log: ", "merge keys (<<) are not supported"}},
		},
		{
			name: "multiple errors reported together",
			yaml: `
listen: 0.0.0.0:15001
colour: blue
identities:
  - name: a
    match: {uid: 0}
  - name: a
    egres: allow
targets:
  - {name: db, protocol: mysql}
`,
			want: []wantErr{
				{"sluice.yaml:2: listen: ", "loopback"},
				{"sluice.yaml:3: ", `unknown top-level key "colour"`},
				{"sluice.yaml:6: identities[0].match.uid: ", "uid 0"},
				{"sluice.yaml:7: identities[1].name: ", "duplicate identity name"},
				{"sluice.yaml:8: identities[1]: ", `unknown key "egres"`},
				{"sluice.yaml:10: targets[0]: ", `missing required key "address"`},
				{"sluice.yaml:10: targets[0].protocol: ", "not supported yet"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("sluice.yaml", []byte(tt.yaml))
			if c != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			checkErrors(t, err, tt.want)
		})
	}
}

func TestSyntaxErrorMatchesErrSyntax(t *testing.T) {
	_, err := Parse("sluice.yaml", []byte("a: [\n"))
	if !errors.Is(err, ErrSyntax) || !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v should match ErrSyntax and ErrInvalid", err)
	}
	_, err = Parse("sluice.yaml", []byte("colour: blue\n"))
	if errors.Is(err, ErrSyntax) {
		t.Errorf("error %v should not match ErrSyntax", err)
	}
}

func TestErrorsAreSortedByLine(t *testing.T) {
	_, err := Parse("sluice.yaml", []byte("listen: 0.0.0.0:1\nfoo: 1\nlisten6: x\n"))
	got := splitErrors(t, err)
	for i := 1; i < len(got); i++ {
		if got[i].Line < got[i-1].Line {
			t.Errorf("errors out of order:\n%v", err)
		}
	}
}
