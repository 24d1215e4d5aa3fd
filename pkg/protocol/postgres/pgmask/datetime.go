package pgmask

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/sluicehq/sluice/pkg/mask"
)

// Dates and timestamps: Redact gives the Unix epoch (1970-01-01
// 00:00:00), Hash a keyed date or whole second between 1900 and 2099;
// infinities stay. Text values must be in the ISO DateStyle (PostgreSQL's
// default); others become NULL.

var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	unixEpochDays = -10957 // 1970-01-01, in days since 2000-01-01
	firstDay      = -36524 // 1900-01-01
	hashDays      = 73049  // 1900-01-01 to 2099-12-31
	usPerSec      = 1_000_000
)

func (c *column) date(dst, v []byte, st mask.Strategy) ([]byte, error) {
	var days int32
	switch {
	case c.binary:
		if len(v) != 4 {
			return dst, errMalformed
		}
		days = int32(binary.BigEndian.Uint32(v))
	case string(v) == "infinity":
		days = math.MaxInt32
	case string(v) == "-infinity":
		days = math.MinInt32
	default:
		t, err := time.Parse("2006-01-02", string(v))
		if err != nil {
			if len(v) < 5 || v[4] != '-' {
				return dst, errDateStyle
			}
			return dst, errMalformed
		}
		days = int32(t.Sub(pgEpoch).Hours() / 24)
	}
	if days != math.MaxInt32 && days != math.MinInt32 {
		if st == mask.Redact {
			days = unixEpochDays
		} else {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(days))
			var sum [32]byte
			days = firstDay + int32(binary.BigEndian.Uint64(c.sc.Sum(sum[:0], domainDate, b[:]))%hashDays)
		}
	}
	if c.binary {
		return binary.BigEndian.AppendUint32(dst, uint32(days)), nil
	}
	switch days {
	case math.MaxInt32:
		return append(dst, "infinity"...), nil
	case math.MinInt32:
		return append(dst, "-infinity"...), nil
	}
	return pgEpoch.AddDate(0, 0, int(days)).AppendFormat(dst, "2006-01-02"), nil
}

// Text layouts of timestamps in the ISO DateStyle.
var (
	tsLayouts   = []string{"2006-01-02 15:04:05.999999"}
	tstzLayouts = []string{"2006-01-02 15:04:05.999999Z07", "2006-01-02 15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999Z07:00:00"}
)

func (c *column) timestamp(dst, v []byte, st mask.Strategy, tz bool) ([]byte, error) {
	var us int64
	switch {
	case c.binary:
		if len(v) != 8 {
			return dst, errMalformed
		}
		us = int64(binary.BigEndian.Uint64(v))
	case string(v) == "infinity":
		us = math.MaxInt64
	case string(v) == "-infinity":
		us = math.MinInt64
	default:
		layouts := tsLayouts
		if tz {
			layouts = tstzLayouts
		}
		var t time.Time
		var err error = errDateStyle
		if len(v) >= 5 && v[4] == '-' {
			err = errMalformed
			for _, l := range layouts {
				if p, perr := time.Parse(l, string(v)); perr == nil {
					t, err = p, nil
					break
				}
			}
		}
		if err != nil {
			return dst, err
		}
		us = t.Sub(pgEpoch).Microseconds()
	}
	if us != math.MaxInt64 && us != math.MinInt64 {
		if st == mask.Redact {
			us = int64(unixEpochDays) * 86400 * usPerSec
		} else {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(us))
			var sum [32]byte
			secs := binary.BigEndian.Uint64(c.sc.Sum(sum[:0], domainTime, b[:])) % (hashDays * 86400)
			us = (int64(firstDay)*86400 + int64(secs)) * usPerSec
		}
	}
	if c.binary {
		return binary.BigEndian.AppendUint64(dst, uint64(us)), nil
	}
	switch us {
	case math.MaxInt64:
		return append(dst, "infinity"...), nil
	case math.MinInt64:
		return append(dst, "-infinity"...), nil
	}
	dst = pgEpoch.Add(time.Duration(us)*time.Microsecond).AppendFormat(dst, "2006-01-02 15:04:05")
	if tz {
		dst = append(dst, "+00"...)
	}
	return dst, nil
}
