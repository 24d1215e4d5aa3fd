// Package tcp is the plain TCP inspector: it relays bytes both ways without
// looking at them, handles half-close, and counts bytes in each direction.
// It is used for targets with `protocol: tcp` and for egress that an
// identity is allowed to make outside any target.
package tcp
