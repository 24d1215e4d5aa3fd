// Package control is the daemon's control socket: a unix stream socket
// speaking one JSON request and one JSON response per line. The caller is
// identified by the kernel (SO_PEERCRED), never by anything it says; each
// operation decides what that caller may do.
package control
