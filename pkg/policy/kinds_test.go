package policy

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// TestKindsMatchClassifier keeps the kinds a policy may name in step with
// the kinds the classifier reports.
func TestKindsMatchClassifier(t *testing.T) {
	if got, want := kinds[:], sqlclass.Kinds(); !slices.Equal(got, want) {
		t.Fatalf("policy kinds %v\nclassifier kinds %v", got, want)
	}
}

func TestKindInfo(t *testing.T) {
	tests := []struct {
		kind   sqlclass.Kind
		slot   int
		opaque bool
	}{
		{sqlclass.KindEmpty, 0, false},
		{sqlclass.KindSelect, 8, false},
		{sqlclass.KindDo, 20, true},
		{sqlclass.KindExecute, 7, true},
		{sqlclass.KindUnparseable, len(kinds) - 1, true},
		{"", slotUnknownKind, true},
		{"vacuum", slotUnknownKind, true},
	}
	for _, tt := range tests {
		bit, slot, opaque := kindInfo(tt.kind)
		if slot != tt.slot || opaque != tt.opaque || (slot < len(kinds)) != (bit == 1<<slot) {
			t.Errorf("kindInfo(%q) = %#x, %d, %v", tt.kind, bit, slot, opaque)
		}
	}
}
