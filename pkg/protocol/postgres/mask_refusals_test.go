package postgres

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/pkg/mask"
	"github.com/sluicehq/sluice/pkg/policy"
	"github.com/sluicehq/sluice/pkg/sqlclass"
)

// TestMaskingRefusals: under masking, the text of a statement the
// inspector refuses itself (here unparseable) is masked in its event as
// an allowed one's would be, parser message included; and set_config with
// a computed value is refused, since the server would report the value
// (ParameterStatus) to the client past masking.
func TestMaskingRefusals(t *testing.T) {
	const raw = "4111 1111 1111 1111"
	m := &policy.Masking{Policies: []string{"pii"}, Detectors: mask.Of(mask.Card), Strategy: mask.Partial}
	e := newEnv(t, envOptions{})
	for _, k := range []sqlclass.Kind{sqlclass.KindUnparseable, sqlclass.KindSet, sqlclass.KindSelect} {
		e.policy.set(k, policy.Decision{Action: policy.Allow, Policy: "pii", Rule: "read", Masking: m})
	}
	c, _ := e.connect(nil)
	runSteps(t, e, c, []step{
		q("SELECT card FROM customers WHERE card = '"+raw+"' ORDER", "ErrorResponse ERROR 42501", "ReadyForQuery I").
			errContains(`rule "unparseable"`),
		q("SELECT note FROM customers WHERE note = '"+raw+"' '", "ErrorResponse ERROR 42501", "ReadyForQuery I").
			errContains(`rule "unparseable"`),
		q("SELECT set_config('application_name', card, false) FROM customers", "ErrorResponse ERROR 42501", "ReadyForQuery I").
			errContains(`rule "masking-set-config"`),
		// A literal is fine (the fake answers any SELECT with three rows).
		q("SELECT set_config('application_name', 'nightly', false)", "RowDescription", "DataRow 1", "DataRow 2", "DataRow 3", "CommandComplete SELECT 3", "ReadyForQuery I"),
	})
	// The last one is written once the server's answer is relayed.
	evs := e.audit.events(t, "db.query")
	for deadline := time.Now().Add(ioTimeout); len(evs) < 4 && time.Now().Before(deadline); evs = e.audit.events(t, "db.query") {
		time.Sleep(5 * time.Millisecond)
	}
	if len(evs) != 4 {
		t.Fatalf("%d db.query events, want 4", len(evs))
	}
	for _, ev := range evs {
		if s := fmt.Sprint(ev); strings.Contains(s, raw) {
			t.Errorf("raw card in event %s", s)
		}
	}
}
