package mask

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	mrand "math/rand/v2"
	"strings"
)

// ErrNoKey is returned by New when a detector's strategy is Hash and the
// Config has no Key.
var ErrNoKey = errors.New("the hash strategy needs a key")

// ErrRegion is returned by New for a phone region phonenumbers does not
// know.
var ErrRegion = errors.New("unknown phone region")

// Config configures a Masker.
type Config struct {
	// Detectors are the content detectors that run. IPv4 and IPv6 run
	// only when listed; Defaults is the usual choice.
	Detectors Set
	// Strategy applies to every detector without an entry in Strategies;
	// zero means Redact.
	Strategy Strategy
	// Strategies override Strategy per detector.
	Strategies map[Detector]Strategy
	// Region is the ISO 3166 region (such as "US" or "DE") of phone
	// numbers written in national format. Without it only numbers in
	// international format (+CC...) are found.
	Region string
	// Key is the secret of the Hash strategy.
	Key Key
}

// Masker is a compiled Config. It is immutable and safe for concurrent
// use; each goroutine masks with its own Scanner.
type Masker struct {
	detectors Set
	strategy  [NumDetectors]Strategy
	phone     phoneRegion // national format: the region's calling code and trunk prefix
	phones    *phoneTables
	key       Key
}

// New compiles cfg.
func New(cfg Config) (*Masker, error) {
	m := &Masker{detectors: cfg.Detectors & All, key: cfg.Key}
	def := cfg.Strategy
	if def == 0 {
		def = Redact
	}
	if def > Null {
		return nil, fmt.Errorf("%w: %v", ErrUnknown, def)
	}
	for d := Detector(1); int(d) < NumDetectors; d++ {
		m.strategy[d] = def
	}
	for d, s := range cfg.Strategies {
		if d == 0 || int(d) >= NumDetectors {
			return nil, fmt.Errorf("%w: %v", ErrUnknown, d)
		}
		if s == 0 || s > Null {
			return nil, fmt.Errorf("%w: %v for %v", ErrUnknown, s, d)
		}
		m.strategy[d] = s
	}
	if cfg.Key.IsZero() {
		for d := Detector(1); int(d) < NumDetectors; d++ {
			if m.detectors.Has(d) && m.strategy[d] == Hash {
				return nil, fmt.Errorf("%w (detector %v)", ErrNoKey, d)
			}
		}
	}
	if m.detectors.Has(Phone) {
		m.phones = loadPhoneTables()
	}
	if cfg.Region != "" {
		r, ok := loadPhoneTables().regions[strings.ToUpper(cfg.Region)]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrRegion, cfg.Region)
		}
		m.phone = r
	}
	return m, nil
}

// Detectors returns the detectors that run.
func (m *Masker) Detectors() Set { return m.detectors }

// Strategy returns the strategy of detector d.
func (m *Masker) Strategy(d Detector) Strategy {
	if d == 0 || int(d) >= NumDetectors {
		return 0
	}
	return m.strategy[d]
}

// HasKey reports whether the Masker has a hash key. Without one, the
// whole-value hash methods of its Scanners use a random key that lives as
// long as the Scanner, so their results are not stable: callers that hash
// whole values check HasKey first.
func (m *Masker) HasKey() bool { return !m.key.IsZero() }

// Scanner holds what one goroutine needs to mask: the keyed hash and
// scratch space. It is not safe for concurrent use.
type Scanner struct {
	m    *Masker
	mac  hash.Hash
	perm cipher.Block
	rng  *mrand.ChaCha8
	st   *scratch
	// spans, when set (tests), receives every match.
	spans *[]span
}

// span is one match, src[Start:End] found by Detector (tests).
type span struct {
	Start, End int
	Detector   Detector
}

// scratch is kept behind a pointer so that printing a Scanner shows no
// hash material.
type scratch struct {
	sum  [sha256.Size]byte
	norm []byte
	blk  [aes.BlockSize]byte
	out  [aes.BlockSize]byte
}

// Scanner returns a new Scanner for m.
func (m *Masker) Scanner() *Scanner {
	key := m.key.bytes()
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	mac := hmac.New(sha256.New, key)
	// The integer permutation's AES key is derived from the hash key.
	mac.Write([]byte("sluice/mask integer permutation"))
	sub := mac.Sum(nil)
	mac.Reset()
	perm, err := aes.NewCipher(sub[:16])
	if err != nil {
		panic(err) // a 16-byte key is always valid
	}
	return &Scanner{
		m: m, mac: mac, perm: perm,
		rng: mrand.NewChaCha8([32]byte{}),
		st:  &scratch{},
	}
}

// Masker returns the Masker the scanner belongs to.
func (sc *Scanner) Masker() *Masker { return sc.m }

// Syntax is what a value's text is, as far as replacements must respect.
type Syntax uint8

const (
	// Text is free text, and also PostgreSQL array and composite text
	// output: every replacement is text of the same shape.
	Text Syntax = iota
	// JSON is a JSON document: outside strings, a match is a JSON number
	// and is replaced by a JSON number (see Scanner.Text).
	JSON
)

// Context says what the scanner knows about a value beyond its text.
type Context struct {
	Syntax Syntax
	// Hint lists what the value's column is known to hold (a column rule
	// said so): with SSN, a bare 9-digit number is a social security
	// number; with Phone, a bare run of 7 to 15 digits is checked as a
	// phone number.
	Hint Set
}

// Result is what Scanner.Text found.
type Result struct {
	// Changed: dst holds the rewritten value. When false, dst was
	// returned as given and the value is src itself.
	Changed bool
	// Null: a detector whose strategy is Null matched: the whole value
	// becomes NULL (Changed is true, nothing is appended).
	Null bool
	// Counts are the matches per detector.
	Counts Counts
}
