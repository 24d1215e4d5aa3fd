package policy

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// errLineRE is the start of every error line Parse produces: the file
// name, a line number unless the YAML library gave none, and a colon.
var errLineRE = regexp.MustCompile(`^fuzz\.yaml(:[1-9][0-9]*)?: `)

// fuzzStatements are decided against every policy set the fuzzer finds
// valid.
var fuzzStatements = []*sqlclass.Statement{
	selectOne, selectSales, selectJoinHR, insertProdAndStaging, deleteProd, doBlock, garbage,
	call("lower", "public.drop_all"), nil,
}

func FuzzParse(f *testing.F) {
	examples, err := filepath.Glob("../../policies/*.yaml")
	if err != nil || len(examples) == 0 {
		f.Fatalf("no examples: %v", err)
	}
	for _, name := range examples {
		if !isPolicyFile(filepath.Base(name)) {
			continue // a policy test file
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data, testKnown)
		if err == nil {
			if s == nil {
				t.Fatal("nil set and nil error")
			}
			for _, p := range s.Policies() {
				if p.Name == "" || len(p.identities) == 0 || len(p.targets) == 0 || !(p.Default.Valid() || p.Default == Abstain) {
					t.Fatalf("accepted an incomplete policy %+v", p)
				}
				for _, r := range p.Rules {
					if r.Name == "" || !r.Action.Valid() {
						t.Fatalf("accepted an incomplete rule %+v", r)
					}
				}
			}
			for _, id := range append(testKnown.Identities, "stranger") {
				checkFuzzMasking(t, s, id)
				for _, st := range fuzzStatements {
					d := s.Decide(pg(id, "orders-db", st))
					if !d.Action.Valid() || (d.Action != Allow && d.Message == "") {
						t.Fatalf("decision %+v", d)
					}
					if d.Masking != s.Masking(id, "orders-db") {
						t.Fatalf("decision masking %p, pair masking %p", d.Masking, s.Masking(id, "orders-db"))
					}
					if d.Shadow != nil && !d.Shadow.Action.Stricter(d.Action) {
						t.Fatalf("shadow %+v not stricter than %+v", d.Shadow, d)
					}
				}
			}
			again, err := Parse("fuzz.yaml", data, testKnown)
			if err != nil || again.Version() != s.Version() {
				t.Fatalf("second parse: %v, version %q then %q", err, s.Version(), again.Version())
			}
			return
		}
		if s != nil {
			t.Fatal("set returned along with an error")
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not match ErrInvalid: %v", err)
		}
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("error is not joined: %T", err)
		}
		for _, e := range j.Unwrap() {
			var pe *Error
			if !errors.As(e, &pe) {
				t.Fatalf("error %T is not an *Error: %v", e, e)
			}
			if pe.Line == 0 && !errors.Is(pe, ErrSyntax) {
				t.Fatalf("error without a line: %v", pe)
			}
			if s := pe.Error(); !errLineRE.MatchString(s) || strings.Contains(s, "\n") {
				t.Fatalf("malformed error line: %q", s)
			}
		}
	})
}

// fuzzKey is a hash key for the maskers the fuzzer builds.
var fuzzKey, _ = mask.NewKey([]byte("fuzz-key-0123456789"))

// checkFuzzMasking checks the masking of id on orders-db: present exactly
// when an enforced policy covering the pair has a masking: block, and one
// the inspector can build a masker from.
func checkFuzzMasking(t *testing.T, s *Set, id string) {
	m := s.Masking(id, "orders-db")
	var want []string
	for _, p := range s.Policies() {
		if p.Enforce && p.Masking != nil && p.covers(id, "orders-db") {
			want = append(want, p.Name)
		}
	}
	if m == nil {
		if len(want) > 0 {
			t.Fatalf("no masking, want that of %v", want)
		}
		return
	}
	if !slices.Equal(m.Policies, want) {
		t.Fatalf("masking of %v, want %v", m.Policies, want)
	}
	if m.Detectors == 0 && len(m.Columns) == 0 && m.Whole == 0 {
		t.Fatalf("masking masks nothing: %+v", m)
	}
	if _, err := mask.New(mask.Config{Detectors: m.Detectors, Strategy: m.Strategy, Strategies: m.Strategies, Region: m.Region, Key: fuzzKey}); err != nil {
		t.Fatalf("masking %+v: %v", m, err)
	}
	for _, c := range m.Columns {
		if (c.Strategy == 0) == (c.Hint == 0) || c.Match == "" || c.Policy == "" {
			t.Fatalf("column rule %+v", c)
		}
	}
}
