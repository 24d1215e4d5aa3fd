import java.io.StringReader;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * Exercises a PostgreSQL target through sluice with the PostgreSQL JDBC
 * driver. Run by the end-to-end tests inside a tagged job. Prints "ok
 * check" per check and exits non-zero on the first failure.
 */
public class JdbcClient {
    static void check(String name, boolean cond, String detail) {
        if (!cond) {
            System.out.println("FAIL " + name + ": " + detail);
            System.exit(1);
        }
        System.out.println("ok " + name);
    }

    static String deniedState(Connection c, String sql) {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
            return "ran";
        } catch (SQLException e) {
            return e.getSQLState() + " " + e.getMessage();
        }
    }

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], args[1], args[2])) {
            // Prepared statements: after prepareThreshold executions the
            // driver switches to a named server-side statement.
            try (PreparedStatement ps = c.prepareStatement("SELECT amount FROM sales.orders WHERE id = ?")) {
                for (int i = 0; i < 8; i++) {
                    ps.setInt(1, 2);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        check("prepared select " + i, rs.getLong(1) == 250, "amount " + rs.getLong(1));
                    }
                }
            }
            String st = deniedState(c, "DROP TABLE sales.orders");
            check("drop refused", st.startsWith("42501") && st.contains("sluice policy"), st);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM public.products")) {
                rs.next();
                check("usable after denial", rs.getLong(1) == 2, "");
            }

            // Transaction: the denial aborts it.
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.executeUpdate("INSERT INTO staging.imports (payload) VALUES ('jdbc-tx')");
            }
            st = deniedState(c, "UPDATE prod.accounts SET name = 'x'");
            check("update in transaction refused", st.startsWith("42501"), st);
            st = deniedState(c, "SELECT 1");
            check("transaction aborted", st.startsWith("25P02"), st);
            c.rollback();

            // 1M rows fetched in batches (portal suspended and resumed).
            try (Statement s = c.createStatement()) {
                s.setFetchSize(5000);
                long n = 0;
                try (ResultSet rs = s.executeQuery("SELECT g FROM generate_series(1, 1000000) g")) {
                    while (rs.next()) {
                        n++;
                    }
                }
                check("1M rows with fetch size", n == 1000000, "rows " + n);
            }
            c.commit();
            c.setAutoCommit(true);

            // COPY both ways.
            CopyManager cm = c.unwrap(PGConnection.class).getCopyAPI();
            long copied = cm.copyIn("COPY staging.imports (payload) FROM STDIN", new StringReader("jdbc-1\njdbc-2\n"));
            check("copy in", copied == 2, "copied " + copied);
            StringWriter out = new StringWriter();
            cm.copyOut("COPY (SELECT id, amount FROM sales.orders ORDER BY id) TO STDOUT", out);
            check("copy out", out.toString().contains("2\t250"), out.toString());

            // Cancel through the query timeout (the driver sends a CancelRequest).
            try (Statement s = c.createStatement()) {
                s.setQueryTimeout(1);
                long start = System.currentTimeMillis();
                try {
                    s.execute("SELECT pg_sleep(30)");
                    check("cancel", false, "pg_sleep finished");
                } catch (SQLException e) {
                    check("cancel", "57014".equals(e.getSQLState()) && System.currentTimeMillis() - start < 10000, e.getSQLState() + " " + e.getMessage());
                }
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
                rs.next();
                check("usable after cancel", rs.getInt(1) == 1, "");
            }
        }
    }
}
