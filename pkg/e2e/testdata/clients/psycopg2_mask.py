"""Reads the customers and tickets tables through sluice with psycopg2.

Run by the end-to-end masking tests inside a tagged job: every connection
it makes is redirected. It prints one JSON document: each row's values as
psycopg2 decoded them, with the Python type of each, for the test to check
(masked values must still decode as their column's type).
"""
import json
import sys

import psycopg2
import psycopg2.extras

COLUMNS = ("id, name, email, card, customer_no, ssn, iban, phone, notes, profile, aliases, "
           "account_no, balance, created_at, ext_id, score, signup")


def typed(v):
    return {"type": type(v).__name__, "value": v if isinstance(v, (int, str, dict, list, type(None))) and not isinstance(v, bool) else str(v)}


def main(dsn):
    psycopg2.extras.register_uuid()
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("SELECT " + COLUMNS + " FROM customers WHERE id > %s ORDER BY id", (0,))
    names = [d.name for d in cur.description]
    rows = [{n: typed(v) for n, v in zip(names, row)} for row in cur.fetchall()]
    cur.execute("SELECT id, email FROM tickets ORDER BY id")
    tickets = {str(i): e for i, e in cur.fetchall()}
    conn.rollback()
    conn.close()
    json.dump({"rows": rows, "tickets": tickets}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
