package sqlclass

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// connStrings finds the secrets inside the string constants of a text
// that read as connection strings (libpq's key=value form, or a URI with
// a password), outside the spans already found. A constant written as
// '...' or $$...$$ keeps everything but the secret; one written otherwise
// (E'...', U&'...') is replaced as a whole.
func connStrings(text string, toks []*pg_query.ScanToken, found []span) []span {
	var spans []span
	for _, t := range toks {
		if !isString(t.Token) || covered(found, int(t.Start)) {
			continue
		}
		raw := text[t.Start:t.End]
		if !mayHoldSecret(raw) {
			continue
		}
		v, ok := literalValue(raw)
		if !ok {
			if red := redactConnString(raw); red != raw {
				spans = append(spans, whole(text, t))
			}
			continue
		}
		red := redactConnString(v)
		if red == v {
			continue
		}
		spans = append(spans, span{int(t.Start), int(t.End), quoteLike(raw, red)})
	}
	return spans
}

func covered(spans []span, at int) bool {
	for _, s := range spans {
		if at >= s.start && at < s.end {
			return true
		}
	}
	return false
}

// literalValue decodes a string constant written as '...' (standard
// conforming: quotes doubled, backslashes literal) or $tag$...$tag$. Other
// forms are not decoded.
func literalValue(raw string) (string, bool) {
	switch {
	case len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'':
		body := raw[1 : len(raw)-1]
		// Two constants separated by a newline are one ('a'\n'b'): not
		// decoded here.
		if strings.ContainsAny(body, "\n\r") && strings.Contains(body, "'") {
			return "", false
		}
		return strings.ReplaceAll(body, "''", "'"), true
	case len(raw) >= 2 && raw[0] == '$':
		end := strings.IndexByte(raw[1:], '$')
		if end < 0 {
			return "", false
		}
		tag := raw[:end+2]
		if len(raw) < 2*len(tag) || !strings.HasSuffix(raw, tag) {
			return "", false
		}
		return raw[len(tag) : len(raw)-len(tag)], true
	}
	return "", false
}

// quoteLike writes v as a constant of the same form as raw.
func quoteLike(raw, v string) string {
	if raw[0] == '$' {
		tag := raw[:strings.IndexByte(raw[1:], '$')+2]
		return tag + v + tag
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// redactConnString replaces the secrets of a connection string: the
// values of secret keywords (password=..., sslpassword=...) in libpq's
// key=value form, and in a URI the password of the user information and
// secret query parameters. Text that is neither comes back as it is.
func redactConnString(s string) string {
	if i := strings.Index(s, "://"); i > 0 {
		return redactURIs(s)
	}
	if !strings.Contains(s, "=") {
		return s
	}
	return redactKeyValues(s)
}

// redactKeyValues walks key = value pairs (values bare or single-quoted,
// with backslash escapes) and replaces the values of secret keys. It stops
// at text that is not such a pair, keeping what it redacted so far.
func redactKeyValues(s string) string {
	var b strings.Builder
	i, at := 0, 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		skip()
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' {
			i++
		}
		key := s[k:i]
		skip()
		if key == "" || i >= len(s) || s[i] != '=' {
			break
		}
		i++
		skip()
		// The value runs to white space outside single quotes; a
		// backslash escapes the next byte.
		v, quoted := i, false
		for i < len(s) && (quoted || s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
			switch s[i] {
			case '\\':
				i++
			case '\'':
				quoted = !quoted
			}
			i++
		}
		i = min(i, len(s))
		if connSecretName(key) && i > v {
			b.WriteString(s[at:v])
			b.WriteString(redactedValue)
			at = i
		}
	}
	if at == 0 {
		return s
	}
	b.WriteString(s[at:])
	return b.String()
}

// redactURIs replaces, in every scheme://user:password@host... of s, the
// password, and the values of secret query parameters.
func redactURIs(s string) string {
	var b strings.Builder
	at := 0
	for {
		i := strings.Index(s[at:], "://")
		if i < 0 {
			break
		}
		start := at + i + 3
		end := start
		for end < len(s) && !strings.ContainsRune(" \t\n'\"", rune(s[end])) {
			end++
		}
		b.WriteString(s[at:start])
		b.WriteString(redactURI(s[start:end]))
		at = end
	}
	b.WriteString(s[at:])
	return b.String()
}

// redactURI redacts one URI after its "scheme://".
func redactURI(u string) string {
	auth, rest := u, ""
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		auth, rest = u[:i], u[i:]
	}
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		if c := strings.IndexByte(auth[:at], ':'); c >= 0 {
			auth = auth[:c+1] + redactedValue + auth[at:]
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		params := strings.Split(rest[q+1:], "&")
		for j, p := range params {
			if k, _, ok := strings.Cut(p, "="); ok && connSecretName(k) {
				params[j] = k + "=" + redactedValue
			}
		}
		rest = rest[:q+1] + strings.Join(params, "&")
	}
	return auth + rest
}
