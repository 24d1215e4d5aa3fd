package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// claimsText renders the exposed claims of a token as "name=value, ...",
// by name: strings as they are, unless they hold a separator, a quote or
// a character that is not printable (then quoted), other values as JSON.
// The claims come from the token's issuer: nothing in them reaches the
// terminal unescaped.
func claimsText(c map[string]any) string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, plainOrQuoted(n)+"="+claimValue(c[n]))
	}
	return strings.Join(parts, ", ")
}

func claimValue(v any) string {
	if s, ok := v.(string); ok {
		return plainOrQuoted(s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "?"
	}
	return string(b)
}

// plainOrQuoted quotes s when it is empty or holds anything but printable
// characters other than the separators of claimsText.
func plainOrQuoted(s string) string {
	if s == "" || strings.ContainsAny(s, `,="' `) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// subjectText is "SUBJECT of ISSUER", quoted where the text needs it.
func subjectText(subject, issuer string) string {
	return fmt.Sprintf("%s of %s", plainOrQuoted(subject), plainOrQuoted(issuer))
}

// untilText says how long until t from now: "in 9m12s", "expired 2m3s ago".
func untilText(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d > 0 {
		return "in " + d.String()
	}
	return "expired " + (-d).String() + " ago"
}

// utcText formats a time of day for humans, in UTC.
func utcText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
