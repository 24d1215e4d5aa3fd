package approvalhttp

import (
	"context"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/claims"
	"github.com/sluicehq/sluice/pkg/oidc"
)

// OIDCAuth authenticates bearer tokens of one issuer.
type OIDCAuth struct {
	// Verify verifies a token of the issuer.
	Verify func(ctx context.Context, token string) (*oidc.Token, error)
	// GroupsClaim holds the approver's groups; NameClaim names them (the
	// subject when the token has none); UserClaim, when set, holds their
	// login name on this host.
	GroupsClaim, NameClaim, UserClaim string
}

// Authenticate implements Authenticator.
func (o *OIDCAuth) Authenticate(ctx context.Context, token string) (approval.Approver, error) {
	t, err := o.Verify(ctx, token)
	if err != nil {
		return approval.Approver{}, err
	}
	oa := &approval.OIDCApprover{Issuer: t.Issuer.URL, Subject: t.Subject}
	if v, ok := claims.Lookup(t.Claims, o.GroupsClaim); ok {
		items := []any{v}
		if l, isList := v.([]any); isList {
			items = l
		}
		for _, it := range items {
			if s, ok := claims.Text(it); ok {
				oa.Groups = append(oa.Groups, s)
			}
		}
	}
	if o.UserClaim != "" {
		if v, ok := claims.Lookup(t.Claims, o.UserClaim); ok {
			oa.LocalUser, _ = claims.Text(v)
		}
	}
	a := approval.Approver{OIDC: oa, Name: t.Subject}
	if v, ok := claims.Lookup(t.Claims, o.NameClaim); ok {
		if s, ok := claims.Text(v); ok && s != "" {
			a.Name = s
		}
	}
	return a, nil
}
