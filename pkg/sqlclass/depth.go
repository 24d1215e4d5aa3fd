package sqlclass

import (
	"errors"
	"fmt"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// PostgreSQL's parser builds a tree as deep as an expression is nested, and
// pg_query hands it over by walking it recursively on the calling thread's
// stack: `SELECT 1+1+…+1` with some 25,000 terms (50 KiB of text) overflows
// an 8 MiB stack and kills the process, where PostgreSQL itself answers
// "stack depth limit exceeded". Texts long enough to nest that deep are
// first measured from their tokens, which needs no recursion, and refused
// past maxNesting.

// maxNesting is the deepest nesting parsed. pg_query's own result cannot
// be decoded past about 5,000 levels of an expression anyway ("exceeded
// maximum recursion depth").
const maxNesting = 4000

// nestingChecked is the length from which texts are measured: a shorter
// one cannot nest maxNesting levels deep (each level takes a token and a
// separator at least).
const nestingChecked = 2 * maxNesting

// nestingBound returns an upper bound of how deep the parse tree of text
// nests. Every token that can open a level counts one: a parenthesis, a
// bracket or a CASE until it closes, and each operator or keyword, until a
// comma, AND, OR, WHEN, THEN, ELSE or semicolon starts a sibling at the
// same level (PostgreSQL keeps those in flat lists). A UNION, INTERSECT or
// EXCEPT nests the branches before it one level deeper, and starts a new
// branch. Names, constants and comments count nothing.
func nestingBound(text string) (int, error) {
	scan, err := pg_query.Scan(text)
	if err != nil {
		return 0, err
	}
	type level struct {
		ops     int  // operators since the last separator
		setOps  int  // UNIONs and such so far
		closeBy byte // ')', ']' or 'E' (END of a CASE)
	}
	stack := []level{{}}
	depth, most := 0, 0
	open := func(by byte) {
		stack = append(stack, level{closeBy: by})
		depth++
	}
	closeLevel := func(by byte) {
		if top := len(stack) - 1; top > 0 && stack[top].closeBy == by {
			depth -= stack[top].ops + stack[top].setOps + 1
			stack = stack[:top]
		}
	}
	for _, t := range scan.Tokens {
		top := &stack[len(stack)-1]
		switch t.Token {
		case pg_query.Token_ASCII_40: // (
			open(')')
		case pg_query.Token_ASCII_91: // [
			open(']')
		case pg_query.Token_CASE:
			open('E')
		case pg_query.Token_ASCII_41:
			closeLevel(')')
		case pg_query.Token_ASCII_93:
			closeLevel(']')
		case pg_query.Token_END_P:
			closeLevel('E')
		case pg_query.Token_ASCII_44, pg_query.Token_ASCII_59, pg_query.Token_AND, pg_query.Token_OR,
			pg_query.Token_WHEN, pg_query.Token_THEN, pg_query.Token_ELSE:
			depth -= top.ops
			top.ops = 0
		case pg_query.Token_UNION, pg_query.Token_INTERSECT, pg_query.Token_EXCEPT:
			depth -= top.ops
			top.ops = 0
			top.setOps++
			depth++
		case pg_query.Token_IDENT, pg_query.Token_UIDENT, pg_query.Token_ICONST, pg_query.Token_FCONST,
			pg_query.Token_SCONST, pg_query.Token_USCONST, pg_query.Token_BCONST, pg_query.Token_XCONST,
			pg_query.Token_PARAM, pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
		default:
			// Operators and keywords (a keyword used as a name counts
			// too: the bound only grows).
			top.ops++
			depth++
		}
		most = max(most, depth)
	}
	return most, nil
}

// tooDeep returns why text is refused unparsed for its nesting, "" when
// it may be parsed.
func tooDeep(text string) string {
	if len(text) < nestingChecked {
		return ""
	}
	n, err := nestingBound(text)
	switch {
	case err != nil:
		return err.Error()
	case n > maxNesting:
		return fmt.Sprintf("the statement nests up to %d levels deep (operators, parentheses, keywords), more than the %d sluice parses", n, maxNesting)
	}
	return ""
}

// parseShallow parses text unless it nests too deep to parse safely.
func parseShallow(text string) (*pg_query.ParseResult, error) {
	if why := tooDeep(text); why != "" {
		return nil, errors.New(why)
	}
	return pg_query.Parse(text)
}
