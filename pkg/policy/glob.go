package policy

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Globs use the syntax of path.Match: * matches any run of characters, ?
// one character, [abc], [a-z] and [^a-z] one character of (or not of) a
// class, and \ escapes the next character. Unlike path.Match, there is no
// separator: * and ? match / as well, since identity, target, schema and
// table names may contain it. Matching is case-sensitive.

// maxGlobLen bounds the length of a glob, in bytes.
const maxGlobLen = 512

// globForm is the shape of a glob, for the fast paths of match.
type globForm uint8

const (
	formGeneral  globForm = iota // anything else: walk the tokens
	formLiteral                  // no wildcard: equality with lit
	formAny                      // "*": everything
	formPrefix                   // "lit*"
	formSuffix                   // "*lit"
	formContains                 // "*lit*"
)

type tokenKind uint8

const (
	tokLiteral tokenKind = iota // lit, byte for byte
	tokOne                      // ?: any one character
	tokStar                     // *: any run of characters
	tokClass                    // [...]: one character of a class
)

type token struct {
	kind  tokenKind
	lit   string
	class *charClass
}

// charClass is a [...] class: a list of inclusive rune ranges, negated by
// a leading ^.
type charClass struct {
	negated bool
	ranges  [][2]rune
}

func (c *charClass) has(r rune) bool {
	for _, rg := range c.ranges {
		if rg[0] <= r && r <= rg[1] {
			return !c.negated
		}
	}
	return c.negated
}

// glob is a compiled glob.
type glob struct {
	form globForm
	lit  string // the literal of the literal, prefix, suffix and contains forms (unescaped)
	toks []token
}

var errEmptyGlob = errors.New("empty pattern")

// compileGlob compiles p, reporting malformed patterns as path.Match would
// (an unterminated or empty class, a range end missing, a trailing \).
func compileGlob(p string) (glob, error) {
	var g glob
	if p == "" {
		return g, errEmptyGlob
	}
	if len(p) > maxGlobLen {
		return g, fmt.Errorf("pattern longer than %d bytes", maxGlobLen)
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			g.toks = append(g.toks, token{kind: tokLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(p); {
		switch c := p[i]; c {
		case '*':
			flush()
			if n := len(g.toks); n == 0 || g.toks[n-1].kind != tokStar {
				g.toks = append(g.toks, token{kind: tokStar})
			}
			i++
		case '?':
			flush()
			g.toks = append(g.toks, token{kind: tokOne})
			i++
		case '[':
			flush()
			class, next, err := parseClass(p, i+1)
			if err != nil {
				return g, err
			}
			g.toks = append(g.toks, token{kind: tokClass, class: class})
			i = next
		case '\\':
			if i+1 >= len(p) {
				return g, errors.New(`pattern ends with an escaping \`)
			}
			_, n := utf8.DecodeRuneInString(p[i+1:])
			lit.WriteString(p[i+1 : i+1+n])
			i += 1 + n
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	g.form = formOf(g.toks)
	if g.form != formGeneral && g.form != formAny {
		for _, t := range g.toks {
			if t.kind == tokLiteral {
				g.lit = t.lit
			}
		}
	}
	return g, nil
}

// formOf recognizes the shapes match has fast paths for.
func formOf(toks []token) globForm {
	switch {
	case len(toks) == 1 && toks[0].kind == tokLiteral:
		return formLiteral
	case len(toks) == 1 && toks[0].kind == tokStar:
		return formAny
	case len(toks) == 2 && toks[0].kind == tokLiteral && toks[1].kind == tokStar:
		return formPrefix
	case len(toks) == 2 && toks[0].kind == tokStar && toks[1].kind == tokLiteral:
		return formSuffix
	case len(toks) == 3 && toks[0].kind == tokStar && toks[1].kind == tokLiteral && toks[2].kind == tokStar:
		return formContains
	}
	return formGeneral
}

// parseClass parses a class whose "[" is just before p[i]. It returns the
// index after the closing "]".
func parseClass(p string, i int) (*charClass, int, error) {
	c := &charClass{}
	if i < len(p) && p[i] == '^' {
		c.negated = true
		i++
	}
	for {
		if i < len(p) && p[i] == ']' && len(c.ranges) > 0 {
			return c, i + 1, nil
		}
		lo, next, err := classChar(p, i)
		if err != nil {
			return nil, 0, err
		}
		i = next
		hi := lo
		if i < len(p) && p[i] == '-' {
			if hi, i, err = classChar(p, i+1); err != nil {
				return nil, 0, err
			}
		}
		c.ranges = append(c.ranges, [2]rune{lo, hi})
	}
}

var errBadClass = errors.New("malformed character class: [ without a matching ], an empty class, or an unescaped - or ] where a character is expected")

// classChar reads one possibly escaped character of a class at p[i].
func classChar(p string, i int) (rune, int, error) {
	if i >= len(p) || p[i] == '-' || p[i] == ']' {
		return 0, 0, errBadClass
	}
	if p[i] == '\\' {
		i++
		if i >= len(p) {
			return 0, 0, errBadClass
		}
	}
	r, n := utf8.DecodeRuneInString(p[i:])
	if r == utf8.RuneError && n == 1 {
		return 0, 0, errors.New("invalid UTF-8 in a character class")
	}
	return r, i + n, nil
}

// literal returns the name a glob without wildcards stands for.
func (g *glob) literal() (string, bool) {
	return g.lit, g.form == formLiteral
}

// match reports whether s matches the whole glob. The literal case, the
// most common, is kept small enough to be inlined.
func (g *glob) match(s string) bool {
	if g.form == formLiteral {
		return s == g.lit
	}
	return g.matchWild(s)
}

func (g *glob) matchWild(s string) bool {
	switch g.form {
	case formAny:
		return true
	case formPrefix:
		return strings.HasPrefix(s, g.lit)
	case formSuffix:
		return strings.HasSuffix(s, g.lit)
	case formContains:
		return strings.Contains(s, g.lit)
	}
	return matchTokens(g.toks, s)
}

// matchTokens matches s against toks, backtracking to the last * seen on a
// mismatch; retrying from earlier stars is never needed, so the cost is at
// most len(toks) × len(s).
func matchTokens(toks []token, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starT, starS = ti, si
				ti++
				continue
			case tokLiteral:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokClass:
				if si < len(s) {
					r, n := utf8.DecodeRuneInString(s[si:])
					if t.class.has(r) {
						si += n
						ti++
						continue
					}
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		starS++
		ti, si = starT+1, starS
	}
}

// splitQualified splits a glob at its first "." that is neither escaped
// nor inside a class: "sales.*" is schema "sales", name "*". ok is false
// when there is no such dot.
func splitQualified(p string) (schema, name string, ok bool) {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[':
			// Skip to the closing ]; a ] right after [ or [^ is a
			// character, not the end (a malformed class fails to compile
			// later anyway).
			j := i + 1
			if j < len(p) && p[j] == '^' {
				j++
			}
			j++
			for j < len(p) && p[j] != ']' {
				if p[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case '.':
			return p[:i], p[i+1:], true
		}
	}
	return "", p, false
}
