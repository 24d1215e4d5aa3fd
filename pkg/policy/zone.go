package policy

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// The timestamp accessors that take a time zone (time.getHours("Europe/
// Berlin")) are redefined here with the same names, signatures and
// results as CEL's own, because those read the zone database on every
// call (time.LoadLocation does not cache), which costs tens of
// microseconds per evaluation. Zones are cached once loaded.

// maxZones bounds the zones cached; past it, zones are loaded on every
// use. Conditions name zones as literals, so real sets stay tiny.
const maxZones = 256

var (
	zones  sync.Map // zone name → *time.Location
	nzones atomic.Int32
)

// loadZone returns the location of an IANA zone name or of an offset
// written [+-]HH:MM, as CEL's accessors accept them.
func loadZone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	var loc *time.Location
	if hh, mm, offset := strings.Cut(name, ":"); offset {
		h, err1 := strconv.Atoi(hh)
		m, err2 := strconv.Atoi(mm)
		if err1 != nil || err2 != nil || h < -23 || h > 23 || m < 0 || m > 59 {
			return nil, fmt.Errorf("time zone %q: an offset is written +HH:MM or -HH:MM, hours up to 23", name)
		}
		secs := (h*60 + m) * 60
		if strings.HasPrefix(hh, "-") {
			secs = (h*60 - m) * 60
		}
		loc = time.FixedZone("", secs)
	} else {
		var err error
		if loc, err = time.LoadLocation(name); err != nil {
			return nil, err
		}
	}
	if nzones.Load() < maxZones {
		if _, loaded := zones.LoadOrStore(name, loc); !loaded {
			nzones.Add(1)
		}
	}
	return loc, nil
}

// zoneAccessors are the accessors taking a zone: function name, overload
// ID, and what they read from the time in that zone.
var zoneAccessors = []struct {
	fn, id string
	get    func(time.Time) int
}{
	{overloads.TimeGetFullYear, overloads.TimestampToYearWithTz, func(t time.Time) int { return t.Year() }},
	{overloads.TimeGetMonth, overloads.TimestampToMonthWithTz, func(t time.Time) int { return int(t.Month()) - 1 }},
	{overloads.TimeGetDayOfYear, overloads.TimestampToDayOfYearWithTz, func(t time.Time) int { return t.YearDay() - 1 }},
	{overloads.TimeGetDayOfMonth, overloads.TimestampToDayOfMonthZeroBasedWithTz, func(t time.Time) int { return t.Day() - 1 }},
	{overloads.TimeGetDate, overloads.TimestampToDayOfMonthOneBasedWithTz, func(t time.Time) int { return t.Day() }},
	{overloads.TimeGetDayOfWeek, overloads.TimestampToDayOfWeekWithTz, func(t time.Time) int { return int(t.Weekday()) }},
	{overloads.TimeGetHours, overloads.TimestampToHoursWithTz, func(t time.Time) int { return t.Hour() }},
	{overloads.TimeGetMinutes, overloads.TimestampToMinutesWithTz, func(t time.Time) int { return t.Minute() }},
	{overloads.TimeGetSeconds, overloads.TimestampToSecondsWithTz, func(t time.Time) int { return t.Second() }},
	{overloads.TimeGetMilliseconds, overloads.TimestampToMillisecondsWithTz, func(t time.Time) int { return t.Nanosecond() / 1e6 }},
}

// zoneFunctions returns the environment options redefining the
// accessors.
func zoneFunctions() []cel.EnvOption {
	opts := make([]cel.EnvOption, 0, len(zoneAccessors))
	for _, a := range zoneAccessors {
		get := a.get
		opts = append(opts, cel.Function(a.fn, cel.MemberOverload(a.id,
			[]*cel.Type{cel.TimestampType, cel.StringType}, cel.IntType,
			cel.BinaryBinding(func(lhs, rhs ref.Val) ref.Val {
				ts, ok1 := lhs.(types.Timestamp)
				name, ok2 := rhs.(types.String)
				if !ok1 || !ok2 {
					return types.NewErr("no such overload")
				}
				loc, err := loadZone(string(name))
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Int(get(ts.In(loc)))
			}))))
	}
	return opts
}
