package config

import (
	"os"
	"testing"
	"time"
)

func TestMasking(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want Masking
	}{
		{"defaults", "listen: 127.0.0.1:15001\n", Masking{CatalogTTL: DefaultCatalogTTL}},
		{"a key and a ttl", `
masking:
  hash_key_file: /etc/sluice/secrets/../secrets/mask-key
  catalog_ttl: 5m
`, Masking{HashKeyFile: "/etc/sluice/secrets/mask-key", CatalogTTL: 5 * time.Minute}},
		{"the longest ttl", "masking: {catalog_ttl: 1h}\n", Masking{CatalogTTL: time.Hour}},
		{"the shortest ttl", "masking: {catalog_ttl: 1ms}\n", Masking{CatalogTTL: time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("sluice.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Masking != tt.want {
				t.Errorf("masking %+v, want %+v", c.Masking, tt.want)
			}
		})
	}
}

func TestMaskingErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "relative key file",
			yaml: "masking:\n  hash_key_file: secrets/mask-key\n",
			want: []wantErr{{"sluice.yaml:2: masking.hash_key_file: ", `must be an absolute path, got "secrets/mask-key"`}},
		},
		{
			name: "empty key file",
			yaml: "masking: {hash_key_file: \"\"}\n",
			want: []wantErr{{"sluice.yaml:1: masking.hash_key_file: ", "must not be empty (remove the key for no hash key)"}},
		},
		{
			name: "key file not a string",
			yaml: "masking:\n  hash_key_file: [/etc/sluice/a]\n",
			want: []wantErr{{"sluice.yaml:2: masking.hash_key_file: ", "expected a string, got a list"}},
		},
		{
			name: "zero ttl",
			yaml: "masking: {catalog_ttl: 0s}\n",
			want: []wantErr{{"sluice.yaml:1: masking.catalog_ttl: ", "must be more than 0 and at most 1h0m0s, got 0s"}},
		},
		{
			name: "ttl too long",
			yaml: "masking:\n  catalog_ttl: 2d\n",
			want: []wantErr{{"sluice.yaml:2: masking.catalog_ttl: ", "must be more than 0 and at most 1h0m0s, got 48h0m0s"}},
		},
		{
			name: "ttl without a unit",
			yaml: "masking:\n  catalog_ttl: 60\n",
			want: []wantErr{{"sluice.yaml:2: masking.catalog_ttl: ", "expected a duration with a unit, such as 100ms, 12h or 30d, got integer 60"}},
		},
		{
			name: "unknown key",
			yaml: "masking:\n  hash_keyfile: /etc/sluice/secrets/mask-key\n",
			want: []wantErr{{"sluice.yaml:2: masking: ", `unknown key "hash_keyfile" (did you mean "hash_key_file"?)`}},
		},
		{
			name: "the key in the file",
			yaml: "masking:\n  hash_key_file: /etc/sluice/mask-key\n  key: 0123456789abcdef\n",
			want: []wantErr{{"sluice.yaml:3: masking: ", `unknown key "key"`}},
		},
		{
			name: "not a mapping",
			yaml: "masking: /etc/sluice/secrets/mask-key\n",
			want: []wantErr{{"sluice.yaml:1: masking: ", "expected a mapping"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("sluice.yaml", []byte(tt.yaml))
			checkErrors(t, err, tt.want)
		})
	}
}

// TestMaskingGolden checks the full report of testdata/invalid-masking.yaml.
func TestMaskingGolden(t *testing.T) {
	_, err := Load("testdata/invalid-masking.yaml")
	splitErrors(t, err)
	got := err.Error() + "\n"
	const golden = "testdata/invalid-masking.golden"
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
