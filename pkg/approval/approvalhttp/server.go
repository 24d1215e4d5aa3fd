// Package approvalhttp is the approval API for humans, over HTTP: list the
// open approval requests, approve and deny them, authenticated with the
// OIDC bearer tokens of a configured issuer. It applies the rules of the
// control socket through the same approval.Broker: approvers are the
// members of the configured groups (a groups claim), nobody approves their
// own request, and every decision is an approval event naming the
// approver's issuer and subject. Refused requests are approval.api_refused
// events. Tokens are never logged or echoed.
//
//	GET  /v1/approvals               the open requests
//	GET  /v1/approvals/{id}          one open request
//	POST /v1/approvals/{id}/approve  {"for": "30m", "reason": "..."} (both optional)
//	POST /v1/approvals/{id}/deny     {"reason": "..."} (required)
package approvalhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/pkg/approval"
	"github.com/sluicehq/sluice/pkg/approval/approvalctl"
	"github.com/sluicehq/sluice/pkg/audit"
	"github.com/sluicehq/sluice/pkg/control"
)

// maxBody bounds a request body, in bytes.
const maxBody = 8 << 10

// Authenticator turns a bearer token into an approver.
//
// Contract: Authenticate returns the approver a valid token names (OIDC
// set, with the token's groups), or an error fit for the caller that
// never holds the token. It must be safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (approval.Approver, error)
}

// Server answers the API.
type Server struct {
	Broker *approval.Broker
	Auth   Authenticator
	Log    *audit.Logger // nil: discard
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/approvals", s.authed(s.list))
	mux.HandleFunc("GET /v1/approvals/{id}", s.authed(s.get))
	mux.HandleFunc("POST /v1/approvals/{id}/approve", s.authed(s.approve))
	mux.HandleFunc("POST /v1/approvals/{id}/deny", s.authed(s.deny))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, nil, http.StatusNotFound, "not_found", "no such endpoint (GET /v1/approvals, GET /v1/approvals/{id}, POST /v1/approvals/{id}/approve, POST /v1/approvals/{id}/deny)")
	})
	return mux
}

type handler func(w http.ResponseWriter, r *http.Request, a approval.Approver)

// authed authenticates the bearer token before h.
func (s *Server) authed(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			s.refuse(w, r, nil, http.StatusUnauthorized, "no_token", "an OIDC bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		a, err := s.Auth.Authenticate(r.Context(), tok)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice", error="invalid_token"`)
			s.refuse(w, r, nil, http.StatusUnauthorized, "invalid_token", err.Error())
			return
		}
		if err := s.Broker.Authorize(a); err != nil {
			s.fail(w, r, &a, err)
			return
		}
		h(w, r, a)
	}
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request, _ approval.Approver) {
	list := []control.Approval{}
	for _, p := range s.Broker.List() {
		list = append(list, approvalctl.Message(p))
	}
	reply(w, http.StatusOK, map[string]any{"approvals": list})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, a approval.Approver) {
	id := r.PathValue("id")
	for _, p := range s.Broker.List() {
		if p.ID == id {
			reply(w, http.StatusOK, approvalctl.Message(p))
			return
		}
	}
	s.fail(w, r, &a, fmt.Errorf("%w %q: no open request has this id", approval.ErrNotFound, clip(id)))
}

// Decision is the body of approve and deny.
type Decision struct {
	For    string `json:"for,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// DecodeDecision reads a request body: at most maxBody bytes of one JSON
// object with known fields only; an empty body is the empty decision.
func DecodeDecision(r io.Reader) (Decision, error) {
	var d Decision
	data, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return d, err
	}
	if len(data) > maxBody {
		return d, fmt.Errorf("the body is larger than %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return d, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("the body is not a JSON object {\"for\", \"reason\"}: %v", err)
	}
	if dec.More() {
		return d, errors.New("the body holds more than one JSON value")
	}
	return d, nil
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, a approval.Approver) {
	d, err := DecodeDecision(r.Body)
	if err != nil {
		s.refuse(w, r, &a, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	mode := approval.Once()
	if d.For != "" {
		dur, err := time.ParseDuration(d.For)
		if err != nil || dur <= 0 {
			s.fail(w, r, &a, fmt.Errorf("%w: for %q: write a duration such as 30m or 2h", approval.ErrBadWindow, clip(d.For)))
			return
		}
		mode = approval.For(dur)
	}
	p, err := s.Broker.Approve(a, r.PathValue("id"), mode, d.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	reply(w, http.StatusOK, approvalctl.Message(p))
}

func (s *Server) deny(w http.ResponseWriter, r *http.Request, a approval.Approver) {
	d, err := DecodeDecision(r.Body)
	if err != nil {
		s.refuse(w, r, &a, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if d.For != "" {
		s.refuse(w, r, &a, http.StatusBadRequest, "bad_request", `"for" has no meaning for a denial`)
		return
	}
	p, err := s.Broker.Deny(a, r.PathValue("id"), d.Reason)
	if err != nil {
		s.fail(w, r, &a, err)
		return
	}
	reply(w, http.StatusOK, approvalctl.Message(p))
}

// fail answers a broker error with its status.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, a *approval.Approver, err error) {
	status, reason := http.StatusInternalServerError, "error"
	switch {
	case errors.Is(err, approval.ErrNotApprover):
		status, reason = http.StatusForbidden, "not_approver"
	case errors.Is(err, approval.ErrSelfApproval):
		status, reason = http.StatusForbidden, "self_approval"
	case errors.Is(err, approval.ErrNotFound):
		status, reason = http.StatusNotFound, "not_found"
	case errors.Is(err, approval.ErrDecided):
		status, reason = http.StatusConflict, "decided"
	case errors.Is(err, approval.ErrNoReason), errors.Is(err, approval.ErrBadWindow):
		status, reason = http.StatusBadRequest, "bad_request"
	}
	s.refuse(w, r, a, status, reason, err.Error())
}

// refuse answers an error and reports it as approval.api_refused.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, a *approval.Approver, status int, reason, msg string) {
	if s.Log != nil {
		ev := s.Log.Warn(audit.ApprovalAPIRefused).Str("remote", r.RemoteAddr).Str("method", r.Method).
			Str("path", clip(r.URL.Path)).Int("status", status).Str("reason", reason).Str("error", msg)
		if a != nil && a.OIDC != nil {
			ev = ev.Str("approver_issuer", a.OIDC.Issuer).Str("approver_subject", a.OIDC.Subject).Str("approver", a.Name)
		}
		ev.Msg("approval API request refused")
	}
	reply(w, status, map[string]string{"error": msg, "reason": reason})
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
