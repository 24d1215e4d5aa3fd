package mask

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknown is wrapped by errors for unknown detector or strategy names.
var ErrUnknown = errors.New("unknown name")

// Detector is a kind of sensitive value the scanner recognizes.
type Detector uint8

// The detectors. Their names (String) are those of events, metrics and
// configuration.
const (
	Card       Detector = iota + 1 // payment card number, Luhn-valid
	Email                          // e-mail address
	SSN                            // US social security number
	IBAN                           // international bank account number, mod-97
	Phone                          // phone number, valid for its region
	AWSKey                         // AWS access key id, or secret key after a label
	PrivateKey                     // PEM private key block
	JWT                            // JSON web token
	APIToken                       // GitHub, Slack, Stripe, GitLab, Google tokens
	IPv4                           // IPv4 address (opt-in)
	IPv6                           // IPv6 address (opt-in)

	// NumDetectors bounds the detector values: Counts has one slot per
	// detector, indexed by its value (slot 0 is unused).
	NumDetectors = iota + 1
)

var detectorNames = [NumDetectors]string{
	Card: "card", Email: "email", SSN: "ssn", IBAN: "iban", Phone: "phone",
	AWSKey: "aws_key", PrivateKey: "private_key", JWT: "jwt", APIToken: "api_token",
	IPv4: "ipv4", IPv6: "ipv6",
}

// String returns the detector's name.
func (d Detector) String() string {
	if d > 0 && int(d) < NumDetectors {
		return detectorNames[d]
	}
	return fmt.Sprintf("detector(%d)", uint8(d))
}

// Set is a set of detectors.
type Set uint32

// Of returns the set of the given detectors.
func Of(ds ...Detector) Set {
	var s Set
	for _, d := range ds {
		s |= 1 << d
	}
	return s
}

// Secrets are the secret detectors.
const Secrets = Set(1<<AWSKey | 1<<PrivateKey | 1<<JWT | 1<<APIToken)

// Defaults are the detectors that run unless a configuration says
// otherwise: all but the IP address detectors, which are opt-in.
const Defaults = Set(1<<Card|1<<Email|1<<SSN|1<<IBAN|1<<Phone) | Secrets

// All is every detector.
const All = Defaults | Set(1<<IPv4|1<<IPv6)

// Has reports whether d is in s.
func (s Set) Has(d Detector) bool { return s&(1<<d) != 0 }

// String lists the names in s, comma-separated.
func (s Set) String() string {
	var names []string
	for d := Detector(1); int(d) < NumDetectors; d++ {
		if s.Has(d) {
			names = append(names, d.String())
		}
	}
	return strings.Join(names, ",")
}

// ParseDetector returns the detector with the given name. "secrets" is not
// a detector; ParseSet accepts it.
func ParseDetector(name string) (Detector, error) {
	for d := Detector(1); int(d) < NumDetectors; d++ {
		if detectorNames[d] == name {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%w: detector %q", ErrUnknown, name)
}

// ParseSet returns the set of the named detectors; "secrets" stands for
// the four secret detectors, "defaults" for Defaults and "all" for All.
func ParseSet(names []string) (Set, error) {
	var s Set
	for _, n := range names {
		switch n {
		case "secrets":
			s |= Secrets
		case "defaults":
			s |= Defaults
		case "all":
			s |= All
		default:
			d, err := ParseDetector(n)
			if err != nil {
				return 0, err
			}
			s |= 1 << d
		}
	}
	return s, nil
}

// Counts holds a number per detector, indexed by Detector.
type Counts [NumDetectors]uint32

// Add adds o to c.
func (c *Counts) Add(o *Counts) {
	for i := range c {
		c[i] += o[i]
	}
}

// Total is the sum over all detectors.
func (c *Counts) Total() uint64 {
	var n uint64
	for _, v := range c {
		n += uint64(v)
	}
	return n
}
