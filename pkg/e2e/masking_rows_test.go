package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// customerRow is one customers row as a client decoded it, in a form all
// clients share: text as the client got it, NULL as "<null>", numbers and
// dates in PostgreSQL's text form, timestamps in RFC 3339 (UTC), JSON
// re-encoded with sorted keys, arrays as lists.
type customerRow struct {
	vals    map[string]string
	aliases []string
	profile map[string]any
}

const null = "<null>"

// customerColumns are the columns every client reads, in order.
var customerColumns = []string{"id", "name", "email", "card", "customer_no", "ssn", "iban", "phone", "notes",
	"profile", "aliases", "account_no", "balance", "created_at", "ext_id", "score", "signup"}

var (
	hashedEmail = func(local, domain, tld int) *regexp.Regexp {
		return regexp.MustCompile(fmt.Sprintf(`^[a-z]{%d}@[a-z]{%d}\.[a-z]{%d}$`, local, domain, tld))
	}
	zeroUUID = "00000000-0000-0000-0000-000000000000"
)

// checkCustomers checks the masked customers rows one client read: masked
// where the rules say, untouched elsewhere.
func checkCustomers(t *testing.T, client string, rows []customerRow) {
	t.Helper()
	if len(rows) != 4 {
		t.Fatalf("%s: %d rows, want 4", client, len(rows))
	}
	want := []map[string]string{
		{"id": "1", "name": "Ada Lovelace", "card": "**** **** **** 1111", "customer_no": "512345678", "ssn": "*********",
			"iban": "**** **** **** **** **** **", "phone": "+* ***-***-****", "notes": "AWS key ******************** was rotated",
			"account_no": null, "ext_id": zeroUUID, "score": "42", "signup": "2020-01-15"},
		{"id": "2", "name": "Alan Turing", "card": "****-****-****-0004", "customer_no": "612345678", "ssn": "***-**-****",
			"iban": "**********************", "phone": "(***) ***-****",
			"notes": "card 4111 1111 1111 1112 is not Luhn-valid; order 987654321012", "account_no": null, "ext_id": zeroUUID,
			"score": "7", "signup": "2021-06-01"},
		{"id": "3", "name": "Grace Hopper", "card": "***********0005", "customer_no": "712345678", "ssn": "*********",
			"iban": null, "phone": "+** ** **** ****", "account_no": null, "ext_id": zeroUUID, "score": "13", "signup": "2022-02-02"},
		{"id": "4", "name": "Ada Again", "card": "************1117", "customer_no": "812345678", "ssn": null, "iban": null,
			"phone": null, "account_no": null, "ext_id": zeroUUID, "score": "99", "signup": "2024-03-02"},
	}
	for i, w := range want {
		got := rows[i].vals
		for col, v := range w {
			if got[col] != v {
				t.Errorf("%s: row %d %s = %q, want %q", client, i+1, col, got[col], v)
			}
		}
	}
	r1, r2, r3, r4 := rows[0].vals, rows[1].vals, rows[2].vals, rows[3].vals
	// Hashed e-mail addresses keep their shape, and the same address
	// hashes alike in every row.
	if !hashedEmail(3, 7, 3).MatchString(r1["email"]) || r1["email"] != r4["email"] || r1["email"] == r2["email"] {
		t.Errorf("%s: hashed e-mails %q %q %q", client, r1["email"], r2["email"], r4["email"])
	}
	if !hashedEmail(4, 7, 3).MatchString(r2["email"]) || !hashedEmail(5, 7, 3).MatchString(r3["email"]) {
		t.Errorf("%s: hashed e-mails %q %q", client, r2["email"], r3["email"])
	}
	// Secrets in free text.
	if !strings.HasPrefix(r3["notes"], "token ************************************.") {
		t.Errorf("%s: JWT in notes: %q", client, r3["notes"])
	}
	if !strings.HasPrefix(r4["notes"], "deploy key -----BEGIN RSA PRIVATE KEY-----\n****") ||
		!strings.HasSuffix(r4["notes"], "-----END RSA PRIVATE KEY----- and JCB ************0000") {
		t.Errorf("%s: private key and card in notes: %q", client, r4["notes"])
	}
	// Typed columns under column rules: valid values of their type.
	for i, re := range []string{`^\d{4}\.\d{2}$`, `^\d{2}\.\d{2}$`, `^\d\.\d{2}$`, `^\d\.\d{2}$`} {
		if b := rows[i].vals["balance"]; !regexp.MustCompile(re).MatchString(b) || b == []string{"1234.56", "99.50", "0.00", "5.00"}[i] {
			t.Errorf("%s: row %d balance %q is not a hashed numeric(12,2)", client, i+1, b)
		}
	}
	for i, raw := range []string{"2024-03-01T10:00:00Z", "2023-11-30T08:15:00Z", "2022-01-01T00:00:00Z", "2024-03-02T11:00:00Z"} {
		ts, err := time.Parse(time.RFC3339, rows[i].vals["created_at"])
		if err != nil || ts.Year() < 1900 || ts.Year() > 2099 || rows[i].vals["created_at"] == raw {
			t.Errorf("%s: row %d created_at %q (%v)", client, i+1, rows[i].vals["created_at"], err)
		}
	}
	// JSON and arrays: found inside, syntax kept.
	p1, p4 := contact(rows[0].profile), contact(rows[3].profile)
	if !hashedEmail(3, 7, 3).MatchString(p1["email"]) || p1["email"] != p4["email"] || p1["phone"] != "+* ***-***-****" ||
		rows[0].profile["vip"] != true {
		t.Errorf("%s: profile %v", client, rows[0].profile)
	}
	if len(rows[0].aliases) != 2 || !regexp.MustCompile(`^[a-z]{3}\.[a-z]{8}@[a-z]{7}\.[a-z]{3}$`).MatchString(rows[0].aliases[0]) ||
		rows[0].aliases[1] != "(***) ***-****" || len(rows[1].aliases) != 0 {
		t.Errorf("%s: aliases %q %q", client, rows[0].aliases, rows[1].aliases)
	}
	_ = r3
}

