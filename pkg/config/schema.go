package config

import "go.yaml.in/yaml/v3"

// The tables below list every key the file may hold, mapping by mapping.
// Adding a key is adding a line here (and a field to the type in types.go);
// its semantic checks go in validate.go.

func configFields(c *Config) []field {
	return []field{
		{"listen", str(&c.Listen)},
		{"listen6", str(&c.Listen6)},
		{"control_socket", str(&c.ControlSocket)},
		{"cgroup_root", str(&c.CgroupRoot)},
		{"state_dir", str(&c.StateDir)},
		{"policies", str(&c.PoliciesDir)},
		{"fail_mode", str(&c.FailMode)},
		{"exclude", list(&c.Exclude, exclusionItem)},
		{"max_sessions", u32(&c.MaxSessions)},
		{"log", object(logFields(&c.Log))},
		{"metrics", object(metricsFields(&c.Metrics))},
		{"bpf", object(bpfFields(&c.BPF))},
		{"identities", list(&c.Identities, identityItem)},
		{"targets", list(&c.Targets, targetItem)},
		{"recording", object(recordingFields(&c.Recording))},
		{"approvals", object(approvalsFields(&c.Approvals))},
		{"masking", object(maskingFields(&c.Masking))},
		{"oidc", object(oidcFields(&c.OIDC))},
	}
}

func logFields(l *Log) []field {
	return []field{
		{"format", str(&l.Format)},
		{"file", str(&l.File)},
		{"level", str(&l.Level)},
		{"max_size", byteSize(&l.MaxSize)},
		{"max_files", u32(&l.MaxFiles)},
		{"readers", object(readersFields(&l.Readers))},
	}
}

func metricsFields(m *Metrics) []field {
	return []field{
		{"listen", str(&m.Listen)},
	}
}

func bpfFields(b *BPF) []field {
	return []field{
		{"pin_dir", str(&b.PinDir)},
		{"mark", u32(&b.Mark)},
		{"map_sizes", object(mapSizesFields(&b.MapSizes))},
	}
}

// mapSizeKey names one bpf.map_sizes entry.
type mapSizeKey struct {
	key string
	v   *uint32
}

// mapSizeKeys lists the bpf.map_sizes keys; decoding and validation both
// walk it.
func mapSizeKeys(s *MapSizes) []mapSizeKey {
	return []mapSizeKey{
		{"origins", &s.Origins},
		{"tuples", &s.Tuples},
		{"tagged_cgroups", &s.TaggedCgroups},
		{"tagged_uids", &s.TaggedUIDs},
		{"exclusions", &s.Exclusions},
	}
}

func mapSizesFields(s *MapSizes) []field {
	var fields []field
	for _, k := range mapSizeKeys(s) {
		fields = append(fields, field{k.key, u32(k.v)})
	}
	return fields
}

func identityItem(d *decoder, n *yaml.Node, path string) Identity {
	id := newIdentity()
	d.mapping(n, path, identityFields(&id))
	return id
}

func identityFields(id *Identity) []field {
	return []field{
		{"name", str(&id.Name)},
		{"match", object(matchFields(&id.Match))},
		{"claimable_by", object(claimableByFields(&id.ClaimableBy))},
		{"egress", str(&id.Egress)},
		{"max_sessions", u32(&id.MaxSessions)},
		{"oidc", identityOIDC(&id.OIDC)},
	}
}

// matchFields decodes the match keys; each one present sets m.Kind, and a
// second one is reported as a conflict.
func matchFields(m *Match) []field {
	kind := func(k MatchKind, decode decodeFunc) decodeFunc {
		return func(d *decoder, n *yaml.Node, path string) {
			if m.Kind != MatchNone {
				d.fail(n, path, "%s and %s cannot both be set; a match has at most one key", m.Kind, k)
				return
			}
			m.Kind = k
			decode(d, n, path)
		}
	}
	return []field{
		{"systemd_unit", kind(MatchSystemdUnit, str(&m.SystemdUnit))},
		{"cgroup", kind(MatchCgroup, str(&m.Cgroup))},
		{"uid", kind(MatchUID, u32(&m.UID))},
	}
}

func claimableByFields(c *ClaimableBy) []field {
	return []field{
		{"uids", list(&c.UIDs, uint32Item)},
		{"gids", list(&c.GIDs, uint32Item)},
	}
}

func targetItem(d *decoder, n *yaml.Node, path string) Target {
	t := Target{Postgres: newPostgres()}
	d.mapping(n, path, targetFields(&t))
	return t
}

func targetFields(t *Target) []field {
	return []field{
		{"name", str(&t.Name)},
		{"protocol", str(&t.Protocol)},
		{"address", str(&t.Address)},
		{"postgres", object(postgresFields(&t.Postgres))},
		{"on_record_failure", str(&t.OnRecordFailure)},
	}
}

func postgresFields(p *Postgres) []field {
	return []field{
		{"auth", str(&p.Auth)},
		{"credentials", object(credentialsFields(&p.Credentials))},
		{"user", str(&p.User)},
		{"database", str(&p.Database)},
		{"tls", str(&p.TLS)},
		{"ca_file", str(&p.CAFile)},
		{"server_name", str(&p.ServerName)},
		{"client_tls", object(clientTLSFields(&p.ClientTLS))},
		{"max_message_size", u32(&p.MaxMessageSize)},
		{"max_statement_size", u32(&p.MaxStatementSize)},
		{"require_auth", list(&p.RequireAuth, stringItem)},
		{"channel_binding", str(&p.ChannelBinding)},
		{"search_path", list(&p.SearchPath, stringItem)},
		{"dangerous_functions", list(&p.DangerousFunctions, stringItem)},
	}
}

func credentialsFields(c *Credentials) []field {
	return []field{
		{"username", str(&c.Username)},
		{"password_env", str(&c.PasswordEnv)},
		{"password_file", str(&c.PasswordFile)},
		{"password_command", list(&c.PasswordCommand, stringItem)},
	}
}

func clientTLSFields(c *ClientTLS) []field {
	return []field{
		{"cert_file", str(&c.CertFile)},
		{"key_file", str(&c.KeyFile)},
	}
}

func exclusionItem(d *decoder, n *yaml.Node, path string) Exclusion {
	s, ok := d.scalarString(n, path)
	if !ok {
		return Exclusion{}
	}
	e, err := ParseExclusion(s)
	if err != nil {
		d.bad[path] = true
		d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Path: path, Msg: err.Error(), Cause: err})
	}
	return e
}
