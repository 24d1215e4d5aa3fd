package pgmask

import "strconv"

// Type OIDs of the types the package masks (pg_type.dat).
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidXML         = 142
	oidCIDR        = 650
	oidFloat4      = 700
	oidFloat8      = 701
	oidUnknown     = 705
	oidInet        = 869
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidNumeric     = 1700
	oidRecord      = 2249
	oidUUID        = 2950
	oidJSONB       = 3802

	// firstUserOID is where user-defined types (composites, domains,
	// enums, extension types) start.
	firstUserOID = 16384
)

// kind is how a type's values are masked.
type kind uint8

const (
	kOpaque kind = iota // unknown: content detectors in text format only, rules fall back to NULL
	kText               // text, varchar, bpchar, name, unknown
	kJSON
	kJSONB
	kXML
	kBytea
	kInt
	kNumeric
	kFloat
	kUUID
	kDate
	kTimestamp
	kTimestampTZ
	kInet
	kBool
	kRecord // composite text output
)

// typeInfo describes one type.
type typeInfo struct {
	name string
	kind kind
	size int // binary width of fixed-size types (int2/4/8, float4/8), 0 otherwise
	elem uint32
}

var types = map[uint32]typeInfo{
	oidBool: {"bool", kBool, 1, 0}, oidBytea: {"bytea", kBytea, 0, 0}, oidName: {"name", kText, 0, 0},
	oidInt8: {"int8", kInt, 8, 0}, oidInt2: {"int2", kInt, 2, 0}, oidInt4: {"int4", kInt, 4, 0},
	oidText: {"text", kText, 0, 0}, oidJSON: {"json", kJSON, 0, 0}, oidXML: {"xml", kXML, 0, 0},
	oidCIDR: {"cidr", kInet, 0, 0}, oidFloat4: {"float4", kFloat, 4, 0}, oidFloat8: {"float8", kFloat, 8, 0},
	oidUnknown: {"unknown", kText, 0, 0}, oidInet: {"inet", kInet, 0, 0}, oidBPChar: {"bpchar", kText, 0, 0},
	oidVarchar: {"varchar", kText, 0, 0}, oidDate: {"date", kDate, 0, 0}, oidTimestamp: {"timestamp", kTimestamp, 0, 0},
	oidTimestampTZ: {"timestamptz", kTimestampTZ, 0, 0}, oidNumeric: {"numeric", kNumeric, 0, 0},
	oidRecord: {"record", kRecord, 0, 0}, oidUUID: {"uuid", kUUID, 0, 0}, oidJSONB: {"jsonb", kJSONB, 0, 0},
}

// arrayElems maps array type OIDs to their element types.
var arrayElems = map[uint32]uint32{
	1000: oidBool, 1001: oidBytea, 1003: oidName, 1016: oidInt8, 1005: oidInt2, 1007: oidInt4,
	1009: oidText, 199: oidJSON, 143: oidXML, 651: oidCIDR, 1021: oidFloat4, 1022: oidFloat8,
	1041: oidInet, 1014: oidBPChar, 1015: oidVarchar, 1182: oidDate, 1115: oidTimestamp,
	1185: oidTimestampTZ, 1231: oidNumeric, 2287: oidRecord, 2951: oidUUID, 3807: oidJSONB,
}

// lookupType returns the type of oid, and for arrays the element type.
func lookupType(oid uint32) (t typeInfo, array bool) {
	if e, ok := arrayElems[oid]; ok {
		t = types[e]
		t.elem = e
		return t, true
	}
	if t, ok := types[oid]; ok {
		return t, false
	}
	return typeInfo{name: "oid " + strconv.FormatUint(uint64(oid), 10), kind: kOpaque}, false
}

// scannable reports whether the content detectors run on values of kind
// k in the given format.
func scannable(k kind, oid uint32, binary bool) bool {
	switch k {
	case kText, kJSON, kJSONB, kXML:
		return true
	case kRecord:
		return !binary
	case kOpaque:
		return !binary && oid >= firstUserOID
	}
	return false
}
