package mask

import (
	"regexp"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// Phone number validity comes from phonenumbers' metadata, compiled once
// into one table per country calling code: the lengths a national
// significant number may have, and one anchored pattern matching every
// valid national number of the code's regions (the union of their
// general descriptions). Checking a candidate is a table lookup and,
// when the length fits, one match against that pattern: phonenumbers'
// own Parse and IsValidNumber cost tens of microseconds a call, too much
// for in-line use. Only phone-shaped candidates ever reach the pattern.

type phoneCode struct {
	lengths uint32 // bit n: n digits possible
	re      *regexp.Regexp
}

// phoneTables maps calling codes to their tables, and regions to their
// calling code and national (trunk) prefix.
type phoneTables struct {
	codes   map[int]*phoneCode
	regions map[string]phoneRegion
}

type phoneRegion struct {
	code   int
	prefix string
}

var loadPhoneTables = sync.OnceValue(func() *phoneTables {
	t := &phoneTables{codes: map[int]*phoneCode{}, regions: map[string]phoneRegion{}}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return t
	}
	patterns := map[int][]string{}
	for _, md := range coll.GetMetadata() {
		cc := int(md.GetCountryCode())
		gd := md.GetGeneralDesc()
		pc := t.codes[cc]
		if pc == nil {
			pc = &phoneCode{}
			t.codes[cc] = pc
		}
		ls := gd.GetPossibleLength()
		if len(ls) == 0 {
			pc.lengths |= 1<<18 - 1<<4 // 4 to 17 digits
		}
		for _, l := range ls {
			if l > 0 && l < 32 {
				pc.lengths |= 1 << l
			}
		}
		if p := gd.GetNationalNumberPattern(); p != "" {
			patterns[cc] = append(patterns[cc], p)
		}
		if id := md.GetId(); id != "001" {
			t.regions[id] = phoneRegion{code: cc, prefix: md.GetNationalPrefix()}
		}
	}
	for cc, ps := range patterns {
		expr := "^(?:"
		for i, p := range ps {
			if i > 0 {
				expr += "|"
			}
			expr += "(?:" + p + ")"
		}
		expr += ")$"
		re, err := regexp.Compile(expr)
		if err != nil {
			continue // lengths alone then
		}
		t.codes[cc].re = re
	}
	return t
})

// valid reports whether nsn is a valid national significant number under
// calling code cc.
func (t *phoneTables) valid(cc int, nsn []byte) bool {
	pc := t.codes[cc]
	if pc == nil || len(nsn) >= 32 || pc.lengths&(1<<len(nsn)) == 0 {
		return false
	}
	return pc.re == nil || pc.re.Match(nsn)
}

// international reports whether digits (after '+') are a calling code
// and a valid national number.
func (t *phoneTables) international(digits []byte) bool {
	cc := 0
	for l := 1; l <= 3 && l < len(digits); l++ {
		cc = cc*10 + int(digits[l-1]-'0')
		if _, ok := t.codes[cc]; ok {
			return t.valid(cc, digits[l:])
		}
	}
	return false
}

// national reports whether digits, written in the national format of
// region r, are a valid number there: with or without the trunk prefix.
func (t *phoneTables) national(r phoneRegion, digits []byte) bool {
	if p := r.prefix; p != "" && len(digits) > len(p) && string(digits[:len(p)]) == p && t.valid(r.code, digits[len(p):]) {
		return true
	}
	return t.valid(r.code, digits)
}
