package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
)

// versionLen is the number of hex digits of a version.
const versionLen = 12

// versioner hashes policy files, name and content, in load order.
type versioner struct{ h hash.Hash }

func newVersioner() versioner { return versioner{sha256.New()} }

// add hashes one file: its base name and its content, each preceded by its
// length so that no two different sequences of files hash alike.
func (v versioner) add(name string, data []byte) {
	for _, part := range [][]byte{[]byte(name), data} {
		v.h.Write(strconv.AppendInt(nil, int64(len(part)), 10))
		v.h.Write([]byte{':'})
		v.h.Write(part)
	}
}

func (v versioner) sum() string {
	return hex.EncodeToString(v.h.Sum(nil))[:versionLen]
}

// Version returns the version of the set: the first 12 hex digits of a
// SHA-256 over the base names and contents of its files, in load order.
// The same files give the same version wherever they are.
func (s *Set) Version() string {
	if s == nil {
		return emptySet.version
	}
	return s.version
}
