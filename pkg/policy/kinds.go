package policy

import (
	"math/bits"
	"strings"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// kinds lists every statement kind a policy may name, from the mildest to
// the worst effect. A kind's bit in a kinds matcher is 1 << its index.
var kinds = [...]sqlclass.Kind{
	sqlclass.KindEmpty,
	sqlclass.KindShow,
	sqlclass.KindSet,
	sqlclass.KindTransaction,
	sqlclass.KindUtility,
	sqlclass.KindExplain,
	sqlclass.KindPrepare,
	sqlclass.KindExecute,
	sqlclass.KindSelect,
	sqlclass.KindCopyTo,
	sqlclass.KindCall,
	sqlclass.KindInsert,
	sqlclass.KindCopyFrom,
	sqlclass.KindUpdate,
	sqlclass.KindMerge,
	sqlclass.KindDelete,
	sqlclass.KindTruncate,
	sqlclass.KindDDL,
	sqlclass.KindGrant,
	sqlclass.KindSetRole,
	sqlclass.KindDo,
	sqlclass.KindDangerous,
	sqlclass.KindCopyFile,
	sqlclass.KindCopyProgram,
	sqlclass.KindUnparseable,
}

// kindBits maps each kind to its bit.
var kindBits = func() map[sqlclass.Kind]uint64 {
	m := make(map[sqlclass.Kind]uint64, len(kinds))
	for i, k := range kinds {
		m[k] = 1 << i
	}
	return m
}()

// Slots index a policy's rules by what a request can match (see
// Policy.slots): one slot per kind, then these two.
const (
	slotUnknownKind = len(kinds) + iota // a postgres statement of a kind not in kinds
	slotOther                           // a request of another protocol
	numSlots
)

// Kinds are bits of a uint64.
var _ [64 - len(kinds)]struct{}

// opaqueKinds are the kinds whose text does not show what the statement
// reads, writes or calls: the parser refused it, it runs procedural code,
// or it executes a prepared statement the session tracker did not see.
// Their relation and function sets are unknown, not empty (see
// [pgMatcher.match]).
var opaqueKinds = kindBits[sqlclass.KindUnparseable] |
	kindBits[sqlclass.KindDo] |
	kindBits[sqlclass.KindExecute]

// kindInfo returns the bit and slot of k and whether the sets of a
// statement of kind k are unknown. A kind this package does not know (a
// newer classifier, or a zero Kind) has no bit, slotUnknownKind, and is
// opaque.
func kindInfo(k sqlclass.Kind) (bit uint64, slot int, opaque bool) {
	bit = kindBits[k]
	if bit == 0 {
		return 0, slotUnknownKind, true
	}
	return bit, bits.TrailingZeros64(bit), bit&opaqueKinds != 0
}

// kindNames returns the kind names, comma-separated, for messages.
func kindNames() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
