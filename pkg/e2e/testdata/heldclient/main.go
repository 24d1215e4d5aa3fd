// Command heldclient runs statements that sluice holds for approval,
// through pgx, for the end-to-end tests: it is run inside a tagged job
// while the test approves or denies from outside. It prints one line per
// statement and exits non-zero, naming the first failed check.
//
//	heldclient -dsn DSN -scenario concurrent -n 20
//	    n connections each run DELETE FROM sales.items WHERE id = i
//	    (i = 1..n) at once; prints "i ok TAG" or "i err SQLSTATE message".
//	heldclient -dsn DSN -scenario cancel -sql SQL
//	    runs SQL; on SIGUSR1 cancels it with a CancelRequest (pgx's
//	    cancel-request context handler), expects 57014, then runs
//	    SELECT 1 on the same connection.
//	heldclient -dsn DSN -scenario disconnect -sql SQL
//	    runs SQL; on SIGUSR1 cancels its context with pgx's default
//	    handler, which gives up on the connection and closes it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

func main() {
	dsn := flag.String("dsn", "", "connection string")
	scenario := flag.String("scenario", "", "concurrent, cancel or disconnect")
	n := flag.Int("n", 20, "connections (concurrent)")
	sql := flag.String("sql", "", "the statement (cancel, disconnect)")
	flag.Parse()
	// Registered before anything is sent: the test signals once it sees
	// the request.
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	switch *scenario {
	case "concurrent":
		err = concurrent(ctx, *dsn, *n)
	case "cancel":
		err = cancelHeld(ctx, *dsn, *sql, usr1)
	case "disconnect":
		err = disconnectHeld(ctx, *dsn, *sql, usr1)
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		fmt.Println("FAIL", *scenario+":", err)
		os.Exit(1)
	}
	fmt.Println("ok", *scenario)
}

func concurrent(ctx context.Context, dsn string, n int) error {
	var wg sync.WaitGroup
	lines := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs[i] = fmt.Errorf("connection %d: %v", i+1, err)
				return
			}
			defer conn.Close(ctx)
			tag, err := conn.Exec(ctx, fmt.Sprintf("DELETE FROM sales.items WHERE id = %d", i+1))
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe):
				lines[i] = fmt.Sprintf("%d err %s %s", i+1, pe.Code, pe.Message)
			case err != nil:
				errs[i] = fmt.Errorf("connection %d: %v", i+1, err)
			default:
				lines[i] = fmt.Sprintf("%d ok %s", i+1, tag)
			}
			// The connection is still usable, whatever the outcome.
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil && errs[i] == nil {
				errs[i] = fmt.Errorf("connection %d after its statement: %v", i+1, err)
			}
		}()
	}
	wg.Wait()
	fmt.Println(strings.Join(lines, "\n"))
	return errors.Join(errs...)
}

func cancelHeld(ctx context.Context, dsn, sql string, usr1 <-chan os.Signal) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 30 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	qctx, stop := context.WithCancel(ctx)
	go func() {
		<-usr1
		stop()
	}()
	_, err = conn.Exec(qctx, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		return fmt.Errorf("want SQLSTATE 57014, got %v", err)
	}
	fmt.Println("cancelled:", pe.Message)
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("after the cancel: %v", err)
	}
	return nil
}

func disconnectHeld(ctx context.Context, dsn, sql string, usr1 <-chan os.Signal) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	qctx, stop := context.WithCancel(ctx)
	go func() {
		<-usr1
		stop()
	}()
	_, err = conn.Exec(qctx, sql)
	if err == nil {
		return errors.New("the statement ran")
	}
	if !conn.IsClosed() {
		return fmt.Errorf("the connection is still open after %v", err)
	}
	return nil
}
