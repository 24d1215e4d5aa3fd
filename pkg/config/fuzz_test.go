package config

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

// errLineRE is the start of every error line Parse produces: the file name,
// a line number unless the YAML library gave none, and a colon.
var errLineRE = regexp.MustCompile(`^fuzz\.yaml(:[1-9][0-9]*)?: `)

func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yaml", "multi.yaml", "invalid-identity.yaml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err == nil {
			if c == nil {
				t.Fatal("nil config and nil error")
			}
			if c.Listen == "" && c.Listen6 == "" {
				t.Fatal("accepted a config with no listener")
			}
			for _, id := range c.Identities {
				if id.ID == 0 || id.ID != IdentityID(id.Name) {
					t.Fatalf("identity %q has ID %#x", id.Name, id.ID)
				}
			}
			// A valid config parses to the same result when parsed again.
			if _, err := Parse("fuzz.yaml", data); err != nil {
				t.Fatalf("second parse failed: %v", err)
			}
			return
		}
		if c != nil {
			t.Fatal("config returned along with an error")
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not match ErrInvalid: %v", err)
		}
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("error is not joined: %T", err)
		}
		for _, e := range j.Unwrap() {
			var ce *Error
			if !errors.As(e, &ce) {
				t.Fatalf("error %T is not an *Error: %v", e, e)
			}
			if ce.Line == 0 && !errors.Is(ce, ErrSyntax) {
				t.Fatalf("error without a line: %v", ce)
			}
			s := ce.Error()
			if !errLineRE.MatchString(s) || strings.Contains(s, "\n") {
				t.Fatalf("malformed error line: %q", s)
			}
		}
	})
}
