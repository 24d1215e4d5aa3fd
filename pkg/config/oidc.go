package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/yamldoc"
	"go.yaml.in/yaml/v3"
)

// OIDC is the oidc mapping: the issuers whose tokens sluice accepts, for
// workload identities (identities[].oidc), PostgreSQL targets with auth:
// oidc, and the approvers of the approval HTTP API.
type OIDC struct {
	Issuers []OIDCIssuer
}

// OIDCIssuer is one trusted token issuer and how its tokens' claims map
// to identities.
type OIDCIssuer struct {
	// Name is how identities and the approval API refer to the issuer.
	Name string
	// URL is the issuer identifier (key issuer): the iss claim of its
	// tokens and the base of its discovery document.
	URL string
	// Audiences: a token's aud must hold one of them.
	Audiences []string
	// Algorithms are the signing algorithms accepted (default RS256).
	Algorithms []string
	// ClockSkew tolerates clocks ahead of ours: a token is accepted up to
	// this long before its nbf and iat. Expiry is never extended.
	ClockSkew time.Duration
	// CAFile holds PEM CA certificates for the issuer's TLS; "" uses the
	// system's.
	CAFile string
	// JWKSMaxAge is how long the issuer's keys are used before they are
	// fetched again (a key seen for the first time fetches them at once).
	JWKSMaxAge time.Duration
	// Identity is the identity name template as written ("" for an issuer
	// of approvers only) and Template its parsed form.
	Identity string
	Template *claims.Template
	// Required claim values, in file order.
	Required []claims.Requirement
	// Expose lists the claims policies (claims.NAME) and events see.
	Expose []string
}

// IdentityOIDC is an identity's oidc mapping: the identity is claimed with
// a token of Issuer whose claims render its name.
type IdentityOIDC struct {
	Issuer string
	// OnExpiry says what happens to the open sessions of a binding when
	// its token expires.
	OnExpiry OnExpiry
	// PresentedBy names the identities whose processes may log in to a
	// PostgreSQL target with auth: oidc with a token of this identity.
	PresentedBy []string
}

// OnExpiry is the value of identities[].oidc.on_expiry.
type OnExpiry string

// On-expiry behaviours.
const (
	ExpiryClose OnExpiry = "close" // open sessions end when the token expires
	ExpiryKeep  OnExpiry = "keep"  // open sessions go on; new ones are refused
)

// Defaults and bounds of the oidc mapping.
const (
	DefaultClockSkew  = 30 * time.Second
	MaxClockSkew      = 5 * time.Minute
	DefaultJWKSMaxAge = 10 * time.Minute
	MinJWKSMaxAge     = time.Minute
	MaxJWKSMaxAge     = 24 * time.Hour
	maxIssuerItems    = 64 // audiences, algorithms, required values, exposed claims
)

// SigningAlgorithms are the JWS algorithms an issuer may be trusted with:
// the asymmetric ones, verified with the keys the issuer publishes.
var SigningAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Issuer returns the issuer with the given name.
func (o *OIDC) Issuer(name string) (*OIDCIssuer, bool) {
	for i := range o.Issuers {
		if o.Issuers[i].Name == name {
			return &o.Issuers[i], true
		}
	}
	return nil, false
}

func oidcFields(o *OIDC) []field {
	return []field{{"issuers", list(&o.Issuers, issuerItem)}}
}

func issuerItem(d *decoder, n *yaml.Node, path string) OIDCIssuer {
	is := OIDCIssuer{Algorithms: []string{"RS256"}, ClockSkew: DefaultClockSkew, JWKSMaxAge: DefaultJWKSMaxAge}
	d.mapping(n, path, []field{
		{"name", str(&is.Name)},
		{"issuer", str(&is.URL)},
		{"audiences", list(&is.Audiences, stringItem)},
		{"algorithms", list(&is.Algorithms, stringItem)},
		{"clock_skew", duration(&is.ClockSkew)},
		{"ca_file", str(&is.CAFile)},
		{"jwks_max_age", duration(&is.JWKSMaxAge)},
		{"identity", str(&is.Identity)},
		{"required", requiredClaims(&is.Required)},
		{"expose", list(&is.Expose, stringItem)},
	})
	return is
}

func identityOIDCFields(o *IdentityOIDC) []field {
	return []field{
		{"issuer", str(&o.Issuer)},
		{"on_expiry", str(&o.OnExpiry)},
		{"presented_by", list(&o.PresentedBy, stringItem)},
	}
}

