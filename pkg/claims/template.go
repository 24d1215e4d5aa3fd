package claims

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits of templates.
const (
	MaxTemplate     = 256 // bytes of template text
	MaxPlaceholders = 8
	// MaxName is the longest identity name a template may render, the
	// configuration's limit for identity names.
	MaxName = 128
)

// nameChars are the characters an identity name may hold; the first must
// be a letter or a digit (the configuration's rule).
const nameChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/-"

// punctuation are the characters of names that are not letters or
// digits; those the template's literal text uses separate its values.
const punctuation = "._:@/-"

// ErrRender is wrapped by the errors of Template.Render: the claims do not
// give a usable identity name.
var ErrRender = errors.New("the token's claims do not give an identity name")

// Template is a parsed identity name template.
type Template struct {
	text  string
	parts []part
	seps  string // every character of the literal text, each once
	re    *regexp.Regexp
}

// part is literal text, or a placeholder when path is set.
type part struct {
	lit  string
	path string
}

// ParseTemplate parses an identity name template such as
// "gha:{repository}@{ref}". See the package documentation for the rules.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, errors.New("empty template")
	}
	if len(s) > MaxTemplate {
		return nil, fmt.Errorf("template longer than %d bytes", MaxTemplate)
	}
	t := &Template{text: s}
	rest := s
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			t.parts = append(t.parts, part{lit: rest})
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf("unexpected %q at byte %d: placeholders are written {claim}", "}", len(s)-len(rest)+open+1)
		}
		if open > 0 {
			t.parts = append(t.parts, part{lit: rest[:open]})
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return nil, fmt.Errorf("placeholder at byte %d is not closed with }", len(s)-len(rest)+open+1)
		}
		p := rest[open+1 : open+1+end]
		if err := CheckPath(p); err != nil {
			return nil, fmt.Errorf("placeholder {%s}: %w", clip(p), err)
		}
		if n := len(t.parts); n > 0 && t.parts[n-1].path != "" {
			return nil, fmt.Errorf("placeholders {%s} and {%s} must be separated by literal text, or their values could run into each other", t.parts[n-1].path, p)
		}
		if n := len(t.parts); n > 1 && t.parts[n-2].path != "" && !strings.ContainsAny(t.parts[n-1].lit, punctuation) {
			return nil, fmt.Errorf("the text %q between {%s} and {%s} must hold one of %s, or their values could run into each other",
				t.parts[n-1].lit, t.parts[n-2].path, p, punctuation)
		}
		t.parts = append(t.parts, part{path: p})
		rest = rest[open+1+end+1:]
	}
	var re strings.Builder
	re.WriteString("^")
	placeholders := 0
	for _, p := range t.parts {
		if p.path != "" {
			placeholders++
			continue
		}
		for _, r := range p.lit {
			if !strings.ContainsRune(nameChars, r) {
				return nil, fmt.Errorf("literal text %q holds %q, which identity names cannot contain (letters, digits and . _ : @ / -)", clip(p.lit), r)
			}
			if strings.ContainsRune(punctuation, r) && !strings.ContainsRune(t.seps, r) {
				t.seps += string(r)
			}
		}
	}
	if placeholders == 0 {
		return nil, errors.New("no placeholder: write at least one {claim}, such as {sub}")
	}
	if placeholders > MaxPlaceholders {
		return nil, fmt.Errorf("more than %d placeholders", MaxPlaceholders)
	}
	value := "[" + regexp.QuoteMeta(strings.Map(func(r rune) rune {
		if strings.ContainsRune(t.seps, r) {
			return -1
		}
		return r
	}, nameChars)) + "]+"
	for _, p := range t.parts {
		if p.path != "" {
			re.WriteString(value)
		} else {
			re.WriteString(regexp.QuoteMeta(p.lit))
		}
	}
	re.WriteString("$")
	t.re = regexp.MustCompile(re.String())
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.text }

// Paths returns the claims the template reads, in order.
func (t *Template) Paths() []string {
	var out []string
	for _, p := range t.parts {
		if p.path != "" {
			out = append(out, p.path)
		}
	}
	return out
}

// CanProduce reports whether some claims could render name: an identity
// that no token can ever map to is most likely a mistake.
func (t *Template) CanProduce(name string) bool { return t.re.MatchString(name) }

// Render fills the template with the claims. Errors wrap ErrRender and
// name the claim at fault; they quote a claim's value only when it is
// short, and never anything else of the token.
func (t *Template) Render(c map[string]any) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := Lookup(c, p.path)
		if !ok {
			return "", fmt.Errorf("%w: claim %q is missing", ErrRender, p.path)
		}
		s, ok := Text(v)
		if !ok {
			return "", fmt.Errorf("%w: claim %q is not a string or an integer", ErrRender, p.path)
		}
		if s == "" {
			return "", fmt.Errorf("%w: claim %q is empty", ErrRender, p.path)
		}
		if i := strings.IndexAny(s, t.seps); i >= 0 {
			return "", fmt.Errorf("%w: claim %q holds %q, which contains %q, a separator of the template %q",
				ErrRender, p.path, clip(s), s[i:i+1], t.text)
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune(nameChars, r) }); i >= 0 {
			return "", fmt.Errorf("%w: claim %q holds %q, which contains a character identity names cannot hold (letters, digits and . _ : @ / - only)",
				ErrRender, p.path, clip(s))
		}
		b.WriteString(s)
	}
	name := b.String()
	switch {
	case len(name) > MaxName:
		return "", fmt.Errorf("%w: the name would be %d bytes long; identity names are at most %d", ErrRender, len(name), MaxName)
	case !isAlnum(name[0]):
		return "", fmt.Errorf("%w: the name %q does not start with a letter or a digit", ErrRender, clip(name))
	}
	return name, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
