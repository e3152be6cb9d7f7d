-- Seed of the source-postgres service: the CRM table `customers` that the example spec
-- include/import_specs/example_postgres_customers.yaml imports (connection crm_postgres).
-- Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER in POSTGRES_DB. Deterministic: the other seeds in docker/seed/ build the same 2,000 rows
-- with the same formulas, so every source DBMS holds the same data.
--
-- Bad rows on purpose, so an import report has something to show:
--   every 100th id: email without "@"             (invalid_email)
--   id % 250 = 7:   email with a space            (invalid_email)
--   id % 150 = 3:   phone "12345"                 (invalid_phone)
--   id % 400 = 11:  birthday 31.02.<year>         (invalid_date)
--   id % 500 = 13:  no email at all               (empty_match_key with {by: email_profile})

CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    email       text,
    phone       text,
    first_name  text,
    birthday    text,          -- dd.mm.yyyy, as the CRM exports it
    tier        text,          -- bronze | silver | gold
    last_ip     text,
    updated_at  timestamptz NOT NULL
);

INSERT INTO customers (id, email, phone, first_name, birthday, tier, last_ip, updated_at)
SELECT
    g,
    CASE
        WHEN g % 500 = 13 THEN NULL
        WHEN g % 100 = 0 THEN 'customer' || g || '.example.com'
        WHEN g % 250 = 7 THEN 'customer ' || g || '@example.com'
        ELSE 'customer' || g || '@example.' || (ARRAY['com', 'de', 'org'])[1 + g % 3]
    END,
    CASE
        WHEN g % 150 = 3 THEN '12345'
        ELSE (ARRAY['+49 30 ', '030 ', '0049 89 ', '+43 1 5'])[1 + g % 4] || (1000000 + (g * 7919) % 9000000)
    END,
    (ARRAY['Anna', 'Ben', 'Clara', 'David', 'Zoë', 'Łukasz', 'Søren', 'José', 'Chloé', 'Jürgen', 'Ada', 'Øyvind'])
        [1 + g % 12],
    CASE
        WHEN g % 400 = 11 THEN '31.02.' || (1950 + g % 50)
        ELSE to_char(date '1950-01-01' + (g * 37) % 20000, 'DD.MM.YYYY')
    END,
    (ARRAY['bronze', 'silver', 'gold'])[1 + g % 3],
    (1 + g % 223) || '.' || (g * 7) % 256 || '.' || (g * 13) % 256 || '.' || (1 + g % 254),
    timestamptz '2026-01-01 00:00:00+00' + g * interval '37 minutes'
FROM generate_series(1, 2000) AS g;

ANALYZE customers;