// identityOIDC decodes an identity's oidc mapping into *out.
func identityOIDC(out **IdentityOIDC) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		o := &IdentityOIDC{OnExpiry: ExpiryClose}
		*out = o
		d.mapping(n, path, identityOIDCFields(o))
	}
}

// requiredClaims decodes a mapping of claim names to a required value or
// list of values.
func requiredClaims(out *[]claims.Requirement) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		d.setLine(path, n.Line)
		n, ok := d.resolve(n)
		if !ok || yamldoc.IsNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping of claim names to values, got %s", yamldoc.Describe(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, ok := d.resolve(n.Content[i])
			if !ok {
				return
			}
			if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
				d.errorf(k.Line, path, "claim names must be strings")
				continue
			}
			kp := yamldoc.JoinPath(path, k.Value)
			if first, dup := seen[k.Value]; dup {
				d.errorf(k.Line, path, "duplicate claim %q (first required at line %d)", k.Value, first)
				continue
			}
			seen[k.Value] = k.Line
			d.setLine(kp, k.Line)
			r := claims.Requirement{Path: k.Value}
			if err := claims.CheckPath(k.Value); err != nil {
				d.fail(k, kp, "%v", err)
			}
			v, ok := d.resolve(n.Content[i+1])
			if !ok {
				return
			}
			if v.Kind == yaml.SequenceNode {
				list(&r.Values, stringItem)(d, n.Content[i+1], kp)
			} else if s, ok := d.scalarString(n.Content[i+1], kp); ok {
				r.Values = []string{s}
			}
			*out = append(*out, r)
		}
	}
}

// oidc checks the oidc mapping.
func (v *validator) oidc() {
	names := map[string]seenAt{}
	urls := map[string]string{}
	for i := range v.c.OIDC.Issuers {
		is := &v.c.OIDC.Issuers[i]
		item := fmt.Sprintf("oidc.issuers[%d]", i)
		if v.skip(item) {
			continue
		}
		v.name(i, item, "issuer", is.Name, names)
		if p := item + ".issuer"; !v.present(p) {
			v.errorf(item, `missing required key "issuer" (the issuer URL, the iss claim of its tokens)`)
		} else if !v.skip(p) {
			if msg := checkIssuerURL(is.URL); msg != "" {
				v.errorf(p, "%s", msg)
			} else if first, dup := urls[is.URL]; dup {
				v.errorf(p, "issuer %q is already configured by %s (line %d)", is.URL, first, v.line(first))
			} else {
				urls[is.URL] = p
			}
		}
		p := item + ".audiences"
		switch {
		case v.skip(p):
		case !v.present(p):
			v.errorf(item, `missing required key "audiences" (the aud a token must carry, such as your sluice deployment's name)`)
		case len(is.Audiences) == 0:
			v.errorf(p, "must list at least one audience")
		}
		v.strings(p, is.Audiences, "audience", func(s string) string { return "" })
		if p := item + ".algorithms"; len(is.Algorithms) == 0 && !v.skip(p) {
			v.errorf(p, "must list at least one algorithm (the default is [RS256])")
		}
		v.strings(item+".algorithms", is.Algorithms, "algorithm", checkAlgorithm)
		if t := is.ClockSkew; t > MaxClockSkew && !v.skip(item+".clock_skew") {
			v.errorf(item+".clock_skew", "must be at most %s, got %s", MaxClockSkew, t)
		}
		if t := is.JWKSMaxAge; (t < MinJWKSMaxAge || t > MaxJWKSMaxAge) && !v.skip(item+".jwks_max_age") {
			v.errorf(item+".jwks_max_age", "must be between %s and %s, got %s", MinJWKSMaxAge, MaxJWKSMaxAge, t)
		}
		v.absPath(item+".ca_file", &is.CAFile, true)
		if p := item + ".identity"; v.present(p) && !v.skip(p) {
			t, err := claims.ParseTemplate(is.Identity)
			if err != nil {
				v.errorf(p, "invalid identity template %q: %v", clipValue(is.Identity), err)
			} else {
				is.Template = t
			}
		}
		for _, r := range is.Required {
			p := item + ".required." + r.Path
			if v.skip(p) {
				continue
			}
			if len(r.Values) == 0 {
				v.errorf(p, "must give a value, or a list of the values accepted")
			}
			v.strings(p, r.Values, "value", func(string) string { return "" })
		}
		v.strings(item+".expose", is.Expose, "claim", func(s string) string {
			if err := claims.CheckPath(s); err != nil {
				return err.Error()
			}
			return ""
		})
	}
}

