package mask

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKeyNeverPrints(t *testing.T) {
	secret := "do-not-print-this-key-0123456789"
	k, err := NewKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{Detectors: Defaults, Strategy: Hash, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	sc := m.Scanner()
	type holder struct {
		Exported Key
		hidden   Key
		cfg      Config
		m        *Masker
		sc       *Scanner
	}
	h := holder{Exported: k, hidden: k, cfg: Config{Key: k}, m: m, sc: sc}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k, "config", Config{Key: k})
	js, _ := json.Marshal(h)
	hexKey := fmt.Sprintf("%x", secret)
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", h), "%+v": fmt.Sprintf("%+v", h), "%#v": fmt.Sprintf("%#v", h),
		"%s": fmt.Sprintf("%s", k), "%x": fmt.Sprintf("%x", k), "%q": fmt.Sprintf("%q", k),
		"masker %+v": fmt.Sprintf("%+v", *m), "scanner %+v": fmt.Sprintf("%+v", *sc), "config %#v": fmt.Sprintf("%#v", Config{Key: k}),
		"json": string(js), "slog": logged.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, hexKey) || strings.Contains(s, "do-not") {
			t.Errorf("%s shows the key: %s", name, s)
		}
	}
	if got := fmt.Sprint(k); got != "[redacted]" {
		t.Errorf("Sprint(key) = %q", got)
	}
	if _, err := NewKey([]byte("short")); !errors.Is(err, ErrShortKey) {
		t.Errorf("NewKey(short) = %v, want ErrShortKey", err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		want error
	}{
		{"hash without key", Config{Detectors: Defaults, Strategy: Hash}, ErrNoKey},
		{"hash override without key", Config{Detectors: Of(Email), Strategies: map[Detector]Strategy{Email: Hash}}, ErrNoKey},
		{"unknown region", Config{Detectors: Defaults, Region: "XX"}, ErrRegion},
		{"unknown strategy", Config{Detectors: Defaults, Strategy: 9}, ErrUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); !errors.Is(err, c.want) {
				t.Errorf("New = %v, want %v", err, c.want)
			}
		})
	}
	if _, err := New(Config{Detectors: Of(Email), Strategies: map[Detector]Strategy{Card: Hash}}); err != nil {
		t.Errorf("hash for a detector that does not run needs no key: %v", err)
	}
}

func TestParse(t *testing.T) {
	s, err := ParseSet([]string{"card", "secrets", "ipv4"})
	if err != nil {
		t.Fatal(err)
	}
	if s != Of(Card, IPv4)|Secrets || s.String() != "card,aws_key,private_key,jwt,api_token,ipv4" {
		t.Errorf("ParseSet = %v", s)
	}
	if _, err := ParseSet([]string{"cards"}); !errors.Is(err, ErrUnknown) {
		t.Errorf("ParseSet(cards) = %v", err)
	}
	for st := Redact; st <= Null; st++ {
		if p, err := ParseStrategy(st.String()); err != nil || p != st {
			t.Errorf("ParseStrategy(%v) = %v, %v", st, p, err)
		}
	}
}

