-- Seed of the source-mysql service.
-- Run once by the mysql image on an empty data directory (/docker-entrypoint-initdb.d) in MYSQL_DATABASE.
-- The same 2,000 rows as postgres_customers.sql (same formulas; see there for the bad rows).
SET NAMES utf8mb4;
SET time_zone = '+00:00';

CREATE TABLE customers (
    id          BIGINT PRIMARY KEY,
    email       VARCHAR(320),
    phone       VARCHAR(40),
    first_name  VARCHAR(100),
    birthday    VARCHAR(10),       -- dd.mm.yyyy
    tier        VARCHAR(10),       -- bronze | silver | gold
    last_ip     VARCHAR(45),
    updated_at  TIMESTAMP NOT NULL
) DEFAULT CHARSET = utf8mb4;

-- 1..2000 from four digit tables (no recursive CTE, so no cte_max_recursion_depth to raise).
INSERT INTO customers (id, email, phone, first_name, birthday, tier, last_ip, updated_at)
SELECT
    g,
    CASE
        WHEN g % 500 = 13 THEN NULL
        WHEN g % 100 = 0 THEN CONCAT('customer', g, '.example.com')
        WHEN g % 250 = 7 THEN CONCAT('customer ', g, '@example.com')
        ELSE CONCAT('customer', g, '@example.', ELT(1 + g % 3, 'com', 'de', 'org'))
    END,
    CASE
        WHEN g % 150 = 3 THEN '12345'
        ELSE CONCAT(ELT(1 + g % 4, '+49 30 ', '030 ', '0049 89 ', '+43 1 5'), 1000000 + (g * 7919) % 9000000)
    END,
    ELT(1 + g % 12, 'Anna', 'Ben', 'Clara', 'David', 'Zoë', 'Łukasz', 'Søren', 'José', 'Chloé', 'Jürgen', 'Ada',
        'Øyvind'),
    CASE
        WHEN g % 400 = 11 THEN CONCAT('31.02.', 1950 + g % 50)
        ELSE DATE_FORMAT(DATE_ADD('1950-01-01', INTERVAL (g * 37) % 20000 DAY), '%d.%m.%Y')
    END,
    ELT(1 + g % 3, 'bronze', 'silver', 'gold'),
    CONCAT(1 + g % 223, '.', (g * 7) % 256, '.', (g * 13) % 256, '.', 1 + g % 254),
    TIMESTAMP('2026-01-01 00:00:00') + INTERVAL (g * 37) MINUTE
FROM (
    SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS g
    FROM (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS a
    CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS b
    CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS c
    CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1) AS e
) AS numbers
WHERE g <= 2000;
