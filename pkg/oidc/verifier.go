package oidc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/identity"
)

// Options tune a Verifier; the zero value is the production setting.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// MinRefresh is how often, at most, a token naming an unknown key
	// fetches the issuer's keys again (DefaultMinRefresh when 0).
	MinRefresh time.Duration
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Verifier verifies tokens of the configured issuers. It is safe for
// concurrent use; discovery and keys are fetched on first use.
type Verifier struct {
	opts   Options
	byURL  map[string]*issuer
	byName map[string]*issuer
}

// New returns a verifier of the issuers; it reads their CA files.
func New(issuers []config.OIDCIssuer, opts Options) (*Verifier, error) {
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = DefaultMinRefresh
	}
	v := &Verifier{opts: opts, byURL: map[string]*issuer{}, byName: map[string]*issuer{}}
	for _, c := range issuers {
		is, err := newIssuer(c, &v.opts)
		if err != nil {
			return nil, err
		}
		v.byURL[c.URL], v.byName[c.Name] = is, is
	}
	return v, nil
}

// Token is a verified token: its standard claims, all its claims, and the
// issuer that vouches for it.
type Token struct {
	Issuer   *config.OIDCIssuer
	Subject  string
	JTI      string
	Audience []string
	Expires  time.Time
	IssuedAt time.Time // zero when the token has no iat
	// Claims are all the token's claims, verified. They are for the
	// caller's decisions, not for events: Workload selects those exposed.
	Claims map[string]any
}

// Verify verifies a token of any configured issuer: the one its iss names.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	h, c, err := inspect(raw)
	if err != nil {
		return nil, err
	}
	iss, _ := c["iss"].(string)
	is := v.byURL[iss]
	if is == nil {
		if iss == "" {
			return nil, refuse(ReasonIssuer, "the token names no issuer (iss)")
		}
		return nil, refuse(ReasonIssuer, "tokens of issuer %q are not accepted (it is not in oidc.issuers)", clip(iss))
	}
	return is.verify(ctx, h, raw)
}

// VerifyIssuer verifies a token that must come from the issuer named
// name (oidc.issuers[].name).
func (v *Verifier) VerifyIssuer(ctx context.Context, name, raw string) (*Token, error) {
	is := v.byName[name]
	if is == nil {
		return nil, refuse(ReasonIssuer, "issuer %q is not configured", name)
	}
	h, c, err := inspect(raw)
	if iss, _ := c["iss"].(string); err == nil && iss != is.cfg.URL {
		err = refuse(ReasonIssuer, "the token comes from %q, not from issuer %q (%s)", clip(iss), name, is.cfg.URL)
	}
	if err != nil {
		err.(*Error).Issuer = name
		return nil, err
	}
	return is.verify(ctx, h, raw)
}

// check makes the checks go-oidc left to sluice on a token whose issuer
// and signature it verified.
func (is *issuer) check(idt *gooidc.IDToken, c map[string]any) (*Token, error) {
	cfg := &is.cfg
	now := is.opts.now()
	if !slices.ContainsFunc(idt.Audience, func(a string) bool { return slices.Contains(cfg.Audiences, a) }) {
		return nil, refuse(ReasonAudience, "the token is for audience %s, not for %s (oidc.issuers[%s].audiences)",
			quoteList(idt.Audience), quoteList(cfg.Audiences), cfg.Name)
	}
	if idt.Expiry.IsZero() {
		return nil, refuse(ReasonClaims, "the token has no expiry (exp): sluice binds identities only for a token's lifetime")
	}
	if !now.Before(idt.Expiry) {
		return nil, refuse(ReasonExpired, "the token expired at %s, %s ago", idt.Expiry.UTC().Format(time.RFC3339), now.Sub(idt.Expiry).Round(time.Second))
	}
	if nbf, ok := numericDate(c, "nbf"); ok && now.Add(cfg.ClockSkew).Before(nbf) {
		return nil, refuse(ReasonNotYetValid, "the token is not valid before %s (not before, nbf; clock skew %s)", nbf.UTC().Format(time.RFC3339), cfg.ClockSkew)
	}
	if !idt.IssuedAt.IsZero() && now.Add(cfg.ClockSkew).Before(idt.IssuedAt) {
		return nil, refuse(ReasonNotYetValid, "the token was issued in the future, at %s (iat; clock skew %s)", idt.IssuedAt.UTC().Format(time.RFC3339), cfg.ClockSkew)
	}
	if idt.Subject == "" {
		return nil, refuse(ReasonClaims, "the token names no subject (sub)")
	}
	for _, r := range cfg.Required {
		if err := r.Check(c); err != nil {
			return nil, refuse(ReasonClaims, "%v (oidc.issuers[%s].required)", err, cfg.Name)
		}
	}
	jti, _ := c["jti"].(string)
	return &Token{
		Issuer: cfg, Subject: idt.Subject, JTI: jti, Audience: idt.Audience,
		Expires: idt.Expiry, IssuedAt: idt.IssuedAt, Claims: c,
	}, nil
}

// numericDate reads a NumericDate claim.
func numericDate(c map[string]any, name string) (time.Time, bool) {
	switch v := c[name].(type) {
	case int64:
		return time.Unix(v, 0), true
	case float64:
		return time.Unix(int64(v), 0), true
	}
	return time.Time{}, false
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", clip(s))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// Refuse returns the refusal of the token, with reason r, for a check made
// after verification (which identities it may claim, for instance).
func (t *Token) Refuse(r Reason, format string, args ...any) error {
	e := refuse(r, format, args...)
	e.Issuer = t.Issuer.Name
	return e
}

// Workload maps the token to the identity its issuer's template renders,
// with the claims the issuer exposes. It fails with reason identity when
// the issuer has no template or the claims give no name.
func (t *Token) Workload() (*identity.OIDC, error) {
	if t.Issuer.Template == nil {
		return nil, t.Refuse(ReasonIdentity, "issuer %q has no identity template: its tokens cannot claim identities", t.Issuer.Name)
	}
	name, err := t.Issuer.Template.Render(t.Claims)
	if err != nil {
		return nil, t.Refuse(ReasonIdentity, "%v (template %q of issuer %q)", err, t.Issuer.Identity, t.Issuer.Name)
	}
	exposed, err := claims.Select(t.Claims, t.Issuer.Expose)
	if err != nil {
		return nil, t.Refuse(ReasonClaims, "%v", err)
	}
	return &identity.OIDC{
		Issuer: t.Issuer.URL, Subject: t.Subject, Identity: name, JTI: t.JTI,
		Expires: t.Expires, IssuedAt: t.IssuedAt, Claims: exposed,
	}, nil
}
