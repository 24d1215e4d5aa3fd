package config

import "fmt"

// Readers lists the uids and gids (primary or supplementary) allowed to
// follow the event stream with `sluice logs`, besides root. Events carry
// statement texts, masked but still sensitive.
type Readers struct {
	UIDs []uint32
	GIDs []uint32
}

// Defaults and bounds of the log mapping.
const (
	DefaultLogMaxSize  = 100 << 20
	DefaultLogMaxFiles = 5
	MinLogMaxSize      = 1 << 20
	MaxLogMaxFiles     = 100
)

func readersFields(r *Readers) []field {
	return []field{
		{"uids", list(&r.UIDs, uint32Item)},
		{"gids", list(&r.GIDs, uint32Item)},
	}
}

// log checks the log mapping.
func (v *validator) log() {
	l := &v.c.Log
	oneOf(v, "log.format", l.Format, LogJSON, LogText)
	oneOf(v, "log.level", l.Level, LogDebug, LogInfo, LogWarn, LogError)
	v.absPath("log.file", &l.File, true)
	if n := l.MaxSize; n != 0 && n < MinLogMaxSize && !v.skip("log.max_size") {
		v.errorf("log.max_size", "must be 0 (never rotate) or at least 1MiB, got %d bytes", n)
	}
	if l.MaxFiles > MaxLogMaxFiles && !v.skip("log.max_files") {
		v.errorf("log.max_files", "must be at most %d, got %d", MaxLogMaxFiles, l.MaxFiles)
	}
	v.ids("log.readers", l.Readers.UIDs, l.Readers.GIDs)
}

// ids checks the uids and gids lists of the mapping at p: no (uid_t)-1.
func (v *validator) ids(p string, uids, gids []uint32) {
	for _, l := range []struct {
		key, kind string
		ids       []uint32
	}{{"uids", "uid", uids}, {"gids", "gid", gids}} {
		for j, n := range l.ids {
			item := fmt.Sprintf("%s.%s[%d]", p, l.key, j)
			if n == invalidID && !v.skip(item) {
				v.errorf(item, "%d is not a valid %s", n, l.kind)
			}
		}
	}
}

// Restart reports whether the log mappings a and b differ in what only a
// restart applies: everything but the readers, which apply on reload.
func (a Log) Restart(b Log) bool {
	return a.Format != b.Format || a.File != b.File || a.Level != b.Level || a.MaxSize != b.MaxSize || a.MaxFiles != b.MaxFiles
}