// TestStrategies shows what each strategy does to each kind of match.
func TestStrategies(t *testing.T) {
	for _, c := range []struct {
		name string
		st   Strategy
		syn  Syntax
		in   string
		want string
	}{
		{"redact card", Redact, Text, "card 4111-1111-1111-1111 ok", "card ****-****-****-**** ok"},
		{"partial card", Partial, Text, "card 4111-1111-1111-1111 ok", "card ****-****-****-1111 ok"},
		{"partial email keeps the domain", Partial, Text, "to bob.smith@example.com", "to ***.*****@example.com"},
		{"partial ssn", Partial, Text, "ssn 123-45-6789", "ssn ***-**-6789"},
		{"partial iban", Partial, Text, "DE89 3704 0044 0532 0130 00", "**** **** **** **** **30 00"},
		{"partial phone", Partial, Text, "+1 (415) 555-2671", "+* (***) ***-2671"},
		{"partial token", Partial, Text, "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "***_********************************6789"},
		{"partial ipv4 keeps the network half", Partial, Text, "from 192.168.1.10", "from 192.168.*.**"},
		{"partial ipv6 keeps three groups", Partial, Text, "2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3:***:****:****:***:****"},
		{"partial private key redacts the body", Partial, Text, "-----BEGIN PRIVATE KEY-----\nAbC1\n-----END PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\n****\n-----END PRIVATE KEY-----"},
		{"json number redact", Redact, JSON, `{"pan": 4111111111111111}`, `{"pan": 0}`},
		{"json number partial", Partial, JSON, `{"pan": 4111111111111111}`, `{"pan": 1111}`},
		{"json number partial drops leading zeros", Partial, JSON, `[5105105105105100]`, `[5100]`},
		{"json string keeps shape", Redact, JSON, `{"pan": "4111111111111111"}`, `{"pan": "****************"}`},
		{"json escape stays", Redact, JSON, `{"n": "a\u0040b \"bob@example.com\""}`, `{"n": "a\u0040b \"***@*******.***\""}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := scanner(t, Config{Detectors: All, Strategy: c.st, Region: "US"})
			out, res := sc.Text(nil, []byte(c.in), Context{Syntax: c.syn})
			if !res.Changed || string(out) != c.want {
				t.Errorf("Text(%q) = %q (changed %v), want %q", c.in, out, res.Changed, c.want)
			}
		})
	}
}

func TestHash(t *testing.T) {
	a := scanner(t, Config{Detectors: All, Strategy: Hash, Region: "US"})
	b := scanner(t, Config{Detectors: All, Strategy: Hash, Region: "US"}) // same key, another scanner
	other, _ := NewKey([]byte("another key, also 32 bytes long!"))
	c := scanner(t, Config{Detectors: All, Strategy: Hash, Region: "US", Key: other})
	text := func(sc *Scanner, s string, syn Syntax) string {
		out, res := sc.Text(nil, []byte(s), Context{Syntax: syn})
		if !res.Changed {
			t.Fatalf("%q: nothing found", s)
		}
		return string(out)
	}
	for _, in := range []string{"card 4111 1111 1111 1111", "mail Bob@Example.com", "ssn 123-45-6789", "DE89 3704 0044 0532 0130 00", "+1 (415) 555-2671"} {
		ha, hb, hc := text(a, in, Text), text(b, in, Text), text(c, in, Text)
		if ha != hb {
			t.Errorf("%q: hash differs between scanners: %q, %q", in, ha, hb)
		}
		if ha == hc || ha == in {
			t.Errorf("%q: hash %q does not depend on the key (%q)", in, ha, hc)
		}
		if len(ha) != len(in) {
			t.Errorf("%q: hash %q changed the length", in, ha)
		}
	}
	// Separators do not change a card's hash; the result never passes Luhn.
	h1, h2 := text(a, "4111 1111 1111 1111", Text), text(a, "4111-1111-1111-1111", Text)
	if strings.ReplaceAll(h1, " ", "") != strings.ReplaceAll(h2, "-", "") {
		t.Errorf("card hash depends on separators: %q, %q", h1, h2)
	}
	if luhn([]byte(strings.ReplaceAll(h1, " ", ""))) {
		t.Errorf("hashed card %q passes Luhn", h1)
	}
	// E-mail case does not matter.
	if x, y := text(a, "Bob@Example.com", Text), text(a, "bob@example.com", Text); !strings.EqualFold(x, y) {
		t.Errorf("e-mail hash depends on case: %q, %q", x, y)
	}
	// A JSON number hashes to a number of the same length, no leading 0.
	out := text(a, `{"pan": 4111111111111111}`, JSON)
	var v struct{ Pan json.Number }
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Pan) != 16 || v.Pan[0] == '0' {
		t.Errorf("json number hash %s: %v", out, err)
	}
}

func TestNullStrategy(t *testing.T) {
	sc := scanner(t, Config{Detectors: Defaults, Strategies: map[Detector]Strategy{Email: Null}})
	out, res := sc.Text([]byte("prefix"), []byte("mail bob@example.com and 4111 1111 1111 1111"), Context{})
	if !res.Null || !res.Changed || string(out) != "prefix" || res.Counts[Email] != 1 {
		t.Errorf("Null: out %q res %+v", out, res)
	}
}

func TestHints(t *testing.T) {
	sc := scanner(t, Config{Detectors: Defaults, Region: "US"})
	for _, c := range []struct {
		in   string
		hint Set
		want string
	}{
		{"123456789", 0, "123456789"},
		{"123456789", Of(SSN), "*********"},
		{"4155552671", 0, "4155552671"},
		{"4155552671", Of(Phone), "**********"},
	} {
		out, res := sc.Text(nil, []byte(c.in), Context{Hint: c.hint})
		got := c.in
		if res.Changed {
			got = string(out)
		}
		if got != c.want {
			t.Errorf("Text(%q, hint %v) = %q, want %q", c.in, c.hint, got, c.want)
		}
	}
}

func TestWholeValue(t *testing.T) {
	sc := scanner(t, Config{})
	for _, c := range []struct{ in, want string }{
		{"bob.smith@example.com", "***.*****@example.com"},
		{"John Smith", "**** *mith"},
		{"Ann", "***"},
		{"4111-1111-1111-1111", "****-****-****-1111"},
		{"Zoë Müller-Lüdenscheidt", "*** ******-********eidt"},
	} {
		if got := string(sc.Partial(nil, []byte(c.in))); got != c.want {
			t.Errorf("Partial(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	h1 := sc.HashText(nil, []byte("Zoë Müller, 221B Baker St."))
	h2 := sc.HashText(nil, []byte("Zoë Müller, 221B Baker St."))
	if string(h1) != string(h2) || !utf8.Valid(h1) || utf8.RuneCount(h1) != utf8.RuneCountInString("Zoë Müller, 221B Baker St.") {
		t.Errorf("HashText = %q, %q", h1, h2)
	}
	if n := sc.HashNumber(nil, []byte("-1234.50")); len(n) != 8 || n[0] != '-' || n[1] == '0' || n[5] != '.' {
		t.Errorf("HashNumber(-1234.50) = %q", n)
	}
}

// TestPermuteInt checks that the int16 permutation is a bijection and that
// every tier stays in its range.
func TestPermuteInt(t *testing.T) {
	sc := scanner(t, Config{})
	seen := make(map[int64]bool, 1<<16)
	for v := int64(-32768); v <= 32767; v++ {
		p := sc.PermuteInt(v)
		if !fits16(p) || seen[p] {
			t.Fatalf("PermuteInt(%d) = %d: out of range or repeated", v, p)
		}
		seen[p] = true
	}
	for _, v := range []int64{32768, -32769, 1 << 30, -1 << 31, 1<<31 - 1} {
		p := sc.PermuteInt(v)
		if !fits32(p) || fits16(p) || p != sc.PermuteInt(v) {
			t.Errorf("PermuteInt(%d) = %d: not an int32 outside int16", v, p)
		}
	}
	for _, v := range []int64{1 << 31, -1<<31 - 1, 1 << 62, -1 << 63, 1<<63 - 1} {
		if p := sc.PermuteInt(v); fits32(p) {
			t.Errorf("PermuteInt(%d) = %d: inside int32", v, p)
		}
	}
}

// TestCleanCellsDoNotAllocate holds the scanner to its promise: nothing
// found, nothing allocated.
func TestCleanCellsDoNotAllocate(t *testing.T) {
	sc := scanner(t, Config{Detectors: All, Region: "US"})
	cells := cleanCorpus(256)
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		if _, res := sc.Text(nil, cells[i%len(cells)], Context{}); res.Changed {
			t.Fatalf("clean cell %q changed", cells[i%len(cells)])
		}
		i++
	}); n != 0 {
		t.Errorf("%v allocations per clean cell", n)
	}
	buf := make([]byte, 0, 4096)
	dirty := dirtyCorpus(64)
	if n := testing.AllocsPerRun(200, func() { sc.Text(buf[:0], dirty[i%len(dirty)], Context{}); i++ }); n > 0.1 {
		t.Errorf("%v allocations per dirty cell with room in dst", n)
	}
}
