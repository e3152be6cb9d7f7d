-- Seed of the source-clickhouse service.
-- Run once by the clickhouse-server image on an empty data directory (/docker-entrypoint-initdb.d).
-- The same 2,000 rows as postgres_customers.sql (same formulas; see there for the bad rows).
CREATE DATABASE IF NOT EXISTS crm;

CREATE TABLE crm.customers
(
    id          UInt64,
    email       Nullable(String),
    phone       String,
    first_name  String,
    birthday    String,                 -- dd.mm.yyyy
    tier        LowCardinality(String), -- bronze | silver | gold
    last_ip     String,
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY id;

INSERT INTO crm.customers (id, email, phone, first_name, birthday, tier, last_ip, updated_at)
SELECT
    g,
    multiIf(
        g % 500 = 13, NULL,
        g % 100 = 0, concat('customer', toString(g), '.example.com'),
        g % 250 = 7, concat('customer ', toString(g), '@example.com'),
        concat('customer', toString(g), '@example.', ['com', 'de', 'org'][1 + g % 3])
    ),
    if(g % 150 = 3, '12345',
       concat(['+49 30 ', '030 ', '0049 89 ', '+43 1 5'][1 + g % 4], toString(1000000 + (g * 7919) % 9000000))),
    ['Anna', 'Ben', 'Clara', 'David', 'Zoë', 'Łukasz', 'Søren', 'José', 'Chloé', 'Jürgen', 'Ada', 'Øyvind'][1 + g % 12],
    if(g % 400 = 11, concat('31.02.', toString(1950 + g % 50)),
       formatDateTime(addDays(toDate32('1950-01-01'), (g * 37) % 20000), '%d.%m.%Y')),
    ['bronze', 'silver', 'gold'][1 + g % 3],
    concat(toString(1 + g % 223), '.', toString((g * 7) % 256), '.', toString((g * 13) % 256), '.',
           toString(1 + g % 254)),
    toDateTime64('2026-01-01 00:00:00', 3, 'UTC') + toIntervalMinute(g * 37)
FROM (SELECT number AS g FROM numbers(1, 2000));  -- birthdays via Date32: Date starts at 1970
