-- A team's own multi-tenant database, made without tenantbench, to try `audit` and `profile` on:
-- 26 companies by "companyId" with skewed sizes; events lacks a tenant index, users has a unique
-- email that is not tenant-scoped — declared `email text UNIQUE`, as Rails, Django and
-- hand-written SQL do, so a constraint (users_email_key) owns the index.
-- psql -U postgres -h 127.0.0.1 -f scripts/example-team-db.sql
-- (drops and recreates the database team_app; -v db=NAME makes NAME instead).
\if :{?db}
\else
\set db team_app
\endif
DROP DATABASE IF EXISTS :"db";
CREATE DATABASE :"db";
\c :"db"
CREATE TABLE orders ("companyId" text NOT NULL, status text, amount_cents int, created_at timestamptz);
INSERT INTO orders
  SELECT 'co' || lpad((floor(200 / (1 + i % 97)) )::int::text, 3, '0'), (ARRAY['paid','open','refunded'])[1 + i % 3], (i * 37) % 10000, now() - (i % 365) * interval '1 day'
    FROM generate_series(1, 20000) i;
CREATE INDEX orders_company_created ON orders ("companyId", created_at DESC);
CREATE TABLE events (LIKE orders);
INSERT INTO events SELECT * FROM orders;
CREATE TABLE users (id serial PRIMARY KEY, "companyId" text, email text UNIQUE);
INSERT INTO users ("companyId", email) SELECT "companyId", 'u' || row_number() OVER () || '@x.io' FROM orders LIMIT 3000;
CREATE INDEX users_company ON users ("companyId");
CREATE TABLE settings (key text PRIMARY KEY, value text);
INSERT INTO settings VALUES ('theme', 'dark');
ANALYZE;
