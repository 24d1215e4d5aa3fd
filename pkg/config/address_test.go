package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseExclusion(t *testing.T) {
	tests := []struct {
		in      string
		want    string // Exclusion.String() of the result
		wantErr string
	}{
		{in: "127.0.0.1", want: "127.0.0.1/32"},
		{in: "127.1.2.3/8", want: "127.0.0.0/8"},
		{in: "127.0.0.53:53", want: "127.0.0.53/32:53"},
		{in: "127.0.0.53/32:53", want: "127.0.0.53/32:53"},
		{in: "::1", want: "::1/128"},
		{in: "::1/128", want: "::1/128"},
		{in: "::/8", want: "::/8"},
		{in: "[::1]:53", want: "[::1/128]:53"},
		{in: "[::/8]:53", want: "[::/8]:53"},
		{in: "[::1/8]", want: "::/8"},
		{in: "::ffff:127.0.0.53", want: "127.0.0.53/32"},
		{in: "::ffff:127.0.0.53/128", want: "127.0.0.53/32"},
		{in: "::ffff:127.0.0.0/104", want: "127.0.0.0/8"},
		{in: "[::ffff:127.0.0.0/104]:443", want: "127.0.0.0/8:443"},
		{in: "::ffff:0:0/96", want: "0.0.0.0/0"},
		{in: "0.0.0.0/0:25", want: "0.0.0.0/0:25"},

		{in: "", wantErr: "empty"},
		{in: "localhost", wantErr: "not an IP address or prefix"},
		{in: "127.0.0.0/33", wantErr: "not an IP prefix"},
		{in: "127.0.0.1:0", wantErr: "out of range"},
		{in: "127.0.0.1:65536", wantErr: "out of range"},
		{in: "127.0.0.1:", wantErr: "missing port"},
		{in: "127.0.0.1:dns", wantErr: "not a number"},
		{in: "127.0.0.1:+53", wantErr: "not a number"},
		{in: "::/8:53", wantErr: "must be bracketed"},
		{in: "[::1]/128:53", wantErr: "inside the brackets, as in [::1/128]:port"},
		{in: "[::1", wantErr: `missing "]"`},
		{in: "[::1]53", wantErr: `unexpected "53"`},
		{in: "[127.0.0.1]:53", wantErr: "brackets are only for IPv6"},
		{in: "::ffff:0:0/95", wantErr: "at least /96"},
		{in: "fe80::1%eth0", wantErr: "zones are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseExclusion(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseExclusion(%q) = %v, %v; want error containing %q", tt.in, e, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExclusion(%q): %v", tt.in, err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("ParseExclusion(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if e.Prefix != e.Prefix.Masked() || e.Prefix.Addr().Is4In6() {
				t.Errorf("ParseExclusion(%q) = %s: prefix not masked or still mapped", tt.in, e)
			}
			back, err := ParseExclusion(e.String())
			if err != nil || back != e {
				t.Errorf("ParseExclusion(String()) = %v, %v; want %v", back, err, e)
			}
		})
	}
}

func TestExclusionContains(t *testing.T) {
	e, err := ParseExclusion("127.0.0.53/32:53")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dst  string
		want bool
	}{
		{"127.0.0.53:53", true},
		{"[::ffff:127.0.0.53]:53", true},
		{"127.0.0.53:54", false},
		{"127.0.0.54:53", false},
	}
	for _, tt := range tests {
		if got := e.Contains(netip.MustParseAddrPort(tt.dst)); got != tt.want {
			t.Errorf("%s.Contains(%s) = %v, want %v", e, tt.dst, got, tt.want)
		}
	}
	any, _ := ParseExclusion("::/8")
	if !any.Contains(netip.MustParseAddrPort("[::5]:1234")) {
		t.Errorf("%s should contain [::5]:1234", any)
	}
}

func TestValidHostname(t *testing.T) {
	for _, s := range []string{"db", "db.internal", "db.internal.", "a-b_c.example.com", "x1.io"} {
		if !validHostname(s) {
			t.Errorf("validHostname(%q) = false", s)
		}
	}
	for _, s := range []string{"", ".", "-db", "db-", "a..b", "127.0.0.300", "db/x", "db:1", strings.Repeat("a", 64) + ".com"} {
		if validHostname(s) {
			t.Errorf("validHostname(%q) = true", s)
		}
	}
}
