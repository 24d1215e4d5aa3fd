package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/claims"
)

// oidcExample is the configuration of docs/configuration.md#oidc.
const oidcExample = `
oidc:
  issuers:
    - name: github
      issuer: https://token.actions.githubusercontent.com
      audiences: [https://github.com/acme]
      algorithms: [RS256, ES256]
      clock_skew: 1m
      identity: "gha:{repository}@{ref}"
      required:
        repository_owner: acme
        environment: [production, staging]
      expose: [ref, environment, workflow, run_id]
    - name: corp
      issuer: https://login.example.com/oauth2/default
      audiences: [sluice-approvals]
      ca_file: /etc/sluice/tls/corp-ca.pem
      jwks_max_age: 1h
identities:
  - name: ci-runner
    match: { systemd_unit: actions-runner.service }
  - name: "gha:acme/app@refs/heads/main"
    oidc:
      issuer: github
      on_expiry: keep
      presented_by: [ci-runner]
    egress: deny
targets:
  - name: orders-db
    protocol: postgres
    address: 127.0.0.1:5432
    postgres:
      auth: oidc
      credentials: { username: deployer, password_file: /etc/sluice/secrets/orders-db }
approvals:
  http:
    listen: 127.0.0.1:9465
    issuer: corp
    groups: [dba, sre]
    user_claim: preferred_username
`

