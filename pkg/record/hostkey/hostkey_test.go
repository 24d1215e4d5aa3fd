package hostkey

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "host_key")
	k, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, path + ".pub": 0o644, filepath.Dir(path): 0o700} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %#o", p, fi.Mode().Perm(), err, want)
		}
	}
	again, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Public().String() != k.Public().String() {
		t.Error("a second LoadOrCreate made a new key")
	}
	pub, err := ReadPublic(path + ".pub")
	if err != nil || pub.String() != k.Public().String() || pub.ID() != k.Public().ID() {
		t.Errorf("ReadPublic: %v %v", pub, err)
	}
	msg := []byte("sluice recording head v1\n")
	sig := k.Sign(msg)
	if !pub.Verify(msg, sig) || pub.Verify([]byte("other"), sig) {
		t.Error("signature check")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrPermissions) {
		t.Errorf("Load of a 0644 key: %v, want ErrPermissions", err)
	}
}

func TestParsePublic(t *testing.T) {
	k, _ := Generate()
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"text form", k.Public().String(), true},
		{"with a newline", k.Public().String() + "\n", true},
		{"no prefix", k.Public().String()[len("ed25519:"):], false},
		{"short key", "ed25519:AAAA", false},
		{"not base64", "ed25519:!!!!", false},
		{"an age key", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePublic(tt.text)
			if tt.ok != (err == nil) {
				t.Fatalf("ParsePublic(%q): %v", tt.text, err)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error does not match ErrMalformed: %v", err)
			}
			if tt.ok && p.String() != k.Public().String() {
				t.Errorf("got %s", p)
			}
		})
	}
}
