// Command pgxmask reads results through sluice with the pgx driver, in the
// extended protocol, and prints what it decoded as JSON for the end-to-end
// masking tests to check: it is run inside a tagged job, so its
// connections are redirected. It only decodes; the checks are the test's.
//
//	pgxmask -dsn DSN               the customers and tickets tables
//	pgxmask -dsn DSN -stream N     an N-row generated result, rows discarded
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

func main() {
	dsn := flag.String("dsn", "", "connection string")
	stream := flag.Int64("stream", 0, "read an N-row generated result instead of the tables")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		fail("connect: %v", err)
	}
	defer conn.Close(ctx)
	var out any
	if *stream > 0 {
		out, err = streamRows(ctx, conn, *stream)
	} else {
		out, err = tables(ctx, conn)
	}
	if err != nil {
		fail("%v", err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("encode: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgxmask: "+format+"\n", args...)
	os.Exit(1)
}

// customerColumns is the select list both result formats read.
const customerColumns = `id, name, email, card, customer_no, ssn, iban, phone, notes, profile, aliases,
	account_no, balance, created_at, ext_id, score, signup`

// customer is one decoded row; pointers are the nullable columns.
type customer struct {
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
	Balance    string         `json:"balance"` // decoded as pgtype.Numeric, written out in full
	CreatedAt  time.Time      `json:"created_at"`
	ExtID      pgtype.UUID    `json:"ext_id"`
	Score      int32          `json:"score"`
	Signup     time.Time      `json:"signup"`
}

// result is one query's rows and the format of each column.
type result struct {
	Formats map[string]int16 `json:"formats"`
	Rows    []customer       `json:"rows"`
}

// tables reads customers twice, with the formats pgx prefers per type and
// with every column in binary format, and the e-mail addresses of tickets.
func tables(ctx context.Context, conn *pgx.Conn) (any, error) {
	sql := "SELECT " + customerColumns + " FROM customers WHERE id > $1 ORDER BY id"
	preferred, err := customers(ctx, conn, sql, 0)
	if err != nil {
		return nil, fmt.Errorf("customers: %w", err)
	}
	binary := make(pgx.QueryResultFormats, len(preferred.Formats))
	for i := range binary {
		binary[i] = pgx.BinaryFormatCode
	}
	all, err := customers(ctx, conn, sql, binary, 0)
	if err != nil {
		return nil, fmt.Errorf("customers in binary: %w", err)
	}
	tickets := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT id, email FROM tickets ORDER BY id")
	if err != nil {
		return nil, err
	}
	var id int32
	var email string
	if _, err := pgx.ForEachRow(rows, []any{&id, &email}, func() error {
		tickets[fmt.Sprint(id)] = email
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	return map[string]any{"preferred": preferred, "binary": all, "tickets": tickets}, nil
}

func customers(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (result, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return result{}, err
	}
	defer rows.Close()
	res := result{Formats: map[string]int16{}}
	for _, f := range rows.FieldDescriptions() {
		res.Formats[f.Name] = f.Format
	}
	for rows.Next() {
		var c customer
		var balance pgtype.Numeric
		if err := rows.Scan(&c.ID, &c.Name, &c.Email, &c.Card, &c.CustomerNo, &c.SSN, &c.IBAN, &c.Phone, &c.Notes,
			&c.Profile, &c.Aliases, &c.AccountNo, &balance, &c.CreatedAt, &c.ExtID, &c.Score, &c.Signup); err != nil {
			return result{}, err
		}
		c.Balance = decimal(balance)
		res.Rows = append(res.Rows, c)
	}
	return res, rows.Err()
}

// decimal writes a finite numeric as PostgreSQL does: its digits, with a
// point before the last -Exp of them.
func decimal(n pgtype.Numeric) string {
	if !n.Valid || n.NaN || n.InfinityModifier != pgtype.Finite {
		return fmt.Sprintf("%+v", n)
	}
	digits := n.Int.String()
	sign := ""
	if digits[0] == '-' {
		sign, digits = "-", digits[1:]
	}
	if n.Exp >= 0 {
		return sign + digits + strings.Repeat("0", int(n.Exp))
	}
	point := int(-n.Exp)
	if len(digits) <= point {
		digits = strings.Repeat("0", point-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-point] + "." + digits[len(digits)-point:]
}

// streamRows reads an n-row result in binary format, keeping nothing but
// a count and the one row in twenty that carries a card number.
func streamRows(ctx context.Context, conn *pgx.Conn, n int64) (any, error) {
	rows, err := conn.Query(ctx, `SELECT g, 'user' || g || '@example.com' AS contact,
		CASE WHEN g % 20 = 0 THEN 'paid with 4111 1111 1111 1111' ELSE 'order ' || g END AS note
		FROM generate_series(1, $1::bigint) g`, pgx.QueryResultFormats{1, 1, 1}, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var count, cards int64
	var last string
	for rows.Next() {
		vals := rows.RawValues()
		count++
		if len(vals) == 3 && len(vals[2]) > 9 && string(vals[2][:9]) == "paid with" {
			cards++
			last = string(vals[2])
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return map[string]any{"rows": count, "card_rows": cards, "last_card_note": last}, nil
}