func TestOIDC(t *testing.T) {
	c, err := Parse("sluice.yaml", []byte(oidcExample))
	if err != nil {
		t.Fatal(err)
	}
	gh := c.OIDC.Issuers[0]
	if gh.Name != "github" || gh.URL != "https://token.actions.githubusercontent.com" || gh.ClockSkew != time.Minute ||
		gh.JWKSMaxAge != DefaultJWKSMaxAge || !reflect.DeepEqual(gh.Algorithms, []string{"RS256", "ES256"}) ||
		gh.Template == nil || gh.Template.String() != "gha:{repository}@{ref}" {
		t.Errorf("github issuer: %+v", gh)
	}
	wantReq := []claims.Requirement{{Path: "repository_owner", Values: []string{"acme"}}, {Path: "environment", Values: []string{"production", "staging"}}}
	if !reflect.DeepEqual(gh.Required, wantReq) || !reflect.DeepEqual(gh.Expose, []string{"ref", "environment", "workflow", "run_id"}) {
		t.Errorf("required %v, expose %v", gh.Required, gh.Expose)
	}
	corp := c.OIDC.Issuers[1]
	if corp.Template != nil || corp.Identity != "" || corp.ClockSkew != DefaultClockSkew || corp.JWKSMaxAge != time.Hour ||
		!reflect.DeepEqual(corp.Algorithms, []string{"RS256"}) || corp.CAFile != "/etc/sluice/tls/corp-ca.pem" {
		t.Errorf("corp issuer: %+v", corp)
	}
	id, _ := c.Identity("gha:acme/app@refs/heads/main")
	if !reflect.DeepEqual(id.OIDC, &IdentityOIDC{Issuer: "github", OnExpiry: ExpiryKeep, PresentedBy: []string{"ci-runner"}}) || id.Match.Kind != MatchNone {
		t.Errorf("identity oidc: %+v", id.OIDC)
	}
	if r, _ := c.Identity("ci-runner"); r.OIDC != nil {
		t.Errorf("ci-runner has oidc: %+v", r.OIDC)
	}
	if c.Targets[0].Postgres.Auth != AuthOIDC || !c.Targets[0].Postgres.Auth.Injects() {
		t.Errorf("auth %q", c.Targets[0].Postgres.Auth)
	}
	h := c.Approvals.HTTP
	if h == nil || h.Listen != "127.0.0.1:9465" || h.Issuer != "corp" || h.GroupsClaim != "groups" || h.NameClaim != "email" ||
		h.UserClaim != "preferred_username" || !reflect.DeepEqual(h.Groups, []string{"dba", "sre"}) {
		t.Errorf("approvals.http: %+v", h)
	}
	// Defaults: no oidc at all.
	def, err := Parse("sluice.yaml", []byte("identities:\n  - name: x\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(def.OIDC.Issuers) != 0 || def.Identities[0].OIDC != nil || def.Approvals.HTTP != nil {
		t.Errorf("defaults: %+v %+v", def.OIDC, def.Approvals.HTTP)
	}
	if id, _ := Parse("sluice.yaml", []byte(strings.Replace(oidcExample, "on_expiry: keep", "", 1))); id.Identities[1].OIDC.OnExpiry != ExpiryClose {
		t.Errorf("on_expiry default: %q", id.Identities[1].OIDC.OnExpiry)
	}
}

func TestOIDCErrors(t *testing.T) {
	const issuer = "oidc:\n  issuers:\n    - name: gh\n      issuer: https://token.actions.githubusercontent.com\n      audiences: [sluice]\n      identity: \"gha:{repository}@{ref}\"\n"
	tests := []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"no audiences", "oidc:\n  issuers:\n    - name: gh\n      issuer: https://x.example.com\n",
			[]wantErr{{"sluice.yaml:3: oidc.issuers[0]: ", `missing required key "audiences"`}}},
		{"plain http elsewhere", "oidc:\n  issuers:\n    - {name: gh, issuer: \"http://x.example.com\", audiences: [a]}\n",
			[]wantErr{{"sluice.yaml:3: oidc.issuers[0].issuer: ", "must be an https:// URL (http:// only for an issuer on this host)"}}},
		{"plain http on loopback", "oidc:\n  issuers:\n    - {name: gh, issuer: \"http://127.0.0.1:8080/issuer\", audiences: [a]}\n", nil},
		{"alg none", "oidc:\n  issuers:\n    - {name: gh, issuer: \"https://x\", audiences: [a], algorithms: [none]}\n",
			[]wantErr{{"sluice.yaml:3: oidc.issuers[0].algorithms[0]: ", `algorithm "none" means unsigned tokens`}}},
		{"required as a list", "oidc:\n  issuers:\n    - {name: gh, issuer: \"https://x\", audiences: [a], required: [a]}\n",
			[]wantErr{{"sluice.yaml:3: oidc.issuers[0].required: ", "expected a mapping of claim names to values"}}},
		{"identity template for a name it cannot render", issuer + "identities:\n  - name: deploy\n    oidc: {issuer: gh}\n",
			[]wantErr{{"sluice.yaml:9: identities[0].oidc.issuer: ", `no token of issuer "gh" can claim identity "deploy": its template "gha:{repository}@{ref}" never renders that name`}}},
		{"oidc and match", issuer + "identities:\n  - name: \"gha:a/b@main\"\n    match: {uid: 1000}\n    oidc: {issuer: gh}\n",
			[]wantErr{{"sluice.yaml:10: identities[0].oidc: ", "claimed with a token only; remove its match"}}},
		{"unknown issuer", issuer + "identities:\n  - name: \"gha:a/b@main\"\n    oidc: {issuer: hg}\n",
			[]wantErr{{"sluice.yaml:9: identities[0].oidc.issuer: ", `unknown issuer "hg"`}}},
		{"presented_by an unknown identity", issuer + "identities:\n  - name: \"gha:a/b@main\"\n    oidc: {issuer: gh, presented_by: [runner]}\n",
			[]wantErr{{"sluice.yaml:9: identities[0].oidc.presented_by[0]: ", `unknown identity "runner"`}}},
		{"auth oidc without issuer", "targets:\n  - name: db\n    protocol: postgres\n    address: 127.0.0.1:5432\n    postgres: {auth: oidc, credentials: {username: u, password_env: P}}\n",
			[]wantErr{{"sluice.yaml:5: targets[0].postgres.auth: ", "auth: oidc needs an oidc issuer with an identity template"}}},
		{"auth oidc without credentials", issuer + "targets:\n  - name: db\n    protocol: postgres\n    address: 127.0.0.1:5432\n    postgres: {auth: oidc}\n",
			[]wantErr{{"sluice.yaml:11: targets[0].postgres: ", "auth: oidc needs credentials"}}},
		{"approval API off loopback without tls", issuer + "approvals:\n  http: {listen: \"[::]:9465\", issuer: gh, groups: [dba]}\n",
			[]wantErr{{"sluice.yaml:8: approvals.http.listen: ", `"[::]:9465" is not a loopback address`}}},
		{"approval API with tls anywhere", issuer + "approvals:\n  http: {listen: \"[::]:9465\", issuer: gh, groups: [dba], tls: {cert_file: /a.crt, key_file: /a.key}}\n", nil},
		{"approval API without groups", issuer + "approvals:\n  http: {listen: \"127.0.0.1:9465\", issuer: gh}\n",
			[]wantErr{{"sluice.yaml:8: approvals.http: ", "groups must list the approver groups"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("sluice.yaml", []byte(tt.yaml))
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			checkErrors(t, err, tt.want)
		})
	}
}

// TestOIDCGolden checks the full report of testdata/invalid-oidc.yaml.
func TestOIDCGolden(t *testing.T) {
	_, err := Load("testdata/invalid-oidc.yaml")
	splitErrors(t, err)
	got := err.Error() + "\n"
	const golden = "testdata/invalid-oidc.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("error text differs from %s (run go test -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}
