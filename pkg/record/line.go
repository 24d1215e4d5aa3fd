package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Line format. Every event is one line of JSON:
//
//	{"seq":N,"time":T,"kind":K[,"decision":D][,"retry":R],"prev":P,"data":{...},"hash":H}
//
// or, in an encrypted recording, "sealed":"<base64>" in place of "data"
// (the header line has both: "data" holds the public part, then "key",
// then "sealed"). H is the SHA-256 of the line's bytes up to, not
// including, `,"hash":"`; P is the H of the line before (zeros for the
// header). A recording closed by the store ends with a signature line,
// {"signature":{...}}, which is not an event and has no seq.

// Digest is a line hash.
type Digest [sha256.Size]byte

// String returns the hash in hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// MarshalText encodes the hash in hex.
func (d Digest) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, d[:]), nil }

const (
	hashMarker = `,"hash":"`
	hashSuffix = len(hashMarker) + 2*sha256.Size + len(`"}`)
	sealedKey  = `,"sealed":"`
)

// appendEnvelope starts a line.
func appendEnvelope(b []byte, seq uint64, t time.Time, kind Kind, decision string, retry uint32, prev *Digest) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"time":`...)
	b = appendTime(b, t)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(kind))
	if decision != "" {
		b = append(b, `,"decision":`...)
		b = appendString(b, truncateUTF8(decision, MaxNameLen))
	}
	if retry > 0 {
		b = append(b, `,"retry":`...)
		b = strconv.AppendUint(b, uint64(retry), 10)
	}
	b = append(b, `,"prev":"`...)
	b = hex.AppendEncode(b, prev[:])
	return append(b, '"', ',')
}

// finishLine appends the hash and the newline; it returns the line and
// its hash.
func finishLine(b []byte) ([]byte, Digest) {
	h := Digest(sha256.Sum256(b))
	b = append(b, hashMarker...)
	b = hex.AppendEncode(b, h[:])
	return append(b, '"', '}', '\n'), h
}

// Signature is the last line of a closed recording: the host key's
// signature of its head.
type Signature struct {
	Session string `json:"session"`
	Events  uint64 `json:"events"` // event lines, header and end included
	Head    string `json:"head"`   // hash of the last event line (the end), hex
	Key     string `json:"key"`    // id of the host key
	Sig     []byte `json:"sig"`    // ed25519 signature of SignedText
}

// SignedText is what the signature covers.
func (s *Signature) SignedText() []byte {
	return fmt.Appendf(nil, "sluice recording head v1\nsession %s\nevents %d\nhead %s\n", s.Session, s.Events, s.Head)
}

// rawLine is a line as decoded from JSON.
type rawLine struct {
	Seq       *uint64         `json:"seq"`
	Time      string          `json:"time"`
	Kind      string          `json:"kind"`
	Decision  string          `json:"decision"`
	Retry     uint32          `json:"retry"`
	Prev      string          `json:"prev"`
	Data      json.RawMessage `json:"data"`
	Key       []byte          `json:"key"`
	Sealed    []byte          `json:"sealed"`
	Hash      string          `json:"hash"`
	Signature *Signature      `json:"signature"`
}

// parsedLine is one well-formed line.
type parsedLine struct {
	raw     rawLine
	time    time.Time
	prev    Digest
	hash    Digest // as written in the line
	content Digest // SHA-256 of the line's prefix
	aad     []byte // for sealed payloads: the line up to the payload
}

var signaturePrefix = []byte(`{"signature":`)

// parseLine decodes one line (without its newline). Its checks are those
// that need only the line itself; the chain is checked by the Reader.
func parseLine(line []byte) (*parsedLine, error) {
	if bytes.HasPrefix(line, signaturePrefix) {
		var raw rawLine
		if err := json.Unmarshal(line, &raw); err != nil {
			return nil, fmt.Errorf("malformed signature line: %w", err)
		}
		if raw.Signature == nil || raw.Seq != nil {
			return nil, errors.New("malformed signature line")
		}
		return &parsedLine{raw: raw}, nil
	}
	if len(line) < hashSuffix+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		string(line[len(line)-hashSuffix:len(line)-hashSuffix+len(hashMarker)]) != hashMarker {
		return nil, errors.New(`malformed line: it does not end with ,"hash":"<64 hex digits>"}`)
	}
	p := &parsedLine{}
	prefix := line[:len(line)-hashSuffix]
	hexHash := line[len(line)-hashSuffix+len(hashMarker) : len(line)-2]
	if _, err := hex.Decode(p.hash[:], hexHash); err != nil || !isLowerHex(hexHash) {
		return nil, errors.New("malformed line: its hash is not 64 lower-case hex digits")
	}
	p.content = sha256.Sum256(prefix)
	if err := json.Unmarshal(line, &p.raw); err != nil {
		return nil, fmt.Errorf("malformed line: %w", err)
	}
	r := &p.raw
	switch {
	case r.Seq == nil:
		return nil, errors.New("malformed line: no seq")
	case r.Hash != string(hexHash):
		return nil, errors.New("malformed line: two hash fields")
	case r.Kind == "" || len(r.Kind) > 32:
		return nil, fmt.Errorf("malformed line: kind %q", clip(r.Kind))
	case r.Signature != nil:
		return nil, errors.New("malformed line: a signature inside an event")
	}
	t, err := time.Parse(timeLayout, r.Time)
	if err != nil {
		return nil, fmt.Errorf("malformed line: time %q", clip(r.Time))
	}
	p.time = t
	if len(r.Prev) != 2*sha256.Size || !isLowerHex([]byte(r.Prev)) {
		return nil, errors.New("malformed line: prev is not 64 lower-case hex digits")
	}
	_, _ = hex.Decode(p.prev[:], []byte(r.Prev))
	if r.Sealed != nil {
		i := bytes.LastIndex(prefix, []byte(sealedKey))
		if i < 0 {
			return nil, errors.New("malformed line: sealed payload out of place")
		}
		p.aad = prefix[:i+1]
	} else if r.Data == nil {
		return nil, errors.New("malformed line: no data")
	}
	return p, nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
