package lint

import (
	"fmt"

	"github.com/sluicehq/sluice/pkg/config"
	"github.com/sluicehq/sluice/pkg/policy"
)

// approvals returns the findings about review rules: approval settings of
// a shadow policy, which never holds anything; and, with a configuration,
// enforced reviews while approvals.approvers lists nobody, so that only
// root may decide (reported against cfgFile).
func approvals(set *policy.Set, cfg *config.Config, cfgFile string) []Finding {
	var out []Finding
	index := map[string]int{}
	reviews := ""
	for _, p := range set.Policies() {
		pi := index[p.File]
		index[p.File]++
		if p.Enforce && p.Default == policy.Review && reviews == "" {
			reviews = fmt.Sprintf("policy %q (its default)", p.Name)
		}
		for j, r := range p.Rules {
			if r.Action != policy.Review {
				continue
			}
			if !p.Enforce && r.Approval != nil {
				out = append(out, Finding{File: p.File, Line: r.Approval.Line, Path: fmt.Sprintf("policies[%d].rules[%d].approval", pi, j), Msg: fmt.Sprintf(
					"policy %q runs in shadow mode (enforce: false): rule %q never holds a statement, so its approval settings are never used", p.Name, r.Name)})
			}
			if p.Enforce && reviews == "" {
				reviews = fmt.Sprintf("rule %q of policy %q", r.Name, p.Name)
			}
		}
	}
	if cfg != nil && reviews != "" && len(cfg.Approvals.Approvers.UIDs) == 0 && len(cfg.Approvals.Approvers.GIDs) == 0 {
		out = append(out, Finding{File: cfgFile, Msg: fmt.Sprintf(
			"%s sends statements to review, but approvals.approvers lists no uid or gid: only root may approve them", reviews)})
	}
	return out
}
