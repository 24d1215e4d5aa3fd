package policy

import (
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/sluicehq/sluice/pkg/policy/internal/request"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// activation gives conditions the variables of one request. Each is
// converted to a CEL value when a condition first reads it, and kept for
// the other conditions of the decision.
type activation struct {
	r    *Request
	st   *sqlclass.Statement // nil for a request of another protocol
	now  time.Time
	vals [numVars]ref.Val
}

// The variables, as indexes of activation.vals.
const (
	varIdentity = iota
	varTarget
	varProtocol
	varAttribution
	varStatement
	varTime
	varClaims
	numVars
)

var _ interpreter.Activation = (*activation)(nil)

// noClaims is the claims variable of an identity without a token.
var noClaims = map[string]any{}

func newActivation(r *Request, st *sqlclass.Statement) *activation {
	return &activation{r: r, st: st, now: requestTime(r)}
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	i := varIndex(name)
	if i < 0 {
		return nil, false
	}
	if a.vals[i] == nil {
		a.vals[i] = a.value(i)
	}
	return a.vals[i], true
}

func varIndex(name string) int {
	switch name {
	case "identity":
		return varIdentity
	case "target":
		return varTarget
	case "protocol":
		return varProtocol
	case "attribution":
		return varAttribution
	case "statement":
		return varStatement
	case "time":
		return varTime
	case "claims":
		return varClaims
	}
	return -1
}

// value converts variable i.
func (a *activation) value(i int) ref.Val {
	switch i {
	case varIdentity:
		return types.String(a.r.Identity)
	case varTarget:
		return types.String(a.r.Target)
	case varProtocol:
		return types.String(a.r.Protocol)
	case varAttribution:
		at := &a.r.Attribution
		return condAdapter().NativeToValue(&request.Attribution{
			PID: int64(at.PID), UID: int64(at.UID), GID: int64(at.GID),
			Exe: at.Exe, Comm: at.Comm, Unit: at.Unit, Cgroup: at.Cgroup,
		})
	case varStatement:
		return condAdapter().NativeToValue(request.FromStatement(a.st))
	case varTime:
		return types.Timestamp{Time: a.now}
	}
	if c := a.r.Attribution.Claims; c != nil {
		return condAdapter().NativeToValue(c)
	}
	return condAdapter().NativeToValue(noClaims)
}

// condAdapter is the type adapter of the conditions' environment, which
// knows the request's object types.
func condAdapter() types.Adapter {
	env, err := condEnv()
	if err != nil {
		return types.DefaultTypeAdapter // no condition compiled: never used
	}
	return env.CELTypeAdapter()
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// zoneValidator refuses, when a policy is loaded, a time zone literal
// that the timestamp accessors would fail on at every evaluation, such
// as time.getHours("Europe/Berln").
type zoneValidator struct{}

// zoneFuncs are the timestamp accessors that take a time zone.
var zoneFuncs = []string{
	"getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate",
	"getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
}

func (zoneValidator) Name() string { return "sluice.validator.time_zones" }

func (zoneValidator) Validate(_ *cel.Env, _ cel.ValidatorConfig, a *ast.AST, iss *cel.Issues) {
	root := ast.NavigateAST(a)
	for _, fn := range zoneFuncs {
		for _, call := range ast.MatchDescendants(root, ast.FunctionMatcher(fn)) {
			args := call.AsCall().Args()
			if len(args) != 1 || args[0].Kind() != ast.LiteralKind {
				continue
			}
			zone, ok := args[0].AsLiteral().Value().(string)
			if !ok {
				continue
			}
			if _, err := loadZone(zone); err != nil {
				iss.ReportErrorAtID(args[0].ID(), "unknown time zone %q", zone)
			}
		}
	}
}
