"""Generate the demo source: a SQLite "CRM" with N customers, some rows deliberately bad.

    python scripts/make_demo_source.py PATH [--rows 60000] [--seed 7] [--append N]

Deterministic for a seed. About 3% of rows carry a bad value (email, phone, date, enum, ip) so the
report has something to show; ``--append N`` adds N more customers (to show the cursor continuing).
"""

from __future__ import annotations

import argparse
import random
import sqlite3
from pathlib import Path

FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Zoë",
    "Łukasz",
    "Søren",
]
LAST = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "O'Brien",
    "García",
]
CITIES = [
    ("Berlin", "DE"),
    ("Hamburg", "DE"),
    ("München", "DE"),
    ("Wien", "AT"),
    ("Zürich", "CH"),
    ("Paris", "FR"),
]
TIERS = ["bronze", "silver", "gold", "Gold", " SILVER "]
INTERESTS = ["shoes", "books", "garden", "travel", "tech", "food"]
DDL = """
CREATE TABLE IF NOT EXISTS customers (
  id INTEGER PRIMARY KEY, email TEXT, phone TEXT, first_name TEXT, last_name TEXT, birthday TEXT,
  gender TEXT, last_ip TEXT, tier TEXT, interests TEXT, ltv REAL, opt_in TEXT, last_order_at TEXT,
  city TEXT, country TEXT);
CREATE TABLE IF NOT EXISTS newsletter_signups (email TEXT, note TEXT);
"""


def customer(rng: random.Random, cid: int) -> tuple[object, ...]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, country = rng.choice(CITIES)
    email = f"{first}.{last}.{cid}@example.{rng.choice(['com', 'de', 'org'])}".replace("'", "")
    phone = rng.choice(
        [
            f"+49 30 {rng.randint(1000000, 9999999)}",
            f"030 {rng.randint(1000000, 9999999)}",
            f"0049 89 {rng.randint(1000000, 9999999)}",
            f"+43 1 5{rng.randint(100000, 999999)}",
        ]
    )
    birthday = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1940, 2008)}"
    row = [
        cid,
        email,
        phone,
        first,
        last,
        birthday,
        rng.choice(["male", "female", "Female", None]),
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        rng.choice(TIERS),
        ",".join(rng.sample(INTERESTS, rng.randint(0, 3))),
        round(rng.uniform(0, 5000), 2),
        rng.choice(["yes", "no", "1", "0", "true"]),
        f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00",
        city,
        country,
    ]
    fault = rng.random()
    if fault < 0.01:
        row[1] = email.replace("@", " at ")  # invalid_email
    elif fault < 0.015:
        row[2] = "12345"  # invalid_phone
    elif fault < 0.02:
        row[5] = "31.02.1990"  # invalid_date
    elif fault < 0.025:
        row[8] = "platinum"  # invalid_enum
    elif fault < 0.03:
        row[7] = "300.1.2.3"  # invalid_ip
    return tuple(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--append", type=int, default=0, help="add this many customers after the existing ones"
    )
    args = parser.parse_args()
    args.path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(args.path) as db:
        db.executescript(DDL)
        start = (db.execute("SELECT coalesce(max(id), 0) FROM customers").fetchone()[0] or 0) + 1
        count = args.append if args.append else max(args.rows - start + 1, 0)
        rng = random.Random(args.seed + start)
        db.executemany(
            "INSERT INTO customers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (customer(rng, cid) for cid in range(start, start + count)),
        )
        if start == 1:
            db.executemany(
                "INSERT INTO newsletter_signups VALUES (?, ?)",
                [(f"Anna.Müller.{i}@EXAMPLE.com", "signed up at the fair") for i in range(1, 200)],
            )
        total = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    print(f"demo source {args.path}: {total} customers")


if __name__ == "__main__":
    main()