// strings checks a list of strings: at most maxIssuerItems, none empty,
// none twice, each accepted by check (which returns why not, or "").
func (v *validator) strings(p string, items []string, what string, check func(string) string) {
	if v.skip(p) {
		return
	}
	if len(items) > maxIssuerItems {
		v.errorf(p, "more than %d entries", maxIssuerItems)
		return
	}
	seen := map[string]int{}
	for i, s := range items {
		ip := fmt.Sprintf("%s[%d]", p, i)
		if !v.present(ip) {
			ip = p
		}
		if v.skip(ip) {
			continue
		}
		if first, dup := seen[s]; dup {
			v.errorf(ip, "%s %q is listed twice (first at [%d])", what, clipValue(s), first)
			continue
		}
		seen[s] = i
		switch msg := check(s); {
		case strings.TrimSpace(s) == "":
			v.errorf(ip, "empty %s", what)
		case msg != "":
			v.errorf(ip, "%s", msg)
		}
	}
}

// checkAlgorithm returns "" for an accepted signing algorithm, else why
// not.
func checkAlgorithm(s string) string {
	switch {
	case slices.Contains(SigningAlgorithms, s):
		return ""
	case strings.EqualFold(s, "none"):
		return `algorithm "none" means unsigned tokens, which prove nothing`
	case strings.HasPrefix(strings.ToUpper(s), "HS"):
		return fmt.Sprintf("algorithm %q needs a secret shared with the issuer; sluice verifies tokens with the keys the issuer publishes (one of %s)", s, strings.Join(SigningAlgorithms, ", "))
	}
	return fmt.Sprintf("unknown algorithm %q (one of %s)", clipValue(s), strings.Join(SigningAlgorithms, ", "))
}

// checkIssuerURL returns "" for a usable issuer URL, else why not: https,
// or http to a loopback host (a local issuer), without query or fragment.
func checkIssuerURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "must not be empty"
	case err != nil:
		return fmt.Sprintf("not a valid URL: %q", clipValue(s))
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("has no host: %q (write the issuer's URL, such as https://token.actions.githubusercontent.com)", clipValue(s))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "must not hold a query, a fragment or user information"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return ""
	case u.Scheme == "http":
		return fmt.Sprintf("must be an https:// URL (http:// only for an issuer on this host): %q", clipValue(s))
	}
	return fmt.Sprintf("must be an https:// URL, got scheme %q", clipValue(u.Scheme))
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// identityOIDCs checks the oidc mappings of the identities, once every
// identity is known.
func (v *validator) identityOIDCs() {
	for i := range v.c.Identities {
		item := fmt.Sprintf("identities[%d]", i)
		if !v.skip(item) {
			v.identityOIDC(item, &v.c.Identities[i])
		}
	}
}

// identityOIDC checks an identity's oidc mapping.
func (v *validator) identityOIDC(item string, id *Identity) {
	base := item + ".oidc"
	o := id.OIDC
	if o == nil || v.skip(base) {
		return
	}
	if id.Match.Kind != MatchNone && !v.skip(item+".match") {
		v.errorf(base, "an identity with oidc is claimed with a token only; remove its match")
	}
	if v.present(item+".claimable_by") && !v.skip(item+".claimable_by") {
		v.errorf(base, "an identity with oidc is claimed with a token only; remove its claimable_by")
	}
	oneOf(v, base+".on_expiry", o.OnExpiry, ExpiryClose, ExpiryKeep)
	p := base + ".issuer"
	switch {
	case v.skip(p):
	case !v.present(p):
		v.errorf(base, `missing required key "issuer" (the name of an oidc.issuers entry)`)
	default:
		is, ok := v.c.OIDC.Issuer(o.Issuer)
		switch {
		case !ok:
			var known []string
			for _, x := range v.c.OIDC.Issuers {
				known = append(known, x.Name)
			}
			msg := fmt.Sprintf("unknown issuer %q", o.Issuer)
			if s := yamldoc.Suggest(o.Issuer, known); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if len(known) == 0 {
				msg += " (oidc.issuers is empty)"
			}
			v.errorf(p, "%s", msg)
		case is.Template == nil && is.Identity == "":
			v.errorf(p, "issuer %q has no identity template (oidc.issuers[].identity): its tokens cannot claim identities", o.Issuer)
		case is.Template != nil && !is.Template.CanProduce(id.Name):
			v.errorf(p, "no token of issuer %q can claim identity %q: its template %q never renders that name", o.Issuer, id.Name, is.Identity)
		}
	}
	v.strings(base+".presented_by", o.PresentedBy, "identity", func(s string) string {
		if _, ok := v.c.Identity(s); !ok {
			return fmt.Sprintf("unknown identity %q", clipValue(s))
		}
		return ""
	})
}

