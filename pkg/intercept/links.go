package intercept

// LinkInfo describes one attached program.
type LinkInfo struct {
	Name   string // program name
	Attach string // attach type
	ID     uint32 // bpf_link id
	Pin    string // pin path, "" when not pinned
}

// Links lists the attached programs.
func (it *Interceptor) Links() []LinkInfo {
	var out []LinkInfo
	for _, p := range programs {
		l, ok := it.links[p.name]
		if !ok {
			continue
		}
		li := LinkInfo{Name: p.name, Attach: p.attach.String()}
		if info, err := l.Info(); err == nil {
			li.ID = uint32(info.ID)
		}
		if it.pinDir != "" {
			li.Pin = linkPin(it.pinDir, p.name)
		}
		out = append(out, li)
	}
	return out
}
