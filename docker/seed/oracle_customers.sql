-- Seed of the source-oracle service.
-- Run once by the gvenzl/oracle-free image on first start (/container-entrypoint-initdb.d), with
-- sqlplus as SYSDBA in the CDB root, after the image created APP_USER (crm) in FREEPDB1.
-- The same 2,000 rows as postgres_customers.sql (same formulas; see there for the bad rows).
-- SQL*Plus rules kept here: no blank line inside a statement, no ampersand; non-ASCII names via UNISTR so
-- the file's encoding does not matter.
WHENEVER SQLERROR EXIT SQL.SQLCODE
ALTER SESSION SET CONTAINER = FREEPDB1;

CREATE TABLE crm.customers (
    id          NUMBER(19) PRIMARY KEY,
    email       VARCHAR2(320 CHAR),
    phone       VARCHAR2(40 CHAR),
    first_name  VARCHAR2(100 CHAR),
    birthday    VARCHAR2(10 CHAR),
    tier        VARCHAR2(10 CHAR),
    last_ip     VARCHAR2(45 CHAR),
    updated_at  TIMESTAMP(3) WITH TIME ZONE NOT NULL
);

INSERT INTO crm.customers (id, email, phone, first_name, birthday, tier, last_ip, updated_at)
SELECT
    g,
    CASE
        WHEN MOD(g, 500) = 13 THEN NULL
        WHEN MOD(g, 100) = 0 THEN 'customer' || g || '.example.com'
        WHEN MOD(g, 250) = 7 THEN 'customer ' || g || '@example.com'
        ELSE 'customer' || g || '@example.' || CASE MOD(g, 3) WHEN 0 THEN 'com' WHEN 1 THEN 'de' ELSE 'org' END
    END,
    CASE
        WHEN MOD(g, 150) = 3 THEN '12345'
        ELSE CASE MOD(g, 4) WHEN 0 THEN '+49 30 ' WHEN 1 THEN '030 ' WHEN 2 THEN '0049 89 ' ELSE '+43 1 5' END
             || TO_CHAR(1000000 + MOD(g * 7919, 9000000))
    END,
    CASE MOD(g, 12)
        WHEN 0 THEN 'Anna' WHEN 1 THEN 'Ben' WHEN 2 THEN 'Clara' WHEN 3 THEN 'David'
        WHEN 4 THEN TO_CHAR(UNISTR('Zo\00EB')) WHEN 5 THEN TO_CHAR(UNISTR('\0141ukasz'))
        WHEN 6 THEN TO_CHAR(UNISTR('S\00F8ren')) WHEN 7 THEN TO_CHAR(UNISTR('Jos\00E9'))
        WHEN 8 THEN TO_CHAR(UNISTR('Chlo\00E9')) WHEN 9 THEN TO_CHAR(UNISTR('J\00FCrgen'))
        WHEN 10 THEN 'Ada' ELSE TO_CHAR(UNISTR('\00D8yvind'))
    END,
    CASE
        WHEN MOD(g, 400) = 11 THEN '31.02.' || TO_CHAR(1950 + MOD(g, 50))
        ELSE TO_CHAR(DATE '1950-01-01' + MOD(g * 37, 20000), 'DD.MM.YYYY')
    END,
    CASE MOD(g, 3) WHEN 0 THEN 'bronze' WHEN 1 THEN 'silver' ELSE 'gold' END,
    TO_CHAR(1 + MOD(g, 223)) || '.' || TO_CHAR(MOD(g * 7, 256)) || '.' || TO_CHAR(MOD(g * 13, 256)) || '.'
        || TO_CHAR(1 + MOD(g, 254)),
    TIMESTAMP '2026-01-01 00:00:00 +00:00' + NUMTODSINTERVAL(g * 37, 'MINUTE')
FROM (SELECT LEVEL AS g FROM dual CONNECT BY LEVEL <= 2000);

COMMIT;
