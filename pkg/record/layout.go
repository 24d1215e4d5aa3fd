package record

import (
	"path"
	"strings"
	"time"
)

// Layout of a store directory:
//
//	YYYY/MM/DD/<session>.jsonl   one recording, by its start date (UTC)
//	open/<session>               marker of a recording not yet in the head log
//	log/                         the head log (package headlog)
//	lock                         held (flock) by the process that writes
const (
	dirOpen  = "open"
	dirLog   = "log"
	lockName = "lock"
	fileExt  = ".jsonl"
)

// relPath is where a session started at t is recorded, relative to the
// store.
func relPath(session string, t time.Time) string {
	return t.UTC().Format("2006/01/02") + "/" + session + fileExt
}

// sessionOfPath checks that rel has the layout of a recording path and
// returns its session id.
func sessionOfPath(rel string) (string, bool) {
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || path.Clean(rel) != rel {
		return "", false
	}
	if _, err := time.Parse("2006/01/02", strings.Join(parts[:3], "/")); err != nil {
		return "", false
	}
	id, ok := strings.CutSuffix(parts[3], fileExt)
	if !ok || !ValidSession(id) {
		return "", false
	}
	return id, true
}

// DirName is the store's directory under sluiced's state_dir.
const DirName = "recordings"

// StoreDir returns the store directory of a state_dir.
func StoreDir(stateDir string) string { return path.Join(stateDir, DirName) }