// contact returns the string fields of a profile's contact object.
func contact(profile map[string]any) map[string]string {
	out := map[string]string{}
	c, _ := profile["contact"].(map[string]any)
	for k, v := range c {
		out[k], _ = v.(string)
	}
	return out
}

// sameRows checks that two clients read the same values: every masked
// value is stable across sessions, clients and result formats.
func sameRows(t *testing.T, a, b string, ra, rb []customerRow) {
	t.Helper()
	if len(ra) != len(rb) {
		t.Fatalf("%s read %d rows, %s %d", a, len(ra), b, len(rb))
	}
	for i := range ra {
		for _, col := range customerColumns {
			if ra[i].vals[col] != rb[i].vals[col] {
				t.Errorf("row %d %s: %s read %q, %s %q", i+1, col, a, ra[i].vals[col], b, rb[i].vals[col])
			}
		}
	}
}

// canonical fills the shared forms of profile, aliases and created_at.
func (r *customerRow) canonical(t *testing.T, profile string, aliases []string, createdAt time.Time) {
	t.Helper()
	if err := json.Unmarshal([]byte(profile), &r.profile); err != nil {
		t.Fatalf("profile %q is not JSON: %v", profile, err)
	}
	b, _ := json.Marshal(r.profile)
	r.vals["profile"] = string(b)
	r.aliases = aliases
	r.vals["aliases"] = strings.Join(aliases, "\x00")
	r.vals["created_at"] = createdAt.UTC().Format(time.RFC3339)
}

// psqlCustomers converts psql's text output.
func psqlCustomers(t *testing.T, rows [][]string) []customerRow {
	t.Helper()
	var out []customerRow
	for _, fields := range rows {
		if len(fields) != len(customerColumns) {
			t.Fatalf("psql row of %d fields: %q", len(fields), fields)
		}
		r := customerRow{vals: map[string]string{}}
		for i, col := range customerColumns {
			r.vals[col] = fields[i]
		}
		ts, err := time.Parse("2006-01-02 15:04:05-07", r.vals["created_at"])
		if err != nil {
			t.Fatalf("psql created_at: %v", err)
		}
		r.canonical(t, r.vals["profile"], pgArray(t, r.vals["aliases"]), ts)
		out = append(out, r)
	}
	return out
}

// pgArray splits a one-dimensional text array in PostgreSQL's output
// format whose elements hold no backslash.
func pgArray(t *testing.T, s string) []string {
	t.Helper()
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		t.Fatalf("not an array: %q", s)
	}
	out := []string{}
	body := s[1 : len(s)-1]
	for body != "" {
		var el string
		if body[0] == '"' {
			end := strings.IndexByte(body[1:], '"')
			el, body = body[1:end+1], body[end+2:]
		} else {
			end := strings.IndexByte(body, ',')
			if end < 0 {
				end = len(body)
			}
			el, body = body[:end], body[end:]
		}
		out = append(out, el)
		body = strings.TrimPrefix(body, ",")
	}
	return out
}

