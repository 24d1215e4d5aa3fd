package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path"
)

// Walk calls fn for every cgroup at and under t.Root with its path
// (relative to the mount) and id, parents before children and siblings in
// name order. Cgroups that vanish during the walk are skipped silently; a
// missing Root is an error. If fn returns fs.SkipDir the cgroup's children
// are skipped; fs.SkipAll ends the walk early with a nil error; any other
// error ends the walk and is returned.
func (t *Tree) Walk(fn func(path string, id uint64) error) error {
	id, err := ID(t.Dir(t.Root))
	if err != nil {
		return err
	}
	err = t.walk(clean(t.Root), id, fn)
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

func (t *Tree) walk(p string, id uint64, fn func(string, uint64) error) error {
	if err := fn(p, id); err != nil {
		if errors.Is(err, fs.SkipDir) {
			return nil
		}
		return err
	}
	ents, err := os.ReadDir(t.Dir(p))
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		cp := path.Join(p, e.Name())
		cid, err := ID(t.Dir(cp))
		if err != nil {
			if gone(err) {
				continue
			}
			return err
		}
		if err := t.walk(cp, cid, fn); err != nil {
			return err
		}
	}
	return nil
}
