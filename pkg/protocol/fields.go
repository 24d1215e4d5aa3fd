package protocol

import "github.com/rs/zerolog"

// Fields adds to e the fields every event about the session carries:
// session id, identity, kernel attribution, destination and target.
func (s *Session) Fields(e *zerolog.Event) *zerolog.Event {
	a := s.Attribution
	e = e.Str("session", s.ID).Str("identity", s.Identity).
		Uint32("pid", a.PID).Str("comm", a.Comm).Str("exe", a.Exe).
		Uint32("uid", a.UID).Uint32("gid", a.GID).Str("cgroup", a.Cgroup).
		Str("dst", s.Dst.String()).Str("target", s.Target)
	if a.Unit != "" {
		e = e.Str("unit", a.Unit)
	}
	return e
}
