package policy

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"

	"github.com/sluicehq/sluice/pkg/policy/internal/request"
	"github.com/sluicehq/sluice/pkg/yamldoc"
)

// Conditions (when:) are CEL expressions over the request, compiled when
// a policy is loaded and evaluated, with a cost limit, when a rule's
// matchers match. The variables are listed in condVars and documented in
// docs/policy.md.

const (
	// maxWhenLen bounds the length of a condition, in bytes.
	maxWhenLen = 4096
	// whenCostLimit bounds the work of one evaluation, in CEL cost units
	// (about one per operation, one per ten bytes of a string scanned).
	whenCostLimit = 100_000
	// whenNesting bounds nested comprehensions (exists, all, map...).
	whenNesting = 2
)

// condVars are the variables a condition may read, in documentation
// order.
var condVars = []string{"identity", "target", "protocol", "attribution", "statement", "time", "claims"}

// condEnv is the environment conditions compile in. It is built once:
// building it costs milliseconds.
var condEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.NativeTypes(ext.ParseStructTags(true),
			reflect.TypeFor[request.Attribution](), reflect.TypeFor[request.Statement]()),
		cel.Variable("identity", cel.StringType),
		cel.Variable("target", cel.StringType),
		cel.Variable("protocol", cel.StringType),
		cel.Variable("attribution", cel.ObjectType("request.Attribution")),
		cel.Variable("statement", cel.ObjectType("request.Statement")),
		cel.Variable("time", cel.TimestampType),
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.ExtendedValidations(),
		cel.ASTValidators(cel.ValidateComprehensionNestingLimit(whenNesting), zoneValidator{}),
		cel.ParserExpressionSizeLimit(maxWhenLen),
	}
	return cel.NewEnv(append(opts, zoneFunctions()...)...)
})

// condition is a compiled when: expression.
type condition struct {
	prg cel.Program
}

// condProblem is one compile error of a condition, at a 1-based line and
// column of its text.
type condProblem struct {
	line, col int
	msg       string
}

// compileCondition compiles a condition, which must be a boolean
// expression.
func compileCondition(src string) (*condition, []condProblem) {
	env, err := condEnv()
	if err != nil {
		return nil, []condProblem{{msg: "conditions are unavailable: " + err.Error()}}
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var out []condProblem
		for _, e := range iss.Errors() {
			out = append(out, condProblem{line: e.Location.Line(), col: e.Location.Column() + 1, msg: condMessage(e.Message)})
		}
		return nil, out
	}
	if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
		return nil, []condProblem{{msg: fmt.Sprintf("must be a boolean expression, not %s", t)}}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// Counting the cost of every step costs more than most conditions
	// themselves: it is left out when the condition cannot exceed the
	// limit whatever the request holds.
	if est, err := env.EstimateCost(ast, condSizes{}); err != nil || est.Max > whenCostLimit {
		opts = append(opts, cel.CostLimit(whenCostLimit))
	}
	prg, err := env.Program(ast, opts...)
	if err != nil {
		return nil, []condProblem{{msg: condMessage(err.Error())}}
	}
	return &condition{prg: prg}, nil
}

var (
	undeclaredRE = regexp.MustCompile(`^undeclared reference to '([^']*)' \(in container ''\)$`)
	fieldRE      = regexp.MustCompile(`^undefined field '([^']*)'$`)
)

// condMessage makes a CEL message fit for a policy error, with a
// suggestion for a misspelled variable or field.
func condMessage(msg string) string {
	if m := undeclaredRE.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown variable %q (variables: %s)", m[1], strings.Join(condVars, ", "))
		if s := yamldoc.Suggest(m[1], condVars); s != "" {
			msg = fmt.Sprintf("unknown variable %q (did you mean %q?)", m[1], s)
		}
	} else if m := fieldRE.FindStringSubmatch(msg); m != nil {
		if s := yamldoc.Suggest(m[1], condFields()); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return strings.Join(strings.Fields(msg), " ")
}

// condFields returns the field names of the request's object variables.
func condFields() []string {
	var names []string
	for _, t := range []reflect.Type{reflect.TypeFor[request.Attribution](), reflect.TypeFor[request.Statement]()} {
		for i := range t.NumField() {
			names = append(names, t.Field(i).Tag.Get("cel"))
		}
	}
	return names
}

// errNotBool is returned by an evaluation whose result is not a boolean
// (a condition of type dyn, such as a claim).
var errNotBool = errors.New("the condition's value is not a boolean")

// eval evaluates the condition against a.
func (c *condition) eval(a *activation) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			ok, err = false, fmt.Errorf("condition failed: %v", r)
		}
	}()
	out, _, err := c.prg.Eval(a)
	if err != nil {
		return false, err
	}
	b, isBool := out.(types.Bool)
	if !isBool {
		return false, errNotBool
	}
	return bool(b), nil
}

// condSizes bounds the sizes of the request's variables for the static
// cost estimate of a condition. Statement texts and lists, and claims,
// are unbounded.
type condSizes struct{}

// Size bounds of the variables: names are at most 128 bytes, paths of
// executables and cgroups at most PATH_MAX.
const (
	maxNameSize = 128
	maxPathSize = 4096
)

func (condSizes) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	p := n.Path()
	switch {
	case len(p) == 0:
		return nil
	case p[0] == "identity" || p[0] == "target" || p[0] == "protocol":
		return &checker.SizeEstimate{Min: 0, Max: maxNameSize}
	case p[0] == "attribution":
		return &checker.SizeEstimate{Min: 0, Max: maxPathSize}
	}
	return nil
}

func (condSizes) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}
