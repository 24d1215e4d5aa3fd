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
	codeConnectionFailure     = "08006"
	codeCannotConnectNow      = "57P03"
	codeInternalError         = "XX000"
)

// ErrProtocol is wrapped by errors for clients that break the protocol.
var ErrProtocol = errors.New("postgres: protocol violation")

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
