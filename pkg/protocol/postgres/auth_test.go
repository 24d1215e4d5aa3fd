package postgres

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/config"
)

// The passwords of the auth tests: distinctive, so that a leak into an
// error message or the audit log is found.
const (
	clientPassword = "cl1ent-Pa55word-7f3a"
	injectPassword = "1nject-Pa55word-92bd"
	wrongPassword  = "wr0ng-Pa55word-c4e1"
	passwordEnv    = "SLUICE_TEST_PG_PASSWORD"
)

// authenticate answers the authentication requests a client gets, as a
// driver does with password, and returns everything received up to
// ReadyForQuery or a FATAL error.
func (c *pgClient) authenticate(user, password string) exchange {
	c.t.Helper()
	var x exchange
	var scram struct {
		bare, nonce string
		salted      []byte
		auth        string
	}
	for {
		m, err := c.receive()
		if err != nil {
			c.t.Fatalf("receive after %v: %v", x.msgs, err)
		}
		x.add(m)
		switch m := m.(type) {
		case *pgproto3.AuthenticationCleartextPassword:
			c.send(&pgproto3.PasswordMessage{Password: password})
		case *pgproto3.AuthenticationMD5Password:
			c.send(&pgproto3.PasswordMessage{Password: fakeMD5(user, password, m.Salt)})
		case *pgproto3.AuthenticationSASL:
			var b [12]byte
			_, _ = rand.Read(b[:])
			scram.nonce = base64.RawStdEncoding.EncodeToString(b[:])
			scram.bare = "n=,r=" + scram.nonce
			c.send(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,," + scram.bare)})
		case *pgproto3.AuthenticationSASLContinue:
			serverFirst := string(m.Data)
			salt, err := base64.StdEncoding.DecodeString(scramAttr(serverFirst, "s"))
			if err != nil {
				c.t.Fatalf("server-first %q: %v", serverFirst, err)
			}
			scram.salted, err = pbkdf2.Key(sha256.New, password, salt, fakeSCRAMIterations, sha256.Size)
			if err != nil {
				c.t.Fatal(err)
			}
			withoutProof := "c=biws,r=" + scramAttr(serverFirst, "r")
			scram.auth = scram.bare + "," + serverFirst + "," + withoutProof
			clientKey := fakeHMAC(scram.salted, "Client Key")
			stored := sha256.Sum256(clientKey)
			sig := fakeHMAC(stored[:], scram.auth)
			for i := range clientKey {
				clientKey[i] ^= sig[i]
			}
			c.send(&pgproto3.SASLResponse{Data: []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(clientKey))})
		case *pgproto3.AuthenticationSASLFinal:
			want := "v=" + base64.StdEncoding.EncodeToString(fakeHMAC(fakeHMAC(scram.salted, "Server Key"), scram.auth))
			if string(m.Data) != want {
				c.t.Errorf("server signature %q, want %q", m.Data, want)
			}
		case *pgproto3.ErrorResponse:
			if m.Severity == "FATAL" {
				return x
			}
		case *pgproto3.ReadyForQuery:
			return x
		}
	}
}

// checkNoSecrets fails if a password appears in what the client received
// or in the audit log.
func checkNoSecrets(t *testing.T, e *testEnv, x exchange, secrets ...string) {
	t.Helper()
	logText := e.audit.String()
	for _, s := range secrets {
		if strings.Contains(logText, s) {
			t.Errorf("the audit log contains the password %q", s)
		}
		for _, er := range x.errs {
			if strings.Contains(er.Message+er.Detail+er.Hint, s) {
				t.Errorf("error %q contains the password %q", er.Message, s)
			}
		}
	}
}

