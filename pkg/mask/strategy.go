package mask

import "fmt"

// Strategy says what replaces a sensitive value.
type Strategy uint8

// The strategies.
const (
	// Redact replaces every letter and digit with '*' (a digit in a JSON
	// number: see Scanner.Text), keeping separators, so the length stays.
	Redact Strategy = iota + 1
	// Partial keeps the last four letters or digits (the domain of an
	// e-mail address, the network half of an IP address) and redacts the
	// rest.
	Partial
	// Hash replaces every letter and digit with one derived from a keyed
	// HMAC-SHA256 of the value, keeping case, digits and separators: the
	// same value always gives the same result, so joins still work.
	Hash
	// Null replaces the whole value with SQL NULL.
	Null
)

var strategyNames = [...]string{Redact: "redact", Partial: "partial", Hash: "hash", Null: "null"}

// String returns the strategy's name.
func (s Strategy) String() string {
	if s >= Redact && s <= Null {
		return strategyNames[s]
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// ParseStrategy returns the strategy with the given name.
func ParseStrategy(name string) (Strategy, error) {
	for s := Redact; s <= Null; s++ {
		if strategyNames[s] == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("%w: strategy %q", ErrUnknown, name)
}
