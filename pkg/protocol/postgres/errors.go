package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
)

// SQLSTATE codes the inspector raises.
const (
	codeInsufficientPrivilege = "42501" // denied by policy
	codeQueryCanceled         = "57014" // a held statement cancelled, or its statement_timeout passed
	codeProtocolViolation     = "08P01"
	codeFeatureNotSupported   = "0A000"
	codeProgramLimitExceeded  = "54000"
	codeInvalidPassword       = "28P01"
	codeInvalidAuthorization  = "28000"
	codeConnectionFailure     = "08006"
	codeCannotConnectNow      = "57P03"
	codeInternalError         = "XX000"
	codeTooManyConnections    = "53300"
)

// ErrProtocol is wrapped by errors for clients that break the protocol.
var ErrProtocol = errors.New("postgres: protocol violation")

// errAuthMethod is wrapped by the error of an inject login whose upstream
// asks for a method postgres.require_auth does not list.
var errAuthMethod = errors.New("authentication method refused")

// ErrUnsafeSetting is wrapped by the error of a session whose server
// reports a setting under which sluice cannot read statements as the
// server does (sqlclass.UnsafeSetting): refused at login, ended when it
// changes mid-session.
var ErrUnsafeSetting = errors.New("postgres: unsafe setting")

// unsafeSetting is the error of such a session: why is
// sqlclass.UnsafeSetting's reason.
type unsafeSetting struct{ why string }

func (u *unsafeSetting) Error() string { return "unsafe setting: " + u.why }
func (u *unsafeSetting) Unwrap() error { return ErrUnsafeSetting }

// unsafeSettingHint is the hint of those refusals.
const unsafeSettingHint = "Keep standard_conforming_strings on (the default) and use a client encoding such as UTF8 for this role and database."

// errorResponse builds an ERROR-severity ErrorResponse.
func errorResponse(code, msg, detail, hint string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg, Detail: detail, Hint: hint,
	}
}

// fatal builds a FATAL ErrorResponse; the connection closes after it.
func fatal(code, format string, args ...any) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{
		Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: fmt.Sprintf(format, args...),
	}
}

// upstreamError is an ErrorResponse received from the upstream, as an
// error; relayed when the client already has it.
type upstreamError struct {
	e       *pgproto3.ErrorResponse
	relayed bool
}

func (u *upstreamError) Error() string {
	return fmt.Sprintf("upstream %s: %s (SQLSTATE %s)", u.e.Severity, u.e.Message, u.e.Code)
}