func TestPassthroughAuth(t *testing.T) {
	alice := func(auth fakeAuth, mechs ...string) fakeOptions {
		return fakeOptions{auth: auth, user: "alice", password: clientPassword, mechanisms: mechs}
	}
	sasl := []string{"AuthenticationSASL SCRAM-SHA-256", "AuthenticationSASLContinue", "AuthenticationSASLFinal"}
	tests := []struct {
		name          string
		fake          fakeOptions
		password      string // the client's
		want          []string
		wantErr       string
		wantPasswords []string // password messages the server got
	}{
		{
			name: "trust",
			fake: alice(authTrust),
			want: loginOK,
		},
		{
			name:          "cleartext password relayed",
			fake:          alice(authCleartext),
			password:      clientPassword,
			want:          append([]string{"AuthenticationCleartextPassword"}, loginOK...),
			wantPasswords: []string{clientPassword},
		},
		{
			name:          "wrong cleartext password",
			fake:          alice(authCleartext),
			password:      wrongPassword,
			want:          []string{"AuthenticationCleartextPassword", "ErrorResponse FATAL 28P01"},
			wantErr:       `password authentication failed for user "alice"`,
			wantPasswords: []string{wrongPassword},
		},
		{
			name:     "MD5 relayed",
			fake:     alice(authMD5),
			password: clientPassword,
			want:     append([]string{"AuthenticationMD5Password"}, loginOK...),
		},
		{
			name:     "wrong MD5 password",
			fake:     alice(authMD5),
			password: wrongPassword,
			want:     []string{"AuthenticationMD5Password", "ErrorResponse FATAL 28P01"},
			wantErr:  "password authentication failed",
		},
		{
			name:     "SCRAM relayed",
			fake:     alice(authSCRAM),
			password: clientPassword,
			want:     append(slices.Clone(sasl), loginOK...),
		},
		{
			name:     "SCRAM-SHA-256-PLUS removed from the offer",
			fake:     alice(authSCRAM, "SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"),
			password: clientPassword,
			want:     append(slices.Clone(sasl), loginOK...),
		},
		{
			name:     "wrong SCRAM password",
			fake:     alice(authSCRAM),
			password: wrongPassword,
			want:     []string{"AuthenticationSASL SCRAM-SHA-256", "AuthenticationSASLContinue", "ErrorResponse FATAL 28P01"},
			wantErr:  "password authentication failed",
		},
		{
			name:    "only channel binding offered",
			fake:    alice(authSCRAM, "SCRAM-SHA-256-PLUS"),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "no SASL mechanism sluice can relay",
		},
		{
			name:    "GSSAPI",
			fake:    alice(authGSS),
			want:    []string{"ErrorResponse FATAL 0A000"},
			wantErr: "not supported",
		},
		{
			name: "error after authentication is relayed once",
			fake: fakeOptions{afterAuth: &pgproto3.ErrorResponse{
				Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "3D000", Message: `database "app" does not exist`,
			}},
			want:    []string{"AuthenticationOk", "ErrorResponse FATAL 3D000"},
			wantErr: `database "app" does not exist`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{fake: tt.fake})
			c := e.serve(testSession("sess-1"))
			c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "app"}})
			x := c.authenticate("alice", tt.password)
			if tt.wantErr != "" {
				// Nothing follows a FATAL error: not a second copy either.
				more := c.untilClosed()
				x.msgs = append(x.msgs, more.msgs...)
			}
			if !slices.Equal(x.msgs, tt.want) {
				t.Fatalf("received %v, want %v (errors %v)", x.msgs, tt.want, x.errs)
			}
			if !strings.Contains(x.errMessage(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", x.errMessage(), tt.wantErr)
			}
			if got := e.fake.passwordMessages(); tt.wantPasswords != nil && !slices.Equal(got, tt.wantPasswords) {
				t.Errorf("server got passwords %q, want %q", got, tt.wantPasswords)
			}
			outcome := "success"
			if tt.wantErr != "" {
				outcome = "failure"
				c.wait()
			} else {
				c.terminate()
			}
			checkEvents(t, e.audit.events(t, audit.DBLogin), []fields{{"outcome": outcome, "auth": "passthrough", "user": "alice"}})
			checkNoSecrets(t, e, x, clientPassword, wrongPassword)
		})
	}
}

