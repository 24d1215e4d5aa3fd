-- nightly.sql: the legacy ETL job, as it has run for years.

-- revenue per product
SELECT p.name AS product, sum(o.quantity) AS units, sum(o.quantity * p.price) AS revenue FROM sales.orders o JOIN public.products p ON p.id = o.product_id GROUP BY p.name ORDER BY revenue DESC;

-- the big orders
SELECT id, customer, quantity FROM sales.orders WHERE quantity >= 10 ORDER BY id;

-- hand the day's totals to the staging area
INSERT INTO staging.imports (source, payload) SELECT 'nightly', 'orders=' || count(*) || ' units=' || sum(quantity) FROM sales.orders;

-- left over from a migration in 2019; nobody remembers why
DROP TABLE sales.orders;

-- and the job carries on
SELECT count(*) AS orders_still_there FROM sales.orders;
