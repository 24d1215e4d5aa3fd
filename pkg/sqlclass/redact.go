package sqlclass

import (
	"slices"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Redacted is what stands for a secret literal in a statement's text
// (written '...'; a literal written otherwise is replaced by one of the
// same form, see whole).
const Redacted = "'<redacted>'"

// redactedValue is what stands for a secret inside a connection string.
const redactedValue = "<redacted>"

// Secret literals. A statement's Text, as events, recordings, approval
// requests and error messages show it, has its secrets replaced, found
// with the parser and the scanner, never by matching the raw text:
//
//   - role passwords: CREATE ROLE/USER/GROUP and ALTER ROLE/USER ...
//     [ENCRYPTED] PASSWORD '...';
//   - options whose name says it is a secret (password, passphrase,
//     secret, token, key, credential, salt...), wherever options are
//     written: CREATE/ALTER USER MAPPING, CREATE/ALTER SERVER, foreign
//     data wrappers and tables, subscriptions;
//   - values given to settings whose name says the same: SET, SET LOCAL,
//     ALTER SYSTEM SET, ALTER ROLE/DATABASE ... SET, set_config();
//   - connection strings in any string constant (dblink_connect, CREATE
//     SUBSCRIPTION ... CONNECTION, a value inserted into a table): the
//     value of a password (or other secret) keyword, or the password of a
//     URI's user information, is replaced inside the string.
//
// Function arguments such as pg_read_file's path are not secrets and stay.

// secretWords mark an option or setting name that holds a secret;
// connSecretWords a connection string keyword or URI parameter, a
// narrower list, as a string constant may be ordinary data that only
// looks like key=value pairs; prefilter is what a text must contain for
// redaction to look closer at it.
var (
	secretWords     = newWordSet("pass", "pwd", "secret", "token", "key", "credential", "salt")
	connSecretWords = newWordSet("pass", "pwd", "secret", "token")
	prefilter       = newWordSet("pass", "pwd", "secret", "token", "key", "credential", "salt", "://")
)

// secretName reports whether an option or setting name holds a secret.
func secretName(name string) bool { return secretWords.index(name) >= 0 }

// connSecretName reports whether a connection string keyword holds a
// secret.
func connSecretName(name string) bool { return connSecretWords.index(name) >= 0 }

// mayHoldSecret is the cheap test done on every statement text before
// anything is parsed for redaction: one of the secret words, or a URI.
func mayHoldSecret(text string) bool { return prefilter.index(text) >= 0 }

// wordSet finds lower-case ASCII words in text, ignoring ASCII case, in
// one pass: only the words starting with a byte are compared there.
type wordSet struct {
	byFirst [256][]string
}

func newWordSet(words ...string) *wordSet {
	ws := &wordSet{}
	for _, w := range words {
		ws.byFirst[w[0]] = append(ws.byFirst[w[0]], w)
		if c := w[0]; c >= 'a' && c <= 'z' {
			ws.byFirst[c-'a'+'A'] = append(ws.byFirst[c-'a'+'A'], w)
		}
	}
	return ws
}

// index returns the offset of the first word found in s, or -1.
func (ws *wordSet) index(s string) int {
	for i := 0; i < len(s); i++ {
		for _, w := range ws.byFirst[s[i]] {
			if len(s)-i >= len(w) && equalFoldASCII(s[i+1:i+len(w)], w[1:]) {
				return i
			}
		}
	}
	return -1
}

// equalFoldASCII reports whether s equals the lower-case word w,
// ignoring the case of ASCII letters.
func equalFoldASCII(s, w string) bool {
	for i := 0; i < len(w); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// RedactSecrets replaces in msg, a message about the statement (a server
// or parser error, which may quote it), the secrets redacted from Text and
// the values of its secret parameters among params.
func (st *Statement) RedactSecrets(msg string, params ...string) string {
	for _, s := range st.secrets {
		msg = replaceSecret(msg, s)
	}
	for _, n := range st.secretParams {
		if n >= 1 && n <= len(params) {
			msg = replaceSecret(msg, params[n-1])
		}
	}
	return msg
}

// replaceSecret replaces s in msg; secrets shorter than three bytes are
// left, as replacing them would garble the message.
func replaceSecret(msg, s string) string {
	if len(s) < 3 {
		return msg
	}
	return strings.ReplaceAll(msg, s, redactedValue)
}

// RedactParams returns the parameters of an execution of the statement as
// events and recordings may show them: the values of its secret
// parameters replaced, and the secrets of connection strings among the
// others. params is returned unchanged when nothing is redacted.
func (st *Statement) RedactParams(params []string) []string {
	var out []string
	set := func(i int, v string) {
		if out == nil {
			out = slices.Clone(params)
		}
		out[i] = v
	}
	for _, n := range st.secretParams {
		if n >= 1 && n <= len(params) {
			set(n-1, redactedValue)
		}
	}
	for i, v := range params {
		if slices.Contains(st.secretParams, i+1) || !mayHoldSecret(v) {
			continue
		}
		if r := redactConnString(v); r != v {
			set(i, r)
		}
	}
	if out == nil {
		return params
	}
	return out
}

// span is a part of a text to replace.
type span struct {
	start, end int
	with       string
}

// redaction is a statement text with its secrets replaced.
type redaction struct {
	text string
	// secrets are the replaced literals, as written and as decoded when
	// that differs, for messages that may quote them.
	secrets []string
	// params are the numbers of the parameters ($n) that are secret
	// values (set_config of a secret setting).
	params []int
}

// redact returns text with its secret literals replaced. A text without
// secrets comes back as is, with no secrets.
func redact(text string) redaction {
	if !mayHoldSecret(text) {
		return redaction{text: text}
	}
	scan, err := pg_query.Scan(text)
	if err != nil {
		return redactUnscannable(text)
	}
	toks := scan.Tokens
	var spans []span
	var params []int
	if tree, err := parseShallow(text); err == nil {
		spans, params = secretNodes(text, tree, toks)
	} else {
		spans = secretTokens(text, toks)
	}
	spans = append(spans, connStrings(text, toks, spans)...)
	spans = slices.DeleteFunc(spans, func(s span) bool { return text[s.start:s.end] == s.with }) // already redacted
	if len(spans) == 0 {
		return redaction{text: text, params: params}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	var secrets []string
	at := 0
	for k, s := range spans {
		if s.start < at {
			continue // overlaps one already replaced
		}
		b.WriteString(text[at:s.start])
		b.WriteString(s.with)
		next := byte(0)
		switch {
		case k+1 < len(spans) && spans[k+1].start == s.end:
			next = spans[k+1].with[0]
		case s.end < len(text):
			next = text[s.end]
		}
		if next == '\'' && strings.HasSuffix(s.with, "'") {
			// Two constants with nothing between them are kept apart,
			// or they would read as one.
			b.WriteByte(' ')
		}
		secrets = append(secrets, text[s.start:s.end])
		if v, ok := literalValue(text[s.start:s.end]); ok && v != "" {
			secrets = append(secrets, v)
		}
		at = s.end
	}
	b.WriteString(text[at:])
	return redaction{text: b.String(), secrets: secrets, params: params}
}

// tokenAt returns the token starting at offset, if any.
func tokenAt(toks []*pg_query.ScanToken, offset int32) *pg_query.ScanToken {
	i, ok := slices.BinarySearchFunc(toks, offset, func(t *pg_query.ScanToken, o int32) int { return int(t.Start - o) })
	if !ok {
		return nil
	}
	return toks[i]
}

// secretNodes finds the secret values in a parse tree: option (DefElem)
// arguments and setting values whose names are secret, set_config values
// of secret settings. Each constant is replaced as a whole; parameters
// are returned by number.
func secretNodes(text string, tree *pg_query.ParseResult, toks []*pg_query.ScanToken) (spans []span, params []int) {
	add := func(loc int32) {
		if t := tokenAt(toks, loc); t != nil {
			spans = append(spans, whole(text, t))
		}
	}
	walkMessages(tree.ProtoReflect(), func(m protoreflect.Message) {
		switch n := m.Interface().(type) {
		case *pg_query.DefElem:
			if n.Arg != nil && secretName(n.Defname) {
				add(n.ArgLocation)
			}
		case *pg_query.VariableSetStmt:
			if secretName(n.Name) {
				for _, a := range n.Args {
					if c := a.GetAConst(); c != nil {
						add(c.Location)
					}
				}
			}
		case *pg_query.FuncCall:
			if isSetConfig(n) && len(n.Args) >= 2 {
				if name := n.Args[0].GetAConst(); name != nil && name.GetSval() != nil && secretName(name.GetSval().Sval) {
					if v := n.Args[1].GetAConst(); v != nil {
						add(v.Location)
					}
					if p := n.Args[1].GetParamRef(); p != nil {
						params = append(params, int(p.Number))
					}
				}
			}
		}
	})
	return spans, params
}

func isSetConfig(f *pg_query.FuncCall) bool {
	n := len(f.Funcname)
	if n == 0 || n > 2 {
		return false
	}
	last := f.Funcname[n-1].GetString_()
	return last != nil && strings.EqualFold(last.Sval, "set_config")
}

// walkMessages calls f for m and every message below it.
func walkMessages(m protoreflect.Message, f func(protoreflect.Message)) {
	f(m)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				walkMessages(l.Get(i).Message(), f)
			}
		case fd.Message() != nil && !fd.IsMap():
			walkMessages(v.Message(), f)
		}
		return true
	})
}

