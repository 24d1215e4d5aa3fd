// Package statefile writes and reads the daemon's small state files in
// state_dir (approval grants, OIDC bindings): written atomically with mode
// 0600, so a crash leaves the old file or the new one, never a mix; read
// with a size bound, without following a symbolic link, and only when the
// file is private to the daemon's user.
package statefile
