package record

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
)

// Encryption at rest: each encrypted recording has a random 256-bit data
// key, wrapped with age to the configured recipients and kept, wrapped, in
// the header line. Event payloads are sealed with AES-256-GCM under that
// key. The nonce is the event's seq (8 bytes, big endian) followed by the
// number of failed writes of the recording before it (4 bytes), so that an
// event written again after a failed write never reuses a nonce. The
// associated data is the line up to the sealed payload, so a payload
// cannot be moved to another line. The daemon holds the data key only in
// memory while the recording is open; reading needs an age identity.

const dataKeySize = 32

// ParseRecipients parses age recipients (age1... public keys, one per
// string).
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	out := make([]age.Recipient, 0, len(keys))
	for i, k := range keys {
		rs, err := age.ParseRecipients(strings.NewReader(k))
		if err != nil || len(rs) != 1 {
			return nil, fmt.Errorf("recipient %d: not an age public key", i)
		}
		out = append(out, rs[0])
	}
	return out, nil
}

// ReadIdentities reads an age identity file (AGE-SECRET-KEY-1... lines).
func ReadIdentities(r io.Reader) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, fmt.Errorf("identity file: %w", err)
	}
	return ids, nil
}

// newDataKey returns a fresh data key and its age-wrapped form.
func newDataKey(recipients []age.Recipient) (key, wrapped []byte, err error) {
	key = make([]byte, dataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap data key: %w", err)
	}
	if _, err := w.Write(key); err != nil {
		return nil, nil, err
	}
	if err := w.Close(); err != nil {
		return nil, nil, err
	}
	return key, buf.Bytes(), nil
}

// unwrapKey recovers a data key with one of ids.
func unwrapKey(wrapped []byte, ids []age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(wrapped), ids...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, ErrNoIdentity
		}
		return nil, fmt.Errorf("%w: data key: %w", ErrCorrupt, err)
	}
	key, err := io.ReadAll(io.LimitReader(r, dataKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: data key: %w", ErrCorrupt, err)
	}
	if len(key) != dataKeySize {
		return nil, fmt.Errorf("%w: data key of %d bytes", ErrCorrupt, len(key))
	}
	return key, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(blk)
}

func nonceFor(seq uint64, retry uint32) [12]byte {
	var n [12]byte
	binary.BigEndian.PutUint64(n[:8], seq)
	binary.BigEndian.PutUint32(n[8:], retry)
	return n
}