// secretTokens is the fallback for a text the parser refuses (it is
// refused and reported, text included) that may hold a secret: its
// structure is unknown, so every string constant in it is replaced.
func secretTokens(text string, toks []*pg_query.ScanToken) []span {
	var spans []span
	for _, t := range toks {
		if isString(t.Token) {
			spans = append(spans, whole(text, t))
		}
	}
	return spans
}

// redactUnscannable is the last resort for a text even the scanner
// refuses (an unterminated literal, say): everything from the first
// secret word on is cut.
func redactUnscannable(text string) redaction {
	i := prefilter.index(text)
	if i < 0 {
		return redaction{text: text}
	}
	return redaction{text: text[:i] + redactedValue, secrets: []string{text[i:]}}
}

func isString(t pg_query.Token) bool {
	return t == pg_query.Token_SCONST || t == pg_query.Token_USCONST || t == pg_query.Token_BCONST || t == pg_query.Token_XCONST
}

// redact sets st's Text to text with its secrets replaced.
func (st *Statement) redact(text string) {
	r := redact(text)
	st.Text, st.secrets, st.secretParams = r.text, r.secrets, r.params
}

// whole replaces the string constant t of text as a whole, with a constant
// of the same form: '<redacted>', E'<redacted>', U&'<redacted>',
// $tag$<redacted>$tag$, or an empty bit or hex string. Keeping the form keeps
// how the constant reads next to its neighbours (two constants separated
// by a newline are one when both are written '...').
func whole(text string, t *pg_query.ScanToken) span {
	raw := text[t.Start:t.End]
	with := Redacted
	switch {
	case raw[0] == '$':
		if end := strings.IndexByte(raw[1:], '$'); end >= 0 {
			tag := raw[:end+2]
			with = tag + redactedValue + tag
		}
	case len(raw) > 1 && (raw[0] == 'E' || raw[0] == 'e') && raw[1] == '\'':
		with = "E" + Redacted
	case len(raw) > 2 && (raw[0] == 'U' || raw[0] == 'u') && raw[1] == '&':
		with = "U&" + Redacted
	case raw[0] == 'B' || raw[0] == 'b':
		with = "B''"
	case raw[0] == 'X' || raw[0] == 'x':
		with = "X''"
	}
	return span{int(t.Start), int(t.End), with}
}
