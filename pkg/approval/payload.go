package approval

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// SuggestedWindow is the window the notifications suggest for an
// approval --for.
const SuggestedWindow = 30 * time.Minute

// genericPayload is the body posted to a generic webhook.
type genericPayload struct {
	Event             string    `json:"event"` // always approval.requested
	ID                string    `json:"id"`
	Identity          string    `json:"identity"`
	Target            string    `json:"target"`
	Database          string    `json:"database"`
	User              string    `json:"user"`
	Session           string    `json:"session"`
	PID               uint32    `json:"pid"`
	UID               uint32    `json:"uid"`
	GID               uint32    `json:"gid"`
	Comm              string    `json:"comm"`
	Exe               string    `json:"exe"`
	Unit              string    `json:"unit,omitempty"`
	Cgroup            string    `json:"cgroup"`
	Statement         string    `json:"statement"`
	Kind              string    `json:"kind"`
	Command           string    `json:"command"`
	Reads             []string  `json:"reads,omitempty"`
	Writes            []string  `json:"writes,omitempty"`
	Policy            string    `json:"policy"`
	Rule              string    `json:"rule"`
	Message           string    `json:"message,omitempty"`
	Fingerprint       string    `json:"fingerprint"`
	Requested         time.Time `json:"requested"`
	Deadline          time.Time `json:"deadline"`
	ApproveCommand    string    `json:"approve_command"`
	ApproveForCommand string    `json:"approve_for_command"`
	DenyCommand       string    `json:"deny_command"`
}

// payload renders the notification of p in format f.
func payload(f Format, p *Pending) ([]byte, error) {
	switch f {
	case FormatSlack:
		return json.Marshal(slackMessage(p))
	case FormatGeneric, "":
		a := &p.Attribution
		return json.Marshal(genericPayload{
			Event: "approval.requested", ID: p.ID, Identity: p.Identity, Target: p.Target,
			Database: p.Database, User: p.User, Session: p.Session,
			PID: a.PID, UID: a.UID, GID: a.GID, Comm: a.Comm, Exe: a.Exe, Unit: a.Unit, Cgroup: a.Cgroup,
			Statement: p.Statement, Kind: p.Kind, Command: p.Command, Reads: p.Reads, Writes: p.Writes,
			Policy: p.Policy, Rule: p.Rule, Message: p.Message, Fingerprint: p.Fingerprint,
			Requested: p.Requested.UTC(), Deadline: p.Deadline.UTC(),
			ApproveCommand: ApproveCommand(p.ID), ApproveForCommand: ApproveForCommand(p.ID, SuggestedWindow),
			DenyCommand: DenyCommand(p.ID),
		})
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// Slack Block Kit, as much as the message uses.
type slackPayload struct {
	Text   string       `json:"text"` // the notification text, and the fallback
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // mrkdwn or plain_text
	Text string `json:"text"`
}

// Slack's limits: a section's text, a field's text, a header.
const (
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackHeaderMax  = 150
)

func slackMessage(p *Pending) slackPayload {
	a := &p.Attribution
	md := func(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }
	field := func(name, value string) slackText {
		return md(clip("*"+name+"*\n"+slackEscape(value), slackFieldMax))
	}
	process := fmt.Sprintf("%s (pid %d, uid %d)", a.Exe, a.PID, a.UID)
	if a.Exe == "" {
		process = fmt.Sprintf("%s (pid %d, uid %d)", a.Comm, a.PID, a.UID)
	}
	fields := []slackText{
		field("Identity", p.Identity),
		field("Target", fmt.Sprintf("%s (database %s, user %s)", p.Target, p.Database, p.User)),
		field("Process", process),
		field("Policy", fmt.Sprintf("%s, rule %s", p.Policy, p.Rule)),
		field("Statement", fmt.Sprintf("%s (%s)", p.Command, p.Kind)),
	}
	if a.Unit != "" {
		fields = append(fields, field("Unit", a.Unit))
	}
	blocks := []slackBlock{
		{Type: "header", Text: &slackText{Type: "plain_text", Text: clip(fmt.Sprintf("Approval needed: %s on %s", p.Identity, p.Target), slackHeaderMax)}},
		{Type: "section", Text: ptr(md(codeBlock(p.Statement)))},
		{Type: "section", Fields: fields},
	}
	if p.Message != "" {
		blocks = append(blocks, slackBlock{Type: "section", Text: ptr(md(clip(slackEscape(p.Message), slackSectionMax)))})
	}
	blocks = append(blocks,
		slackBlock{Type: "section", Text: ptr(md(fmt.Sprintf("Approve once: `%s`\nApprove for %s: `%s`\nDeny: `%s`",
			ApproveCommand(p.ID), shortDuration(SuggestedWindow), ApproveForCommand(p.ID, SuggestedWindow), DenyCommand(p.ID))))},
		slackBlock{Type: "context", Elements: []slackText{md(fmt.Sprintf("Request %s · times out %s · fingerprint %s",
			p.ID, p.Deadline.UTC().Format(time.RFC3339), p.Fingerprint))}},
	)
	return slackPayload{
		Text: fmt.Sprintf("sluice: %s wants to run %s on %s. Approve: `%s`  Deny: `%s`",
			slackEscape(p.Identity), slackEscape(p.Command), slackEscape(p.Target), ApproveCommand(p.ID), DenyCommand(p.ID)),
		Blocks: blocks,
	}
}

func ptr[T any](v T) *T { return &v }

// codeBlock puts a statement in a preformatted block, escaped, cut to
// fit a section.
func codeBlock(s string) string {
	s = strings.ReplaceAll(slackEscape(s), "```", "`\u200b``")
	return "```" + clip(s, slackSectionMax-7) + "```"
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to (links, mentions).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
