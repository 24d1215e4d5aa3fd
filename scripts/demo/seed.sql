-- The demo's "orders" database. Run as the superuser with SET ROLE
-- etl_reader, so the job's role owns every table: PostgreSQL itself would
-- let the job drop any of them. Only sluice stands in the way.
SET ROLE etl_reader;

CREATE SCHEMA sales;
CREATE SCHEMA prod;
CREATE SCHEMA staging;

CREATE TABLE public.products (
	id    int PRIMARY KEY,
	name  text NOT NULL,
	price numeric(10,2) NOT NULL
);
INSERT INTO public.products VALUES
	(1, 'widget', 2.50),
	(2, 'gadget', 12.00),
	(3, 'gizmo', 7.25);

CREATE TABLE sales.orders (
	id         int PRIMARY KEY,
	customer   text NOT NULL,
	product_id int NOT NULL REFERENCES public.products,
	quantity   int NOT NULL,
	ordered_at date NOT NULL
);
INSERT INTO sales.orders VALUES
	(1, 'acme',      1, 40, '2026-11-20'),
	(2, 'globex',    2,  3, '2026-11-20'),
	(3, 'initech',   3, 12, '2026-11-21'),
	(4, 'acme',      2,  5, '2026-11-21'),
	(5, 'umbrella',  1,  8, '2026-11-21');

CREATE TABLE prod.accounts (
	id       int PRIMARY KEY,
	customer text NOT NULL,
	iban     text NOT NULL
);
INSERT INTO prod.accounts VALUES
	(1, 'acme',   'DE89 3704 0044 0532 0130 00'),
	(2, 'globex', 'FR14 2004 1010 0505 0001 3M02 606');

CREATE TABLE staging.imports (
	id        serial PRIMARY KEY,
	source    text NOT NULL,
	payload   text NOT NULL,
	loaded_at timestamptz NOT NULL DEFAULT now()
);
