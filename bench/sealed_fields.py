"""What sealing adds to a read or a write of vehicle's, license's and violation's rows (ADR 0096), in
microseconds, in one process:

    uv run python bench/sealed_fields.py [--values 20000] [--rounds 5]

Per value: SM4-GCM seal and open of an identity number, HMAC-SM3 of its blind index (the three
operations a sealed column adds, through the column types' own bind and result processors). Per row: a
`vehicles` row as a citizen's list or a clerk's search reads it (three sealed columns opened) and as a
registration writes it (three sealed, one digest). The database's own work is not in it (the stored text
grows from 18 to about 60 characters). The best of the rounds; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from sqlalchemy.dialects import postgresql

from servicekit import crypto
from vehicle_service.tables import vehicles

NUMBER, NAME, PHONE = "13010219800506342X", "欧阳娜娜", "13912345678"


def best_us(work: Callable[[], object], count: int, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            work()
        times.append((time.perf_counter() - start) / count * 1e6)
    return round(min(times), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--values", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    crypto.install(crypto.DataKeys.generate("bench"))
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    columns = [vehicles.c.owner_id_number, vehicles.c.owner_name, vehicles.c.phone]
    binds = [c.type.bind_processor(dialect) for c in columns]
    results = [c.type.result_processor(dialect, None) for c in columns]
    plain = [NUMBER, NAME, PHONE]
    stored = [bind(value) for bind, value in zip(binds, plain, strict=True)]  # type: ignore[misc]

    def read_row() -> None:
        for result, value in zip(results, stored, strict=True):
            result(value)  # type: ignore[misc]

    def write_row() -> None:
        for bind, value in zip(binds, plain, strict=True):
            bind(value)  # type: ignore[misc]
        crypto.blind_of(vehicles.c.owner_id_number, NUMBER)

    n, r = args.values, args.rounds
    figures = {
        "seal_us": best_us(lambda: binds[0](NUMBER), n, r),  # type: ignore[misc]
        "open_us": best_us(lambda: results[0](stored[0]), n, r),  # type: ignore[misc]
        "blind_us": best_us(lambda: crypto.blind_of(vehicles.c.owner_id_number, NUMBER), n, r),
        "vehicle_row_read_us": best_us(read_row, n // 3, r),
        "vehicle_row_write_us": best_us(write_row, n // 4, r),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
