package mask

import "bytes"

// Secrets, each found at the start of a word:
//
//   - AWS access key ids: AKIA, ASIA, ABIA, ACCA, AGPA, AIDA, AIPA, ANPA,
//     ANVA, APKA, AROA or ASCA and 16 upper-case letters or digits;
//   - AWS secret access keys: 40 characters of [A-Za-z0-9/+] with upper
//     and lower case letters and digits, when "secret" stands in the 32
//     bytes before;
//   - PEM private key blocks ("-----BEGIN ... PRIVATE KEY-----" to the
//     matching END line, or to the end of the value if it is cut short);
//   - JSON web tokens: "eyJ" and two more base64url segments, the second
//     also starting with "eyJ";
//   - API tokens: GitHub (ghp_, gho_, ghu_, ghs_, ghr_ and 36 or more
//     letters or digits; github_pat_ and 22 or more), Slack (xoxb-, xoxp-,
//     xoxa-, xoxr-, xoxs-, xoxo-, xapp- and 10 or more), Stripe (sk_live_,
//     sk_test_, rk_live_, rk_test_ and 16 or more), GitLab (glpat- and 20
//     or more), Google (AIza and 35; ya29. and 20 or more).

var awsPrefixes = [...]string{"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA"}

// tokenShape is a prefix and what may follow it.
type tokenShape struct {
	prefix string
	min    int             // characters after the prefix
	max    int             // 0: unbounded
	chars  func(byte) bool // characters after the prefix
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }

func isB64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }

func isSlack(c byte) bool { return isAlnum(c) || c == '-' }

func isYa29(c byte) bool { return isB64URL(c) || c == '.' }

// tokenShapes by first byte.
var tokenShapes = [256][]tokenShape{
	'g': {
		{prefix: "ghp_", min: 36, chars: isAlnum}, {prefix: "gho_", min: 36, chars: isAlnum},
		{prefix: "ghu_", min: 36, chars: isAlnum}, {prefix: "ghs_", min: 36, chars: isAlnum},
		{prefix: "ghr_", min: 36, chars: isAlnum}, {prefix: "github_pat_", min: 22, chars: isWord},
		{prefix: "glpat-", min: 20, chars: isB64URL},
	},
	'x': {
		{prefix: "xoxb-", min: 10, chars: isSlack}, {prefix: "xoxp-", min: 10, chars: isSlack},
		{prefix: "xoxa-", min: 10, chars: isSlack}, {prefix: "xoxr-", min: 10, chars: isSlack},
		{prefix: "xoxs-", min: 10, chars: isSlack}, {prefix: "xoxo-", min: 10, chars: isSlack},
		{prefix: "xapp-", min: 10, chars: isSlack},
	},
	's': {{prefix: "sk_live_", min: 16, chars: isAlnum}, {prefix: "sk_test_", min: 16, chars: isAlnum}},
	'r': {{prefix: "rk_live_", min: 16, chars: isAlnum}, {prefix: "rk_test_", min: 16, chars: isAlnum}},
	'A': {{prefix: "AIza", min: 35, max: 35, chars: isB64URL}},
	'y': {{prefix: "ya29.", min: 20, chars: isYa29}},
}

// secret matches a secret starting at the word src[i:j]. It returns the
// end of the match and its detector, or 0.
func (s *scan) secret(i, j int) (int, Detector) {
	src, set := s.src, s.set
	w := src[i:j]
	if set.Has(APIToken) {
		for _, t := range tokenShapes[w[0]] {
			if e := t.match(src, i); e > 0 {
				return e, APIToken
			}
		}
	}
	if set.Has(JWT) && w[0] == 'e' && bytes.HasPrefix(w, []byte("eyJ")) {
		if e := jwt(src, i); e > 0 {
			return e, JWT
		}
	}
	if set.Has(AWSKey) {
		if j-i == 20 && w[0] == 'A' {
			for _, p := range awsPrefixes {
				if string(w[:4]) == p && allUpperDigit(w[4:]) {
					return j, AWSKey
				}
			}
		}
		if j-i >= 40 || j < len(src) && (src[j] == '/' || src[j] == '+') {
			if e := awsSecret(src, i); e > 0 {
				return e, AWSKey
			}
		}
	}
	return 0, 0
}

// match returns the end of the token of shape t at i, or 0.
func (t tokenShape) match(src []byte, i int) int {
	if !bytes.HasPrefix(src[i:], []byte(t.prefix)) {
		return 0
	}
	j := i + len(t.prefix)
	for j < len(src) && t.chars(src[j]) {
		j++
	}
	n := j - i - len(t.prefix)
	if n < t.min || t.max > 0 && n > t.max {
		return 0
	}
	if j < len(src) && isWord(src[j]) {
		return 0
	}
	return j
}

func allUpperDigit(b []byte) bool {
	for _, c := range b {
		if !isUpper(c) && !isDigit(c) {
			return false
		}
	}
	return true
}

// awsSecret matches a 40-character AWS secret access key at i with
// "secret" shortly before it.
func awsSecret(src []byte, i int) int {
	if i > 0 && isB64(src[i-1]) {
		return 0
	}
	j := i
	var up, lo, dg bool
	for j < len(src) && isB64(src[j]) && j-i <= 40 {
		c := src[j]
		up, lo, dg = up || isUpper(c), lo || isLower(c), dg || isDigit(c)
		j++
	}
	if j-i != 40 || !up || !lo || !dg || j < len(src) && (isB64(src[j]) || src[j] == '=') {
		return 0
	}
	if !labelBefore(src, i, secretLabels) {
		return 0
	}
	return j
}

var secretLabels = []string{"secret"}

// jwt matches a JSON web token at i.
func jwt(src []byte, i int) int {
	seg := func(j int) int {
		for j < len(src) && isB64URL(src[j]) {
			j++
		}
		return j
	}
	e1 := seg(i)
	if e1-i < 10 || e1 >= len(src) || src[e1] != '.' {
		return 0
	}
	e2 := seg(e1 + 1)
	if e2-e1-1 < 10 || !bytes.HasPrefix(src[e1+1:], []byte("eyJ")) || e2 >= len(src) || src[e2] != '.' {
		return 0
	}
	e3 := seg(e2 + 1)
	if e3 < len(src) && src[e3] == '.' {
		return 0 // a fourth segment: not a signed JWT
	}
	return e3
}

var (
	pemBegin = []byte("-----BEGIN ")
	pemEnd   = []byte("-----END ")
	pemKey   = []byte("PRIVATE KEY-----")
)

// privateKey handles a '-' at i: a PEM private key block may start there.
func (s *scan) privateKey(i int) int {
	src := s.src
	if !s.set.Has(PrivateKey) || i < s.floor || !bytes.HasPrefix(src[i:], pemBegin) {
		return i + 1
	}
	// The header: "-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----".
	h := i + len(pemBegin)
	for h < len(src) && h-i < 64 && (isUpper(src[h]) || isDigit(src[h]) || src[h] == ' ') {
		if bytes.HasPrefix(src[h:], pemKey) {
			break
		}
		h++
	}
	if !bytes.HasPrefix(src[h:], pemKey) {
		return i + 1
	}
	body := h + len(pemKey)
	e := bytes.Index(src[body:], pemEnd)
	if e < 0 {
		s.emit(i, len(src), PrivateKey)
		return len(src)
	}
	e += body
	f := bytes.Index(src[e:], pemKey)
	if f < 0 || f > 64 {
		s.emit(i, len(src), PrivateKey)
		return len(src)
	}
	end := e + f + len(pemKey)
	s.emit(i, end, PrivateKey)
	return end
}
