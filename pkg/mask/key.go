package mask

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// ErrShortKey is returned by NewKey for keys under MinKeyLen bytes.
var ErrShortKey = errors.New("hash key too short")

// MinKeyLen is the shortest hash key NewKey accepts, in bytes.
const MinKeyLen = 16

const redacted = "[redacted]"

// Key is the secret of the hash strategy. It never prints: String,
// GoString, Format, MarshalText, MarshalJSON and LogValue all give
// "[redacted]", and the bytes sit behind a pointer, so even %+v of a
// struct holding a Key in an unexported field shows an address only. The
// zero Key is "no key".
type Key struct {
	s *keySecret
}

type keySecret struct {
	b []byte
}

// NewKey returns a Key holding a copy of b, which must have at least
// MinKeyLen bytes.
func NewKey(b []byte) (Key, error) {
	if len(b) < MinKeyLen {
		return Key{}, fmt.Errorf("%w: %d bytes, at least %d needed", ErrShortKey, len(b), MinKeyLen)
	}
	return Key{s: &keySecret{b: append([]byte(nil), b...)}}, nil
}

// IsZero reports whether k holds no key.
func (k Key) IsZero() bool { return k.s == nil }

func (k Key) bytes() []byte {
	if k.s == nil {
		return nil
	}
	return k.s.b
}

// String returns "[redacted]".
func (Key) String() string { return redacted }

// GoString returns "[redacted]".
func (Key) GoString() string { return redacted }

// Format writes "[redacted]" whatever the verb.
func (Key) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// MarshalText returns "[redacted]".
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns the JSON string "[redacted]".
func (Key) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// LogValue returns "[redacted]" for log/slog.
func (Key) LogValue() slog.Value { return slog.StringValue(redacted) }
