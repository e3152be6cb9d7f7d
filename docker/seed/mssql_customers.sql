-- Seed of the source-mssql service.
-- The mssql image has no init folder: the one-shot service source-mssql-seed runs this file with sqlcmd
-- after source-mssql is healthy, on every `docker compose --profile all-sources up`; it is idempotent.
-- The same 2,000 rows as postgres_customers.sql (same formulas; see there for the bad rows). Non-ASCII
-- names are built with NCHAR() so the file's encoding does not matter to sqlcmd.
IF DB_ID(N'crm') IS NULL CREATE DATABASE crm;
GO
USE crm;
GO
IF OBJECT_ID(N'dbo.customers', N'U') IS NULL
    CREATE TABLE dbo.customers (
        id          BIGINT NOT NULL PRIMARY KEY,
        email       NVARCHAR(320) NULL,
        phone       NVARCHAR(40) NULL,
        first_name  NVARCHAR(100) NULL,
        birthday    NVARCHAR(10) NULL,       -- dd.mm.yyyy
        tier        NVARCHAR(10) NULL,       -- bronze | silver | gold
        last_ip     NVARCHAR(45) NULL,
        updated_at  DATETIMEOFFSET(3) NOT NULL
    );
GO
IF NOT EXISTS (SELECT 1 FROM dbo.customers)
    INSERT INTO dbo.customers (id, email, phone, first_name, birthday, tier, last_ip, updated_at)
    SELECT
        g,
        CASE
            WHEN g % 500 = 13 THEN NULL
            WHEN g % 100 = 0 THEN CONCAT(N'customer', g, N'.example.com')
            WHEN g % 250 = 7 THEN CONCAT(N'customer ', g, N'@example.com')
            ELSE CONCAT(N'customer', g, N'@example.', CHOOSE(1 + g % 3, N'com', N'de', N'org'))
        END,
        CASE
            WHEN g % 150 = 3 THEN N'12345'
            ELSE CONCAT(CHOOSE(1 + g % 4, N'+49 30 ', N'030 ', N'0049 89 ', N'+43 1 5'), 1000000 + (g * 7919) % 9000000)
        END,
        CHOOSE(1 + g % 12, N'Anna', N'Ben', N'Clara', N'David', N'Zo' + NCHAR(235), NCHAR(321) + N'ukasz',
               N'S' + NCHAR(248) + N'ren', N'Jos' + NCHAR(233), N'Chlo' + NCHAR(233), N'J' + NCHAR(252) + N'rgen',
               N'Ada', NCHAR(216) + N'yvind'),
        CASE
            WHEN g % 400 = 11 THEN CONCAT(N'31.02.', 1950 + g % 50)
            ELSE CONVERT(NVARCHAR(10), DATEADD(DAY, (g * 37) % 20000, CAST('1950-01-01' AS DATE)), 104)
        END,
        CHOOSE(1 + g % 3, N'bronze', N'silver', N'gold'),
        CONCAT(1 + g % 223, N'.', (g * 7) % 256, N'.', (g * 13) % 256, N'.', 1 + g % 254),
        DATEADD(MINUTE, g * 37, CAST('2026-01-01T00:00:00+00:00' AS DATETIMEOFFSET(3)))
    FROM (
        SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS g    -- int: DATEADD refuses a bigint
        FROM (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS a (d)
        CROSS JOIN (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS b (d)
        CROSS JOIN (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)) AS c (d)
        CROSS JOIN (VALUES (0), (1)) AS e (d)
    ) AS numbers
    WHERE g <= 2000;
GO
SELECT COUNT(*) AS customers FROM dbo.customers;
GO
