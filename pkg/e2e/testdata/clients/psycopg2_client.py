"""Exercises a PostgreSQL target through sluice with psycopg2.

Run by the end-to-end tests inside a tagged job: every connection it makes
is redirected. Prints "ok <check>" per check and exits non-zero on the
first failure.
"""
import sys
import threading
import time

import psycopg2
import psycopg2.errors


def check(name, cond, detail=""):
    if not cond:
        print(f"FAIL {name}: {detail}")
        sys.exit(1)
    print(f"ok {name}")


def denied(conn, sql):
    cur = conn.cursor()
    try:
        cur.execute(sql)
    except psycopg2.Error as e:
        conn.rollback()
        return e.pgcode, str(e)
    conn.rollback()
    return None, "statement ran"


def main(dsn):
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()

    cur.execute("SELECT amount FROM sales.orders WHERE id = %s", (2,))
    check("allowed select", cur.fetchone() == (250,))
    conn.rollback()

    code, msg = denied(conn, "DROP TABLE sales.orders")
    check("drop refused with 42501", code == "42501" and "sluice policy" in msg, msg)

    cur.execute("SELECT count(*) FROM public.products")
    check("connection usable after denial", cur.fetchone() == (2,))
    conn.rollback()

    # A denial inside a transaction aborts it, as a server error would.
    cur.execute("INSERT INTO staging.imports (payload) VALUES ('py-tx')")
    code, _ = denied(conn, "DELETE FROM prod.accounts")
    check("delete in transaction refused", code == "42501")
    cur.execute("SELECT count(*) FROM staging.imports WHERE payload = 'py-tx'")
    check("aborted transaction rolled back", cur.fetchone() == (0,))
    conn.commit()

    # SQL-level prepared statements.
    cur.execute("PREPARE by_id(int) AS SELECT amount FROM sales.orders WHERE id = $1")
    cur.execute("EXECUTE by_id(3)")
    check("PREPARE/EXECUTE", cur.fetchone() == (75,))
    conn.commit()
    code, _ = denied(conn, "PREPARE wipe AS DELETE FROM prod.accounts")
    check("PREPARE of a delete refused", code == "42501")

    # COPY both ways.
    import io
    cur.copy_expert("COPY staging.imports (payload) FROM STDIN", io.StringIO("py-copy-1\npy-copy-2\n"))
    conn.commit()
    buf = io.StringIO()
    cur.copy_expert("COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT", buf)
    check("copy to", "2\t250" in buf.getvalue(), buf.getvalue())
    conn.commit()

    # A server-side cursor streaming a large result.
    named = conn.cursor(name="big")
    named.itersize = 10000
    named.execute("SELECT g FROM generate_series(1, 1000000) g")
    n = sum(1 for _ in named)
    named.close()
    conn.commit()
    check("1M rows through a named cursor", n == 1000000, str(n))

    # Cancel a long statement from another thread.
    def cancel_later():
        time.sleep(0.5)
        conn.cancel()
    threading.Thread(target=cancel_later).start()
    start = time.time()
    try:
        cur.execute("SELECT pg_sleep(30)")
        check("cancel", False, "pg_sleep finished")
    except psycopg2.errors.QueryCanceled:
        conn.rollback()
    check("cancel", time.time() - start < 10)
    cur.execute("SELECT 1")
    check("usable after cancel", cur.fetchone() == (1,))
    conn.close()


if __name__ == "__main__":
    main(sys.argv[1])