// TestPassthroughAuthBadClientAnswer: a client that answers a password
// request with another message is refused.
func TestPassthroughAuthBadClientAnswer(t *testing.T) {
	e := newEnv(t, envOptions{fake: fakeOptions{auth: authCleartext, password: clientPassword}})
	c := e.serve(testSession("sess-1"))
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
	if m, err := c.receive(); err != nil || summarize(m) != "AuthenticationCleartextPassword" {
		t.Fatalf("received %v, %v", m, err)
	}
	c.send(&pgproto3.Query{String: "SELECT 1"})
	x := c.untilClosed()
	if !slices.Equal(x.msgs, []string{"ErrorResponse FATAL 08P01"}) || !strings.Contains(x.errMessage(), "expected a password message") {
		t.Errorf("received %v %q", x.msgs, x.errMessage())
	}
	if got := e.fake.received(); len(got) != 0 {
		t.Errorf("upstream received %v", got)
	}
}

func TestInjectAuth(t *testing.T) {
	svc := func(auth fakeAuth) fakeOptions {
		return fakeOptions{auth: auth, user: "svc", password: injectPassword}
	}
	unset := "\x00unset"
	tests := []struct {
		name    string
		fake    fakeOptions
		env     string   // the password variable's value
		require []string // postgres.require_auth
		binding config.PGChannelBinding
		want    []string
		wantErr []string // substrings of the FATAL's message
	}{
		{name: "MD5", fake: svc(authMD5), env: injectPassword, want: loginOK},
		{name: "SCRAM", fake: svc(authSCRAM), env: injectPassword, want: loginOK},
		{name: "SCRAM with channel binding offered", fake: fakeOptions{auth: authSCRAM, user: "svc", password: injectPassword, mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}, env: injectPassword, want: loginOK},
		{name: "cleartext over loopback", fake: svc(authCleartext), env: injectPassword, want: loginOK},
		{
			name: "cleartext over an unencrypted non-loopback connection",
			fake: fakeOptions{auth: authCleartext, user: "svc", password: injectPassword, transport: overPipe},
			env:  injectPassword, want: []string{"ErrorResponse FATAL 0A000"},
			wantErr: []string{"cleartext password over an unencrypted connection"},
		},
		{name: "trust needs no password", fake: svc(authTrust), env: unset, want: loginOK},
		{
			name: "wrong password with MD5", fake: svc(authMD5), env: wrongPassword,
			want:    []string{"ErrorResponse FATAL 28P01"},
			wantErr: []string{`target "pg"`, `as "svc"`, "password authentication failed"},
		},
		{
			name: "wrong password with SCRAM", fake: svc(authSCRAM), env: wrongPassword,
			want:    []string{"ErrorResponse FATAL 28P01"},
			wantErr: []string{`target "pg"`, `as "svc"`, "password authentication failed"},
		},
		{
			name: "password variable not set", fake: svc(authMD5), env: unset,
			want:    []string{"ErrorResponse FATAL 57P03"},
			wantErr: []string{`target "pg"`, passwordEnv, "not set"},
		},
		{
			name: "password variable empty", fake: svc(authSCRAM), env: "",
			want:    []string{"ErrorResponse FATAL 57P03"},
			wantErr: []string{`target "pg"`, "empty"},
		},
		{name: "require_auth scram-sha-256: SCRAM", fake: svc(authSCRAM), env: injectPassword, require: []string{"scram-sha-256"}, want: loginOK},
		{
			name: "require_auth scram-sha-256: MD5 refused", fake: svc(authMD5), env: injectPassword, require: []string{"scram-sha-256"},
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{`refuses to log in to target "pg"`, "asks for an MD5 password", "require_auth", "accepts only scram-sha-256"},
		},
		{
			name: "require_auth scram-sha-256: trust refused", fake: svc(authTrust), env: injectPassword, require: []string{"scram-sha-256"},
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{"without asking for a password (trust)", "accepts only scram-sha-256"},
		},
		{
			name: "require_auth md5, scram-sha-256: cleartext refused", fake: svc(authCleartext), env: injectPassword, require: []string{"md5", "scram-sha-256"},
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{"asks for a cleartext password", "accepts only md5, scram-sha-256"},
		},
		{
			name: "channel_binding require: SCRAM without TLS refused", fake: svc(authSCRAM), env: injectPassword, binding: config.ChannelBindingRequire,
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{"channel_binding: require", "no TLS session to bind to"},
		},
		{
			name: "channel_binding require: MD5 refused", fake: svc(authMD5), env: injectPassword, binding: config.ChannelBindingRequire,
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{"channel_binding: require", "without SCRAM"},
		},
		{
			name: "channel_binding require: trust refused", fake: svc(authTrust), env: injectPassword, binding: config.ChannelBindingRequire,
			want:    []string{"ErrorResponse FATAL 28000"},
			wantErr: []string{"channel_binding: require", "trust"},
		},
		{name: "channel_binding disable: SCRAM", fake: svc(authSCRAM), env: injectPassword, binding: config.ChannelBindingDisable, want: loginOK},
		{name: "require_auth none: trust", fake: svc(authTrust), env: unset, require: []string{"none"}, want: loginOK},
		{name: "require_auth md5, scram-sha-256: MD5", fake: svc(authMD5), env: injectPassword, require: []string{"md5", "scram-sha-256"}, want: loginOK},
		{
			name: "error after authentication is relayed once",
			fake: fakeOptions{auth: authMD5, user: "svc", password: injectPassword, afterAuth: &pgproto3.ErrorResponse{
				Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "3D000", Message: `database "app" does not exist`,
			}},
			env:     injectPassword,
			want:    []string{"AuthenticationOk", "ErrorResponse FATAL 3D000"},
			wantErr: []string{`database "app" does not exist`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// t.Setenv: not parallel.
			t.Setenv(passwordEnv, "")
			if tt.env == unset {
				os.Unsetenv(passwordEnv)
			} else {
				t.Setenv(passwordEnv, tt.env)
			}
			e := newEnv(t, envOptions{
				pg: config.Postgres{
					Auth:           config.AuthInject,
					Credentials:    config.Credentials{Username: "svc", PasswordEnv: passwordEnv},
					RequireAuth:    tt.require,
					ChannelBinding: tt.binding,
				},
				fake: tt.fake,
			})
			c := e.serve(testSession("sess-1"))
			c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "app"}})
			// The client has no password to give: any request for one
			// fails the test in authenticate.
			x := c.authenticate("alice", "")
			failed := len(tt.wantErr) > 0
			if failed {
				more := c.untilClosed()
				x.msgs = append(x.msgs, more.msgs...)
			}
			if !slices.Equal(x.msgs, tt.want) {
				t.Fatalf("received %v, want %v (errors %v)", x.msgs, tt.want, x.errs)
			}
			for _, sub := range tt.wantErr {
				if !strings.Contains(x.errMessage(), sub) {
					t.Errorf("error %q does not contain %q", x.errMessage(), sub)
				}
			}
			if got := e.fake.startupParams(); len(got) == 1 && got[0]["user"] != "svc" {
				t.Errorf("upstream user %q, want svc", got[0]["user"])
			}
			for _, pw := range e.fake.passwordMessages() {
				if pw == injectPassword && tt.fake.auth != authCleartext {
					t.Errorf("the password went upstream in clear")
				}
			}
			if (tt.require != nil || tt.binding == config.ChannelBindingRequire) && failed && len(e.fake.passwordMessages()) > 0 {
				t.Errorf("an answer went to a method require_auth refuses: %d password messages", len(e.fake.passwordMessages()))
			}
			if failed {
				c.wait()
				checkEvents(t, e.audit.events(t, audit.DBLogin), []fields{{"outcome": "failure", "auth": "inject", "client_user": "alice", "user": "svc"}})
			} else {
				runSteps(t, e, c, []step{q("SELECT 1", "RowDescription", "DataRow 1", "CommandComplete SELECT 1", "ReadyForQuery I")})
				c.terminate()
				checkEvents(t, e.audit.events(t, audit.DBLogin), []fields{{"outcome": "success", "auth": "inject", "client_user": "alice", "user": "svc", "error": "-"}})
				checkEvents(t, e.audit.events(t, audit.DBQuery), []fields{{"user": "svc", "statement": "SELECT 1"}})
			}
			checkNoSecrets(t, e, x, injectPassword, wrongPassword)
		})
	}
}
