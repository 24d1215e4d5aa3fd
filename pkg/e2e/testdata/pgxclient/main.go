// Command pgxclient exercises a PostgreSQL target through sluice with the
// pgx driver: it is run by the end-to-end tests inside a tagged job, so
// every connection it makes is redirected. Each scenario checks its own
// results and the program exits non-zero, naming the first failed check.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	dsn := flag.String("dsn", "", "connection string")
	scenario := flag.String("scenario", "all", "scenario to run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, s := range scenarios {
		if *scenario != "all" && *scenario != s.name || *scenario == "all" && s.name == "secret-params" {
			continue
		}
		conn, err := pgx.Connect(ctx, *dsn)
		if err != nil {
			fail(s.name, "connect: %v", err)
		}
		if err := s.run(ctx, conn); err != nil {
			fail(s.name, "%v", err)
		}
		conn.Close(ctx)
		fmt.Println("ok", s.name)
	}
}

func fail(name, format string, args ...any) {
	fmt.Printf("FAIL %s: %s\n", name, fmt.Sprintf(format, args...))
	os.Exit(1)
}

var scenarios = []struct {
	name string
	run  func(context.Context, *pgx.Conn) error
}{
	{"allowed-and-denied", allowedAndDenied},
	{"prepared", prepared},
	{"transaction", transaction},
	{"batch", batch},
	{"copy", copyBothWays},
	{"cancel", cancelSleep},
	{"large-result", largeResult},
	{"binary-params", binaryParams},
	// Run on its own (not part of "all"): a policy must allow set_config.
	{"secret-params", secretParams},
}

// sqlstate returns the SQLSTATE of a server error, or "".
func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func expectDenied(err error, what string) error {
	if sqlstate(err) != "42501" {
		return fmt.Errorf("%s: want SQLSTATE 42501, got %v", what, err)
	}
	var pe *pgconn.PgError
	errors.As(err, &pe)
	if !strings.Contains(pe.Message, "sluice policy") {
		return fmt.Errorf("%s: error does not name the policy: %q", what, pe.Message)
	}
	return nil
}

func count(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

func allowedAndDenied(ctx context.Context, conn *pgx.Conn) error {
	n, err := count(ctx, conn, "SELECT count(*) FROM sales.orders")
	if err != nil || n != 3 {
		return fmt.Errorf("allowed select: n=%d err=%v", n, err)
	}
	_, err = conn.Exec(ctx, "DROP TABLE sales.orders")
	if err := expectDenied(err, "drop table"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "INSERT INTO prod.accounts (name) VALUES ($1)", "mallory")
	if err := expectDenied(err, "insert into prod"); err != nil {
		return err
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM public.products WHERE id > $1", 0); err != nil || n != 2 {
		return fmt.Errorf("select after denial: n=%d err=%v", n, err)
	}
	return nil
}

func prepared(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Prepare(ctx, "by_id", "SELECT amount FROM sales.orders WHERE id = $1"); err != nil {
		return fmt.Errorf("prepare: %v", err)
	}
	for id, want := range map[int]int64{1: 100, 2: 250} {
		var amount int64
		if err := conn.QueryRow(ctx, "by_id", id).Scan(&amount); err != nil || amount != want {
			return fmt.Errorf("execute by_id(%d): %d, %v", id, amount, err)
		}
	}
	_, err := conn.Prepare(ctx, "wipe", "DELETE FROM prod.accounts")
	if err := expectDenied(err, "prepare delete"); err != nil {
		return err
	}
	var amount int64
	if err := conn.QueryRow(ctx, "by_id", 3).Scan(&amount); err != nil || amount != 75 {
		return fmt.Errorf("execute after denied prepare: %d, %v", amount, err)
	}
	return nil
}

func transaction(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO staging.imports (payload) VALUES ($1)", "row-in-tx"); err != nil {
		return fmt.Errorf("allowed insert in tx: %v", err)
	}
	_, err = tx.Exec(ctx, "UPDATE prod.accounts SET name = 'x'")
	if err := expectDenied(err, "update in tx"); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "SELECT 1")
	if sqlstate(err) != "25P02" {
		return fmt.Errorf("statement after denial in tx: want 25P02 (transaction aborted), got %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %v", err)
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM staging.imports WHERE payload = 'row-in-tx'"); err != nil || n != 0 {
		return fmt.Errorf("the aborted transaction's insert is visible: n=%d err=%v", n, err)
	}
	// A committed transaction still works on the same connection.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO staging.imports (payload) VALUES ('committed')")
		return err
	})
	if err != nil {
		return fmt.Errorf("second transaction: %v", err)
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM staging.imports WHERE payload = 'committed'"); err != nil || n != 1 {
		return fmt.Errorf("committed row: n=%d err=%v", n, err)
	}
	return nil
}

