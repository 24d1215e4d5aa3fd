package policytest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/policies/*_test.yaml", "testdata/*.yaml", "../../../policies/*_test.yaml"} {
		names, err := filepath.Glob(glob)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz_test.yaml", data)
		if err == nil {
			if file == nil || len(file.Cases) == 0 {
				t.Fatal("no file or no case without an error")
			}
			for _, c := range file.Cases {
				if c.Name == "" || c.Identity == "" || c.Target == "" || !c.Expect.Action.Valid() {
					t.Fatalf("accepted an incomplete case %+v", c)
				}
			}
			return
		}
		if file != nil {
			t.Fatal("file returned along with an error")
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not match ErrInvalid: %v", err)
		}
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ye *yamldoc.Error
			if !errors.As(e, &ye) {
				t.Fatalf("error %T is not a *yamldoc.Error", e)
			}
			if s := ye.Error(); !strings.HasPrefix(s, "fuzz_test.yaml") || strings.Contains(s, "\n") {
				t.Fatalf("malformed error line %q", s)
			}
		}
	})
}
