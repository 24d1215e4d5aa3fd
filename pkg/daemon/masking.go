package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/mask"
)

// maxHashKeyFile bounds the size of the hash key file.
const maxHashKeyFile = 64 << 10

// maskDeps are what the inspectors need for masking, from one
// configuration: the hash key, read from masking.hash_key_file at start
// and on every reload, and the catalog TTL.
type maskDeps struct {
	key        mask.Key // zero without a key file; never printed
	catalogTTL time.Duration
}

// loadMasking reads the masking settings of cfg. Errors name the key
// file, never its content.
func loadMasking(cfg *config.Config) (maskDeps, error) {
	m := maskDeps{catalogTTL: cfg.Masking.CatalogTTL}
	path := cfg.Masking.HashKeyFile
	if path == "" {
		return m, nil
	}
	b, err := readKeyFile(path)
	if err == nil {
		m.key, err = mask.NewKey(b)
		clear(b)
	}
	if err != nil {
		return maskDeps{}, fmt.Errorf("masking.hash_key_file %s: %w", path, err)
	}
	return m, nil
}

// readKeyFile reads a key file, without its trailing newline. It is
// checked to be a regular file before it is opened, so that a FIFO is
// refused rather than waited on.
func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, bare(err)
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxHashKeyFile+1))
	switch {
	case err != nil:
		return nil, bare(err)
	case len(b) > maxHashKeyFile:
		clear(b)
		return nil, fmt.Errorf("larger than %d bytes", maxHashKeyFile)
	}
	return bytes.TrimRight(b, "\r\n"), nil
}

// bare strips the path from a file error: the caller's message names it.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