// pgxCustomer is a row as pgxmask prints it.
type pgxCustomer struct {
	ID         int32          `json:"id"`
	Name       string         `json:"name"`
	Email      string         `json:"email"`
	Card       string         `json:"card"`
	CustomerNo string         `json:"customer_no"`
	SSN        *string        `json:"ssn"`
	IBAN       *string        `json:"iban"`
	Phone      *string        `json:"phone"`
	Notes      string         `json:"notes"`
	Profile    map[string]any `json:"profile"`
	Aliases    []string       `json:"aliases"`
	AccountNo  *int64         `json:"account_no"`
	Balance    string         `json:"balance"`
	CreatedAt  time.Time      `json:"created_at"`
	ExtID      string         `json:"ext_id"`
	Score      int32          `json:"score"`
	Signup     time.Time      `json:"signup"`
}

// pgxResult is one query of pgxmask.
type pgxResult struct {
	Formats map[string]int16 `json:"formats"`
	Rows    []pgxCustomer    `json:"rows"`
}

func orNull[T any](p *T) string {
	if p == nil {
		return null
	}
	return fmt.Sprint(*p)
}

// pgxCustomers converts what pgx decoded.
func pgxCustomers(t *testing.T, res pgxResult) []customerRow {
	t.Helper()
	var out []customerRow
	for _, c := range res.Rows {
		r := customerRow{vals: map[string]string{
			"id": fmt.Sprint(c.ID), "name": c.Name, "email": c.Email, "card": c.Card, "customer_no": c.CustomerNo,
			"ssn": orNull(c.SSN), "iban": orNull(c.IBAN), "phone": orNull(c.Phone), "notes": c.Notes,
			"account_no": orNull(c.AccountNo), "balance": c.Balance, "ext_id": c.ExtID, "score": fmt.Sprint(c.Score),
			"signup": c.Signup.Format("2006-01-02"),
		}}
		profile, _ := json.Marshal(c.Profile)
		aliases := c.Aliases
		if aliases == nil {
			aliases = []string{}
		}
		r.canonical(t, string(profile), aliases, c.CreatedAt)
		out = append(out, r)
	}
	return out
}

// pyValue is a value as psycopg2_mask.py prints it: its Python type and
// its value (str() of the types JSON has no form for).
type pyValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

// pyCustomers converts what psycopg2 decoded, checking each column's
// Python type: masked values still decode as their column's type.
func pyCustomers(t *testing.T, rows []map[string]pyValue) []customerRow {
	t.Helper()
	types := map[string]string{
		"id": "int", "name": "str", "email": "str", "card": "str", "customer_no": "str", "notes": "str", "profile": "dict",
		"aliases": "list", "balance": "Decimal", "created_at": "datetime", "ext_id": "UUID", "score": "int", "signup": "date",
	}
	var out []customerRow
	for i, row := range rows {
		r := customerRow{vals: map[string]string{}}
		for _, col := range customerColumns {
			v, ok := row[col]
			if !ok {
				t.Fatalf("psycopg2 row %d has no %s", i+1, col)
			}
			if want, typed := types[col]; typed && v.Type != want {
				t.Errorf("psycopg2 row %d: %s decoded as %s, want %s", i+1, col, v.Type, want)
			}
			var s string
			switch {
			case v.Type == "NoneType":
				s = null
			case json.Unmarshal(v.Value, &s) == nil:
			default:
				s = string(v.Value)
			}
			r.vals[col] = s
		}
		if r.vals["account_no"] != null {
			t.Errorf("psycopg2 row %d: account_no %q, want NULL", i+1, r.vals["account_no"])
		}
		var aliases []string
		if err := json.Unmarshal(row["aliases"].Value, &aliases); err != nil {
			t.Fatalf("psycopg2 aliases: %v", err)
		}
		ts, err := time.Parse("2006-01-02 15:04:05-07:00", r.vals["created_at"])
		if err != nil {
			t.Fatalf("psycopg2 created_at: %v", err)
		}
		r.canonical(t, string(row["profile"].Value), aliases, ts)
		out = append(out, r)
	}
	return out
}
