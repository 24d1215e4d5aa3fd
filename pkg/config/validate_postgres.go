package config

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// postgres checks a target's postgres mapping.
func (v *validator) postgres(item string, t *Target) {
	base := item + ".postgres"
	if t.Protocol != ProtocolPostgres {
		if v.present(base) && !v.skip(base) {
			v.errorf(base, "only a target with protocol postgres has a postgres mapping (this one is %q)", t.Protocol)
		}
		t.Postgres = Postgres{}
		return
	}
	p := &t.Postgres
	oneOf(v, base+".auth", p.Auth, AuthPassthrough, AuthInject, AuthOIDC)
	oneOf(v, base+".tls", p.TLS, TLSDisable, TLSRequire, TLSVerifyFull)
	v.absPath(base+".ca_file", &p.CAFile, true)
	v.absPath(base+".client_tls.cert_file", &p.ClientTLS.CertFile, true)
	v.absPath(base+".client_tls.key_file", &p.ClientTLS.KeyFile, true)
	if (p.ClientTLS.CertFile == "") != (p.ClientTLS.KeyFile == "") && !v.skip(base+".client_tls") {
		v.errorf(base+".client_tls", "cert_file and key_file go together")
	}
	if p.TLS != TLSVerifyFull {
		for _, k := range []string{"ca_file", "server_name"} {
			if v.present(base+"."+k) && !v.skip(base+"."+k) {
				v.errorf(base+"."+k, "only used with tls: verify-full (tls is %q)", p.TLS)
			}
		}
	}
	if p.MaxMessageSize < MinMaxMessageSize || p.MaxMessageSize > MaxMaxMessageSize {
		if !v.skip(base + ".max_message_size") {
			v.errorf(base+".max_message_size", "must be between %d and %d bytes, got %d",
				MinMaxMessageSize, MaxMaxMessageSize, p.MaxMessageSize)
		}
	}
	if p.MaxStatementSize < MinMaxStatementSize || p.MaxStatementSize > MaxMaxStatementSize {
		if !v.skip(base + ".max_statement_size") {
			v.errorf(base+".max_statement_size", "must be between %d and %d bytes, got %d",
				MinMaxStatementSize, MaxMaxStatementSize, p.MaxStatementSize)
		}
	}
	for i, s := range p.SearchPath {
		if strings.TrimSpace(s) == "" && !v.skip(fmt.Sprintf("%s.search_path[%d]", base, i)) {
			v.errorf(fmt.Sprintf("%s.search_path[%d]", base, i), "empty schema name")
		}
	}
	if v.present(base+".dangerous_functions") && p.DangerousFunctions == nil {
		p.DangerousFunctions = []string{} // written as []: no function is dangerous
	}
	for i, g := range p.DangerousFunctions {
		k := fmt.Sprintf("%s.dangerous_functions[%d]", base, i)
		if v.skip(k) {
			continue
		}
		if _, err := path.Match(g, ""); err != nil || g == "" || strings.HasSuffix(g, ".") || strings.HasPrefix(g, ".") {
			v.errorf(k, "invalid function glob %q: write name or schema.name (globs allowed)", g)
		}
	}
	v.requireAuth(base, p)
	v.channelBinding(base, p)
	if p.Auth.Injects() && p.User != "" && !v.skip(base+".user") {
		v.errorf(base+".user", "not used with auth: %s; the upstream user is credentials.username", p.Auth)
	}
	if p.Auth == AuthOIDC && !v.skip(base+".auth") && !slices.ContainsFunc(v.c.OIDC.Issuers, func(is OIDCIssuer) bool { return is.Identity != "" }) {
		v.errorf(base+".auth", "auth: oidc needs an oidc issuer with an identity template (oidc.issuers[].identity): the token's identity comes from it")
	}
	v.credentials(base, p)
}

// requireAuth checks the methods an inject target accepts from its
// upstream.
func (v *validator) requireAuth(base string, p *Postgres) {
	k := base + ".require_auth"
	if !v.present(k) || v.skip(k) {
		return
	}
	if !p.Auth.Injects() {
		v.errorf(k, "only used when sluice logs in upstream (auth: inject or oidc); with auth: %s the client authenticates itself: set require_auth in its connection string", p.Auth)
		return
	}
	if len(p.RequireAuth) == 0 {
		v.errorf(k, "empty: list the methods to accept, or leave require_auth out to accept any")
	}
	for i, m := range p.RequireAuth {
		ki := fmt.Sprintf("%s[%d]", k, i)
		switch {
		case v.skip(ki):
		case !slices.Contains([]string{UpstreamAuthPassword, UpstreamAuthMD5, UpstreamAuthSCRAM, UpstreamAuthNone}, m):
			v.errorf(ki, "unknown method %q: want password, md5, scram-sha-256 or none", m)
		case slices.Index(p.RequireAuth, m) < i:
			v.errorf(ki, "%q is listed twice", m)
		}
	}
}

// channelBinding checks postgres.channel_binding.
func (v *validator) channelBinding(base string, p *Postgres) {
	k := base + ".channel_binding"
	oneOf(v, k, p.ChannelBinding, ChannelBindingPrefer, ChannelBindingRequire, ChannelBindingDisable)
	if !v.present(k) || v.skip(k) {
		return
	}
	switch {
	case !p.Auth.Injects():
		v.errorf(k, "only used when sluice logs in upstream (auth: inject or oidc); with auth: %s the client authenticates itself", p.Auth)
	case p.ChannelBinding == ChannelBindingRequire && p.TLS == TLSDisable:
		v.errorf(k, "require needs a TLS session to bind to: set tls: require or verify-full")
	case p.ChannelBinding == ChannelBindingRequire && len(p.RequireAuth) > 0 && !slices.Contains(p.RequireAuth, UpstreamAuthSCRAM):
		v.errorf(k, "require binds SCRAM, which require_auth does not accept")
	}
}

// credentials checks the upstream login of an inject target.
func (v *validator) credentials(base string, p *Postgres) {
	k := base + ".credentials"
	c := &p.Credentials
	if !p.Auth.Injects() {
		if v.present(k) && !v.skip(k) {
			v.errorf(k, "only used with auth: inject or oidc (auth is %q)", p.Auth)
		}
		return
	}
	if v.skip(k) {
		return
	}
	if !v.present(k) {
		v.errorf(base, "auth: %s needs credentials (username and one of password_env, password_file, password_command)", p.Auth)
		return
	}
	if c.Username == "" {
		v.errorf(k, `missing required key "username"`)
	}
	n := 0
	for _, set := range []bool{c.PasswordEnv != "", c.PasswordFile != "", len(c.PasswordCommand) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.errorf(k, "exactly one of password_env, password_file and password_command must be set")
	}
	v.absPath(k+".password_file", &c.PasswordFile, true)
	if len(c.PasswordCommand) > 0 && !strings.HasPrefix(c.PasswordCommand[0], "/") {
		v.errorf(k+".password_command", "the command must be an absolute path, got %q", c.PasswordCommand[0])
	}
}
