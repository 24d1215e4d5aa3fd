package sqlclass

// kindOrder lists every kind from the least to the most severe.
var kindOrder = [...]Kind{
	KindEmpty,
	KindShow,
	KindSet,
	KindTransaction,
	KindUtility,
	KindExplain,
	KindPrepare,
	KindExecute,
	KindSelect,
	KindCopyTo,
	KindCall,
	KindInsert,
	KindCopyFrom,
	KindUpdate,
	KindMerge,
	KindDelete,
	KindTruncate,
	KindDDL,
	KindGrant,
	KindSetRole,
	KindDo,
	KindDangerous,
	KindCopyFile,
	KindCopyProgram,
	KindUnparseable,
}

var kindRank = func() map[Kind]int {
	m := make(map[Kind]int, len(kindOrder))
	for i, k := range kindOrder {
		m[k] = i + 1
	}
	return m
}()

// Severity ranks k for the "worst effect wins" rule: a statement that does
// several things has the kind of highest severity among them. KindEmpty is
// the lowest (1), KindUnparseable the highest. A value that is not one of
// the Kind constants ranks with KindUnparseable, so that an unknown kind is
// never taken for a harmless one.
func (k Kind) Severity() int {
	if r, ok := kindRank[k]; ok {
		return r
	}
	return len(kindOrder)
}

// Kinds returns every kind, from the least to the most severe. The slice is
// a fresh copy.
func Kinds() []Kind {
	out := make([]Kind, len(kindOrder))
	copy(out, kindOrder[:])
	return out
}

// ParseKind returns the kind named s (as in the Kind constants' values,
// e.g. "copy_to"), and whether there is one.
func ParseKind(s string) (Kind, bool) {
	k := Kind(s)
	_, ok := kindRank[k]
	return k, ok
}

// worse returns the more severe of a and b; the zero Kind counts as
// nothing yet.
func worse(a, b Kind) Kind {
	if a == "" || b.Severity() > a.Severity() {
		return b
	}
	return a
}
