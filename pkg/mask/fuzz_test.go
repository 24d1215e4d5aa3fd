package mask

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are the corpus inputs (testdata/detect) and the benchmark
// cells.
func fuzzSeeds(f *testing.F) []string {
	var out []string
	for _, name := range []string{"positive.txt", "negative.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", "detect", name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if _, rest, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "#") {
				in, _, _ := strings.Cut(rest, " => ")
				out = append(out, in)
			}
		}
	}
	for _, c := range mixedCorpus(64) {
		out = append(out, string(c))
	}
	return out
}

// checkScan runs sc over data and checks what holds for every input: no
// panic; nothing found means dst untouched; matches in order, inside the
// input, counted; no quote, backslash or character added, UTF-8 kept; a
// JSON document stays JSON.
func checkScan(t *testing.T, sc *Scanner, data []byte, syn Syntax) []span {
	t.Helper()
	var spans []span
	sc.spans = &spans
	defer func() { sc.spans = nil }()
	dst := []byte("dst:")
	out, res := sc.Text(dst, data, Context{Syntax: syn})
	var counts Counts
	end := 0
	for _, s := range spans {
		if s.Start < end || s.End <= s.Start || s.End > len(data) {
			t.Fatalf("span %+v after %d in %d bytes", s, end, len(data))
		}
		end = s.End
		counts[s.Detector]++
	}
	if counts != res.Counts {
		t.Fatalf("counts %v, spans say %v", res.Counts, counts)
	}
	if !res.Changed || res.Null {
		if string(out) != "dst:" {
			t.Fatalf("nothing to append, but dst became %q", out)
		}
		if res.Changed != (len(spans) > 0) {
			t.Fatalf("changed %v with %d spans", res.Changed, len(spans))
		}
		return spans
	}
	if !bytes.HasPrefix(out, dst) {
		t.Fatalf("dst prefix lost: %q", out)
	}
	got := out[len(dst):]
	for _, c := range []string{`"`, `\`, "\x00", ",", "{", "}", "(", ")", " "} {
		if strings.Count(string(got), c) > strings.Count(string(data), c) {
			t.Fatalf("%q added to %q: %q", c, data, got)
		}
	}
	if utf8.Valid(data) {
		if !utf8.Valid(got) {
			t.Fatalf("invalid UTF-8 from %q: %q", data, got)
		}
		if utf8.RuneCount(got) > utf8.RuneCount(data) {
			t.Fatalf("%q grew to %q", data, got)
		}
	}
	if syn == JSON && json.Valid(data) && !json.Valid(got) {
		t.Fatalf("JSON %s became %s", data, got)
	}
	return spans
}

func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s), uint8(0))
	}
	scs := make([]*Scanner, 4)
	for i := range scs {
		scs[i] = scanner(f, Config{Detectors: All, Strategy: Strategy(i + 1), Region: "US"})
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		checkScan(t, scs[mode%4], data, Syntax(mode/4%2))
	})
}

// fuzzDetector fuzzes the scanner with detector d alone and checks every
// match with check.
func fuzzDetector(f *testing.F, d Detector, check func(t *testing.T, m []byte)) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	sc := scanner(f, Config{Detectors: Of(d), Region: "US"})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range checkScan(t, sc, data, Text) {
			if s.Detector != d {
				t.Fatalf("%v found by %v alone", s.Detector, d)
			}
			check(t, data[s.Start:s.End])
		}
	})
}

func digits(m []byte) []byte {
	var d []byte
	for _, c := range m {
		if isDigit(c) {
			d = append(d, c)
		}
	}
	return d
}

func FuzzCard(f *testing.F) {
	fuzzDetector(f, Card, func(t *testing.T, m []byte) {
		d := digits(m)
		if len(d) < 13 || len(d) > 19 || !luhn(d) || !cardIssuer(d) {
			t.Fatalf("card %q", m)
		}
	})
}

func FuzzEmail(f *testing.F) {
	fuzzDetector(f, Email, func(t *testing.T, m []byte) {
		at := bytes.LastIndexByte(m, '@')
		if at <= 0 || domainEnd(m, at+1) != len(m) || !utf8.Valid(m) {
			t.Fatalf("email %q", m)
		}
	})
}

func FuzzSSN(f *testing.F) {
	fuzzDetector(f, SSN, func(t *testing.T, m []byte) {
		if d := digits(m); len(d) != 9 || !ssnValid(d) {
			t.Fatalf("ssn %q", m)
		}
	})
}

func FuzzIBAN(f *testing.F) {
	fuzzDetector(f, IBAN, func(t *testing.T, m []byte) {
		s := bytes.ReplaceAll(m, []byte(" "), nil)
		if want, ok := ibanLengths[[2]byte{s[0], s[1]}]; !ok || len(s) != int(want) || !mod97(s) {
			t.Fatalf("iban %q", m)
		}
	})
}

func FuzzPhone(f *testing.F) {
	fuzzDetector(f, Phone, func(t *testing.T, m []byte) {
		if d := digits(m); len(d) < minPhoneDigits || len(d) > maxPhoneDigits {
			t.Fatalf("phone %q", m)
		}
	})
}

func FuzzSecrets(f *testing.F) {
	for _, s := range []string{"-----BEGIN PRIVATE KEY-----\nAAAA", "secret=" + strings.Repeat("aB3/", 10), "eyJ" + strings.Repeat("a", 10) + ".eyJ" + strings.Repeat("b", 10) + "."} {
		f.Add([]byte(s))
	}
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	sc := scanner(f, Config{Detectors: Secrets})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range checkScan(t, sc, data, Text) {
			m := data[s.Start:s.End]
			switch s.Detector {
			case PrivateKey:
				if !bytes.HasPrefix(m, pemBegin) || !bytes.Contains(m, pemKey) {
					t.Fatalf("private key %q", m)
				}
			case AWSKey, JWT, APIToken:
				if len(m) < 15 {
					t.Fatalf("%v %q too short", s.Detector, m)
				}
			default:
				t.Fatalf("%v is no secret detector", s.Detector)
			}
		}
	})
}

func FuzzIP(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add([]byte(s))
	}
	sc := scanner(f, Config{Detectors: Of(IPv4, IPv6)})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range checkScan(t, sc, data, Text) {
			a, err := netip.ParseAddr(string(data[s.Start:s.End]))
			if err != nil || a.Is4() != (s.Detector == IPv4) {
				t.Fatalf("%v %q: %v", s.Detector, data[s.Start:s.End], err)
			}
		}
	})
}
