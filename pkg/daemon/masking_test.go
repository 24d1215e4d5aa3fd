package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
)

// keySecret is the content of the test key files: it must never show in
// an error.
const keySecret = "s3cr3t-hash-key-0123456789"

func TestLoadMasking(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    string // "" for none
		key     bool
		wantErr string
	}{
		{"no key file", "", false, ""},
		{"a key", write("key", keySecret), true, ""},
		{"a key and a newline", write("key-nl", keySecret+"\r\n"), true, ""},
		{"too short", write("short", "0123456789abcde\n"), false, "hash key too short: 15 bytes, at least 16 needed"},
		{"missing", filepath.Join(dir, "missing"), false, "no such file or directory"},
		{"a directory", dir, false, "not a regular file"},
		{"a fifo", fifo, false, "not a regular file"},
		{"too large", write("large", strings.Repeat("k", maxHashKeyFile+1)), false, "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "masking:\n  catalog_ttl: 30s\n"
			if tt.file != "" {
				src += "  hash_key_file: " + tt.file + "\n"
			}
			cfg, err := config.Parse("sluice.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			m, err := loadMasking(cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "masking.hash_key_file "+tt.file+": ") {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "0123456789") {
					t.Errorf("the key shows in %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.key.IsZero() == tt.key || m.catalogTTL != 30*time.Second {
				t.Errorf("masking %+v", m)
			}
			if s := fmt.Sprintf("%v %+v %#v", m, m, m); strings.Contains(s, keySecret) {
				t.Errorf("the key prints: %s", s)
			}
		})
	}
}

// TestLoadMaskingSameKey checks that the newline is not part of the key:
// the same key hashes alike, with or without it.
func TestLoadMaskingSameKey(t *testing.T) {
	dir := t.TempDir()
	var hashes []string
	for i, content := range []string{keySecret, keySecret + "\n"} {
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse("sluice.yaml", []byte("masking: {hash_key_file: "+p+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := loadMasking(cfg)
		if err != nil {
			t.Fatal(err)
		}
		mk, err := mask.New(mask.Config{Detectors: mask.Of(mask.Email), Strategy: mask.Hash, Key: m.key})
		if err != nil {
			t.Fatal(err)
		}
		out, _ := mk.Scanner().Text(nil, []byte("bob@example.com"), mask.Context{})
		hashes = append(hashes, string(out))
	}
	if hashes[0] != hashes[1] || hashes[0] == "bob@example.com" {
		t.Errorf("hashes %q", hashes)
	}
}

// TestLoadPoliciesHashKey checks that policies using the hash strategy
// are refused without a hash key, and loaded with one.
func TestLoadPoliciesHashKey(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies")
	if err := os.Mkdir(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(pol, "pii.yaml"), []byte(`policies:
  - name: pii
    identities: [etl]
    targets: [orders-db]
    masking:
      columns: [{match: email, strategy: hash}]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	base := "policies: " + pol + "\nidentities: [{name: etl}]\ntargets: [{name: orders-db, protocol: postgres, address: 127.0.0.1:5432}]\n"
	cfg, err := config.Parse("sluice.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	_, err = loadPolicies(cfg)
	if err == nil || !strings.Contains(err.Error(), "pii.yaml:6: policies[0].masking.columns[0].strategy: the hash strategy needs a hash key") {
		t.Fatalf("error %v", err)
	}
	cfg, err = config.Parse("sluice.yaml", []byte(base+"masking: {hash_key_file: /etc/sluice/secrets/mask-key}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loadPolicies(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestCheckReadsTheKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.yaml")
	src := "policies: " + filepath.Join(dir, "policies") + "\nmasking: {hash_key_file: " + filepath.Join(dir, "missing-key") + "}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v", err)
	}
}

// TestCheckCatalogRulesNeedInject checks that sluiced --check refuses
// schema.table.column masking rules on a target with auth: passthrough,
// where sluice cannot read the catalog, and accepts them with auth:
// inject.
func TestCheckCatalogRulesNeedInject(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies")
	if err := os.Mkdir(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(pol, "pii.yaml"), []byte(`policies:
  - name: pii
    identities: [etl]
    targets: [orders-db]
    default: abstain
    masking:
      columns: [{match: public.customers.email, strategy: redact}]
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sluice.yaml")
	check := func(postgres string) error {
		src := "policies: " + pol + "\nidentities: [{name: etl}]\ntargets:\n  - name: orders-db\n    protocol: postgres\n    address: 127.0.0.1:5432\n" + postgres
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Check(path)
	}
	err = check("")
	if err == nil || !strings.Contains(err.Error(), `pii.yaml:7: policies[0].masking.columns[0].match: "public.customers.email" names a schema.table.column`) ||
		!strings.Contains(err.Error(), `covers target "orders-db" with auth: passthrough`) {
		t.Fatalf("passthrough: error %v", err)
	}
	if err := check("    postgres: {auth: inject, credentials: {username: etl, password_env: ETL_PASSWORD}}\n"); err != nil {
		t.Fatalf("inject: %v", err)
	}
}
