package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestInvalidFiles parses each testdata/invalid-*.yaml file.
func TestInvalidFiles(t *testing.T) {
	tests := []struct {
		file string
		want []wantErr
	}{
		{"invalid-listen.yaml", []wantErr{
			{"testdata/invalid-listen.yaml:2: listen: ", "not a literal IPv4 loopback address"},
		}},
		{"invalid-identity.yaml", []wantErr{
			{"testdata/invalid-identity.yaml:6: identities[0].match.systemd_unit: ", "must end in one of"},
			{"testdata/invalid-identity.yaml:10: identities[1].match.cgroup: ", "invalid glob"},
		}},
		{"invalid-target.yaml", []wantErr{
			{"testdata/invalid-target.yaml:4: targets[0].protocol: ", `protocol "mysql" is not supported yet`},
			{"testdata/invalid-target.yaml:6: targets[1]: ", `missing required key "address"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			checkErrors(t, err, tt.want)
		})
	}
}

// TestMultiErrorGolden checks the full text of a many-error report against
// testdata/multi.golden; run with -update to rewrite it.
func TestMultiErrorGolden(t *testing.T) {
	_, err := Load("testdata/multi.yaml")
	if err == nil {
		t.Fatal("Load(multi.yaml) succeeded")
	}
	splitErrors(t, err)
	got := err.Error() + "\n"
	const golden = "testdata/multi.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
