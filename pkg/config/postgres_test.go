package config

import (
	"reflect"
	"testing"
)

func TestPostgresTarget(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte(`
targets:
  - name: orders-db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: inject
      credentials:
        username: etl_reader
        password_file: /etc/sluice/secrets/orders-db
      database: orders
      tls: verify-full
      ca_file: /etc/ssl/orders-ca.pem
      server_name: orders-db.example
      client_tls: {cert_file: /etc/sluice/tls/cert.pem, key_file: /etc/sluice/tls/key.pem}
      max_message_size: 1048576
      max_statement_size: 262144
      require_auth: [scram-sha-256]
      channel_binding: require
      search_path: [sales, public]
      dangerous_functions: ["pg_read_*", "dblink*"]
  - name: reports-db
    protocol: postgres
    address: 127.0.0.3:5432
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Postgres{
		Auth: AuthInject,
		Credentials: Credentials{
			Username: "etl_reader", PasswordFile: "/etc/sluice/secrets/orders-db",
		},
		Database: "orders", TLS: TLSVerifyFull, CAFile: "/etc/ssl/orders-ca.pem", ServerName: "orders-db.example",
		ClientTLS:          ClientTLS{CertFile: "/etc/sluice/tls/cert.pem", KeyFile: "/etc/sluice/tls/key.pem"},
		MaxMessageSize:     1 << 20,
		MaxStatementSize:   256 << 10,
		RequireAuth:        []string{"scram-sha-256"},
		ChannelBinding:     ChannelBindingRequire,
		SearchPath:         []string{"sales", "public"},
		DangerousFunctions: []string{"pg_read_*", "dblink*"},
	}
	if got := c.Targets[0].Postgres; !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	if got, want := c.Targets[1].Postgres, newPostgres(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults: got\n%+v\nwant\n%+v", got, want)
	}
}

func TestDangerousFunctionsEmptyMeansNone(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte(`
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres: {dangerous_functions: []}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Targets[0].Postgres.DangerousFunctions; got == nil || len(got) != 0 {
		t.Errorf("dangerous_functions: [] decoded as %#v, want an empty non-nil list", got)
	}
}

func TestPostgresTargetErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{
			name: "postgres mapping on a tcp target",
			yaml: `
targets:
  - name: cache
    protocol: tcp
    address: 127.0.0.3:8081
    postgres: {auth: inject}
`,
			want: []wantErr{{"sluice.yaml:6: targets[0].postgres: ", "only a target with protocol postgres"}},
		},
		{
			name: "inject without credentials",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres: {auth: inject}
`,
			want: []wantErr{{"sluice.yaml:6: targets[0].postgres: ", "auth: inject needs credentials"}},
		},
		{
			name: "two password sources and a relative command",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: inject
      credentials:
        username: etl
        password_env: DB_PASSWORD
        password_command: [vault, read, db]
`,
			want: []wantErr{
				{"sluice.yaml:8: targets[0].postgres.credentials: ", "exactly one of password_env, password_file and password_command"},
				{"sluice.yaml:11: targets[0].postgres.credentials.password_command: ", "absolute path"},
			},
		},
		{
			name: "require_auth: unknown, twice, and with passthrough",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: inject
      credentials: {username: etl, password_env: DB_PASSWORD}
      require_auth: [scram-sha-256, gss, scram-sha-256]
  - name: other
    protocol: postgres
    address: 127.0.0.3:5432
    postgres:
      require_auth: [scram-sha-256]
  - name: empty
    protocol: postgres
    address: 127.0.0.4:5432
    postgres:
      auth: inject
      credentials: {username: etl, password_env: DB_PASSWORD}
      require_auth: []
`,
			want: []wantErr{
				{"sluice.yaml:9: targets[0].postgres.require_auth[1]: ", `unknown method "gss"`},
				{"sluice.yaml:9: targets[0].postgres.require_auth[2]: ", `"scram-sha-256" is listed twice`},
				{"sluice.yaml:14: targets[1].postgres.require_auth: ", "only used when sluice logs in upstream"},
				{"sluice.yaml:21: targets[2].postgres.require_auth: ", "empty"},
			},
		},
		{
			name: "channel_binding: unknown, with passthrough, require without TLS",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: inject
      credentials: {username: etl, password_env: DB_PASSWORD}
      channel_binding: always
  - name: other
    protocol: postgres
    address: 127.0.0.3:5432
    postgres:
      channel_binding: require
  - name: plain
    protocol: postgres
    address: 127.0.0.4:5432
    postgres:
      auth: inject
      credentials: {username: etl, password_env: DB_PASSWORD}
      channel_binding: require
`,
			want: []wantErr{
				{"sluice.yaml:9: targets[0].postgres.channel_binding: ", "always"},
				{"sluice.yaml:14: targets[1].postgres.channel_binding: ", "only used when sluice logs in upstream"},
				{"sluice.yaml:21: targets[2].postgres.channel_binding: ", "needs a TLS session"},
			},
		},
		{
			name: "credentials with passthrough",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      credentials: {username: etl, password_env: DB_PASSWORD}
`,
			want: []wantErr{{"sluice.yaml:7: targets[0].postgres.credentials: ", `only used with auth: inject or oidc (auth is "passthrough")`}},
		},
		{
			name: "bad modes, sizes and globs",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: md5
      tls: prefer
      max_message_size: 100
      dangerous_functions: ["pg_[read"]
      client_tls: {cert_file: /etc/cert.pem}
      max_statement_size: 1073741824
`,
			want: []wantErr{
				{"sluice.yaml:7: targets[0].postgres.auth: ", "must be one of passthrough, inject"},
				{"sluice.yaml:8: targets[0].postgres.tls: ", "must be one of disable, require, verify-full"},
				{"sluice.yaml:9: targets[0].postgres.max_message_size: ", "must be between"},
				{"sluice.yaml:12: targets[0].postgres.max_statement_size: ", "must be between 4096 and 67108864 bytes"},
				{"sluice.yaml:10: targets[0].postgres.dangerous_functions[0]: ", "invalid function glob"},
				{"sluice.yaml:11: targets[0].postgres.client_tls: ", "cert_file and key_file go together"},
			},
		},
		{
			name: "ca_file without verify-full",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres: {tls: require, ca_file: /etc/ca.pem}
`,
			want: []wantErr{{"sluice.yaml:6: targets[0].postgres.ca_file: ", "only used with tls: verify-full"}},
		},
		{
			name: "user with inject and an empty function glob",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres:
      auth: inject
      credentials: {username: etl, password_env: DB_PASSWORD}
      user: someone
      dangerous_functions: [""]
`,
			want: []wantErr{
				{"sluice.yaml:9: targets[0].postgres.user: ", "not used with auth: inject"},
				{"sluice.yaml:10: targets[0].postgres.dangerous_functions[0]: ", "invalid function glob"},
			},
		},
		{
			name: "misspelt key",
			yaml: `
targets:
  - name: db
    protocol: postgres
    address: 127.0.0.2:5432
    postgres: {serch_path: [public]}
`,
			want: []wantErr{{"sluice.yaml:6: targets[0].postgres: ", `unknown key "serch_path" (did you mean "search_path"?)`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("sluice.yaml", []byte(tt.yaml))
			if c != nil {
				t.Errorf("Parse returned a config along with errors")
			}
			checkErrors(t, err, tt.want)
		})
	}
}