// ApprovalsHTTP is the approvals.http mapping: the approval API for human
// approvers, who authenticate with OIDC tokens.
type ApprovalsHTTP struct {
	// Listen is host:port; a loopback address unless TLS is set.
	Listen string
	TLS    ClientTLS
	// Issuer names the oidc issuer of the approvers' tokens.
	Issuer string
	// GroupsClaim holds the approver's groups (default "groups"); Groups
	// lists those allowed to decide.
	GroupsClaim string
	Groups      []string
	// NameClaim names the approver in events and messages (default
	// "email"; the subject when the token has none).
	NameClaim string
	// UserClaim, when set, holds the approver's login name on this host:
	// requests of processes running as that user are their own.
	UserClaim string
}

// Defaults of approvals.http.
const (
	DefaultGroupsClaim = "groups"
	DefaultNameClaim   = "email"
)

func approvalsHTTP(out **ApprovalsHTTP) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		h := &ApprovalsHTTP{GroupsClaim: DefaultGroupsClaim, NameClaim: DefaultNameClaim}
		*out = h
		d.mapping(n, path, []field{
			{"listen", str(&h.Listen)},
			{"tls", object(clientTLSFields(&h.TLS))},
			{"issuer", str(&h.Issuer)},
			{"groups_claim", str(&h.GroupsClaim)},
			{"groups", list(&h.Groups, stringItem)},
			{"name_claim", str(&h.NameClaim)},
			{"user_claim", str(&h.UserClaim)},
		})
	}
}

// approvalsHTTP checks approvals.http.
func (v *validator) approvalsHTTP() {
	h := v.c.Approvals.HTTP
	const base = "approvals.http"
	if h == nil || v.skip(base) {
		return
	}
	v.absPath(base+".tls.cert_file", &h.TLS.CertFile, true)
	v.absPath(base+".tls.key_file", &h.TLS.KeyFile, true)
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") && !v.skip(base+".tls") {
		v.errorf(base+".tls", "cert_file and key_file go together")
	}
	if p := base + ".listen"; !v.present(p) {
		v.errorf(base, `missing required key "listen" (such as 127.0.0.1:9465)`)
	} else if !v.skip(p) {
		hp, err := parseHostPort(h.Listen, true)
		switch {
		case err != nil:
			v.errorf(p, "invalid address %q: %v", h.Listen, err)
		case h.TLS.CertFile == "" && !isLoopbackHost(hp.host):
			v.errorf(p, "%q is not a loopback address: bearer tokens would cross the network in clear; set approvals.http.tls, or listen on 127.0.0.1 or [::1]", h.Listen)
		}
	}
	if p := base + ".issuer"; !v.present(p) {
		v.errorf(base, `missing required key "issuer" (the oidc.issuers entry of the approvers' tokens)`)
	} else if _, ok := v.c.OIDC.Issuer(h.Issuer); !ok && !v.skip(p) {
		v.errorf(p, "unknown issuer %q (oidc.issuers)", h.Issuer)
	}
	if p := base + ".groups"; len(h.Groups) == 0 && !v.skip(p) {
		v.errorf(base, "groups must list the approver groups: without any, nobody may decide over HTTP")
	}
	v.strings(base+".groups", h.Groups, "group", func(string) string { return "" })
	for _, c := range []struct{ key, v string }{{"groups_claim", h.GroupsClaim}, {"name_claim", h.NameClaim}, {"user_claim", h.UserClaim}} {
		p := base + "." + c.key
		if (c.key != "user_claim" || v.present(p)) && !v.skip(p) {
			if err := claims.CheckPath(c.v); err != nil {
				v.errorf(p, "%v", err)
			}
		}
	}
}
