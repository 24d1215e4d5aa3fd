// Package hostkey holds the host's ed25519 signing key: the key that signs
// the heads of recordings and of the host-level head log.
//
// The private key is a PEM PKCS#8 file, mode 0600, generated on first use;
// beside it, PATH.pub holds the public key in its text form
// ("ed25519:" followed by the standard base64 of the 32-byte key), mode
// 0644, so that readers that may not read the private key can still verify.
// A private key file that group or others may read or write is refused.
package hostkey

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrPermissions is matched (errors.Is) when a private key file is
// accessible to group or others.
var ErrPermissions = errors.New("host key file is accessible to group or others")

// ErrMalformed is matched (errors.Is) when a key file or key text cannot
// be parsed.
var ErrMalformed = errors.New("malformed host key")

// textPrefix starts the text form of a public key.
const textPrefix = "ed25519:"

// Public is an ed25519 public key.
type Public struct {
	k ed25519.PublicKey
}

// String returns the text form, "ed25519:" and the base64 of the key.
func (p Public) String() string {
	if len(p.k) == 0 {
		return ""
	}
	return textPrefix + base64.StdEncoding.EncodeToString(p.k)
}

// ID returns a short identifier of the key: the first 8 bytes of its
// SHA-256, in hex.
func (p Public) ID() string {
	s := sha256.Sum256(p.k)
	return hex.EncodeToString(s[:8])
}

// IsZero reports whether p holds no key.
func (p Public) IsZero() bool { return len(p.k) == 0 }

// Verify reports whether sig is p's signature of msg.
func (p Public) Verify(msg, sig []byte) bool {
	return len(p.k) == ed25519.PublicKeySize && len(sig) == ed25519.SignatureSize && ed25519.Verify(p.k, msg, sig)
}

// ParsePublic parses the text form of a public key.
func ParsePublic(s string) (Public, error) {
	s = strings.TrimSpace(s)
	b64, ok := strings.CutPrefix(s, textPrefix)
	if !ok {
		return Public{}, fmt.Errorf("%w: a public key starts with %q", ErrMalformed, textPrefix)
	}
	k, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return Public{}, fmt.Errorf("%w: not the base64 of a 32-byte ed25519 key", ErrMalformed)
	}
	return Public{k: ed25519.PublicKey(k)}, nil
}

// ReadPublic reads a public key file (the PATH.pub written beside a
// private key).
func ReadPublic(path string) (Public, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Public{}, fmt.Errorf("host public key: %w", err)
	}
	p, err := ParsePublic(string(b))
	if err != nil {
		return Public{}, fmt.Errorf("host public key %s: %w", path, err)
	}
	return p, nil
}

// Key is a private signing key.
type Key struct {
	priv ed25519.PrivateKey
	pub  Public
}

// Public returns the key's public half.
func (k *Key) Public() Public { return k.pub }

// Sign signs msg. Callers start msg with a text naming what is signed, so
// that a signature of one kind of message is never valid as another.
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Generate returns a new key held in memory only.
func Generate() (*Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{priv: priv, pub: Public{k: pub}}, nil
}

// Load reads the private key at path.
func Load(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("host key %s: %w (mode %#o); chmod 600 it", path, ErrPermissions, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("host key %s: %w: not a PEM PRIVATE KEY", path, ErrMalformed)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w: %w", path, ErrMalformed, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("host key %s: %w: not an ed25519 key", path, ErrMalformed)
	}
	return &Key{priv: priv, pub: Public{k: priv.Public().(ed25519.PublicKey)}}, nil
}

// LoadOrCreate loads the private key at path, generating it first (mode
// 0600, its directory 0700) if the file does not exist. Either way it
// (re)writes path+".pub" when that file is missing or differs.
func LoadOrCreate(path string) (*Key, error) {
	k, err := Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = create(path)
		if errors.Is(err, fs.ErrExist) {
			k, err = Load(path) // created meanwhile by another process
		}
	}
	if err != nil {
		return nil, err
	}
	if err := writePublic(path+".pub", k.pub); err != nil {
		return nil, err
	}
	return k, nil
}

func create(path string) (*Key, error) {
	k, err := Generate()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	_, err = f.Write(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("host key: %w", err)
	}
	return k, nil
}

func writePublic(path string, p Public) error {
	want := p.String() + "\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == want {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
		return fmt.Errorf("host public key: %w", err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil { // whatever the umask
		os.Remove(tmp)
		return fmt.Errorf("host public key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("host public key: %w", err)
	}
	return nil
}
