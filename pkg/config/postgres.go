package config

// Postgres is a PostgreSQL target's postgres mapping.
type Postgres struct {
	// Auth says how clients authenticate and how sluice logs in upstream.
	Auth PGAuth
	// Credentials are the upstream login for Auth inject.
	Credentials Credentials
	// User and Database, when set, replace the names the client sent in
	// the upstream startup message.
	User     string
	Database string
	// TLS is the upstream leg's TLS mode; CAFile and ServerName configure
	// verification (verify-full).
	TLS        PGTLS
	CAFile     string
	ServerName string
	// ClientTLS, when both files are set, lets clients that send an
	// SSLRequest negotiate TLS with sluice.
	ClientTLS ClientTLS
	// MaxMessageSize caps a client message (and any server message sluice
	// has to decode), in bytes.
	MaxMessageSize uint32
	// MaxStatementSize caps the query string sluice parses, in bytes; a
	// longer one is refused as unparseable.
	MaxStatementSize uint32
	// RequireAuth lists the authentication methods sluice accepts from
	// the upstream when it logs in itself (auth inject and oidc): of
	// password, md5, scram-sha-256 and none (the server asks for
	// nothing). Empty: any.
	RequireAuth []string
	// ChannelBinding says whether the SCRAM login of auth inject and
	// oidc is bound to the upstream TLS session (SCRAM-SHA-256-PLUS).
	ChannelBinding PGChannelBinding
	// SearchPath is the search_path assumed until the session sets one.
	SearchPath []string
	// DangerousFunctions replaces the classifier's list of dangerous
	// function globs when non-nil.
	DangerousFunctions []string
}

// Upstream authentication methods, as postgres.require_auth names them
// (the names of libpq's require_auth).
const (
	UpstreamAuthPassword = "password"
	UpstreamAuthMD5      = "md5"
	UpstreamAuthSCRAM    = "scram-sha-256"
	UpstreamAuthNone     = "none"
)

// PGChannelBinding is the value of postgres.channel_binding (libpq's
// channel_binding).
type PGChannelBinding string

// Channel binding modes.
const (
	// ChannelBindingPrefer binds when the connection is TLS and the server
	// offers SCRAM-SHA-256-PLUS.
	ChannelBindingPrefer PGChannelBinding = "prefer"
	// ChannelBindingRequire refuses to log in otherwise.
	ChannelBindingRequire PGChannelBinding = "require"
	// ChannelBindingDisable never binds.
	ChannelBindingDisable PGChannelBinding = "disable"
)

// PGAuth is the value of postgres.auth.
type PGAuth string

// Authentication modes.
const (
	// AuthPassthrough relays the upstream's authentication exchange.
	AuthPassthrough PGAuth = "passthrough"
	// AuthInject accepts the client on its kernel identity and logs in
	// upstream with the configured credentials.
	AuthInject PGAuth = "inject"
	// AuthOIDC asks the client for a password, accepts a valid OIDC token
	// as that password (the token's identity replaces the kernel's, when
	// the kernel's may present it), and logs in upstream with the
	// configured credentials.
	AuthOIDC PGAuth = "oidc"
)

// Injects reports whether sluice logs in upstream with the configured
// credentials (inject and oidc).
func (a PGAuth) Injects() bool { return a == AuthInject || a == AuthOIDC }

// PGTLS is the value of postgres.tls.
type PGTLS string

// Upstream TLS modes.
const (
	TLSDisable    PGTLS = "disable"     // plain TCP
	TLSRequire    PGTLS = "require"     // encrypted, certificate not verified
	TLSVerifyFull PGTLS = "verify-full" // encrypted, chain and host name verified
)

// Credentials say where the upstream password comes from: exactly one of
// PasswordEnv, PasswordFile and PasswordCommand is set. The password is
// read when a session logs in, never stored in the configuration.
type Credentials struct {
	Username        string
	PasswordEnv     string
	PasswordFile    string
	PasswordCommand []string
}

// ClientTLS is the certificate sluice presents to clients.
type ClientTLS struct {
	CertFile string
	KeyFile  string
}

// Defaults of the postgres mapping.
const (
	DefaultMaxMessageSize = 64 << 20
	MinMaxMessageSize     = 4 << 10
	MaxMaxMessageSize     = 512 << 20

	DefaultMaxStatementSize = 1 << 20
	MinMaxStatementSize     = 4 << 10
	MaxMaxStatementSize     = 64 << 20
)

// newPostgres returns the postgres mapping with its defaults applied.
func newPostgres() Postgres {
	return Postgres{
		Auth:           AuthPassthrough,
		TLS:            TLSDisable,
		ChannelBinding: ChannelBindingPrefer,
		MaxMessageSize: DefaultMaxMessageSize,

		MaxStatementSize: DefaultMaxStatementSize,
		SearchPath:       []string{"public"},
	}
}