// batch sends a pipeline with a denied statement in the middle: what came
// before runs, the denied one and the rest of the batch fail, the
// connection stays usable.
func batch(ctx context.Context, conn *pgx.Conn) error {
	b := &pgx.Batch{}
	b.Queue("SELECT count(*) FROM sales.orders")
	b.Queue("TRUNCATE prod.accounts")
	b.Queue("SELECT count(*) FROM public.products")
	res := conn.SendBatch(ctx, b)
	var n int64
	if err := res.QueryRow().Scan(&n); err != nil {
		// pgx sends the batch as one pipeline with one Sync: the error of
		// the denied statement aborts the implicit transaction.
		if err2 := expectDenied(err, "batch"); err2 != nil {
			return fmt.Errorf("first statement of the batch: %v", err)
		}
	}
	_, err := res.Exec()
	if err := expectDenied(err, "truncate in batch"); err != nil {
		return err
	}
	_ = res.Close()
	if n, err := count(ctx, conn, "SELECT count(*) FROM prod.accounts"); err == nil {
		return fmt.Errorf("select from prod should be denied, got %d", n)
	}
	if n, err := count(ctx, conn, "SELECT count(*) FROM sales.orders"); err != nil || n != 3 {
		return fmt.Errorf("after batch: n=%d err=%v", n, err)
	}
	return nil
}

func copyBothWays(ctx context.Context, conn *pgx.Conn) error {
	rows := [][]any{{"copy-1"}, {"copy-2"}, {"copy-3"}}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"staging", "imports"}, []string{"payload"}, pgx.CopyFromRows(rows))
	if err != nil || n != 3 {
		return fmt.Errorf("copy from: n=%d err=%v", n, err)
	}
	var sb strings.Builder
	tag, err := conn.PgConn().CopyTo(ctx, writerFunc(func(p []byte) (int, error) { return sb.Write(p) }),
		"COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT")
	if err != nil || tag.RowsAffected() != 3 || !strings.Contains(sb.String(), "2\t250") {
		return fmt.Errorf("copy to: %v %q %v", tag, sb.String(), err)
	}
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"prod", "accounts"}, []string{"name"}, pgx.CopyFromRows([][]any{{"x"}}))
	return expectDenied(err, "copy into prod")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func cancelSleep(ctx context.Context, conn *pgx.Conn) error {
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(qctx, "SELECT pg_sleep(30)")
	if err == nil {
		return errors.New("pg_sleep(30) returned without error")
	}
	if time.Since(start) > 10*time.Second {
		return fmt.Errorf("cancel took %v", time.Since(start))
	}
	// pgx closes the connection when a context is cancelled mid-query; the
	// cancel request itself must have reached the server: pg_stat_activity
	// shows no sleeping backend soon after.
	return nil
}

func largeResult(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, "SELECT g, md5(g::text) FROM generate_series(1, 1000000) g")
	if err != nil {
		return err
	}
	var n int64
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil || n != 1000000 {
		return fmt.Errorf("1M rows: got %d, %v", n, err)
	}
	return nil
}

func binaryParams(ctx context.Context, conn *pgx.Conn) error {
	var amount int64
	var ts time.Time
	err := conn.QueryRow(ctx, "SELECT amount, $2::timestamptz FROM sales.orders WHERE id = $1", int64(2), time.Unix(1700000000, 0)).Scan(&amount, &ts)
	if err != nil || amount != 250 || !ts.Equal(time.Unix(1700000000, 0)) {
		return fmt.Errorf("binary params: %d %v %v", amount, ts, err)
	}
	return nil
}

// secretParams binds secrets as parameters: the value of a secret setting
// and a connection string with a password. sluice must not show them.
func secretParams(ctx context.Context, conn *pgx.Conn) error {
	var v string
	if err := conn.QueryRow(ctx, "SELECT set_config('app.api_token', $1, false)", "PgxTokenSecret").Scan(&v); err != nil || v != "PgxTokenSecret" {
		return fmt.Errorf("set_config: %q %v", v, err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT length($1::text)", "host=h password=PgxConnSecret").Scan(&n); err != nil || n != 29 {
		return fmt.Errorf("length: %d %v", n, err)
	}
	return nil
}
