package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// maxFileSize bounds the size of one policy file.
const maxFileSize = 4 << 20

// LoadDir loads every policy file of dir: the *.yaml and *.yml files,
// sorted by name, except *_test.yaml and *_test.yml (policy tests) and
// hidden files (names starting with "."). Symbolic links are followed;
// subdirectories are ignored. A missing dir gives a Set without policies,
// which denies everything. known is passed to each file's check (see
// [Known]).
//
// On failure LoadDir returns every problem found in every file, joined
// with errors.Join; each is an [*Error] and matches [ErrInvalid].
func LoadDir(dir string, known Known) (*Set, error) {
	v := newVersioner()
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return newSet(nil, v.sum()), nil
	}
	if err != nil {
		return nil, yamldoc.Join(ErrInvalid, []*Error{ioError(dir, err)})
	}
	var (
		policies []*Policy
		errs     []*Error
		byName   = map[string]*Policy{}
	)
	for _, e := range entries {
		name := e.Name()
		if !isPolicyFile(name) {
			continue
		}
		path := filepath.Join(dir, name)
		data, skip, err := readPolicyFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if skip {
			continue
		}
		v.add(name, data)
		ps, perrs := parseFile(path, data, known)
		errs = append(errs, perrs...)
		for _, p := range ps {
			if p.Name == "" {
				continue // reported already
			}
			if prev, dup := byName[p.Name]; dup {
				// Duplicates within a file are reported by parseFile.
				if prev.File != p.File {
					errs = append(errs, &Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf(
						"duplicate policy name %q (first defined at %s:%d)", p.Name, prev.File, prev.Line)})
				}
				continue
			}
			byName[p.Name] = p
		}
		policies = append(policies, ps...)
	}
	if len(errs) > 0 {
		return nil, yamldoc.Join(ErrInvalid, errs)
	}
	return newSet(policies, v.sum()), nil
}

// isPolicyFile reports whether LoadDir reads a directory entry of that
// name.
func isPolicyFile(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	for _, ext := range []string{".yaml", ".yml"} {
		if strings.HasSuffix(name, ext) {
			return !strings.HasSuffix(name, "_test"+ext)
		}
	}
	return false
}

// readPolicyFile reads a policy file, following symbolic links. skip is
// true for a directory.
func readPolicyFile(path string) (data []byte, skip bool, _ *Error) {
	// Stat before opening, so that a FIFO is refused rather than waited
	// on.
	info, err := os.Stat(path)
	if err != nil {
		return nil, false, ioError(path, err)
	}
	if info.IsDir() {
		return nil, true, nil
	}
	if !info.Mode().IsRegular() {
		return nil, false, &Error{File: path, Msg: "not a regular file"}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, ioError(path, err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, false, ioError(path, err)
	}
	if len(data) > maxFileSize {
		return nil, false, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", maxFileSize)}
	}
	return data, false, nil
}

func ioError(path string, err error) *Error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &Error{File: path, Msg: yamldoc.Safe(msg), Cause: err}
}

// Parse decodes and checks one policy file. file is the name used in
// errors and, by its base name, in the version. On failure it returns
// every problem found, joined with errors.Join; each is an [*Error] and
// matches [ErrInvalid].
func Parse(file string, data []byte, known Known) (*Set, error) {
	policies, errs := parseFile(file, data, known)
	if len(errs) > 0 {
		return nil, yamldoc.Join(ErrInvalid, errs)
	}
	v := newVersioner()
	v.add(filepath.Base(file), data)
	return newSet(policies, v.sum()), nil
}

// parseFile decodes one file.
func parseFile(file string, data []byte, known Known) ([]*Policy, []*Error) {
	root, err := yamldoc.Document(file, data, yamldoc.Messages{
		Empty:    emptyFile,
		Multiple: "more than one YAML document; a policy file holds exactly one",
	})
	if err != nil {
		return nil, []*Error{err}
	}
	d := &decoder{file: file, known: known}
	policies := d.document(root)
	return policies, d.errs
}

const emptyFile = `empty policy file (write "policies: []" for a file without policies)`
